"""`CrewPool` (the complex crew's kickoffs, for models without native tool calls): built crews are reused one
kickoff at a time, and a crew whose kickoff failed is dropped; with native tool calls the complex crew is
recorded once and run as direct tasks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from crew.models import Route

pytestmark = pytest.mark.slow


COMPLEX = "I was charged twice this month. Also the app crashes every time I open it."


def test_a_reused_crew_answers_each_message_as_a_fresh_one_does(local_desk) -> None:
    # Pooled kickoffs serve models without native tool calls; the local model calls tools natively, so
    # `run_complex` takes the direct path for it, which must answer as a fresh kickoff does too.
    from crew.crews import ComplexCrew, fence, kickoff, run_complex
    from crew.tools import prefetch_articles

    routes = [Route.BILLING, Route.TECHNICAL]
    key = ("complex", tuple(routes))
    messages = [COMPLEX, "My invoice shows the wrong plan and I can't reset my password."]
    for message in messages * 2:  # the second round runs on crews that already ran another message
        inputs = {
            "message": fence(message),
            "history": "",
            "emergency": "no",
            "specialists": "billing, technical",
            "articles": prefetch_articles(local_desk.parts.kb_tool, message, routes),
        }
        fresh = kickoff(ComplexCrew(local_desk.parts, routes).crew(), inputs)
        pooled = local_desk.parts.pool.run(key, lambda: ComplexCrew(local_desk.parts, routes).crew(), inputs)
        assert pooled.raw == fresh.raw
        assert run_complex(local_desk.parts, routes, inputs).raw == fresh.raw
    assert local_desk.parts.pool.idle_count(key) >= 1


def test_requests_reuse_the_recorded_complex_crew_instead_of_recording_it_again(local_desk) -> None:
    from crew.direct import DirectCrew

    first = local_desk.handle(COMPLEX)  # records the complex crew for this set of specialists
    assert first.agent_type is Route.COMPLEX
    recorded: list[object] = []
    original = DirectCrew.record

    def counting(*args: Any, **kwargs: Any) -> Any:
        recorded.append(args)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DirectCrew, "record", counting)
        result = local_desk.handle(COMPLEX)
    assert result.agent_type is Route.COMPLEX
    assert result.reply == first.reply
    assert recorded == []


def test_a_crew_whose_kickoff_failed_is_not_given_back() -> None:
    from crew.crews import CrewPool

    pool = CrewPool()

    class Exploding:
        def kickoff(self, inputs: dict[str, Any]) -> Any:
            raise RuntimeError("provider timed out")

    with pytest.raises(RuntimeError):
        pool.run("key", lambda: Exploding(), {})  # type: ignore[arg-type, return-value]
    assert pool.idle_count("key") == 0


def test_no_two_kickoffs_share_a_crew_at_once(local_desk) -> None:
    from crew.crews import CrewPool

    pool = CrewPool()
    active: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []
    built: list[object] = []
    gate = threading.Barrier(8)

    class Recording:
        def kickoff(self, inputs: dict[str, Any]) -> Any:
            with lock:
                if id(self) in active:
                    overlaps.append(id(self))
                active.add(id(self))
            gate.wait(timeout=10)  # all eight in flight at once: each must hold its own crew
            with lock:
                active.discard(id(self))
            return None

    def build() -> Any:
        crew = Recording()
        built.append(crew)
        return crew

    with pytest.MonkeyPatch.context() as patch:
        # `kickoff()` insists on a CrewOutput; the recording crew returns none.
        patch.setattr("crew.crews.kickoff", lambda crew, inputs: crew.kickoff(inputs))
        with ThreadPoolExecutor(max_workers=8) as executor:
            list(executor.map(lambda _: pool.run("key", build, {}), range(8)))
    assert overlaps == []
    assert len(built) == 8
    assert pool.idle_count("key") == 8


def test_a_complex_crew_that_cannot_be_recorded_keeps_pooled_kickoffs(local_desk) -> None:
    # Should a CrewAI version pass context in a shape the direct crew does not repeat, recording fails once and
    # every complex request is answered by a kickoff, as before.
    from crew.crews import ComplexCrew, fence, kickoff, run_complex
    from crew.direct import DirectCrew, NotRecordable

    routes = [Route.TECHNICAL, Route.GENERAL]
    attempts: list[object] = []

    def unrecordable(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise NotRecordable("not the shape")

    inputs = {"message": fence(COMPLEX), "history": "", "emergency": "no", "specialists": "technical, general"}
    inputs["articles"] = ""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DirectCrew, "record", unrecordable)
        answers = [run_complex(local_desk.parts, routes, inputs).raw for _ in range(2)]
    assert answers == [kickoff(ComplexCrew(local_desk.parts, routes).crew(), inputs).raw] * 2
    assert len(attempts) == 1
    assert local_desk.parts.pool.idle_count(("complex", tuple(routes))) >= 1
