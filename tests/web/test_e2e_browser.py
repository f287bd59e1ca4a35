"""End to end in a real browser: the real API and the real Streamlit server on loopback, driven by Debian's
headless Chromium through Playwright.

The round trip: a customer writes a first message, a follow-up and "I want to talk to a person" in one chat
box; the case waits for a person in the staff queue; a staff member (another browser) replies and hands back
with a note; the customer's open page shows both without a reload. Then a citation opens its article, and a
reload (F5) and an old address keep the customer signed in.

Screenshots (1280x800) go to `test-artifacts/screenshots/` on every run. To refresh the ones committed under
`docs/screenshots/` (shown in the README), run:

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
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bench.api_process import free_port

if TYPE_CHECKING:  # imported for real only once chromium is known to exist
    from playwright.sync_api import Browser, Page

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
OTHER_CUSTOMER = ("bob", "bob-password", "CUST-1002")
STAFF = ("sam", "sam-password")
LIVE_TIMEOUT_MS = 20_000  # the case view reads the case every 3 s; a staff reply must show well within this
START_TIMEOUT = 120.0  # the API imports crewai (~5 s) and builds the crew; slow CI machines need headroom
UI_TIMEOUT_MS = 60_000
# A select box's list is given this long to show an option before it is opened again (see pick).
PICK_WAIT_MS = 10_000
PICK_ATTEMPTS = 6
QUEUE_REFRESH_SECONDS = 15  # web_interface/app_pages/oncall.py (a page script: importing it would run it)


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
        "ONCALL_WEBHOOK_URL": "",  # paging not configured: staff see the banner
        "WEB_HOST": "127.0.0.1",  # the default; said here so the test never listens beyond loopback
    }
    cli = [sys.executable, "-m", "cli.main"]
    for username, password, *customer in (CUSTOMER, OTHER_CUSTOMER, STAFF):
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
def browser(chromium: Path, request: pytest.FixtureRequest) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's browser, never Playwright's own download (which needs the network).
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                # What every tab showed when the test failed, beside the screenshots.
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                for i, tab in enumerate(t for c in launched.contexts for t in c.pages):
                    tab.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}-{i}.png"))
            launched.close()


def new_tab(browser: Browser, desk: Desk) -> Page:
    """A tab in a browser context of its own (its own cookies and session), at the app's first page."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(desk.ui_url)
    tab.get_by_role("heading", name="Conversations").wait_for()
    return tab


def shot(page: Page, name: str) -> Path:
    """Save a 1280x800 screenshot for people to look at; also refresh docs/ when asked to."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    settle(page)
    if page.get_by_test_id("stDataFrame").count() or page.get_by_test_id("stVegaLiteChart").count():
        # Tables and charts are drawn on a canvas a moment after the element appears; nothing says when.
        page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
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


def pick(page: Page, option: re.Pattern[str]) -> None:
    """Open the page's first select box and choose an option, opening it again until the option is listed.

    The queues redraw themselves every few seconds (a Streamlit fragment). A redraw leaves an open list open
    (test_the_staff_queues_case_list_stays_open_while_the_queues_refresh), but a case that reaches the queue
    while the list is open is not listed in it until it is opened again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for _ in range(PICK_ATTEMPTS):
        settle(page)
        page.get_by_test_id("stSelectbox").first.click()
        choice = page.get_by_role("option", name=option)
        try:
            choice.wait_for(timeout=PICK_WAIT_MS)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        choice.click()
        return
    raise AssertionError(f"no option matching {option.pattern!r} after {PICK_ATTEMPTS} tries")


def file_through_the_api(desk: Desk, who: tuple[str, str, str], message: str, *, emergency: bool = False) -> str:
    """A request filed by another customer straight through the API (so the queues are not empty)."""
    with httpx.Client(base_url=desk.api_url, timeout=120) as api:
        token = api.post("/auth/token", data={"username": who[0], "password": who[1]}).json()["access_token"]
        filed = api.post(
            "/support/request",
            json={"message": message, "emergency": emergency},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert filed.status_code in (200, 202), filed.text
        return str(filed.json()["case_id"])


def chat(page: Page, placeholder: str, text: str) -> None:
    """Type into the chat box at the bottom of the page and send it with Enter."""
    box = page.get_by_placeholder(placeholder)
    box.fill(text)
    box.press("Enter")


def messages(page: Page) -> int:
    return page.get_by_test_id("stChatMessage").count()


def wait_for_messages(page: Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=stChatMessage]').length >= n", arg=count, timeout=UI_TIMEOUT_MS
    )
    settle(page)


def test_a_customer_and_a_staff_member_talk_through_a_case(browser: Browser, desk: Desk) -> None:
    customer = new_tab(browser, desk)
    sign_in(customer, CUSTOMER[0], CUSTOMER[1])
    customer.get_by_role("heading", name="New conversation").wait_for()

    # 1. The first message and a follow-up, in the one chat box.
    chat(
        customer,
        "Describe your problem",
        "I was charged twice for my subscription this month (invoice INV-2041). Please refund the duplicate.",
    )
    wait_for_messages(customer, 2)
    case_id = parse_qs(urlsplit(customer.url).query)["case"][0]
    key = parse_qs(urlsplit(customer.url).query)["s"][0]
    assert customer.get_by_test_id("stChatMessage").nth(0).get_by_text("You", exact=True).is_visible()
    assert customer.get_by_test_id("stChatMessage").nth(1).get_by_text("Support desk", exact=True).is_visible()
    chat(customer, "Write a message", "I checked Billing > Payments and both charges are listed. What now?")
    wait_for_messages(customer, 4)

    # 2. Asking for a person: the case waits for one, and the reply says by when.
    chat(customer, "Write a message", "I want to talk to a person")
    wait_for_messages(customer, 6)
    customer.get_by_text("Waiting for a person").first.wait_for()
    # The page stays as it is from here on: what staff do must appear without a reload.
    customer.evaluate("() => { window.__sameDocument = true; }")

    # 3. Staff find it in the needs-human queue, beside the emergencies, with the paging banner.
    file_through_the_api(
        desk, OTHER_CUSTOMER, "Someone has taken over my account and is changing my payment details.", emergency=True
    )
    staff = new_tab(browser, desk)
    sign_in(staff, STAFF[0], STAFF[1])
    open_page(staff, "Queues")
    staff.get_by_text("Paging is not configured: emergencies wait in this queue.").wait_for()
    pick(staff, re.compile(rf"^Waiting for a person: .* · {CUSTOMER[2]} "))
    staff.get_by_role("heading", name=re.compile("^I was charged twice")).first.wait_for()
    settle(staff)
    staff.get_by_test_id("stCaptionContainer").filter(has_text=case_id).first.wait_for()
    # With a chat box on the page Streamlit keeps the page scrolled to its end once it is drawn; scroll back
    # up after that, so the screenshot shows the queues above the open case.
    staff.get_by_placeholder("Reply to the customer").wait_for()
    staff.wait_for_timeout(1500)
    staff.get_by_role("heading", name="Staff queues").evaluate("h => h.scrollIntoView({block: 'start'})")
    shot(staff, "staff-queues")

    # 4. A staff reply, signed with the staff member's name, reaches the customer's open page.
    reply = "Hello, this is Sam from billing. I can see both charges and I am refunding the second one now."
    chat(staff, "Reply to the customer", reply)
    staff.get_by_text("Your reply was added to the case thread.").wait_for()
    customer.get_by_text(reply).wait_for(timeout=LIVE_TIMEOUT_MS)
    assert customer.get_by_test_id("stChatMessage").filter(has_text=reply).get_by_text("sam", exact=True).count() == 1

    # 5. Hand back with a note: recorded in the thread, and read live by the customer.
    note = "The duplicate charge is refunded; it reaches your card in 3-5 working days."
    staff.get_by_label("Note for the customer (optional, added to the thread)").fill(note)
    staff.get_by_role("button", name="Hand back to the support desk").click()
    staff.get_by_text("handed back to the support desk with your note").wait_for()
    customer.get_by_text(note).wait_for(timeout=LIVE_TIMEOUT_MS)
    assert customer.evaluate("() => window.__sameDocument === true")  # no reload happened
    customer.get_by_text("Waiting for a person").first.wait_for(state="detached", timeout=LIVE_TIMEOUT_MS)
    settle(customer)
    shot(customer, "conversation")

    # 6. A citation opens its article: the excerpt from the case and the whole article.
    link = customer.get_by_test_id("stPageLink-NavLink").first
    title = link.inner_text().strip().splitlines()[-1].strip()  # after the icon's name
    link.click()
    customer.get_by_role("heading", name=title).wait_for()
    customer.get_by_text("The part your answer was based on").wait_for()
    customer.get_by_text("Back to the conversation").wait_for()
    settle(customer)
    assert "/article" in customer.url and "id=KB-" in customer.url
    shot(customer, "article")

    # 7. A reload keeps the person signed in and the article open; an old address still leads to the case.
    customer.reload()
    customer.get_by_role("heading", name=title).wait_for()
    assert customer.get_by_test_id("stSidebar").get_by_text("Signed in as").is_visible()
    customer.goto(f"{desk.ui_url}/cases?s={key}&case={case_id}")
    customer.get_by_role("heading", name=re.compile("^I was charged twice")).first.wait_for()
    customer.get_by_text(note).wait_for()


def test_staff_see_the_desks_status(browser: Browser, desk: Desk) -> None:
    staff = new_tab(browser, desk)
    sign_in(staff, STAFF[0], STAFF[1])
    open_page(staff, "Status")
    staff.get_by_text("Degraded answers").wait_for()
    staff.get_by_role("heading", name="Requests per route").wait_for()
    assert staff.get_by_test_id("stMetric").count() == 4
    shot(staff, "status")


def test_an_oncall_link_opens_its_case_after_signing_in(browser: Browser, desk: Desk) -> None:
    customer = new_tab(browser, desk)
    sign_in(customer, CUSTOMER[0], CUSTOMER[1])
    customer.get_by_text("This is an emergency").click()
    chat(customer, "Describe your problem", "Someone has taken over my account and is changing my payment details.")
    wait_for_messages(customer, 2)
    case_id = parse_qs(urlsplit(customer.url).query)["case"][0]
    # The link an on-call page carries (desk/oncall/payload.py), opened in a fresh browser.
    staff = browser.new_context(viewport=VIEWPORT).new_page()
    staff.set_default_timeout(UI_TIMEOUT_MS)
    staff.goto(f"{desk.ui_url}/oncall?case={case_id}")
    staff.get_by_text("The linked case opens here once you are signed in.").wait_for()
    sign_in(staff, STAFF[0], STAFF[1])
    staff.get_by_test_id("stCaptionContainer").filter(has_text=case_id).first.wait_for()
    assert staff.get_by_text("Emergency (flagged by customer)").first.is_visible()


def test_the_staff_queues_case_list_stays_open_while_the_queues_refresh(browser: Browser, desk: Desk) -> None:
    file_through_the_api(desk, OTHER_CUSTOMER, "My card was stolen and someone is paying with it.", emergency=True)
    staff = new_tab(browser, desk)
    sign_in(staff, STAFF[0], STAFF[1])
    open_page(staff, "Queues")
    settle(staff)
    staff.get_by_test_id("stSelectbox").first.click()
    listed = staff.get_by_role("option").first
    listed.wait_for()
    # A staff member reading the list while the queues redraw themselves must not have it closed under them.
    staff.wait_for_timeout((QUEUE_REFRESH_SECONDS + 4) * 1000)
    assert listed.is_visible()
