"""What customers, staff and the agents wrote is shown as text: never Markdown, never HTML (finding F1)."""

from __future__ import annotations

import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.web.conftest import WEB
from tests.web.fakes import FakeSupportApi, auth_session, case
from web_interface.api_client import CaseMessage, Citation, Role
from web_interface.components import article_markdown, md_escape

pytestmark = pytest.mark.usefixtures("web_settings")

# A link with a script URL, a tracking image, emphasis, raw HTML, a Streamlit directive, LaTeX and a list.
HOSTILE = [
    "[x](javascript:alert(1))",
    "![i](http://x/a.png)",
    "**bold**",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] :material/warning:",
    "$e^{i\\pi}$",
    "- not a list\n1. not a list either",
]
MESSAGE = "\n".join(HOSTILE)


def _markdown_sources(at: AppTest) -> list[str]:
    """Every string Streamlit will interpret as Markdown: markdown, headings, captions, alerts, labels."""
    kinds = ("markdown", "title", "subheader", "caption", "info", "warning", "error", "success")
    sources = [str(el.value) for kind in kinds for el in getattr(at, kind)]
    sources += [e.label for e in at.expander] + [b.label for b in at.button]
    return sources + [str(link.proto.label) for link in at.get("page_link")]


def _assert_shown_literally(at: AppTest, text: str) -> None:
    assert not at.exception
    assert text in [el.value for el in at.text]
    for source in _markdown_sources(at):
        for hostile in HOSTILE:
            assert hostile.splitlines()[0] not in source, (hostile, source)


def _conversation(case_id: str | None = None, role: Role = Role.CUSTOMER) -> AppTest:
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(role)
    if case_id:
        at.query_params["case"] = case_id
    return at.run()


def test_the_agents_answer_and_its_citation_are_shown_as_typed(fake_api: FakeSupportApi) -> None:
    title = "**Refunds** [here](javascript:alert(1))"
    fake_api.next_answer = {
        "status": "answered",
        "priority": "medium",
        "text": f"You wrote:\n{MESSAGE}",
        "citations": [Citation(title=title, excerpt=MESSAGE, article_id="KB-1")],
    }
    at = _conversation()
    at.chat_input(key="chat_first").set_value(MESSAGE).run()
    _assert_shown_literally(at, f"You wrote:\n{MESSAGE}")
    assert [el.value for el in at.text].count(MESSAGE) == 2  # the customer's message and the excerpt
    [link] = at.get("page_link")
    assert link.proto.label == md_escape(title)


def test_subjects_in_the_case_list_and_header_are_escaped(fake_api: FakeSupportApi) -> None:
    fake_api.cases[0] = case(subject=HOSTILE[0], messages=[CaseMessage(author="customer", text=MESSAGE)])
    at = _conversation("case-0001")
    _assert_shown_literally(at, MESSAGE)
    assert md_escape(HOSTILE[0]) in [b.label for b in at.button]
    assert at.markdown[0].value.startswith(f"#### {md_escape(HOSTILE[0])}\n")


def test_customer_and_staff_messages_are_text(fake_api: FakeSupportApi) -> None:
    fake_api.cases[0] = case(
        messages=[
            CaseMessage(author="customer", text=MESSAGE),
            CaseMessage(author="staff", text="**We** will [call](http://x/) you", author_name="**sam**"),
        ]
    )
    at = _conversation("case-0001")
    _assert_shown_literally(at, MESSAGE)
    assert "**We** will [call](http://x/) you" in [el.value for el in at.text]
    assert f"**{md_escape('**sam**')}**" in [c.value.split(" · ")[0] for c in at.caption]


def test_the_staff_queues_and_thread_are_text(fake_api: FakeSupportApi) -> None:
    fake_api.cases[1] = case(
        "case-0002",
        status="escalated",
        emergency=True,
        subject=MESSAGE,
        messages=[CaseMessage(author="customer", text=MESSAGE)],
    )
    at = AppTest.from_file(str(WEB / "app.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.STAFF)
    at.run()
    at.switch_page("app_pages/oncall.py").run()
    at.selectbox(key="oncall_pick").set_value("case-0002").run()
    _assert_shown_literally(at, MESSAGE)


@pytest.mark.parametrize(
    ("body", "kept", "dropped"),
    [
        ("[site](https://example.com/a_(b))", "[site](https://example.com/a_(b))", None),
        ("[x](javascript:alert(1)) after", "x after", "javascript"),
        ("![i](data:image/png;base64,AAA)", "", "data:"),
        ("![i](http://example.com/i.png)", "![i](http://example.com/i.png)", None),
        ('[x](JaVaScRiPt:alert(1) "t")', "x", "alert"),
        ("<javascript:alert(1)>", "javascript\\:alert\\(1\\)", "<javascript"),
        ("<https://example.com>", "<https://example.com>", None),
        ("[ref]: javascript:alert(1)\n[x][ref]", "[x][ref]", "javascript"),
        ("[relative](/admin) link", "relative link", "/admin"),
    ],
)
def test_articles_keep_only_http_links(body: str, kept: str, dropped: str | None) -> None:
    safe = article_markdown(body)
    assert kept in safe
    if dropped:
        assert dropped not in safe


@pytest.mark.parametrize("value", [*HOSTILE, MESSAGE, "CUST-1", "a\\*b", "&lt;b&gt;", "12) x", "= heading", "`code`"])
def test_md_escape_renders_back_to_the_same_text(value: str) -> None:
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed")
    rendered = markdown_it.MarkdownIt("commonmark").render(md_escape(value))
    # One paragraph of plain text: no link, image, emphasis, code, list or HTML, and the same characters.
    assert re.fullmatch(r"<p>(.*)</p>\n", rendered, re.DOTALL), rendered
    inner = rendered[3:-5]
    assert "<" not in inner.replace("<br />", "")
    assert html.unescape(inner) == value
