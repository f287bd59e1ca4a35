"""Accounts (admins): every account, a form to create one, and disable / enable.

Disabling is immediate on the API (the account's tokens are refused within a second) and audited there.
"""

from __future__ import annotations

import streamlit as st

from web_interface import case_view, components, session
from web_interface.api_client import ApiError, EndpointMissingError, Role
from web_interface.session_store import GUEST_PREFIX

ROLES = {
    "customer": "Customer",
    "staff": "Staff",
    "admin": "Admin",
    "integrator": "Integrator (API client)",
}
MIN_PASSWORD = 8


def _token() -> str:
    auth = session.current_auth()
    return auth.access_token if auth is not None else ""


def _create() -> None:
    """Form callback: validate, create, and say what happened (the form is cleared only on success)."""
    state = st.session_state
    username = (state.get("new_username") or "").strip()
    role = state.get("new_role") or "customer"
    customer_id = (state.get("new_customer") or "").strip() or None
    password = state.get("new_password") or ""
    problem = None
    if not username:
        problem = "Enter a username."
    elif len(password) < MIN_PASSWORD:
        problem = f"The password must have at least {MIN_PASSWORD} characters."
    elif password != state.get("new_password_again"):
        problem = "The two passwords differ."
    elif role == "customer" and not customer_id:
        problem = "A customer account needs the customer ID it acts for."
    elif customer_id and customer_id.lower().startswith(GUEST_PREFIX):
        problem = f"Customer IDs starting with '{GUEST_PREFIX}' are kept for the web app's guests."
    if problem:
        state["admin_notice"] = ("error", problem)
        return
    try:
        account = session.api().create_account(
            _token(),
            username=username,
            password=password,
            role=role,
            customer_id=customer_id if role == "customer" else None,
        )
    except ApiError as exc:
        state["admin_notice"] = ("error", session.error_sentence(exc))
        return
    role_label = ROLES.get(account.role, account.role)
    state["admin_notice"] = ("success", f"Account {account.username} ({role_label}) created.")
    for key in ("new_username", "new_customer", "new_password", "new_password_again"):
        state[key] = ""


def _set_active(username: str, active: bool) -> None:
    state = st.session_state
    try:
        session.api().set_account_active(_token(), username, active)
    except EndpointMissingError:
        state["admin_notice"] = ("warning", "The connected API cannot disable or enable accounts yet.")
        return
    except ApiError as exc:
        state["admin_notice"] = ("error", session.error_sentence(exc))
        return
    state["admin_notice"] = ("success", f"{username} is {'enabled' if active else 'disabled'}.")


session.init_state()
auth = session.current_auth()
st.title("Accounts")
if auth is None or auth.role is not Role.ADMIN:
    st.info("Accounts are managed by admins. Please sign in with an admin account.", icon=":material/lock:")
    st.stop()
case_view.show_notice("admin_notice")

try:
    accounts = session.api().accounts(auth.access_token)
except ApiError as exc:
    session.show_error(exc)
    st.stop()

st.dataframe(
    [
        {
            "Username": a.username,
            "Role": ROLES.get(a.role, components.label(a.role)),
            "Customer ID": a.customer_id or "",
            "State": "Active" if a.is_active else "Disabled",
            "Created (UTC)": f"{a.created_at:%Y-%m-%d %H:%M}" if a.created_at else "",
            "Disabled (UTC)": f"{a.disabled_at:%Y-%m-%d %H:%M}" if a.disabled_at and not a.is_active else "",
        }
        for a in accounts
    ],
    hide_index=True,
    width="stretch",
)

create, change = st.columns(2, gap="large")
with create, st.form("create_account", border=True):
    st.subheader("Create an account", anchor=False)
    st.text_input("Username", key="new_username", max_chars=150, help="Letters, digits and . _ @ + -")
    st.selectbox("Role", options=list(ROLES), format_func=ROLES.__getitem__, key="new_role")
    st.text_input("Customer ID (customer accounts)", key="new_customer", max_chars=64, placeholder="e.g. CUST-1042")
    st.text_input("Password", type="password", key="new_password")
    st.text_input("Password again", type="password", key="new_password_again")
    st.form_submit_button("Create account", type="primary", on_click=_create)

with change:
    st.subheader("Disable or enable", anchor=False)
    others = [a for a in accounts if a.username != auth.username]
    if not others:
        st.caption("There is no other account.")
    else:
        by_name = {a.username: a for a in others}
        picked = st.selectbox(
            "Account",
            options=list(by_name),
            format_func=lambda name: f"{name} ({'active' if by_name[name].is_active else 'disabled'})",
            key="admin_pick",
        )
        chosen = by_name[picked]
        if chosen.is_active:
            st.button(
                f"Disable {chosen.username}",
                key="admin_disable",
                icon=":material/block:",
                on_click=_set_active,
                args=(chosen.username, False),
            )
            st.caption("Its sign-ins and tokens stop working within a second.")
        else:
            st.button(
                f"Enable {chosen.username}",
                key="admin_enable",
                icon=":material/check_circle:",
                on_click=_set_active,
                args=(chosen.username, True),
            )
            st.caption("It signs in again for a new token; tokens from before stay refused.")
