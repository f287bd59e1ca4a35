"""The pass-through chat resources send the same request bytes as the OpenAI SDK's own path, and the model
built for a hosted name uses them (crew/compat/openai_pass_through.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai import OpenAI
from pydantic import BaseModel

from crew.compat.openai_pass_through import PassThroughBeta, PassThroughChat

pytestmark = pytest.mark.slow  # imports crewai

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are the billing specialist of a support desk."},
    {"role": "user", "content": "My invoice for March shows two charges, can you check?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "search_kb", "arguments": '{"q": "refund"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Refunds reach the card in 5-10 days."},
]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_kb",
            "description": "Search the help articles.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
]


class Verdict(BaseModel):
    category: str
    confidence: float


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
    }


def _client(sent: list[bytes], content: str, *, pass_through: bool) -> OpenAI:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return httpx.Response(200, json=_completion(content))

    client = OpenAI(
        api_key="not-needed",
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    if pass_through:
        vars(client).update(chat=PassThroughChat(client), beta=PassThroughBeta(client))
    return client


def _bodies(call: str, content: str, **params: Any) -> tuple[bytes, bytes, Any]:
    sent: list[bytes] = []
    replies = []
    for pass_through in (False, True):
        client = _client(sent, content, pass_through=pass_through)
        completions = client.beta.chat.completions if call == "parse" else client.chat.completions
        replies.append(getattr(completions, call)(model="m", messages=MESSAGES, temperature=0.2, **params))
    assert replies[0].choices[0].message == replies[1].choices[0].message
    return sent[0], sent[1], replies[1]


def test_create_sends_the_same_bytes_with_messages_and_tools_passed_through() -> None:
    plain, passed, reply = _bodies("create", "Two charges: one is a pending hold.", tools=TOOLS)
    assert passed == plain
    assert json.loads(passed)["messages"] == MESSAGES and json.loads(passed)["tools"] == TOOLS
    assert reply.choices[0].message.content == "Two charges: one is a pending hold."


def test_parse_sends_the_same_bytes_and_still_parses_the_structured_answer() -> None:
    plain, passed, reply = _bodies("parse", '{"category": "billing", "confidence": 0.9}', response_format=Verdict)
    assert passed == plain
    assert reply.choices[0].message.parsed == Verdict(category="billing", confidence=0.9)


def test_a_callers_own_extra_body_still_reaches_the_wire() -> None:
    sent: list[bytes] = []
    client = _client(sent, "ok", pass_through=True)
    client.chat.completions.create(model="m", messages=MESSAGES, extra_body={"top_k": 5})
    body = json.loads(sent[0])
    assert body["top_k"] == 5 and body["messages"] == MESSAGES


def test_a_hosted_model_built_by_the_desk_uses_the_pass_through_client(local_desk) -> None:  # type: ignore[no-untyped-def]
    from crew.config import CrewConfig
    from crew.llm_factory import build_hosted_llm

    llm = build_hosted_llm("openai/m", CrewConfig(base_url="http://127.0.0.1:9/v1"))
    client = llm._get_sync_client()  # type: ignore[attr-defined]
    assert isinstance(client.chat, PassThroughChat)
    assert isinstance(client.beta, PassThroughBeta)
