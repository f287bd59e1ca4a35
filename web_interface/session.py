"""Per-browser-session state and the shared API client.

Everything a page keeps between reruns lives in `st.session_state` under the keys of `DEFAULTS`, set only
when missing so a rerun never wipes what the user did. The bearer token is one of them: it is never put in
the URL, a cookie or a file, and it is gone when the browser tab closes.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from web_interface.api_client import ApiError, AuthError, AuthSession, SupportApi, SupportApiClient
from web_interface.settings import WebSettings, get_settings

DEFAULTS: dict[str, Any] = {
    "auth": None,  # AuthSession of the person signed in
    "guest_auth": None,  # AuthSession of the web integrator account, used for guests
    "last_answer": None,  # SupportAnswer shown on the Ask page
    "last_fingerprint": None,  # what the last answered request was, to refuse sending it twice
    "pending": None,  # the request being sent right now (dict), or None
    "notice": None,  # one sentence to show once after a rerun
    "ask_notice": None,  # why the Submit click did not send anything
    "ask_error": None,  # why the last request failed, shown under the form
    "case_id": None,  # case opened on My cases
    "cases_notice": None,  # confirmation of the last follow-up sent on My cases
    "oncall_case_id": None,  # case opened on the on-call page
    "oncall_linked": None,  # the `?case=` of a page's link, once opened: a link opens its case once, not every rerun
    "oncall_notice": None,  # (kind, sentence) about the last staff action
}


def init_state() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


def settings() -> WebSettings:
    return get_settings()


def build_client() -> SupportApi:
    """The real client. Tests replace this function (and clear `api`'s cache) to inject a fake."""
    return SupportApiClient.from_settings(settings())


@st.cache_resource(show_spinner=False)
def api() -> SupportApi:
    # One client (one connection pool) for every session: it holds no credentials of its own.
    return build_client()


def current_auth() -> AuthSession | None:
    auth: AuthSession | None = st.session_state.get("auth")
    if auth is not None and auth.expired():
        st.session_state["auth"] = None
        st.session_state["notice"] = "Your sign-in has expired. Please sign in again."
        return None
    return auth


def sign_in(username: str, password: str) -> None:
    """Sign in through the API; raises `ApiError` with a sentence to show on failure."""
    st.session_state["auth"] = api().sign_in(username.strip(), password)
    st.session_state["last_answer"] = None
    st.session_state["case_id"] = None


def sign_out() -> None:
    for key in ("auth", "last_answer", "last_fingerprint", "pending", "case_id", "oncall_case_id", "oncall_linked"):
        st.session_state[key] = DEFAULTS[key]


def guest_mode_available() -> bool:
    """Guests may use the form only when the operator configured the web integrator account."""
    config = settings()
    return bool(config.web_client_username and config.web_client_password.get_secret_value())


def acting_token() -> str:
    """The token to call the API with: the person's own, or the web integrator's for a guest."""
    auth = current_auth()
    if auth is not None:
        return auth.access_token
    guest: AuthSession | None = st.session_state.get("guest_auth")
    if guest is None or guest.expired():
        config = settings()
        try:
            guest = api().sign_in(config.web_client_username, config.web_client_password.get_secret_value())
        except AuthError as exc:
            raise AuthError(
                "The web form's service account could not sign in. Please sign in with your own account.",
                code=exc.code,
            ) from exc
        st.session_state["guest_auth"] = guest
    return guest.access_token


def error_sentence(exc: ApiError) -> str:
    """The sentence to show for an API failure; an expired sign-in also signs the person out."""
    if isinstance(exc, AuthError):
        if st.session_state.get("auth") is not None:
            sign_out()
        # A rejected guest token is dropped so the next attempt signs in afresh.
        st.session_state["guest_auth"] = None
    return exc.user_message


def show_error(exc: ApiError) -> None:
    st.error(error_sentence(exc), icon=":material/error:")
