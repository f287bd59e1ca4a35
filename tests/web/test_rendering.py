"""What customers, staff and the agents wrote is shown as text: never Markdown, never HTML (finding F1)."""

from __future__ import annotations

import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.web.conftest import WEB
from tests.web.fakes import FakeSupportApi, answer, auth_session, case
from web_interface.api_client import CaseMessage, Citation, Role
from web_interface.components import md_escape

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
    """Every string Streamlit will interpret as Markdown: markdown, captions, alerts, expander labels."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success")
    return [str(el.value) for kind in kinds for el in getattr(at, kind)] + [e.label for e in at.expander]


def _assert_shown_literally(at: AppTest, text: str) -> None:
    assert not at.exception
    assert text in [el.value for el in at.text]
    for source in _markdown_sources(at):
        for hostile in HOSTILE:
            assert hostile.splitlines()[0] not in source, (hostile, source)


def test_the_agents_answer_is_shown_as_typed(fake_api: FakeSupportApi) -> None:
    fake_api.next_answer = answer(
        response=f"You wrote:\n{MESSAGE}",
        citations=[Citation(title="**Refunds** [here](javascript:alert(1))", excerpt=MESSAGE, article_id="KB-1")],
    )
    at = AppTest.from_file(str(WEB / "app_pages" / "ask.py"), default_timeout=20)
    at.session_state["auth"] = auth_session()
    at.run()
    at.text_area(key="ask_message").input(MESSAGE)
    at.button(key="ask_submit").click().run()
    _assert_shown_literally(at, f"You wrote:\n{MESSAGE}")
    assert MESSAGE in [el.value for el in at.text]  # the excerpt
    [expander] = at.expander
    assert expander.label == md_escape("**Refunds** [here](javascript:alert(1))")


def test_customer_and_staff_messages_are_text_on_my_cases(fake_api: FakeSupportApi) -> None:
    fake_api.cases[0] = case(
        messages=[
            CaseMessage(author="customer", text=MESSAGE),
            CaseMessage(author="staff", text="**We** will [call](http://x/) you", author_name="**sam**"),
        ]
    )
    at = AppTest.from_file(str(WEB / "app_pages" / "my_cases.py"), default_timeout=20)
    at.session_state["auth"] = auth_session()
    at.run()
    _assert_shown_literally(at, MESSAGE)
    assert "**We** will [call](http://x/) you" in [el.value for el in at.text]
    assert md_escape("**sam**") in [c.value for c in at.caption][-1]


def test_the_oncall_thread_is_text(fake_api: FakeSupportApi) -> None:
    fake_api.cases[1] = case("case-0002", status="escalated", messages=[CaseMessage(author="customer", text=MESSAGE)])
    at = AppTest.from_file(str(WEB / "app_pages" / "oncall.py"), default_timeout=20)
    at.session_state["auth"] = auth_session(Role.STAFF)
    at.run()
    at.selectbox(key="oncall_pick").set_value("case-0002").run()
    _assert_shown_literally(at, MESSAGE)


@pytest.mark.parametrize("value", [*HOSTILE, MESSAGE, "CUST-1", "a\\*b", "&lt;b&gt;", "12) x", "= heading", "`code`"])
def test_md_escape_renders_back_to_the_same_text(value: str) -> None:
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed")
    rendered = markdown_it.MarkdownIt("commonmark").render(md_escape(value))
    # One paragraph of plain text: no link, image, emphasis, code, list or HTML, and the same characters.
    assert re.fullmatch(r"<p>(.*)</p>\n", rendered, re.DOTALL), rendered
    inner = rendered[3:-5]
    assert "<" not in inner.replace("<br />", "")
    assert html.unescape(inner) == value
