"""Staff queues: emergencies and cases waiting for a person, side by side, and the case being worked on.

The queues refresh themselves; so does the open case's thread (web_interface/case_view.py). A page's link
(`/oncall?case=<id>`, desk/oncall/payload.py) opens its case once.
"""

from __future__ import annotations

import streamlit as st

from web_interface import case_view, components, session
from web_interface.api_client import ApiError, EndpointMissingError, QueueItem, QueueKind

# Often enough that a new emergency shows within a quarter minute, rarely enough to be no load on the API.
QUEUE_REFRESH_SECONDS = 15
QUEUE_TITLES = {QueueKind.EMERGENCY: "Emergencies", QueueKind.NEEDS_HUMAN: components.status_label("needs_human")}
PAGING_OFF = "Paging is not configured: emergencies wait in this queue."


def _emergency(item: QueueItem) -> str:
    source = components.emergency_source(item.emergency, item.auto_emergency)
    return components.EMERGENCY_COLUMN[source] if source else ""


def _breach(item: QueueItem) -> str:
    # The SLA clock nearest its deadline when the API has SLA clocks, else the first-response target.
    if item.sla is not None and item.sla.state == "running":
        if item.sla.breached:
            return "Overdue"
        return components.age(item.sla.remaining_seconds) + (" (soon)" if item.sla.near_breach else "")
    if item.breached:
        return "Overdue"
    if item.time_to_breach_seconds is None:
        return "—"  # acknowledged: the response-time clock has stopped
    return components.age(item.time_to_breach_seconds)


def _subject(item: QueueItem) -> str:
    return " ".join((item.subject or "").split())[:80] or components.label(item.category) + " request"


def _option(item: QueueItem) -> str:
    customer = f" · {item.customer_id}" if item.customer_id else ""
    return f"{QUEUE_TITLES[item.queue]}: {_subject(item)}{customer} (respond in {_breach(item)})"


def _table(kind: QueueKind, items: list[QueueItem]) -> None:
    st.markdown(f"**{QUEUE_TITLES[kind]}** :gray-badge[{len(items)}]")
    if not items:
        st.caption("Empty.")
        return
    # Five columns, so two tables fit side by side at 1280 wide: an emergency is urgent, so its queue says who
    # called it one instead of the priority.
    rows = [
        {
            "Respond in": _breach(item),
            "Subject": _subject(item),
            **(
                {"Emergency": _emergency(item)}
                if kind is QueueKind.EMERGENCY
                else {"Priority": components.priority_label(item.priority)}
            ),
            "Customer": item.customer_id or "",
            "Taken by": item.acknowledged_by or "",
        }
        for item in items
    ]
    st.dataframe(rows, hide_index=True, width="stretch")


def _paging_banner(token: str) -> None:
    try:
        paging = session.api().paging_status(token)
    except EndpointMissingError:
        return  # an API without the page outbox: nothing to say
    except ApiError as exc:
        session.show_error(exc)
        return
    if paging.webhook_configured is False:
        st.warning(PAGING_OFF, icon=":material/notifications_off:")


@st.fragment(run_every=QUEUE_REFRESH_SECONDS)
def queues(viewer: session.Viewer) -> None:
    _paging_banner(viewer.token)
    found: dict[QueueKind, list[QueueItem]] = {}
    try:
        for kind in QueueKind:
            # The API's order: emergencies first, then by time to breach of the SLA.
            found[kind] = session.api().oncall_queue(viewer.token, kind)
    except EndpointMissingError:
        st.info(
            "The connected API has no staff queues yet, so open cases cannot be listed here. "
            "You can still open a case by its ID below.",
            icon=":material/info:",
        )
        return
    except ApiError as exc:
        session.show_error(exc)
        return
    columns = st.columns(2, gap="medium")
    for column, kind in zip(columns, QueueKind, strict=True):
        with column:
            _table(kind, found[kind])
    items = [item for kind in QueueKind for item in found[kind]]
    st.caption(f"{len(items)} waiting · refreshed every {QUEUE_REFRESH_SECONDS} s")
    if not items:
        return
    ids = [item.case_id for item in items]
    by_id = {item.case_id: item for item in items}
    current = st.session_state["oncall_case_id"]
    choice = st.selectbox(
        "Open a case",
        options=ids,
        index=ids.index(current) if current in ids else None,
        format_func=lambda case_id: _option(by_id[case_id]),
        placeholder="Choose a case from the queues",
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


def _open_typed_case() -> None:
    typed = (st.session_state.get("oncall_case_typed") or "").strip()
    if typed:
        st.session_state["oncall_case_id"] = typed


session.init_state()
auth = session.current_auth()
st.title("Staff queues")
if auth is None or not auth.is_staff:
    st.info("The staff queues are for support staff. Please sign in with a staff account.", icon=":material/lock:")
    if st.query_params.get("case"):
        # Not echoed: the URL is anyone's to write, so its text is not put into the page.
        st.caption("The linked case opens here once you are signed in.")
    st.stop()

viewer = session.Viewer("staff", auth.access_token, username=auth.username)
_open_linked_case()
queues(viewer)

st.divider()
st.text_input("Case ID", key="oncall_case_typed", placeholder="or type a case ID", on_change=_open_typed_case)
case_id = st.session_state["oncall_case_id"]
if not case_id:
    st.stop()

case_view.show_notice("oncall_notice")
case = case_view.load(viewer, case_id)
if case is None:
    st.stop()
st.session_state["oncall_status"] = case.status
with st.container(border=True):
    case_view.live_thread(viewer, case.case_id, "oncall_status")
    case_view.staff_actions(viewer, case)
case_view.staff_reply(viewer, case)
