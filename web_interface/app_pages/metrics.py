"""Metrics: what a support lead asks for (first-response and resolution times, automation, handoff and reopen
rates, SLA % met), overall and per day, route and priority, with a CSV download. Staff only."""

from __future__ import annotations

import streamlit as st

from web_interface import components, metrics_view, session
from web_interface.api_client import ApiError

session.init_state()
auth = session.current_auth()
st.title("Support metrics")
if auth is None or not auth.is_staff:
    st.info("Please sign in as staff (in the sidebar) to see the support metrics.", icon=":material/login:")
    st.stop()

days = st.segmented_control("Window", options=[7, 30, 90], default=30, format_func=lambda d: f"last {d} days")
days = days or 30
try:
    metrics = metrics_view.fetch_metrics(session.settings(), auth.access_token, days)
except ApiError as exc:
    session.show_error(exc)
    st.stop()
if metrics is None:
    st.info("This support service does not report metrics yet.")
    st.stop()

overall = metrics.overall
st.caption(f"{overall.cases} cases created from {metrics.since:%d %b %Y} to {metrics.until:%d %b %Y %H:%M} UTC.")
first, resolution, automated, sla = st.columns(4)
first.metric("First response (avg)", metrics_view.duration(overall.first_response_avg_seconds))
resolution.metric("Resolution (avg)", metrics_view.duration(overall.resolution_avg_seconds))
automated.metric(
    "Automated", metrics_view.percent(overall.automation_rate), help="Answered or resolved with no person."
)
sla.metric("SLA met", metrics_view.percent(overall.sla_met_rate), help="Clocks met over clocks decided.")
handoff, reopen = st.columns(2)
handoff.metric("Handed to a person", metrics_view.percent(overall.handoff_rate))
reopen.metric("Reopened", metrics_view.percent(overall.reopen_rate), help="Of the cases ever resolved.")

if metrics.by_day:
    st.subheader("Per day")
    st.caption("Rates (%)")
    st.line_chart(metrics_view.rates(metrics.by_day), height=260)
    st.caption("Average times (minutes)")
    st.bar_chart(metrics_view.times(metrics.by_day), stack=False, height=220)
for title, rows, label in (
    ("Per route", metrics.by_route, components.label),
    ("Per priority", metrics.by_priority, components.priority_label),
):
    if rows:
        st.subheader(title)
        table = metrics_view.rates(rows)
        table.index = [label(key) for key in table.index]
        st.bar_chart(table, stack=False, horizontal=True, height=60 + 50 * len(rows))

try:
    export = metrics_view.fetch_csv(session.settings(), auth.access_token, days)
except ApiError as exc:
    session.show_error(exc)
else:
    st.download_button("Download CSV", export, file_name=f"support-metrics-{days}d.csv", mime="text/csv")
