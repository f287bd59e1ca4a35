"""End to end in a real browser: the real API and the real Streamlit server on loopback, driven by Debian's
headless Chromium through Playwright.

Screenshots (1280x800, plus the whole answer page 1280 wide and as tall as it is) go to
`test-artifacts/screenshots/` on every run. To refresh the ones committed under `docs/screenshots/` (shown in
the README), run:

    UPDATE_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest tests/web/test_e2e_browser.py

Skips with the reason when `/usr/bin/chromium` is missing (see `scripts/ensure_chromium.sh`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from bench.api_process import free_port

if TYPE_CHECKING:  # imported for real only once chromium is known to exist
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# GUIDE.md section 5: Debian's chromium, headless and quiet (no update checks, no sync, no QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
SECRET_KEY = "browser-test-secret-key-0123456789-abcdefghijklmnop"
CUSTOMER = ("alice", "alice-password", "CUST-1001")
STAFF = ("sam", "sam-password")
START_TIMEOUT = 120.0  # the API imports crewai (~5 s) and builds the crew; slow CI machines need headroom
UI_TIMEOUT_MS = 60_000


@dataclass
class Desk:
    api_url: str
    ui_url: str
    logs: Path


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode} before it answered:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # Own process group: `support-desk ui` starts Streamlit as a child, and both must be stopped.
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM}: run scripts/ensure_chromium.sh as root "
            "(or `apt-get install chromium`) to run the browser test"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed in this environment")
    return CHROMIUM


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, chromium: Path) -> Iterator[Desk]:
    work = tmp_path_factory.mktemp("desk")
    api_port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{work / 'desk.db'}",
        "AUDIT_LOG_FILE": str(work / "audit.log"),
        "LOG_FILE": str(work / "desk.log"),
        "CREWAI_STORAGE_DIR": str(work / "crewai"),
        "API_BASE_URL": f"http://127.0.0.1:{api_port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ui_port}",
        "WEB_CLIENT_USERNAME": "",
        "WEB_CLIENT_PASSWORD": "",
        "ONCALL_WEBHOOK_URL": "",
        # Streamlit reads its options from STREAMLIT_*: listen on loopback only during the test.
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
    }
    cli = [sys.executable, "-m", "cli.main"]
    for username, password, *customer in (CUSTOMER, STAFF):
        role = ["--role", "customer", "--customer-id", customer[0]] if customer else ["--role", "staff"]
        created = subprocess.run(
            [*cli, "users", "create", "--username", username, *role, "--password-stdin"],
            input=f"{password}\n".encode(),
            env=env,
            cwd=work,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert created.returncode == 0, created.stderr.decode(errors="replace")
    api_log, ui_log = work / "api.out", work / "ui.out"
    api = _start([*cli, "serve", "--host", "127.0.0.1", "--port", str(api_port)], env, work, api_log)
    ui = _start([*cli, "ui", "--port", str(ui_port)], env, work, ui_log)
    try:
        _wait_http(f"http://127.0.0.1:{api_port}/readyz", api, api_log)
        _wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health", ui, ui_log)
        yield Desk(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}", work)
    finally:
        _stop(ui)
        _stop(api)


@pytest.fixture
def page(desk: Desk, chromium: Path) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's browser, never Playwright's own download (which needs the network).
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(UI_TIMEOUT_MS)
            tab = context.new_page()
            tab.goto(desk.ui_url)
            tab.get_by_role("heading", name="Ask for help").wait_for()
            yield tab
        finally:
            browser.close()


def shot(page: Page, name: str, *, whole_page: bool = False) -> Path:
    """Save a 1280x800 screenshot for people to look at; also refresh docs/ when asked to.

    `whole_page`: 1280 wide and as tall as the page, for a page whose point is below the fold.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    settle(page)
    if whole_page:
        # Playwright's full_page does not help: Streamlit scrolls its main area, not the document, so the
        # document is one viewport high. Growing the viewport to the main area's height does the same job.
        height = int(page.get_by_test_id("stMain").evaluate("main => main.scrollHeight"))
        page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
        settle(page)
    if page.get_by_test_id("stDataFrame").count() or page.get_by_test_id("stVegaLiteChart").count():
        # Tables and charts are drawn on a canvas a moment after the element appears; nothing says when.
        page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    if whole_page:
        page.set_viewport_size(VIEWPORT)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)
    return path


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current script run (its status widget goes away)."""
    for _ in range(2):  # a click's rerun may start a moment after the click: look twice
        page.wait_for_timeout(300)
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def sign_in(page: Page, username: str, password: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_label("Username").fill(username)
    sidebar.get_by_label("Password", exact=True).fill(password)
    sidebar.get_by_role("button", name="Sign in").click()
    sidebar.get_by_text("Signed in as").wait_for()
    settle(page)


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=re.compile(title.split()[-1], re.IGNORECASE)).first.wait_for()
    settle(page)


def submit_request(page: Page, message: str, request_type: str | None = None, emergency: bool = False) -> str:
    """Fill the form, submit it, wait for the answer card; returns the case ID shown on it."""
    if request_type:
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=request_type, exact=True).click()
    page.get_by_label("Describe your problem").fill(message)
    if emergency:
        page.get_by_text("This is an emergency").click()
    settle(page)
    page.get_by_role("button", name="Submit").click()
    card = page.get_by_text("Our answer")
    card.wait_for()
    settle(page)
    case_id = str(page.get_by_test_id("stCode").last.inner_text()).strip()
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{6,}", case_id), case_id
    return case_id


def test_customer_signs_in_asks_a_billing_question_and_sees_the_answer(page: Page) -> None:
    sign_in(page, CUSTOMER[0], CUSTOMER[1])
    assert page.get_by_text(f"You are writing as customer {CUSTOMER[2]}").is_visible()
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="Billing", exact=True).click()
    page.get_by_label("Describe your problem").fill(
        "I was charged twice for my subscription this month (invoice INV-2041). Please refund the duplicate."
    )
    page.get_by_label("Describe your problem").blur()
    page.get_by_text("characters used.").wait_for()  # the count follows the text once the box commits it
    settle(page)
    shot(page, "customer-form")

    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Our answer").wait_for()
    settle(page)
    case_id = str(page.get_by_test_id("stCode").last.inner_text()).strip()
    assert case_id
    assert page.get_by_text("Billing specialist").is_visible()
    assert page.get_by_text("Help articles used for this answer").count() == 1
    # At 1280x800 the card is scrolled to the top of the screen; the whole page (form, card and its
    # citations) is kept too, as tall as it is.
    shot(page, "answer-card-full", whole_page=True)
    page.get_by_text("Our answer").evaluate("node => node.scrollIntoView({block: 'start'})")
    shot(page, "answer-card")

    open_page(page, "My cases")
    page.get_by_text(f"{case_id} · Answered").first.wait_for()
    assert page.get_by_test_id("stChatMessage").count() >= 2
    shot(page, "my-cases")


def test_an_emergency_reaches_the_oncall_page(page: Page, desk: Desk) -> None:
    sign_in(page, CUSTOMER[0], CUSTOMER[1])
    case_id = submit_request(
        page, "Someone has taken over my account and is changing the payment details right now.", emergency=True
    )
    assert page.get_by_text("A person from our support team has been alerted").is_visible()
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_test_id("stSidebar").get_by_label("Username").wait_for()
    settle(page)

    sign_in(page, STAFF[0], STAFF[1])
    open_page(page, "Status")
    page.get_by_text("Degraded answers").wait_for()
    page.get_by_role("heading", name="Requests per route").wait_for()
    assert page.get_by_test_id("stMetric").count() == 4
    shot(page, "status")

    open_page(page, "On-call")
    queue_missing = page.get_by_text("no on-call queue yet")
    if queue_missing.count():
        # Issue 5's endpoints are not in this API yet: the page says so, and staff open the case by its ID.
        page.get_by_label("Case ID").fill(case_id)
        page.get_by_label("Case ID").press("Enter")
    else:
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=case_id).click()
    header = page.get_by_test_id("stMarkdown").filter(has_text=f"Case {case_id}").first
    header.wait_for()
    settle(page)
    assert "Escalated" in header.inner_text() and "Emergency" in header.inner_text()
    if not queue_missing.count():
        # Everything is on one screen: scroll back so the queue with the emergency on top shows.
        page.get_by_role("heading", name="On-call").evaluate("h => h.scrollIntoView({block: 'start'})")
    shot(page, "on-call")
    if not queue_missing.count():
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("The case is acknowledged").wait_for()

    # The link an on-call page carries (desk/oncall/payload.py), opened afresh: sign in there and the case opens.
    page.goto(f"{desk.ui_url}/oncall?case={case_id}")
    page.get_by_text("The linked case opens here once you are signed in.").wait_for()
    sign_in(page, STAFF[0], STAFF[1])
    page.get_by_test_id("stMarkdown").filter(has_text=f"Case {case_id}").first.wait_for()
