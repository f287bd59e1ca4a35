"""Job events over Redis: terminal events reach every API process; progress only a process with a stream open."""

from __future__ import annotations

import time
import uuid

from desk.jobs.events import LISTEN_TIMEOUT_SECONDS, EventHub, JobEvent, RedisEvents
from desk.jobs.outcome import JobOutcome


def test_progress_reaches_a_process_only_while_it_streams_and_outcomes_always(redis_broker: str) -> None:
    channel = f"test-events-{uuid.uuid4().hex}"
    events = RedisEvents(redis_broker, channel=channel, progress_channel=f"{channel}-progress")
    hub = EventHub()
    dispatched: list[str] = []
    original = hub.dispatch

    def counting(event: JobEvent) -> None:
        dispatched.append(event.event)
        original(event)

    hub.dispatch = counting  # type: ignore[method-assign]
    events.start(hub)
    try:
        events.publish(JobEvent("classified", "case-1", "job-1"))
        time.sleep(LISTEN_TIMEOUT_SECONDS * 3)
        assert dispatched == []  # nobody streams here: the progress channel is not even read

        stream = hub.subscribe("case-1")
        time.sleep(LISTEN_TIMEOUT_SECONDS * 3)  # the listener subscribes on its next turn
        events.publish(JobEvent("routed", "case-1", "job-1", {"route": "billing"}))
        assert stream.get(timeout=5).data == {"route": "billing"}
        hub.unsubscribe("case-1", stream)

        waiter = hub.expect("job-2")
        outcome = JobOutcome(job_id="job-2", case_id="case-2", status="answered", case={"status": "answered"})
        events.publish(JobEvent("answered", "case-2", "job-2", {"outcome": outcome.to_json()}))
        assert waiter.wait(5) is not None
    finally:
        events.stop()
