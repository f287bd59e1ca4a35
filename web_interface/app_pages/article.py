"""A help article: `/article?id=KB-005`, opened from a citation under an answer (`&case=<id>` adds the excerpt
the answer quoted and a way back to the case).

The body is Markdown our own team wrote (crew/knowledge/), so it is rendered as Markdown, with only http(s)
links kept (components.article_markdown). The excerpt shown from the case is drawn as text, like everything
in a case.
"""

from __future__ import annotations

import contextlib

import streamlit as st
from streamlit.errors import StreamlitAPIException

from web_interface import components, session
from web_interface.api_client import ApiError, Citation

CONVERSATIONS_PAGE = "app_pages/conversations.py"


def _quoted(viewer: session.Viewer, case_id: str, article_id: str) -> Citation | None:
    """The citation of this article in that case, if the viewer may see the case (else nothing is said)."""
    try:
        case = session.api().get_case(viewer.token, case_id)
    except ApiError:
        return None
    if not viewer.may_see(case):
        return None
    found = [c for m in case.messages for c in m.citations if c.article_id == article_id]
    return found[-1] if found else None


def _back_to_case(case_id: str) -> None:
    # Run on its own (without the app's navigation) there is no page to link to.
    with contextlib.suppress(StreamlitAPIException):
        st.page_link(
            CONVERSATIONS_PAGE,
            label="Back to the conversation",
            icon=":material/arrow_back:",
            query_params={"case": case_id},
        )


session.init_state()
article_id = (st.query_params.get("id") or "").strip()
case_id = (st.query_params.get("case") or "").strip()
try:
    viewer = session.viewer()
except ApiError as exc:
    st.title("Help article")
    session.show_error(exc)
    st.stop()
if viewer is None:
    st.title("Help article")
    st.info("Please sign in (in the sidebar) to read our help articles.", icon=":material/login:")
    st.stop()
if not article_id:
    st.title("Help article")
    st.info("No article was named. Open one from the sources under an answer.", icon=":material/article:")
    st.stop()

try:
    article = session.api().article(viewer.token, article_id)
except ApiError as exc:
    st.title("Help article")
    session.show_error(exc)
    st.stop()

if case_id:
    _back_to_case(case_id)
st.title(components.md_escape(article.title), anchor=False)
st.caption(
    " · ".join(
        part
        for part in (
            f"Article {components.md_escape(article.article_id)}",
            components.md_escape(components.label(article.category)) if article.category else "",
        )
        if part
    )
)
quoted = _quoted(viewer, case_id, article.article_id) if case_id else None
if quoted is not None and quoted.excerpt:
    with st.container(border=True):
        st.caption("The part your answer was based on")
        st.text(quoted.excerpt, width="stretch")
st.markdown(components.article_markdown(article.body))
