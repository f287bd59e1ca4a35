"""One run of one job, the same code in an API process (embedded pool) and in a Celery worker.

    claim the row (attempt + 1, lease) -> running
    -> a run that died after recording its answer answered: done
    -> classify (and, when the API left it to the job, apply the auto-emergency rule: escalate and page)
    -> the crew, through the intake's `answer_case` (answer or failure recorded on the case, as in a request)
    -> answered / failed, published with the outcome

An error around the crew (the database away while recording) gives the job back: the recovery sweep sends it
again, and after JOB_MAX_ATTEMPTS runs it fails and the case goes to the people's queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from crew.decision import Decision
from crew.models import Classification, Route, ThreadMessage
from desk import cases, injection_guard, intake
from desk.errors import AppError
from desk.jobs import store
from desk.jobs.events import JobEvent, Publish
from desk.jobs.models import JobKind, JobStatus
from desk.jobs.outcome import JobOutcome, load, snapshot

logger = logging.getLogger(__name__)


def new_owner(role: str) -> str:
    """Who holds a job: unique per process (and per start), readable in the jobs table."""
    return f"{role}:{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Runtime:
    """What a run needs: the intake of this process (its crew, hook, audit), where to publish, who it is."""

    desk: intake.Intake
    publish: Publish
    owner: str

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.desk.settings.job_lease_seconds)


def payload_for(
    *,
    clean: intake.CleanInput,
    decision: Decision,
    classification: Classification | None,
    route: Route,
    history: tuple[ThreadMessage, ...],
    paged: bool,
    check_emergency: bool,
) -> dict[str, Any]:
    """What the job row carries: everything the crew needs that is not on the case."""
    return {
        "message": clean.message,
        "context": clean.context,
        "changed_fields": list(clean.changed_fields),
        "route": route.value,
        "decision": {"route": decision.route.value, "emergency": decision.emergency, "auto": decision.auto},
        "classification": classification.model_dump(mode="json") if classification is not None else None,
        "check_emergency": check_emergency,
        "history": [m.model_dump(mode="json") for m in history],
        "paged": paged,
    }


def run(rt: Runtime, job_id: str) -> JobOutcome | None:
    """Run the job if this run can claim it. Returns the outcome, or None when there was nothing to do here
    (done already, held by a live runner) or the job was given back for a retry."""
    settings, engine = rt.desk.settings, rt.desk.engine
    claimed = store.claim(engine, job_id, owner=rt.owner, lease=rt.lease, max_attempts=settings.job_max_attempts)
    if claimed is None:
        logger.info("job %s: not claimable here (done, held by a live runner, or out of attempts)", job_id)
        return None
    if claimed.attempts > 1 and store.answered_since(engine, claimed.case_id, claimed.created_at):
        # An earlier run recorded the answer and died before saying so: do not answer twice.
        store.finish(engine, claimed, JobStatus.ANSWERED)
        return _published(rt, load(engine, job_id))
    rt.publish(JobEvent("running", claimed.case_id, job_id, {"attempt": claimed.attempts}))
    finish = FinishWithAnswer(claimed)
    try:
        reply = _run_claimed(rt, claimed, finish)
    except AppError as exc:
        # The crew failed; `answer_case` recorded the failure on the case (an emergency stays with people).
        store.finish(engine, claimed, JobStatus.FAILED, error_code=exc.code)
        return _published(rt, load(engine, job_id))
    except Exception:
        logger.exception(
            "job %s (case %s): run %d failed around the crew; giving it back", job_id, claimed.case_id, claimed.attempts
        )
        store.release(engine, claimed, retry_in=rt.lease)
        return None
    held = finish.held if finish.held is not None else store.finish(engine, claimed, JobStatus.ANSWERED)
    if not held:
        logger.warning("job %s: answered after its lease was taken over", job_id)
    case = reply.case
    return _published(
        rt,
        JobOutcome(
            job_id=job_id,
            case_id=case.id,
            status=JobStatus.ANSWERED.value,
            case=snapshot(case),
            reply=reply.reply,
            citations=reply.citations,
        ),
    )


def _published(rt: Runtime, found: JobOutcome | None) -> JobOutcome | None:
    if found is not None:
        data = {"outcome": found.to_json(), "status": found.case["status"]}
        rt.publish(JobEvent(found.status, found.case_id, found.job_id, data))
    return found


@dataclass
class FinishWithAnswer:
    """Ends the job in the answer's own transaction: the answer and the job's end commit together, so no crash
    leaves an answered case with its job still running (one transaction less per job, too)."""

    claimed: store.Claimed
    # Whether this run still held the job when it ended it; None until the answer's transaction ran.
    held: bool | None = None

    def __call__(self, conn: Connection) -> None:
        self.held = store.finish_on(conn, self.claimed, JobStatus.ANSWERED)


def _run_claimed(rt: Runtime, claimed: store.Claimed, finish: FinishWithAnswer) -> intake.Reply:
    desk, p = rt.desk, claimed.payload
    decided = p["decision"]
    decision = Decision(Route(decided["route"]), emergency=bool(decided["emergency"]), auto=bool(decided["auto"]))
    follow_up = claimed.kind == JobKind.FOLLOW_UP.value
    if claimed.case is None:
        raise LookupError(f"case {claimed.case_id} of job {claimed.id} is gone")
    state = cases.case_state(claimed.case, follow_up=follow_up, emergency=decision.emergency)
    classification = Classification.model_validate(p["classification"]) if p.get("classification") else None
    route, paged = Route(p["route"]), bool(p.get("paged"))
    message = str(p["message"])
    if p.get("check_emergency"):
        # The API left the auto-emergency rule to the job, so the API process never runs a model.
        decision, classification = intake.decide_message(desk, message, forced=route, flagged=False)
        if decision.emergency:
            cases.escalate(desk.engine, state, auto=decision.auto)
            paged = desk.hook.on_emergency(state.id, customer_id=state.customer_id, auto=decision.auto)
            route = decision.route
    if classification is None and not decision.emergency and not p.get("check_emergency"):
        classification = _classify(desk, message)
    _publish_progress(rt, claimed, decision, classification, route)
    clean = intake.CleanInput(message, p.get("context"), tuple(p.get("changed_fields") or ()))
    history = tuple(ThreadMessage.model_validate(m) for m in p.get("history") or ())
    return intake.answer_case(
        desk, state, clean, decision, classification, route=route, history=history, paged=paged, same_transaction=finish
    )


def _classify(desk: intake.Intake, message: str) -> Classification | None:
    try:
        return injection_guard.guarded(desk).classify(message)  # guard: no model call on a flagged message
    except Exception:
        # The crew classifies inside `handle` again and records its own failure if the model is really down.
        logger.warning("job classification failed; the crew classifies itself", exc_info=True)
        return None


def _publish_progress(
    rt: Runtime, claimed: store.Claimed, decision: Decision, classification: Classification | None, route: Route
) -> None:
    if classification is not None:
        rt.publish(
            JobEvent(
                "classified",
                claimed.case_id,
                claimed.id,
                {
                    "category": classification.category.value,
                    "priority": classification.priority.value,
                    "confidence": classification.confidence,
                },
            )
        )
    if decision.emergency:
        routed = decision.route
    elif route is not Route.AUTO or classification is None:
        routed = route
    else:
        routed = classification.route()
    rt.publish(
        JobEvent("routed", claimed.case_id, claimed.id, {"route": routed.value, "emergency": decision.emergency})
    )


class LeaseKeeper:
    """Renews the leases of every job one holder has, every third of the lease, until stopped."""

    def __init__(self, renew: Callable[[], int], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="job-leases", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception:
                # A missed renewal is retried next time; only a lease left to expire gives the jobs away.
                logger.warning("job leases could not be renewed", exc_info=True)
