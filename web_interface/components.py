"""Pieces of page that more than one page draws: labels, a case header, the chat thread, the case list.

What customers, staff and the agents wrote (messages, replies, subjects, excerpts) is shown with `st.text` or
in tables: never as Markdown or HTML, so `[x](javascript:...)`, `![i](http://tracker/...)` or `**bold**`
appear as typed and no link or image is ever made of them. Values put into Markdown we draw ourselves
(names, IDs, titles, subjects in labels) go through `md_escape`. The one Markdown we render is the body of
our own knowledge-base articles, through `article_markdown`, which keeps only http(s) links.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import streamlit as st
from streamlit.errors import StreamlitAPIException

from web_interface.api_client import CaseDetail, CaseMessage, CaseSummary, Citation

ARTICLE_PAGE = "app_pages/article.py"

AGENT_LABELS = {
    "billing": "Billing specialist",
    "technical": "Technical specialist",
    "escalation": "Escalation team",
    "general": "General support",
    "complex": "Several specialists",
}
# The one mapping from a case status to what people read, on every page (list, header, queues, status).
STATUS_LABELS = {
    "open": "Open",
    "queued": "Being answered",
    "running": "Being answered",
    "answered": "Answered",
    "escalated": "Escalated",
    "needs_human": "Waiting for a person",
    "acknowledged": "Taken by staff",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "failed": "Not answered",
}
STATUS_COLOURS = {
    "queued": "gray",
    "running": "gray",
    "answered": "blue",
    "escalated": "red",
    "needs_human": "orange",
    "acknowledged": "violet",
    "in_progress": "violet",
    "resolved": "green",
    "failed": "red",
}
# The statuses in which the desk is still writing; the case view says so under the thread.
WORKING = frozenset({"queued", "running"})
# Colours for Streamlit's markdown badges. Text and colour, no emoji: emoji need a colour-emoji font that
# many servers' and kiosks' browsers (and headless Chromium) do not have.
PRIORITY_COLOURS = {"urgent": "red", "high": "orange", "medium": "blue", "low": "green"}
# By `emergency_source`: the case header's badge, and the queue's short column (the queue must fit 1280 wide).
EMERGENCY_BADGES = {"customer": "Emergency (flagged by customer)", "detected": "Emergency (detected)"}
EMERGENCY_COLUMN = {"customer": "By customer", "detected": "Detected"}
# Thread authors -> the avatar Streamlit's chat messages understand ("user"/"assistant") or an icon.
AUTHOR_AVATARS = {"customer": "user", "agent": "assistant", "ai": "assistant", "staff": ":material/support_agent:"}
DESK_NAME = "Support desk"
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


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", label(status))


def status_badge(status: str | None) -> str:
    """Markdown for a coloured status badge."""
    return f":{STATUS_COLOURS.get(status or '', 'gray')}-badge[{md_escape(status_label(status))}]"


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


def ago(when: datetime | None) -> str:
    return f"{age(since=when)} ago" if when is not None else "—"


def subject_of(case: CaseSummary, limit: int = 80) -> str:
    """The line a case is listed under: its subject (the first line of its first message), or, from an API
    without subjects, its category."""
    subject = " ".join((case.subject or "").split())
    if subject:
        return subject if len(subject) <= limit else subject[: limit - 1].rstrip() + "…"
    return f"{label(case.category or case.route)} request"


def emergency_source(emergency: bool, auto_emergency: bool) -> str | None:
    """Who called it an emergency: the customer's checkbox ("customer"), or the desk's rule for urgent escalations
    ("detected", desk/oncall/policy.py). Staff need to tell them apart: a detected one may be a misclassification."""
    if emergency:
        return "customer"
    if auto_emergency:
        return "detected"
    return None


# --- unread markers --------------------------------------------------------------------------------------


def is_unread(case: CaseSummary, seen: dict[str, datetime], session_started: datetime | None) -> bool:
    """New to this browser session: the case changed after the last time this session showed its thread; or,
    never shown here, it changed after the session began. What this session itself sends is shown at once
    (and so seen), which leaves the replies of the desk and of staff."""
    activity = case.last_activity
    if activity is None:
        return False
    activity = activity if activity.tzinfo else activity.replace(tzinfo=UTC)
    last_seen = seen.get(case.case_id)
    if last_seen is not None:
        return activity > last_seen
    return session_started is not None and activity > session_started


# --- a case ----------------------------------------------------------------------------------------------


def case_header(case: CaseDetail, *, staff: bool) -> None:
    """The subject, status (and for staff priority, customer, category), case ID and ages, in little height."""
    source = emergency_source(case.emergency, case.auto_emergency)
    badges = [status_badge(case.status)]
    if staff:
        badges.append(priority_badge(case.priority))
    if source:
        badges.append(f":red-badge[:material/emergency: {EMERGENCY_BADGES[source]}]")
    st.markdown(f"#### {md_escape(subject_of(case))}\n{' '.join(badges)}")
    case_id = case.case_id.replace("`", "")  # inside a code span nothing else needs escaping
    details = [f"Case `{case_id}`"]
    if staff and case.customer_id:
        details.append(f"customer {md_escape(case.customer_id)}")
    if staff and case.category:
        details.append(md_escape(label(case.category)))
    if case.created_at:
        details.append(f"opened {ago(case.created_at)}")
    if case.last_activity:
        details.append(f"last update {ago(case.last_activity)}")
    st.caption(" · ".join(details))


def author_label(message: CaseMessage, *, viewer_is_customer: bool) -> str:
    """ "You" for the customer's own messages (to staff: "Customer"), "Support desk" for the agents, and the
    staff member's username on a staff reply."""
    author = message.author.lower()
    if author == "customer":
        return "You" if viewer_is_customer else "Customer"
    if author == "staff":
        return message.author_name or "Support team"
    return DESK_NAME


def case_thread(case: CaseDetail, *, viewer_is_customer: bool) -> None:
    if not case.messages:
        st.caption("No messages on this case yet.")
    for message in case.messages:
        author = message.author.lower()
        with st.chat_message(author, avatar=AUTHOR_AVATARS.get(author, ":material/person:")):
            who = author_label(message, viewer_is_customer=viewer_is_customer)
            when = f" · {message.created_at:%Y-%m-%d %H:%M} UTC" if message.created_at else ""
            st.caption(f"**{md_escape(who)}**{when}")
            # Customer, staff and agent text: as typed, never Markdown (it can quote a prompt-injected link).
            st.text(message.text, width="stretch")
            if message.citations:
                citations(message.citations, case.case_id)
    if case.status in WORKING:
        with st.chat_message("agent", avatar="assistant"):
            st.caption(f"**{DESK_NAME}**")
            st.text("Writing an answer… it appears here by itself.")


def citations(items: list[Citation], case_id: str) -> None:
    """Each article the answer used: its title (a link to the article page), and a short excerpt."""
    st.caption("From our help articles")
    for citation in items:
        with st.container(border=True):
            article_link(citation, case_id)
            if citation.excerpt:
                st.text(citation.excerpt, width="stretch")


def article_link(citation: Citation, case_id: str | None) -> None:
    title = md_escape(citation.title)
    if not citation.article_id:
        st.markdown(f":material/article: {title}")
        return
    query = {"id": citation.article_id, **({"case": case_id} if case_id else {})}
    try:
        st.page_link(ARTICLE_PAGE, label=title, icon=":material/article:", query_params=query)
    except StreamlitAPIException:
        # A page run on its own (without the app's navigation) has no article page to link to.
        st.markdown(f":material/article: {title} ({md_escape(citation.article_id)})")


# --- our own Markdown: knowledge-base articles -----------------------------------------------------------

# [text](target "title") and ![alt](target): the target may hold balanced parentheses, as CommonMark allows.
_INLINE_LINK = re.compile(r"(!?)\[((?:[^\[\]\\]|\\.)*)\]\(\s*<?((?:[^\s()<>]|\([^\s()]*\))*)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*\n?[ \t]*<?(\S+?)>?(?:[ \t].*)?$", re.MULTILINE)


def _safe_target(target: str) -> bool:
    return target.lower().startswith(SAFE_LINK_SCHEMES)


def article_markdown(body: str) -> str:
    """The body of one of our knowledge-base articles as Markdown with only http(s) links and images: any other
    target (javascript:, data:, relative paths) leaves the link's text and drops the link. HTML is never
    rendered (st.markdown without unsafe_allow_html)."""

    def inline(match: re.Match[str]) -> str:
        bang, text, target = match.groups()
        if _safe_target(target):
            return match.group(0)
        return "" if bang else text

    body = _INLINE_LINK.sub(inline, body)
    body = _AUTOLINK.sub(lambda m: m.group(0) if _safe_target(m.group(1)) else md_escape(m.group(1)), body)
    return _REFERENCE_DEFINITION.sub(lambda m: m.group(0) if _safe_target(m.group(1)) else "", body)
