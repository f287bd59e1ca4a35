"""Per-browser-session state, the session key that survives a reload, and the shared API client.

Everything a page keeps between reruns lives in `st.session_state` under the keys of `DEFAULTS`, set only
when missing so a rerun never wipes what the user did. Who is signed in is also kept server-side in the
`SessionStore` (web_interface/session_store.py) under a random key that rides in the URL as `?s=<key>`, so
a reload, a bookmark or a deep link (`/article?id=KB-005&s=...`) resumes the session. The API token itself
is never put in the URL, a cookie or a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import streamlit as st

from web_interface.api_client import (
    ApiError,
    AuthError,
    AuthSession,
    CaseSummary,
    Role,
    SupportApi,
    SupportApiClient,
)
from web_interface.session_store import SessionStore, client_fingerprint, new_guest_id
from web_interface.settings import WebSettings, get_settings

SESSION_PARAM = "s"  # the query parameter holding the session key

DEFAULTS: dict[str, Any] = {
    "sid": None,  # this browser session's key in the SessionStore (also `?s=` in the URL)
    "auth": None,  # AuthSession of the person signed in
    "guest_id": None,  # a guest's own customer ID (`guest-...`), kept with the session key
    "started_at": None,  # when this session began: cases changed after it and not opened yet are "new"
    "notice": None,  # one sentence to show once after a rerun
    "case_id": None,  # the case open on the conversations page (None: a new conversation)
    "chat_notice": None,  # (kind, sentence) about the last message sent on the conversations page
    "oncall_case_id": None,  # case opened on the queues page
    "oncall_linked": None,  # the `?case=` of a page's link, once opened: a link opens its case once, not every rerun
    "oncall_notice": None,  # (kind, sentence) about the last staff action
    "admin_notice": None,  # (kind, sentence) about the last account change
}


def init_state() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    if st.session_state["started_at"] is None:
        st.session_state["started_at"] = datetime.now(UTC)


def settings() -> WebSettings:
    return get_settings()


def build_client() -> SupportApi:
    """The real client. Tests replace this function (and clear `api`'s cache) to inject a fake."""
    return SupportApiClient.from_settings(settings())


@st.cache_resource(show_spinner=False)
def api() -> SupportApi:
    # One client (one connection pool) for every session: it holds no credentials of its own.
    return build_client()


@st.cache_resource(show_spinner=False)
def store() -> SessionStore:
    """The process's session keys (one object, built once, shared by every browser session)."""
    return SessionStore(settings().web_session_ttl_seconds)


def _client() -> str:
    """The browser a session key was issued to: its IP address (None on loopback) and User-Agent."""
    ip_address, headers = st.context.ip_address, st.context.headers
    user_agent = headers.get("User-Agent") if headers else None
    return client_fingerprint(
        ip_address if isinstance(ip_address, str) else None, user_agent if isinstance(user_agent, str) else None
    )


# --- the session key -------------------------------------------------------------------------------------


def resume() -> None:
    """At the start of every run: a new Streamlit session (a reload, a link) with `?s=<key>` takes up what the
    key stands for. A key that has ended is removed from the URL, with a sentence when someone was signed in."""
    state = st.session_state
    key = st.query_params.get(SESSION_PARAM)
    if not key or key == state["sid"]:
        return
    stored = store().get(key, _client())
    if stored is None:
        del st.query_params[SESSION_PARAM]
        if state["sid"] is None:
            state["notice"] = "Your session has ended. Please sign in again."
        return
    state["sid"] = key
    state["auth"] = stored.auth
    state["guest_id"] = stored.guest_id
    state["started_at"] = stored.started_at


def keep_in_url() -> None:
    """After navigation: moving between pages clears the query parameters, so the key is put back."""
    sid = st.session_state["sid"]
    if sid and st.query_params.get(SESSION_PARAM) != sid:
        st.query_params[SESSION_PARAM] = sid


def _start(auth: AuthSession | None = None, guest_id: str | None = None) -> None:
    state = st.session_state
    store().drop(state["sid"])
    state["sid"] = store().create(client=_client(), auth=auth, guest_id=guest_id)
    state["auth"], state["guest_id"] = auth, guest_id
    state["started_at"] = datetime.now(UTC)
    st.query_params[SESSION_PARAM] = state["sid"]


def current_auth() -> AuthSession | None:
    auth: AuthSession | None = st.session_state.get("auth")
    if auth is not None and auth.expired():
        sign_out()
        st.session_state["notice"] = "Your sign-in has expired. Please sign in again."
        return None
    return auth


def sign_in(username: str, password: str) -> None:
    """Sign in through the API; raises `ApiError` with a sentence to show on failure. A new session key."""
    auth = api().sign_in(username.strip(), password)
    _start(auth=auth)
    for key in ("case_id", "oncall_case_id", "oncall_linked"):
        st.session_state[key] = None


def sign_out() -> None:
    store().drop(st.session_state.get("sid"))
    for key in ("sid", "auth", "guest_id", "case_id", "oncall_case_id", "oncall_linked"):
        st.session_state[key] = DEFAULTS[key]
    if SESSION_PARAM in st.query_params:
        del st.query_params[SESSION_PARAM]


# --- guests ----------------------------------------------------------------------------------------------


def guest_mode_available() -> bool:
    """Guests may write to the desk only when the operator configured the web integrator account."""
    config = settings()
    return bool(config.web_client_username and config.web_client_password.get_secret_value())


def guest_id() -> str:
    """This browser session's guest identity, made once and kept with the session key. A guest never types a
    customer ID: all their cases are filed for, and shown only from, this one."""
    if st.session_state["guest_id"] is None:
        _start(guest_id=new_guest_id())
    value: str = st.session_state["guest_id"]
    return value


def acting_token() -> str:
    """The token to call the API with: the person's own, or the web integrator's for a guest."""
    auth = current_auth()
    if auth is not None:
        return auth.access_token
    shared = store()
    service = shared.service_auth()
    if service is None:
        config = settings()
        try:
            service = api().sign_in(config.web_client_username, config.web_client_password.get_secret_value())
        except AuthError as exc:
            raise AuthError(
                "The web app's service account could not sign in. Please sign in with your own account.",
                code=exc.code,
            ) from exc
        if service.role is not Role.INTEGRATOR:
            raise AuthError("The web app's service account must be an integrator account. Please sign in.")
        shared.set_service_auth(service)
    return service.access_token


# --- what this session has seen (the unread markers) -----------------------------------------------------


def seen() -> dict[str, datetime]:
    return store().seen(st.session_state["sid"])


def mark_seen(case_id: str, when: datetime | None) -> None:
    if when is not None:
        store().mark_seen(st.session_state["sid"], case_id, when)


# --- errors ----------------------------------------------------------------------------------------------


def error_sentence(exc: ApiError) -> str:
    """The sentence to show for an API failure; an expired sign-in also signs the person out."""
    if isinstance(exc, AuthError):
        if st.session_state.get("auth") is not None:
            sign_out()
        # A rejected service token is dropped so the next attempt signs in afresh.
        store().set_service_auth(None)
    return exc.user_message


def show_error(exc: ApiError) -> None:
    st.error(error_sentence(exc), icon=":material/error:")


# --- who is looking --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who a page acts for. `customer_id` is a customer's own ID or a guest's `guest-...`; staff and
    integrators have none (they see many customers' cases)."""

    kind: Literal["customer", "guest", "staff", "integrator"]
    token: str
    customer_id: str | None = None
    username: str | None = None

    @property
    def is_customer(self) -> bool:
        """Writes as the customer of the cases shown: a signed-in customer or a guest."""
        return self.kind in ("customer", "guest")

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def may_see(self, case: CaseSummary) -> bool:
        """The API already limits what each account sees. A guest acts through the shared integrator account,
        which sees every guest's cases, so the web app keeps a guest to the cases of their own guest ID."""
        return self.kind != "guest" or case.customer_id == self.customer_id


def viewer() -> Viewer | None:
    """The signed-in person, or a guest when guest mode is on, or None. Raises `ApiError` when the web app's
    service account cannot sign in for a guest."""
    auth = current_auth()
    if auth is None:
        if not guest_mode_available():
            return None
        gid = guest_id()
        return Viewer("guest", acting_token(), customer_id=gid, username=gid)
    if auth.role is Role.CUSTOMER:
        return Viewer("customer", auth.access_token, customer_id=auth.customer_id, username=auth.username)
    if auth.is_staff:
        return Viewer("staff", auth.access_token, username=auth.username)
    return Viewer("integrator", auth.access_token, username=auth.username)
