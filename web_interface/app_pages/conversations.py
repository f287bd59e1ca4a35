"""Conversations: the case list on the left, the open case as a chat on the right, one chat box at the bottom.

The chat box writes the first message of a new conversation (a new case) and every follow-up of the open
one. Customers and guests see their own cases; staff and integrators see every case they may ("Cases"),
with a customer filter, and staff reply and act from here as from the queues. `?case=<id>` in the URL is
the open case, so a reload or a shared link (to someone who may see it) opens it again.
"""

from __future__ import annotations

import streamlit as st

from web_interface import case_view, components, session
from web_interface.api_client import ApiError, CaseSummary, SupportRoute

LIST_REFRESH_SECONDS = 15  # the list's unread markers and statuses follow without a reload
LIST_LIMIT = 50
LIST_SUBJECT_LENGTH = 48  # two lines of a list button
REQUEST_TYPES = {
    SupportRoute.AUTO: "Let the desk decide",
    SupportRoute.BILLING: "Billing",
    SupportRoute.TECHNICAL: "Technical",
    SupportRoute.ESCALATION: "Complaint or escalation",
    SupportRoute.COMPLEX: "Several problems at once",
}


def _open(case_id: str | None) -> None:
    st.session_state["case_id"] = case_id
    if case_id:
        st.query_params["case"] = case_id
    elif "case" in st.query_params:
        del st.query_params["case"]


def _follow_url() -> None:
    """The URL's `?case=` is the open case: a link or reload opens it; after moving between pages (which
    clears the query) the open case is put back into the URL."""
    linked = (st.query_params.get("case") or "").strip()
    if linked and linked != st.session_state["case_id"]:
        st.session_state["case_id"] = linked
    elif not linked and st.session_state["case_id"]:
        st.query_params["case"] = st.session_state["case_id"]


@st.fragment(run_every=LIST_REFRESH_SECONDS)
def case_list(viewer: session.Viewer, customer_filter: str | None) -> None:
    customer_id = viewer.customer_id if viewer.is_customer else customer_filter
    try:
        cases = session.api().list_cases(viewer.token, customer_id=customer_id, limit=LIST_LIMIT).items
    except ApiError as exc:
        session.show_error(exc)
        return
    cases = [case for case in cases if viewer.may_see(case)]
    if not cases:
        st.caption("No conversations yet." if viewer.is_customer else "No cases match.")
        return
    seen, started = session.seen(), st.session_state["started_at"]
    current = st.session_state["case_id"]
    for case in sorted(cases, key=_newest_first):
        unread = components.is_unread(case, seen, started) and case.case_id != current
        title = components.md_escape(components.subject_of(case, LIST_SUBJECT_LENGTH))
        if st.button(
            f"**{title}**" if unread else title,
            key=f"open_{case.case_id}",
            type="primary" if case.case_id == current else "secondary",
            help=components.md_escape(components.subject_of(case)) if case.subject else None,
            width="stretch",
        ):
            _open(case.case_id)
            st.rerun(scope="app")
        marker = " · :blue-badge[New]" if unread else ""
        who = f" · {components.md_escape(case.customer_id)}" if not viewer.is_customer and case.customer_id else ""
        status = components.md_escape(components.status_label(case.status))
        st.caption(f"{status} · {components.ago(case.last_activity)}{who}{marker}")


def _newest_first(case: CaseSummary) -> float:
    when = case.last_activity
    return -when.timestamp() if when is not None else 0.0


def _send_first_message(viewer: session.Viewer, text: str, customer_id: str | None) -> None:
    state = st.session_state
    with st.chat_message("customer", avatar="user"):
        st.caption("**You**")
        st.text(text, width="stretch")
    with st.spinner("The support desk is reading your message…"):
        try:
            answer = session.api().submit(
                viewer.token,
                message=text,
                route=SupportRoute(state.get("new_route") or SupportRoute.AUTO),
                customer_id=customer_id,
                emergency=bool(state.get("new_emergency")),
            )
        except ApiError as exc:
            if exc.case_id:
                # The case exists (say the agents failed after storing it): open it, the message is in it.
                _open(exc.case_id)
                state["chat_notice"] = ("warning", session.error_sentence(exc), None)
            else:
                state["chat_notice"] = ("error", session.error_sentence(exc), text)
            st.rerun()
    _open(answer.case_id)
    st.rerun()


def _send_follow_up(viewer: session.Viewer, case_id: str, text: str) -> None:
    with st.chat_message("customer", avatar="user"):
        st.caption("**You**")
        st.text(text, width="stretch")
    with st.spinner("The support desk is reading your message…"):
        try:
            session.api().reply(viewer.token, case_id, text)
        except ApiError as exc:
            saved = exc.case_id is not None  # the API stored the message before the agents failed
            st.session_state["chat_notice"] = (
                ("warning", session.error_sentence(exc), None)
                if saved
                else ("error", session.error_sentence(exc), text)
            )
    st.rerun()


def _show_chat_notice() -> None:
    notice = st.session_state["chat_notice"]
    if notice:
        kind, sentence, text = notice
        if kind == "warning":
            st.warning(sentence, icon=":material/warning:")
        else:
            st.error(f"Your message was not sent. {sentence}", icon=":material/error:")
            with st.expander("Your message, to copy and send again"):
                st.text(text, width="stretch")
        st.session_state["chat_notice"] = None


def _new_conversation(viewer: session.Viewer) -> None:
    st.subheader("New conversation", anchor=False)
    if viewer.kind == "guest":
        st.caption(
            f"You are writing as guest **{components.md_escape(viewer.customer_id or '')}**. Your conversations "
            "stay with this browser session; sign in to keep them with your account."
        )
    st.write("Tell us what happened: what you expected, and any order or invoice numbers. Write below.")
    if viewer.kind == "integrator":
        st.text_input("Customer ID", key="new_customer_id", placeholder="e.g. CUST-1042")
    st.selectbox(
        "Request type",
        options=list(REQUEST_TYPES),
        format_func=REQUEST_TYPES.__getitem__,
        key="new_route",
        help="Let the desk decide unless you know: it picks the right specialist.",
    )
    st.checkbox(
        "This is an emergency",
        key="new_emergency",
        help="Tick this only if it cannot wait: the case goes to the top of the staff queue.",
    )


session.init_state()
try:
    viewer = session.viewer()
except ApiError as exc:
    st.title("Conversations")
    session.show_error(exc)
    st.stop()
st.title("Conversations" if viewer is None or viewer.is_customer else "Cases")
if viewer is None:
    st.info("Please sign in (in the sidebar) to write to our support desk.", icon=":material/login:")
    st.stop()

_follow_url()
case_id: str | None = st.session_state["case_id"]
left, right = st.columns([1, 2], gap="large")

with left:
    if viewer.kind != "staff":
        st.button(
            "New conversation",
            icon=":material/edit_square:",
            key="new_conversation",
            on_click=_open,
            args=(None,),
            width="stretch",
            type="primary" if case_id is None else "secondary",
        )
    customer_filter = None
    if not viewer.is_customer:
        customer_filter = st.text_input("Customer ID", key="cases_customer_filter", placeholder="all customers")
    case_list(viewer, (customer_filter or "").strip() or None)

case = None
with right:
    _show_chat_notice()
    case_view.show_notice("oncall_notice")
    if case_id is None:
        if viewer.kind == "staff":
            st.info("Choose a case on the left.", icon=":material/inbox:")
        else:
            _new_conversation(viewer)
    else:
        case = case_view.load(viewer, case_id)
        if case is None:
            st.button("Close", key="close_case", on_click=_open, args=(None,))
        else:
            st.session_state["view_status"] = case.status
            case_view.live_thread(viewer, case.case_id, "view_status")
            if viewer.is_staff:
                case_view.staff_actions(viewer, case)
            elif case.status in case_view.CLOSED:
                st.caption("This case is resolved. For anything else, start a new conversation.")

limit = session.settings().max_message_length
if viewer.is_staff:
    if case is not None:
        case_view.staff_reply(viewer, case)
elif case_id is None:
    text = st.chat_input("Describe your problem", key="chat_first", max_chars=limit)
    if text and text.strip():
        customer = viewer.customer_id if viewer.kind == "guest" else None
        if viewer.kind == "integrator":
            customer = (st.session_state.get("new_customer_id") or "").strip() or None
        if viewer.kind == "integrator" and not customer:
            st.session_state["chat_notice"] = ("error", "Enter the customer ID this request is for.", text)
            st.rerun()
        with right:
            _send_first_message(viewer, text.strip(), customer)
elif case is not None:
    closed = case.status in case_view.CLOSED
    text = st.chat_input(
        "This case is resolved" if closed else "Write a message", key="chat_follow_up", max_chars=limit, disabled=closed
    )
    if text and text.strip():
        with right:
            _send_follow_up(viewer, case.case_id, text.strip())
