"""On-call: open escalations (emergencies first), and the case being worked on.

The queue refreshes itself; the opened case does not, so a reply being typed is never interrupted.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from web_interface import components, session
from web_interface.api_client import ApiError, AuthSession, CaseStatus, EndpointMissingError, QueueItem

# Often enough that a new emergency shows within a quarter minute, rarely enough to be no load on the API.
QUEUE_REFRESH_SECONDS = 15
PRIORITY_ORDER = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


def _sort_key(item: QueueItem) -> tuple[int, int, float]:
    # Emergencies first, then priority, then the oldest; the API already sorts, this keeps it so.
    return (not item.emergency, PRIORITY_ORDER.get(item.priority or "", 9), -(item.age_seconds or 0))


def _emergency(item: QueueItem) -> str:
    source = components.emergency_source(item.emergency, item.auto_emergency)
    return components.EMERGENCY_COLUMN[source] if source else ""


def _breach(item: QueueItem) -> str:
    if item.breached:
        return "Overdue"
    if item.time_to_breach_seconds is None:
        return "—"  # acknowledged: the response-time clock has stopped
    return components.age(item.time_to_breach_seconds)


@st.fragment(run_every=QUEUE_REFRESH_SECONDS)
def queue(auth: AuthSession) -> None:
    try:
        items = sorted(session.api().oncall_queue(auth.access_token), key=_sort_key)
    except EndpointMissingError:
        st.info(
            "The connected API has no on-call queue yet, so open escalations cannot be listed here. "
            "You can still open a case by its ID below.",
            icon=":material/info:",
        )
        return
    except ApiError as exc:
        session.show_error(exc)
        return
    if not items:
        st.success("No open escalations. The queue refreshes by itself.", icon=":material/check_circle:")
        return
    st.dataframe(
        [
            {
                "Emergency": _emergency(item),
                "Case": item.case_id,
                "Priority": components.priority_label(item.priority),
                "Status": components.label(item.status),
                "Age": components.age(item.age_seconds, item.created_at),
                "Respond in": _breach(item),
                "Customer": item.customer_id or "",
                "Acknowledged by": item.acknowledged_by or "",
            }
            for item in items
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(f"{len(items)} open · refreshed every {QUEUE_REFRESH_SECONDS} s")
    ids = [item.case_id for item in items]
    current = st.session_state["oncall_case_id"]
    choice = st.selectbox(
        "Open a case",
        options=ids,
        index=ids.index(current) if current in ids else None,
        placeholder="Choose a case from the queue",
        key="oncall_pick",
    )
    if choice and choice != current:
        st.session_state["oncall_case_id"] = choice
        st.rerun(scope="app")  # the case panel lives outside this fragment


def _open_linked_case() -> None:
    """Open the case of a page's link (`/oncall?case=<id>`, desk/oncall/payload.py) once; after that the queue
    and the Case ID box choose, and a rerun with the same URL must not pull the person back to the linked case."""
    linked = (st.query_params.get("case") or "").strip()
    if linked and linked != st.session_state["oncall_linked"]:
        st.session_state["oncall_linked"] = linked
        st.session_state["oncall_case_id"] = linked


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


session.init_state()
auth = session.current_auth()
st.title("On-call")
if auth is None or not auth.is_staff:
    st.info("The on-call page is for support staff. Please sign in with a staff account.", icon=":material/lock:")
    if st.query_params.get("case"):
        # Not echoed: the URL is anyone's to write, so its text is not put into the page.
        st.caption("The linked case opens here once you are signed in.")
    st.stop()

_open_linked_case()
queue(auth)

st.divider()
typed = st.text_input("Case ID", key="oncall_case_typed", placeholder="or type a case ID").strip()
if typed and typed != st.session_state["oncall_case_id"]:
    st.session_state["oncall_case_id"] = typed
case_id = st.session_state["oncall_case_id"]
if not case_id:
    st.stop()

try:
    case = session.api().get_case(auth.access_token, case_id)
except ApiError as exc:
    session.show_error(exc)
    st.stop()

client, token = session.api(), auth.access_token
notice = st.session_state["oncall_notice"]
if notice:
    kind, sentence = notice
    {"success": st.success, "warning": st.warning}.get(kind, st.error)(sentence)
    st.session_state["oncall_notice"] = None
with st.container(border=True):
    components.case_header(case)
    components.case_thread(case)
    ack, progress, resolve, hand_back = st.columns(4)
    if ack.button("Acknowledge", key="oncall_ack", icon=":material/done:"):
        _run(
            "acknowledge",
            "The case is acknowledged; paging has stopped.",
            lambda: client.acknowledge(token, case.case_id),
        )
    if progress.button("In progress", key="oncall_progress", icon=":material/pending:"):
        _run(
            "update",
            "The case is marked in progress.",
            lambda: client.set_status(token, case.case_id, CaseStatus.IN_PROGRESS),
        )
    if resolve.button("Resolve", key="oncall_resolve", icon=":material/task_alt:"):
        _run("resolve", "The case is resolved.", lambda: client.set_status(token, case.case_id, CaseStatus.RESOLVED))
    if hand_back.button("Hand back to AI", key="oncall_handback", icon=":material/smart_toy:"):
        _run("hand back", "The case is handed back to the AI agents.", lambda: client.hand_back(token, case.case_id))
    with st.form("oncall_reply", clear_on_submit=True, border=False):
        reply = st.text_area("Reply to the customer", max_chars=session.settings().max_message_length, height=120)
        if st.form_submit_button("Send reply", type="primary", icon=":material/send:"):
            if reply.strip():
                _run(
                    "reply to",
                    "Your reply was added to the case thread.",
                    lambda: client.reply(token, case.case_id, reply.strip()),
                )
            else:
                st.warning("Write a reply first.")
