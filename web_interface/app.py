"""The Streamlit entry point: sign-in in the sidebar, then the pages this person's role may use.

Started by `support-desk ui` (see `web_interface/commands.py`). It talks to the API only, over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from web_interface import session
from web_interface.api_client import ApiError, AuthSession, Role
from web_interface.components import md_escape

# Not "pages/": Streamlit would treat that folder as an old-style multipage app beside st.navigation.
PAGES = Path(__file__).parent / "app_pages"
WIDE_PAGES = frozenset({"oncall"})  # url paths drawn in the wide layout


def _sidebar(auth: AuthSession | None) -> None:
    with st.sidebar:
        if auth is not None:
            who = f"customer {auth.customer_id}" if auth.role is Role.CUSTOMER and auth.customer_id else auth.role.value
            st.success(f"Signed in as **{md_escape(auth.username)}** ({md_escape(who)})", icon=":material/person:")
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
    st.set_page_config(page_title="Support desk", page_icon=":material/support_agent:")
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
            pages.append(st.Page(PAGES / "metrics.py", title="Metrics", icon=":material/insights:", url_path="metrics"))
    if auth is not None and auth.is_staff:
        pages.append(_oncall_page("visible"))
    elif auth is None and st.query_params.get("case"):
        # A page's link (`/oncall?case=<id>`, desk/oncall/payload.py) opened before signing in: the page must
        # exist, hidden, or Streamlit falls back to the default page and the link (path and `?case=`) is lost.
        # There it asks for a staff sign-in, whose rerun keeps the URL and so opens the case.
        pages.append(_oncall_page("hidden"))
    page = st.navigation(pages)
    # Wide for the on-call queue's eight columns, which the centred layout cuts off at 1280x800. Set here, once
    # per run: a second layout in the same run (say the page's own) can be dropped, because the browser checks
    # each against its layout before the first has been applied.
    st.set_page_config(layout="wide" if page.url_path in WIDE_PAGES else "centered")
    page.run()


def _oncall_page(visibility: Literal["visible", "hidden"]) -> StreamlitPage:
    return st.Page(
        PAGES / "oncall.py",
        title="On-call",
        icon=":material/notifications_active:",
        url_path="oncall",
        visibility=visibility,
    )


if __name__ == "__main__":  # Streamlit runs the entry script as __main__
    main()
