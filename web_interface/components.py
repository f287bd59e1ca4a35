"""Pieces of page that more than one page draws: the answer card, a case thread, labels and ages.

What customers, staff and the agents wrote (messages, replies, excerpts) is shown with `st.text`: never as
Markdown or HTML, so `[x](javascript:...)`, `![i](http://tracker/...)` or `**bold**` appear as typed and no
link or image is ever made of them. Values put into Markdown we draw ourselves (names, IDs, titles) go
through `md_escape`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import streamlit as st

from web_interface.api_client import CaseDetail, SupportAnswer

AGENT_LABELS = {
    "billing": "Billing specialist",
    "technical": "Technical specialist",
    "escalation": "Escalation team",
    "general": "General support",
    "complex": "Several specialists",
}
# Colours for Streamlit's markdown badges. Text and colour, no emoji: emoji need a colour-emoji font that
# many servers' and kiosks' browsers (and headless Chromium) do not have.
PRIORITY_COLOURS = {"urgent": "red", "high": "orange", "medium": "blue", "low": "green"}
# By `emergency_source`: the case header's badge, and the queue's short column (the queue must fit 1280 wide).
EMERGENCY_BADGES = {"customer": "Emergency (flagged by customer)", "detected": "Emergency (detected)"}
EMERGENCY_COLUMN = {"customer": "By customer", "detected": "Detected"}
# Thread authors -> the avatar Streamlit's chat messages understand ("user"/"assistant") or an icon.
AUTHOR_AVATARS = {"customer": "user", "agent": "assistant", "ai": "assistant", "staff": ":material/support_agent:"}
# ASCII punctuation that starts Markdown or a Streamlit directive (`:red[...]`, `:material/x:`, `$math$`)
# anywhere in a line; CommonMark lets a backslash escape any of them.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~:$&])")
_MD_LINE_START = re.compile(r"^(\s*)([-=]|\d+\.)", re.MULTILINE)
SAFE_LINK_SCHEMES = ("https://", "http://")


def md_escape(value: str) -> str:
    """`value` as literal text inside Markdown: no emphasis, link, image, HTML, directive or list."""
    escaped = _MD_SPECIAL.sub(r"\\\1", value)
    # `-`, `=` and `1.` only mean something at the start of a line (list, heading underline, ordered list).
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", escaped)


def label(value: str | None) -> str:
    return (value or "unknown").replace("_", " ").capitalize()


def priority_label(priority: str | None) -> str:
    return label(priority)


def priority_badge(priority: str | None) -> str:
    """Markdown for a coloured priority badge."""
    return f":{PRIORITY_COLOURS.get(priority or '', 'gray')}-badge[{md_escape(label(priority))}]"


def age(seconds: float | None = None, since: datetime | None = None) -> str:
    """A short human age: '45 s', '12 min', '3 h 5 min', '2 d'."""
    if seconds is None:
        if since is None:
            return "—"
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
        seconds = (datetime.now(UTC) - start).total_seconds()
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


def answer_card(answer: SupportAnswer) -> None:
    with st.container(border=True):
        st.subheader("Our answer")
        if answer.escalated:
            st.info(
                "A person from our support team has been alerted and will contact you about this case. "
                "Keep the case ID below to follow it up.",
                icon=":material/support_agent:",
            )
        if answer.degraded:
            st.warning(
                "This answer was produced in a reduced mode and may be less complete than usual. "
                "If it does not solve your problem, add a message to the case under My cases.",
                icon=":material/warning:",
            )
        agent = AGENT_LABELS.get(answer.agent_type, label(answer.agent_type))
        meta, case = st.columns(2, vertical_alignment="center")
        meta.markdown(
            f"**Answered by** {md_escape(agent)}  \n**Priority** {priority_badge(answer.priority)} "
            f"&nbsp;·&nbsp; **Status** {md_escape(label(answer.status))}"
        )
        with case:
            st.caption("Case ID (point at it to copy)")
            st.code(answer.case_id, language=None)
        # The agents' reply can quote the customer (or a prompt-injected link): text, never Markdown.
        st.text(answer.response, width="stretch")
        if answer.citations:
            st.caption("Help articles used for this answer")
            for citation in answer.citations:
                with st.expander(md_escape(citation.title), icon=":material/article:"):
                    if citation.excerpt:
                        st.text(citation.excerpt, width="stretch")
                    if citation.url and citation.url.lower().startswith(SAFE_LINK_SCHEMES):
                        st.link_button("Open the article", citation.url)
                    if citation.article_id:
                        st.caption(f"Article {md_escape(citation.article_id)}")


def emergency_source(emergency: bool, auto_emergency: bool) -> str | None:
    """Who called it an emergency: the customer's checkbox ("customer"), or the desk's rule for urgent escalations
    ("detected", desk/oncall/policy.py). Staff need to tell them apart: a detected one may be a misclassification."""
    if emergency:
        return "customer"
    if auto_emergency:
        return "detected"
    return None


def case_header(case: CaseDetail) -> None:
    source = emergency_source(case.emergency, case.auto_emergency)
    emergency = f" :red-badge[:material/emergency: {EMERGENCY_BADGES[source]}]" if source else ""
    case_id = case.case_id.replace("`", "")  # inside a code span nothing else needs escaping
    st.markdown(f"**Case `{case_id}`** · {md_escape(label(case.status))} · {priority_badge(case.priority)}{emergency}")
    details = [
        f"customer {md_escape(case.customer_id)}" if case.customer_id else "",
        md_escape(label(case.category)) if case.category else "",
    ]
    if case.created_at:
        details.append(f"opened {age(since=case.created_at)} ago")
    st.caption(" · ".join(part for part in details if part))


def case_thread(case: CaseDetail) -> None:
    if not case.messages:
        st.caption("No messages on this case yet.")
    for message in case.messages:
        author = message.author.lower()
        with st.chat_message(author, avatar=AUTHOR_AVATARS.get(author, ":material/person:")):
            who = message.author_name or label(author)
            when = f" · {message.created_at:%Y-%m-%d %H:%M}" if message.created_at else ""
            st.caption(f"{md_escape(who)}{when}")
            st.text(message.text, width="stretch")
