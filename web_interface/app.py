"""The Streamlit entry point: sign-in in the sidebar, then the pages this person's role may use.

Started by `support-desk ui` (see `web_interface/commands.py`). It talks to the API only, over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from web_interface import session
from web_interface.api_client import ApiError, AuthSession, Role

# Not "pages/": Streamlit would treat that folder as an old-style multipage app beside st.navigation.
PAGES = Path(__file__).parent / "app_pages"


def _sidebar(auth: AuthSession | None) -> None:
    with st.sidebar:
        if auth is not None:
            who = f"customer {auth.customer_id}" if auth.role is Role.CUSTOMER and auth.customer_id else auth.role.value
            st.success(f"Signed in as **{auth.username}** ({who})", icon=":material/person:")
            st.button("Sign out", on_click=session.sign_out, key="sign_out")
            return
        with st.form("sign_in", clear_on_submit=False, border=False):
            st.subheader("Sign in")
            username = st.text_input("Username", key="sign_in_username")
            password = st.text_input("Password", type="password", key="sign_in_password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            if not username or not password:
                st.error("Enter your username and password.")
                return
            try:
                session.sign_in(username, password)
            except ApiError as exc:
                st.error(exc.user_message, icon=":material/error:")
                return
            st.rerun()
        if session.guest_mode_available():
            st.caption("You can also use the form without an account: enter your customer ID there.")


def main() -> None:
    st.set_page_config(page_title="Support desk", page_icon=":material/support_agent:", layout="centered")
    session.init_state()
    auth = session.current_auth()
    _sidebar(auth)
    if st.session_state["notice"]:
        st.info(st.session_state["notice"])
        st.session_state["notice"] = None

    pages = [st.Page(PAGES / "ask.py", title="Ask for help", icon=":material/chat:", url_path="ask", default=True)]
    if auth is not None:
        cases_title = "My cases" if auth.role is Role.CUSTOMER else "Cases"
        pages.append(st.Page(PAGES / "my_cases.py", title=cases_title, icon=":material/inbox:", url_path="cases"))
        if auth.is_staff:
            # The API shows the desk's health to staff only.
            pages.append(st.Page(PAGES / "status.py", title="Status", icon=":material/monitoring:", url_path="status"))
            pages.append(
                st.Page(PAGES / "oncall.py", title="On-call", icon=":material/notifications_active:", url_path="oncall")
            )
    st.navigation(pages).run()


if __name__ == "__main__":  # Streamlit runs the entry script as __main__
    main()
