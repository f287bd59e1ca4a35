"""Ask for help: the customer form, and the answer card once the agents have replied."""

from __future__ import annotations

import hashlib

import streamlit as st

from web_interface import components, session
from web_interface.api_client import ApiError, Role, SupportRoute

REQUEST_TYPES = {
    SupportRoute.AUTO: "Auto-detect",
    SupportRoute.BILLING: "Billing",
    SupportRoute.TECHNICAL: "Technical",
    SupportRoute.ESCALATION: "Escalation",
    SupportRoute.COMPLEX: "Complex (several issues)",
}


def _fingerprint(request: dict[str, object]) -> str:
    return hashlib.sha256(repr(sorted(request.items())).encode()).hexdigest()


def _queue_request(own_customer_id: str | None) -> None:
    """Button callback: runs before the rerun, so the form is drawn disabled while the request is sent."""
    state = st.session_state
    request = {
        "message": (state.get("ask_message") or "").strip(),
        "route": state["ask_route"],
        "customer_id": None if own_customer_id else (state.get("ask_customer_id") or "").strip() or None,
        "emergency": bool(state.get("ask_emergency")),
    }
    if not request["message"]:
        state["ask_notice"] = "Please describe your problem first."
    elif not own_customer_id and not request["customer_id"]:
        state["ask_notice"] = "Please enter the customer ID this request is for."
    elif _fingerprint(request) == state["last_fingerprint"] and state["last_answer"] is not None:
        state["ask_notice"] = (
            f"You already sent this request; its answer is below (case {state['last_answer'].case_id})."
        )
    else:
        state["pending"] = request


def _show_messages() -> None:
    """What happened to the last click, shown once."""
    if st.session_state["ask_notice"]:
        st.info(st.session_state["ask_notice"], icon=":material/info:")
        st.session_state["ask_notice"] = None
    if st.session_state["ask_error"]:
        st.error(st.session_state["ask_error"], icon=":material/error:")
        st.session_state["ask_error"] = None


session.init_state()
auth = session.current_auth()
config = session.settings()
busy = st.session_state["pending"] is not None

st.title("Ask for help")
if auth is None and not session.guest_mode_available():
    _show_messages()  # e.g. why the sign-in ended
    st.info("Please sign in (in the sidebar) to send a request to our support team.", icon=":material/login:")
    st.stop()

# The fields stay editable while a request is on its way: what is sent is the snapshot in `pending`, and
# Streamlit drops the value of a widget that is drawn disabled for a run.
own_customer_id = auth.customer_id if auth is not None and auth.role is Role.CUSTOMER else None
if own_customer_id:
    st.caption(f"You are writing as customer **{components.md_escape(own_customer_id)}**.")
else:
    st.text_input(
        "Customer ID",
        key="ask_customer_id",
        placeholder="e.g. CUST-1042",
        help="The customer this request is for. It is on your invoices and in your account settings.",
    )
st.selectbox(
    "Request type",
    options=list(REQUEST_TYPES),
    format_func=REQUEST_TYPES.__getitem__,
    key="ask_route",
    help="Auto-detect lets our classifier pick the right specialist.",
)
message = st.text_area(
    "Describe your problem",
    key="ask_message",
    max_chars=config.max_message_length,
    height=180,
    placeholder="What happened, what you expected, and any order or invoice numbers.",
)
# The box itself counts live while it has focus (max_chars); this line keeps the count once it has not.
used = len(message or "")
st.caption(
    f"{used:,} of {config.max_message_length:,} characters used."
    if used
    else f"Up to {config.max_message_length:,} characters; the box counts them as you type."
)
st.checkbox("This is an emergency", key="ask_emergency")
st.caption(
    "Tick this only if it cannot wait: an on-call person is alerted at once and your case goes to the top of the queue."
)

st.button(
    "Sending…" if busy else "Submit",
    type="primary",
    key="ask_submit",
    on_click=_queue_request,
    args=(own_customer_id,),
    # Only disabled while sending: a button disabled until the text box loses focus would swallow the
    # click of someone who types and presses Submit straight away. Empty fields are explained instead.
    disabled=busy,
)

_show_messages()

pending = st.session_state["pending"]
if pending is not None:
    with st.status("Our support agents are working on your request…", expanded=False) as progress:
        try:
            answer = session.api().submit(
                session.acting_token(),
                message=pending["message"],
                route=SupportRoute(pending["route"]),
                customer_id=pending["customer_id"],
                emergency=pending["emergency"],
            )
        except ApiError as exc:
            # Redraw the form enabled, with the reason under it; the typed text is kept.
            st.session_state["pending"] = None
            st.session_state["ask_error"] = session.error_sentence(exc)
            st.rerun()
        progress.update(label="Answered.", state="complete")
    st.session_state["pending"] = None
    st.session_state["last_answer"] = answer
    st.session_state["last_fingerprint"] = _fingerprint(pending)
    st.rerun()

if st.session_state["last_answer"] is not None:
    components.answer_card(st.session_state["last_answer"])
