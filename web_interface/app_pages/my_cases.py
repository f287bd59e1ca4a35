"""My cases: the signed-in customer's cases with their status, and the thread of the one opened.

Staff and integrators see the same page as "Cases", with a customer ID filter.
"""

from __future__ import annotations

import streamlit as st

from web_interface import components, session
from web_interface.api_client import ApiError, Role

CLOSED = {"resolved"}  # no follow-ups on a resolved case: a new request opens a new case

session.init_state()
auth = session.current_auth()
if auth is None:
    st.title("My cases")
    st.info("Please sign in (in the sidebar) to see your cases.", icon=":material/login:")
    st.stop()

is_customer = auth.role is Role.CUSTOMER
st.title("My cases" if is_customer else "Cases")
customer_id = auth.customer_id if is_customer else None
if not is_customer:
    customer_id = st.text_input("Customer ID", key="cases_customer_filter", placeholder="all customers").strip() or None
st.button("Refresh", icon=":material/refresh:", key="cases_refresh")

try:
    cases = session.api().list_cases(auth.access_token, customer_id=customer_id).items
except ApiError as exc:
    session.show_error(exc)
    st.stop()

if not cases:
    st.info("There are no cases yet. Requests you send on the Ask for help page appear here.")
    st.stop()

st.dataframe(
    [
        {
            "Case": case.case_id,
            "Status": components.label(case.status),
            "Priority": components.priority_label(case.priority),
            "Type": components.label(case.route or case.category),
            "Emergency": "Yes" if case.emergency else "",
            "Opened (UTC)": f"{case.created_at:%Y-%m-%d %H:%M}" if case.created_at else "",
        }
        for case in cases
    ],
    hide_index=True,
    width="stretch",
)

ids = [case.case_id for case in cases]
if st.session_state["case_id"] not in ids:
    st.session_state["case_id"] = ids[0]
by_id = {case.case_id: case for case in cases}
selected = st.selectbox(
    "Open a case",
    options=ids,
    key="case_id",
    format_func=lambda case_id: f"{case_id} · {components.label(by_id[case_id].status)}",
)

try:
    case = session.api().get_case(auth.access_token, selected)
except ApiError as exc:
    session.show_error(exc)
    st.stop()

with st.container(border=True):
    components.case_header(case)
    components.case_thread(case)
    if st.session_state["cases_notice"]:
        st.success(st.session_state["cases_notice"], icon=":material/check_circle:")
        st.session_state["cases_notice"] = None
    if case.status not in CLOSED:
        with st.form("case_follow_up", clear_on_submit=True, border=False):
            follow_up = st.text_area(
                "Add a message to this case", max_chars=session.settings().max_message_length, height=100
            )
            if st.form_submit_button("Send", icon=":material/send:"):
                if not follow_up.strip():
                    st.warning("Write a message first.")
                else:
                    try:
                        session.api().reply(auth.access_token, case.case_id, follow_up.strip())
                    except ApiError as exc:
                        session.show_error(exc)
                    else:
                        st.session_state["cases_notice"] = "Your message was added to the case."
                        st.rerun()
