"""The hosted-model path against a small fake OpenAI-compatible server on 127.0.0.1.

The server answers `POST /v1/chat/completions` like a cooperative OpenAI model: when the task carries
prefetched articles (`<knowledge_base_articles>`) it answers at once citing the first of them; otherwise,
when the request offers tools and holds no tool result yet, it calls the tool, then answers citing the
first article the tool returned. Its `mode` switches it to failing (500, 429, garbage, too slow) so the
desk's fallback can be checked, or to citing one more article than it was given (`overcite`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crew.models import Route
from tests.crew.conftest import crew_config
from tests.fake_openai import FakeOpenAI, chat_completion, serving

pytestmark = pytest.mark.slow

HOSTED_MARKER = "Answer from the hosted model."


PREFETCHED = re.compile(r"<knowledge_base_articles>(.*?)</knowledge_base_articles>", re.DOTALL)
HEADER = re.compile(r"^\[(KB-\d{3})\] ", re.MULTILINE)


def _prefetched_ids(body: dict[str, Any]) -> list[str]:
    user = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user")
    block = PREFETCHED.search(user)
    return HEADER.findall(block.group(1)) if block else []


def _completion(body: dict[str, Any], mode: str = "ok") -> dict[str, Any]:
    messages = body.get("messages", [])
    tool_results = [m.get("content") or "" for m in messages if m.get("role") == "tool"]
    given = _prefetched_ids(body)
    message: dict[str, Any]
    if given and not tool_results:
        # Answers from the prefetched articles in one call; `overcite` also cites one it was not given.
        extra = next(f"KB-{n:03d}" for n in range(1, 1000) if f"KB-{n:03d}" not in given)
        cites = f" See [{given[0]}]." + (f" Also [{extra}]." if mode == "overcite" else "")
        message = {"role": "assistant", "content": f"{HOSTED_MARKER}{cites}"}
        finish = "stop"
    elif body.get("tools") and not tool_results:
        arguments = json.dumps({"query": "charged twice duplicate charge"})
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "search_knowledge_base", "arguments": arguments},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        found = re.search(r"\[(KB-\d{3})\]", "\n".join(tool_results))
        cite = f" See [{found.group(1)}]." if found else ""
        message = {"role": "assistant", "content": f"{HOSTED_MARKER}{cite}"}
        finish = "stop"
    return chat_completion(body, message, finish)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    with serving(_completion) as server:
        yield server


@pytest.fixture(scope="module")
def hosted_desk(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from crew.service import SupportDesk

    config = crew_config(
        tmp_path_factory.mktemp("hosted-storage"),
        specialist_model="openai/fake-support-model",
        base_url=fake_openai.base_url,
        api_key="test-key",
        timeout_seconds=1.0,
        max_retries=0,
    )
    return SupportDesk.from_config(config)


@pytest.fixture
def server(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.mode = "ok"
    fake_openai.requests.clear()
    yield fake_openai
    fake_openai.mode = "ok"


def test_a_working_hosted_model_answers(hosted_desk, server: FakeOpenAI) -> None:
    result = hosted_desk.handle("I was charged twice this month")
    assert result.degraded is False
    assert result.agent_type is Route.BILLING
    assert result.reply.startswith(HOSTED_MARKER)
    assert result.citations and f"[{result.citations[0].article_id}]" in result.reply
    # The classifier stays local; the specialist answered from the prefetched articles in one hosted call.
    assert result.hosted_model_calls == 1
    assert result.model_calls == 2
    assert result.token_usage.prompt_tokens >= 100
    assert len(server.requests) == 1
    # The search tool is still offered, for questions the prefetched articles do not cover.
    offered = [tool["function"]["name"] for tool in server.requests[0]["tools"]]
    assert offered == ["search_knowledge_base"]
    # The customer's text reached the hosted model fenced as data, the articles fenced apart.
    prompt = json.dumps(server.requests[0]["messages"])
    assert "<customer_message>" in prompt and "I was charged twice this month" in prompt
    assert result.citations[0].article_id in _prefetched_ids(server.requests[0])


def test_the_hosted_model_uses_the_tool_when_no_article_was_prefetched(hosted_desk, server: FakeOpenAI) -> None:
    # Nothing in the knowledge base matches this text, so the task carries no article; the fake then searches
    # with its own query ("charged twice duplicate charge") through the real CrewAI tool, and cites a hit.
    result = hosted_desk.handle("Xylophone quartz zebra?", route=Route.GENERAL)
    assert _prefetched_ids(server.requests[0]) == []
    assert result.hosted_model_calls == 2 and len(server.requests) == 2
    assert "tool_calls" in json.dumps(server.requests[1]["messages"])
    assert result.citations and f"[{result.citations[0].article_id}]" in result.reply


def test_only_cited_articles_that_were_given_become_citations(hosted_desk, server: FakeOpenAI) -> None:
    server.mode = "overcite"
    result = hosted_desk.handle("I was charged twice this month")
    given = _prefetched_ids(server.requests[0])
    cited = re.findall(r"\[(KB-\d{3})\]", result.reply)
    assert len(cited) == 2 and cited[1] not in given
    # The article the model was not given (and the tool did not return) is not reported as a source.
    assert [c.article_id for c in result.citations] == [cited[0]]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", "hosted model server error"),
        ("429", "hosted model rate limited"),
        ("garbage", "hosted model returned an unusable answer"),
        ("slow", "hosted model timed out"),
    ],
)
def test_a_failing_hosted_model_degrades_to_the_local_one(
    hosted_desk, server: FakeOpenAI, mode: str, reason: str
) -> None:
    server.mode = mode
    started = time.perf_counter()
    result = hosted_desk.handle("I was charged twice this month")
    elapsed = time.perf_counter() - started
    assert result.degraded is True
    assert result.degraded_reason == reason
    assert HOSTED_MARKER not in result.reply
    assert result.agent_type is Route.BILLING
    assert result.citations, "the local answer cites the knowledge base"
    assert result.hosted_model_calls == 0
    assert elapsed < 15, "a failing hosted model must not hang the request"


def test_a_config_without_a_model_builds_only_local_models(tmp_path: Path) -> None:
    from crew.llm_factory import build_models
    from crew.local_model.llm import LocalLLM
    from crew.local_model.router import LocalRouter

    models = build_models(crew_config(tmp_path), LocalRouter(0.45))
    assert isinstance(models.specialist, LocalLLM) and models.classifier is models.local
    assert not models.uses_hosted


def test_a_hosted_classifier_model_is_built_from_its_own_name(tmp_path: Path) -> None:
    from crew.llm_factory import build_models
    from crew.local_model.llm import LocalLLM
    from crew.local_model.router import LocalRouter

    config = crew_config(tmp_path, classifier_model="hosted_vllm/tiny", base_url="http://127.0.0.1:9/v1")
    models = build_models(config, LocalRouter(0.45))
    # `crewai.LLM(...)` hands back its native client class for the provider, not an `LLM`.
    assert not isinstance(models.classifier, LocalLLM)
    assert models.classifier.base_url == "http://127.0.0.1:9/v1"
    assert models.specialist is models.local
    assert models.uses_hosted


def test_a_long_thread_reaches_a_hosted_model_as_a_summary_and_its_recent_messages(
    hosted_desk, server: FakeOpenAI
) -> None:
    from crew.models import ThreadMessage
    from crew.service import HISTORY_MAX_MESSAGES

    first = ThreadMessage(author="customer", text="My order 55 never arrived, the tracking page is blank")
    filler = [ThreadMessage(author="agent" if i % 2 else "customer", text=f"turn {i}") for i in range(12)]
    result = hosted_desk.handle("Any update?", history=[first, *filler])

    assert result.reply.startswith(HOSTED_MARKER)
    summary_call, answer_call = server.requests[0], server.requests[-1]
    # The summary call gets the older messages only, fenced as data; the answer gets the summary and the
    # last HISTORY_MAX_MESSAGES as written.
    asked = json.dumps(summary_call["messages"])
    assert "summarise the earlier part" in asked and "tracking page is blank" in asked and "turn 11" not in asked
    answer_prompt = json.dumps(answer_call["messages"])
    assert f"summary of earlier messages: {HOSTED_MARKER}" in answer_prompt
    assert "tracking page is blank" not in answer_prompt and f"turn {12 - HISTORY_MAX_MESSAGES}" in answer_prompt


def test_a_short_thread_costs_no_summary_call(hosted_desk, server: FakeOpenAI) -> None:
    from crew.models import ThreadMessage

    hosted_desk.handle("Any update?", history=[ThreadMessage(author="customer", text="my order is late")])
    assert len(server.requests) == 1
