"""Audit log (admins): the newest entries, and whether the hash chain holds.

The API recomputes the whole chain on every read and compares it with the audit file (`chain_intact`); the
page says what it found in one sentence. `support-desk audit verify` does the same from the server's shell.
"""

from __future__ import annotations

import json

import streamlit as st

from web_interface import session
from web_interface.api_client import ApiError, AuditLog, Role

LIMITS = (50, 100, 200, 500)


def chain_verdict(log: AuditLog) -> None:
    if log.chain_intact is True:
        verified = f"{log.entries_verified:,} entries verified" if log.entries_verified is not None else "verified"
        st.success(
            f"The audit chain holds: {verified}, and the database matches the audit file.",
            icon=":material/verified:",
        )
    elif log.chain_intact is False:
        where = f" at entry {log.first_broken_seq}" if log.first_broken_seq is not None else ""
        # `chain_problem` is the API's own fixed sentence, shown as text.
        st.error(
            f"The audit chain is broken{where}. Entries may have been edited or removed.", icon=":material/gpp_bad:"
        )
        if log.chain_problem:
            st.text(log.chain_problem)
    else:
        st.warning(
            "The connected API does not say whether the audit chain holds. Run `support-desk audit verify` "
            "on the server to check it.",
            icon=":material/help:",
        )


session.init_state()
auth = session.current_auth()
st.title("Audit log")
if auth is None or auth.role is not Role.ADMIN:
    st.info("The audit log is for admins. Please sign in with an admin account.", icon=":material/lock:")
    st.stop()

event_filter, limit_pick, refresh = st.columns([3, 1, 1], vertical_alignment="bottom")
event = event_filter.text_input("Event", key="audit_event", placeholder="all events, or e.g. account_disabled")
limit = limit_pick.selectbox("Entries", options=LIMITS, index=1, key="audit_limit")
refresh.button("Refresh", icon=":material/refresh:", key="audit_refresh")

try:
    log = session.api().audit(auth.access_token, limit=limit, event=event.strip() or None)
except ApiError as exc:
    session.show_error(exc)
    st.stop()

chain_verdict(log)
if not log.items:
    st.info("No audit entries yet." if not event.strip() else "No entries for that event.")
    st.stop()
st.dataframe(
    [
        {
            "#": entry.seq,
            "Time (UTC)": f"{entry.ts:%Y-%m-%d %H:%M:%S}" if entry.ts else "",
            "Event": entry.event,
            "Actor": entry.actor or "",
            "Role": entry.role or "",
            "Customer": entry.customer_id or "",
            "Case": entry.case_id or "",
            "HTTP": entry.status_code if entry.status_code is not None else "",
            "Details": json.dumps(entry.payload, ensure_ascii=False, sort_keys=True) if entry.payload else "",
        }
        for entry in log.items
    ],
    hide_index=True,
    width="stretch",
)
st.caption(f"The newest {len(log.items)} entries, newest first.")
