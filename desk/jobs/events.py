"""Job progress: `queued`, `running`, `classified`, `routed`, then `answered` or `failed`.

Every event names its case and job. Two kinds of listener use them in an API process:
- a request waiting for its answer (`EventHub.expect(job_id)` before the job is sent, then `.wait(timeout)`);
- a case's event stream (`EventHub.subscribe(case_id)`: a queue of events, for Server-Sent Events).

Transports: the embedded default publishes in-process; with a broker, workers publish on Redis channels
(`RedisEvents`) that one listener thread per API process relays to its hub: the terminal events (`answered`,
`failed`) on one channel every API process listens to, the progress events on a second one that a process
listens to only while one of its clients streams a case (otherwise every process would parse every job's
progress for nobody). Without Redis for events (a RabbitMQ broker and nothing else) a waiter polls the jobs
table instead (`poll_engine`), and streams carry no progress from workers.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from desk.jobs import outcome as outcomes
from desk.jobs.outcome import JobOutcome
from desk.models import utcnow

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"answered", "failed"})
CHANNEL = "support-desk:job-events"
PROGRESS_CHANNEL = "support-desk:job-progress"
# How long the listener waits for a message before it looks whether its process wants progress events: the
# longest a new stream may miss progress published after it opened.
LISTEN_TIMEOUT_SECONDS = 0.2
SUBSCRIBER_QUEUE_SIZE = 256


@dataclass(frozen=True)
class JobEvent:
    event: str
    case_id: str
    job_id: str
    data: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: utcnow().isoformat())

    def to_json(self) -> str:
        return json.dumps(
            {"event": self.event, "case_id": self.case_id, "job_id": self.job_id, "data": self.data, "at": self.at},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobEvent:
        data = json.loads(raw)
        return cls(str(data["event"]), str(data["case_id"]), str(data["job_id"]), dict(data["data"]), str(data["at"]))

    def outcome(self) -> JobOutcome | None:
        return JobOutcome.from_json(self.data["outcome"]) if self.event in TERMINAL and "outcome" in self.data else None


class Waiter:
    """One request waiting for one job's outcome."""

    def __init__(self, hub: EventHub, job_id: str) -> None:
        self.hub = hub
        self.job_id = job_id
        self._done = threading.Event()
        self._outcome: JobOutcome | None = None

    def deliver(self, outcome: JobOutcome) -> None:
        self._outcome = outcome
        self._done.set()

    def wait(self, timeout: float) -> JobOutcome | None:
        """The outcome, or None if the job is still queued or running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                # Polling hubs look at the table every `poll_interval`; listening hubs check it once more at the
                # end (an event lost while the listener reconnected must not leave a request waiting for ever).
                step = min(left, self.hub.poll_interval) if self.hub.poll_engine is not None else left
                if step > 0 and self._done.wait(step):
                    return self._outcome
                found = self.hub.lookup(self.job_id)
                if found is not None:
                    return found
                if time.monotonic() >= deadline:
                    return None
        finally:
            self.hub.forget(self)


class EventHub:
    """The in-process side of job events: waiters by job, subscribers by case."""

    def __init__(self, engine: Engine | None = None, *, poll: bool = False, poll_interval: float = 0.1) -> None:
        self.engine = engine
        self.poll_engine = engine if poll else None
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}
        self._subscribers: dict[str, list[queue.Queue[JobEvent]]] = {}

    def expect(self, job_id: str) -> Waiter:
        waiter = Waiter(self, job_id)
        with self._lock:
            self._waiters[job_id] = waiter
        return waiter

    def forget(self, waiter: Waiter) -> None:
        with self._lock:
            if self._waiters.get(waiter.job_id) is waiter:
                del self._waiters[waiter.job_id]

    def lookup(self, job_id: str) -> JobOutcome | None:
        return outcomes.load(self.engine, job_id) if self.engine is not None else None

    def subscribe(self, case_id: str) -> queue.Queue[JobEvent]:
        """A queue of the case's job events from now on; `unsubscribe` it when the stream closes."""
        events: queue.Queue[JobEvent] = queue.Queue(SUBSCRIBER_QUEUE_SIZE)
        with self._lock:
            self._subscribers.setdefault(case_id, []).append(events)
        return events

    def has_subscribers(self) -> bool:
        with self._lock:
            return bool(self._subscribers)

    def unsubscribe(self, case_id: str, events: queue.Queue[JobEvent]) -> None:
        with self._lock:
            listeners = self._subscribers.get(case_id, [])
            if events in listeners:
                listeners.remove(events)
            if not listeners:
                self._subscribers.pop(case_id, None)

    def dispatch(self, event: JobEvent) -> None:
        with self._lock:
            waiter = self._waiters.get(event.job_id) if event.event in TERMINAL else None
            listeners = list(self._subscribers.get(event.case_id, ()))
        if waiter is not None:
            found = event.outcome()
            if found is not None:
                waiter.deliver(found)
        for events in listeners:
            try:
                events.put_nowait(event)
            except queue.Full:
                logger.warning("event stream of case %s is not being read; dropped %s", event.case_id, event.event)


Publish = Callable[[JobEvent], None]


class RedisEvents:
    """Events over a Redis channel: `publish` from any process; `start(hub)` relays them into a hub."""

    def __init__(self, url: str, channel: str = CHANNEL, progress_channel: str = PROGRESS_CHANNEL) -> None:
        import redis

        self.url = url
        self.channel = channel
        self.progress_channel = progress_channel
        from desk.redis_pool import blocking_pool

        # A blocking pool: a worker publishes from as many threads as it runs jobs (desk/redis_pool.py).
        self._client = redis.Redis(connection_pool=blocking_pool(url, socket_connect_timeout=2.0, socket_timeout=5.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = threading.Event()

    def publish(self, event: JobEvent) -> None:
        import redis

        try:
            channel = self.channel if event.event in TERMINAL else self.progress_channel
            self._client.publish(channel, event.to_json())
        except redis.RedisError:
            # The job row still says how it ended: waiters fall back to reading it.
            logger.warning("job event %s of job %s not published (Redis unreachable)", event.event, event.job_id)

    def start(self, hub: EventHub) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, args=(hub,), name="job-events", daemon=True)
        self._thread.start()
        self._subscribed.wait(5.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._client.close()

    def _listen(self, hub: EventHub) -> None:
        import redis

        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            progress = False
            try:
                pubsub.subscribe(self.channel)
                self._subscribed.set()
                while not self._stop.is_set():
                    # Only this thread touches the pubsub connection (redis-py's PubSub is not thread-safe).
                    wanted = hub.has_subscribers()
                    if wanted != progress:
                        (pubsub.subscribe if wanted else pubsub.unsubscribe)(self.progress_channel)
                        progress = wanted
                    message = pubsub.get_message(timeout=LISTEN_TIMEOUT_SECONDS)
                    if message is not None and message.get("type") == "message":
                        try:
                            hub.dispatch(JobEvent.from_json(message["data"]))
                        except (ValueError, KeyError, TypeError):
                            logger.warning("ignored a malformed job event")
            except redis.RedisError:
                logger.warning("job events: Redis connection lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)
            finally:
                pubsub.close()
