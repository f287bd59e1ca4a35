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

from dataclasses import dataclass

from crewai import LLM, BaseLLM

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


def build_hosted_llm(model: str, config: CrewConfig) -> BaseLLM:
    """A CrewAI model for a hosted name like `openai/gpt-4o-mini` (no network until the first call).

    `crewai.LLM(...)` returns the provider's native client class (e.g. `OpenAICompatibleCompletion`).
    """
    api_key = config.api_key.get_secret_value() or None
    base_url = config.base_url or None
    if base_url and not api_key:
        api_key = _PLACEHOLDER_KEY
    return LLM(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=config.timeout_seconds,
        max_retries=config.max_retries,
        # Deterministic-ish replies make support answers and tests reproducible.
        temperature=0.2,
    )


def build_models(config: CrewConfig, router: LocalRouter) -> ModelSet:
    local = LocalLLM(router=router)
    specialist: BaseLLM = build_hosted_llm(config.specialist_model, config) if config.specialist_model else local
    classifier: BaseLLM = build_hosted_llm(config.classifier_model, config) if config.classifier_model else local
    return ModelSet(classifier=classifier, specialist=specialist, local=local)
