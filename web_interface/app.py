"""The Streamlit entry point: the session key, sign-in in the sidebar, then the pages this person may use.

Started by `support-desk ui` (see `web_interface/commands.py`). It talks to the API only, over HTTP.

    /                      Conversations (customers, guests) or Cases (staff, integrators); `?case=<id>`
    /article?id=KB-005     a help article, opened from a citation (hidden from the menu)
    /oncall                staff queues; `?case=<id>` is the link an on-call page carries
    /status                the desk's figures (staff)
    /accounts, /audit      admins
    /cases, /ask           old addresses: they open the conversations page
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from web_interface import session
from web_interface.api_client import ApiError, AuthSession, Role
from web_interface.components import md_escape

# Not "pages/": Streamlit would treat that folder as an old-style multipage app beside st.navigation.
PAGES = Path(__file__).parent / "app_pages"
WIDE_PAGES = frozenset({"", "oncall", "accounts", "audit"})  # url paths drawn in the wide layout
OLD_ADDRESSES = ("cases", "ask")


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
            st.caption("No account? Write to us as a guest on the Conversations page.")


def _redirect(home: StreamlitPage) -> Callable[[], None]:
    def go() -> None:
        st.switch_page(home, query_params=st.query_params.to_dict())

    return go


def main() -> None:
    st.set_page_config(page_title="Support desk", page_icon=":material/support_agent:")
    session.init_state()
    session.resume()
    auth = session.current_auth()
    _sidebar(auth)
    auth = session.current_auth()  # signing in or out above changes it
    if st.session_state["notice"]:
        st.info(st.session_state["notice"])
        st.session_state["notice"] = None

    customer_like = auth is None or auth.role is Role.CUSTOMER
    home = st.Page(
        PAGES / "conversations.py",
        title="Conversations" if customer_like else "Cases",
        icon=":material/forum:",
        url_path="conversations",
        default=True,
    )
    pages = [home, st.Page(PAGES / "article.py", title="Help article", url_path="article", visibility="hidden")]
    pages += [st.Page(_redirect(home), title=name, url_path=name, visibility="hidden") for name in OLD_ADDRESSES]
    if auth is not None and auth.is_staff:
        pages.append(_oncall_page("visible"))
        # The API shows the desk's health to staff only.
        pages.append(st.Page(PAGES / "status.py", title="Status", icon=":material/monitoring:", url_path="status"))
        pages.append(st.Page(PAGES / "metrics.py", title="Metrics", icon=":material/insights:", url_path="metrics"))
    elif auth is None and st.query_params.get("case"):
        # A page's link (`/oncall?case=<id>`, desk/oncall/payload.py) opened before signing in: the page must
        # exist, hidden, or Streamlit falls back to the default page and the link (path and `?case=`) is lost.
        # There it asks for a staff sign-in, whose rerun keeps the URL and so opens the case.
        pages.append(_oncall_page("hidden"))
    if auth is not None and auth.role is Role.ADMIN:
        pages.append(st.Page(PAGES / "accounts.py", title="Accounts", icon=":material/group:", url_path="accounts"))
        pages.append(st.Page(PAGES / "audit.py", title="Audit log", icon=":material/policy:", url_path="audit"))
    page = st.navigation(pages)
    # Moving between pages clears the URL's query; the session key goes back in so a reload resumes.
    session.keep_in_url()
    # Wide for the case list beside the chat, and the queues side by side. Set here, once per run: a second
    # layout in the same run (say the page's own) can be dropped, because the browser checks each against its
    # layout before the first has been applied.
    st.set_page_config(layout="wide" if page.url_path in WIDE_PAGES else "centered")
    page.run()


def _oncall_page(visibility: Literal["visible", "hidden"]) -> StreamlitPage:
    return st.Page(
        PAGES / "oncall.py",
        title="Queues",
        icon=":material/notifications_active:",
        url_path="oncall",
        visibility=visibility,
    )


if __name__ == "__main__":  # Streamlit runs the entry script as __main__
    main()
