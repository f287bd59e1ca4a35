"""Status: how the desk's agents are doing, what traffic it gets, and what it refused."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from web_interface import components, session
from web_interface.api_client import ApiError

session.init_state()
auth = session.current_auth()
st.title("Desk status")
if auth is None:
    st.info("Please sign in (in the sidebar) to see the desk's status.", icon=":material/login:")
    st.stop()
st.button("Refresh", icon=":material/refresh:", key="status_refresh")

try:
    report = session.api().status(auth.access_token)
except ApiError as exc:
    session.show_error(exc)
    st.stop()

window = f"last {report.window_seconds // 60} min" if report.window_seconds else "last hour"
total, degraded, limited, auth_failed = st.columns(4)
total.metric("Requests", sum(report.routes.values()))
degraded.metric("Degraded answers", report.degraded, help="Answers produced by a fallback instead of the model.")
limited.metric(f"Rate-limited ({window})", report.rate_limit_rejections)
auth_failed.metric(f"Auth failures ({window})", report.auth_failures)

st.subheader("Agents")
if report.agents:
    agents = pd.DataFrame(
        {
            "Agent": [components.AGENT_LABELS.get(a.agent, components.label(a.agent)) for a in report.agents],
            "Interactions": [a.interactions for a in report.agents],
            "Average (ms)": [a.avg_latency_ms for a in report.agents],
            "p95 (ms)": [a.p95_latency_ms for a in report.agents],
            "Last active": [
                components.age(since=a.last_active) + " ago" if a.last_active else "never" for a in report.agents
            ],
        }
    )
    st.dataframe(
        agents,
        hide_index=True,
        width="stretch",
        column_config={
            "Average (ms)": st.column_config.NumberColumn(format="%.0f"),
            "p95 (ms)": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    st.caption("Latency per agent (ms)")
    st.bar_chart(agents.set_index("Agent")[["Average (ms)", "p95 (ms)"]], stack=False, horizontal=True, height=220)
else:
    st.info("No agent has answered a request yet.")

st.subheader("Requests per route")
if report.route_timeline:
    timeline = pd.DataFrame([point.model_dump() for point in report.route_timeline])
    st.line_chart(timeline.pivot_table(index="time", columns="route", values="count", aggfunc="sum").fillna(0))
elif report.routes:
    st.bar_chart(pd.Series(report.routes, name="Requests").rename_axis("Route"), height=240)
else:
    st.info("No requests yet.")
if report.cases_by_status:
    st.subheader("Cases by status")
    by_label: dict[str, int] = {}
    for status, count in report.cases_by_status.items():
        by_label[components.status_label(status)] = by_label.get(components.status_label(status), 0) + count
    st.bar_chart(pd.Series(by_label, name="Cases").rename_axis("Status"), height=220)
if report.generated_at:
    st.caption(f"Figures as of {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.")
