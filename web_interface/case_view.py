"""One open case, shared by the conversations page and the staff queues: the live thread and staff actions.

The thread is a fragment that reruns on its own every `LIVE_REFRESH_SECONDS`: it reads the case again and
redraws the header and the messages, so a staff reply, the desk's answer to a queued message or a status
change appears without a reload. Only the fragment reruns; what someone is typing in the chat box or a form
is untouched. When the status changed, the whole page reruns once so its buttons and chat box follow.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from web_interface import components, session
from web_interface.api_client import ApiError, CaseDetail, CaseStatus, EndpointMissingError, NotFoundError

# Often enough that a reply reads as live, rarely enough to be no load on the API (one small GET per open case).
LIVE_REFRESH_SECONDS = 3
# Tall enough for a few messages, short enough that header, thread and chat box fit a 1280x800 screen.
THREAD_HEIGHT = 360
CLOSED = frozenset({"resolved"})  # no follow-ups on a resolved case: a new message opens a new case
WITH_PEOPLE = frozenset({"escalated", "needs_human", "acknowledged", "in_progress"})


def load(viewer: session.Viewer, case_id: str) -> CaseDetail | None:
    """The case if this viewer may see it; otherwise a sentence on the page and None."""
    try:
        case = session.api().get_case(viewer.token, case_id)
    except ApiError as exc:
        session.show_error(exc)
        return None
    if not viewer.may_see(case):
        # Said exactly as the API says it for a case that is not yours: no hint that it exists.
        st.error(NotFoundError.default_message, icon=":material/error:")
        return None
    return case


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def live_thread(viewer: session.Viewer, case_id: str, status_key: str) -> None:
    try:
        case = session.api().get_case(viewer.token, case_id)
    except ApiError as exc:
        session.show_error(exc)
        return
    if not viewer.may_see(case):
        st.error(NotFoundError.default_message, icon=":material/error:")
        return
    components.case_header(case, staff=viewer.is_staff)
    if viewer.is_staff:
        customer_and_sla(case)
    # A fixed height scrolls, and Streamlit keeps a scrolling container of chat messages at its newest one.
    with st.container(height=THREAD_HEIGHT, border=False):
        components.case_thread(case, viewer_is_customer=viewer.is_customer)
    session.mark_seen(case.case_id, case.last_activity)
    seen_status = st.session_state.get(status_key)
    st.session_state[status_key] = case.status
    if seen_status is not None and seen_status != case.status:
        st.rerun(scope="app")  # the page's buttons and chat box depend on the status


def customer_and_sla(case: CaseDetail) -> None:
    """For staff, beside the thread: who the customer is (tier, plan, other open cases) and the SLA clocks."""
    parts: list[str] = []
    profile = case.customer
    if profile is not None:
        who = profile.name or profile.id
        plan = f", plan {profile.plan}" if profile.plan else ""
        known = f"tier {profile.tier or 'standard'}{plan}" if profile.known else "no customer record"
        parts.append(f"{who}: {known}, {profile.open_cases} other open case(s)")
    if case.sla is not None:
        if case.sla.waiting_on_customer:
            parts.append("SLA paused: waiting on the customer")
        for clock in case.sla.clocks:
            if clock.state == "running":
                left = "overdue" if clock.breached else components.age(clock.remaining_seconds) + " left"
                parts.append(f"{clock.clock.replace('_', ' ')}: {left}")
    if parts:
        # st.text: the customer's name is their data, never Markdown.
        st.text(" · ".join(parts))


def _run(action: str, done: str, call: Callable[[], object]) -> None:
    """Run one staff action, then tell the person in a sentence what happened."""
    try:
        call()
    except EndpointMissingError:
        st.session_state["oncall_notice"] = ("warning", f"The connected API cannot {action} cases yet.")
    except ApiError as exc:
        st.session_state["oncall_notice"] = ("error", session.error_sentence(exc))
    else:
        st.session_state["oncall_notice"] = ("success", done)
    st.rerun()


def show_notice(key: str) -> None:
    notice = st.session_state.get(key)
    if notice:
        kind, sentence = notice
        {"success": st.success, "warning": st.warning, "info": st.info}.get(kind, st.error)(sentence)
        st.session_state[key] = None


def staff_actions(viewer: session.Viewer, case: CaseDetail) -> None:
    """Acknowledge, in progress, resolve, and hand back to the desk with a note for the customer."""
    client, token, case_id = session.api(), viewer.token, case.case_id
    ack, progress, resolve = st.columns(3)
    if ack.button("Acknowledge", key="staff_ack", icon=":material/done:", width="stretch"):
        _run("acknowledge", "The case is acknowledged; paging has stopped.", lambda: client.acknowledge(token, case_id))
    if progress.button("In progress", key="staff_progress", icon=":material/pending:", width="stretch"):
        _run(
            "update",
            "The case is marked in progress.",
            lambda: client.set_status(token, case_id, CaseStatus.IN_PROGRESS),
        )
    if resolve.button("Resolve", key="staff_resolve", icon=":material/task_alt:", width="stretch"):
        _run("resolve", "The case is resolved.", lambda: client.set_status(token, case_id, CaseStatus.RESOLVED))
    if case.status in WITH_PEOPLE:
        with st.form("staff_handback", clear_on_submit=True, border=True):
            note = st.text_area(
                "Note for the customer (optional, added to the thread)",
                max_chars=session.settings().max_message_length,
                height=80,
                key="staff_handback_note",
                placeholder="What you did or found, e.g. 'I have refunded the duplicate charge.'",
            )
            if st.form_submit_button("Hand back to the support desk", icon=":material/smart_toy:"):
                _run(
                    "hand back",
                    "The case is handed back to the support desk"
                    + (" with your note in the thread." if note.strip() else "."),
                    lambda: client.hand_back(token, case_id, note.strip() or None),
                )
    st.caption(
        "Reply to the customer in the box at the bottom of the page. Hand back when a person is no longer "
        "needed: the desk answers the customer's next message."
    )


def staff_reply(viewer: session.Viewer, case: CaseDetail) -> None:
    """The chat box at the bottom of the page, for a staff member's reply to the customer."""
    closed = case.status in CLOSED
    text = st.chat_input(
        "This case is resolved" if closed else "Reply to the customer",
        key="staff_reply",
        max_chars=session.settings().max_message_length,
        disabled=closed,
    )
    if text and text.strip():
        _run(
            "reply to",
            "Your reply was added to the case thread.",
            lambda: session.api().reply(viewer.token, case.case_id, text.strip()),
        )
