"""Builds the crew's models from a `CrewConfig`: the local model by default, any CrewAI-supported model by name.

    specialist_model=""                       -> LocalLLM (offline, deterministic; the default)
    specialist_model="openai/gpt-4o-mini"     -> OpenAI (key in `api_key`)
    specialist_model="hosted_vllm/<model>"    -> a vLLM server (base_url="http://host:8000/v1")
    specialist_model="ollama/llama3.1"        -> Ollama (base_url="http://127.0.0.1:11434/v1")
    specialist_model="openai/<name>" + base_url -> any OpenAI-compatible server (llama.cpp, ...)
    specialist_model="anthropic/claude-..."   -> needs `pip install "crewai[anthropic]"` (not a default
                                                 dependency: it is only needed by Anthropic users)

`classifier_model` names the classifier's model the same way; empty keeps the local router, so routing
never costs a hosted call. (The desk fills these from SUPPORT_LLM_MODEL, SUPPORT_CLASSIFIER_MODEL,
SUPPORT_LLM_BASE_URL and SUPPORT_LLM_API_KEY.) All of these use CrewAI's native clients (the bundled
openai SDK for OpenAI-compatible servers); litellm is not needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from crewai import LLM, BaseLLM
from crewai.llms.hooks.base import BaseInterceptor

from crew.compat.openai_pass_through import pass_messages_through
from crew.compat.pool_per_thread import pool_per_thread
from crew.config import CrewConfig
from crew.local_model.llm import LocalLLM
from crew.local_model.router import LocalRouter

# OpenAI-compatible servers usually ignore the key but the SDK refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class ModelSet:
    """The models one desk uses. `local` is always there: it is the fallback when a hosted model fails."""

    classifier: BaseLLM
    specialist: BaseLLM
    local: LocalLLM

    @property
    def uses_hosted(self) -> bool:
        return self.classifier is not self.local or self.specialist is not self.local


def is_local(llm: BaseLLM) -> bool:
    return isinstance(llm, LocalLLM)


class HostedCallPolicy(Protocol):
    """What the desk puts between the crew and a hosted model (`security.guard.hosted.HostedCallGuard`):
    it may rewrite each request body before it leaves (redaction, a canary in the system prompt) and each
    response body before CrewAI reads it (a reply that leaks the canary)."""

    def prepare_request(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def check_response(self, body: Any) -> Any: ...

    def reads_response(self, content: bytes) -> bool:
        """False when `check_response` would return the parsed `content` as it is (so it is not parsed)."""
        ...


class PolicyInterceptor(BaseInterceptor[httpx.Request, httpx.Response]):
    """Runs a `HostedCallPolicy` on the JSON bodies of a hosted model's HTTP calls (CrewAI's transport hook)."""

    def __init__(self, policy: HostedCallPolicy) -> None:
        self.policy = policy

    def on_outbound(self, message: httpx.Request) -> httpx.Request:
        if not message.headers.get("content-type", "").startswith("application/json"):
            return message
        body = json.loads(message.read() or b"{}")
        data = json.dumps(self.policy.prepare_request(body)).encode()
        headers = {k: v for k, v in message.headers.items() if k.lower() != "content-length"}
        return httpx.Request(message.method, message.url, headers=headers, content=data, extensions=message.extensions)

    def on_inbound(self, message: httpx.Response) -> httpx.Response:
        return self._checked(message, message.read())

    async def aon_outbound(self, message: httpx.Request) -> httpx.Request:
        await message.aread()
        return self.on_outbound(message)

    async def aon_inbound(self, message: httpx.Response) -> httpx.Response:
        return self._checked(message, await message.aread())

    def _checked(self, response: httpx.Response, content: bytes) -> httpx.Response:
        if not self.policy.reads_response(content):
            return response
        try:
            body = json.loads(content)
        except ValueError:
            return response  # not JSON (an error page): CrewAI's own error handling sees it as it is
        checked = self.policy.check_response(body)
        if checked == body:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        # No `request=`: at the transport the response has none yet (the client sets it afterwards).
        return httpx.Response(
            response.status_code, headers=headers, content=json.dumps(checked).encode(), extensions=response.extensions
        )


def build_hosted_llm(model: str, config: CrewConfig, policy: HostedCallPolicy | None = None) -> BaseLLM:
    """A CrewAI model for a hosted name like `openai/gpt-4o-mini` (no network until the first call).

    `crewai.LLM(...)` returns the provider's native client class (e.g. `OpenAICompatibleCompletion`). With a
    `policy`, every HTTP call of that client goes through it (`PolicyInterceptor`). OpenAI-family clients send
    CrewAI's messages and tools without the SDK's request walk (crew/compat/openai_pass_through.py), and each
    thread calls through a connection pool of its own (crew/compat/pool_per_thread.py).
    """
    api_key = config.api_key.get_secret_value() or None
    base_url = config.base_url or None
    if base_url and not api_key:
        api_key = _PLACEHOLDER_KEY
    extra: dict[str, Any] = {"interceptor": PolicyInterceptor(policy)} if policy is not None else {}
    llm = LLM(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=config.timeout_seconds,
        max_retries=config.max_retries,
        # Deterministic-ish replies make support answers and tests reproducible.
        temperature=0.2,
        **extra,
    )
    pass_messages_through(llm)
    pool_per_thread(llm)
    return llm


def build_models(config: CrewConfig, router: LocalRouter, policy: HostedCallPolicy | None = None) -> ModelSet:
    local = LocalLLM(router=router)
    specialist: BaseLLM = (
        build_hosted_llm(config.specialist_model, config, policy) if config.specialist_model else local
    )
    classifier: BaseLLM = (
        build_hosted_llm(config.classifier_model, config, policy) if config.classifier_model else local
    )
    return ModelSet(classifier=classifier, specialist=specialist, local=local)
