"""Builds the crew's models from `Settings`: the local model by default, any CrewAI-supported model by name.

    SUPPORT_LLM_MODEL=""                      -> LocalLLM (offline, deterministic; the default)
    SUPPORT_LLM_MODEL=openai/gpt-4o-mini      -> OpenAI (key in SUPPORT_LLM_API_KEY)
    SUPPORT_LLM_MODEL=hosted_vllm/<model>     -> a vLLM server (SUPPORT_LLM_BASE_URL=http://host:8000/v1)
    SUPPORT_LLM_MODEL=ollama/llama3.1         -> Ollama (SUPPORT_LLM_BASE_URL=http://127.0.0.1:11434/v1)
    SUPPORT_LLM_MODEL=openai/<name> + SUPPORT_LLM_BASE_URL -> any OpenAI-compatible server (llama.cpp, ...)
    SUPPORT_LLM_MODEL=anthropic/claude-...    -> needs `pip install "crewai[anthropic]"` (not a default
                                                 dependency: it is only needed by Anthropic users)

`SUPPORT_CLASSIFIER_MODEL` names the classifier's model the same way; empty keeps the local router, so
routing never costs a hosted call. All of these use CrewAI's native clients (the bundled openai SDK for
OpenAI-compatible servers); litellm is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from crewai import LLM, BaseLLM

from crew.local_model.llm import LocalLLM
from crew.local_model.router import LocalRouter
from desk.settings import Settings

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


def build_hosted_llm(model: str, settings: Settings) -> BaseLLM:
    """A CrewAI model for a hosted name like `openai/gpt-4o-mini` (no network until the first call).

    `crewai.LLM(...)` returns the provider's native client class (e.g. `OpenAICompatibleCompletion`).
    """
    api_key = settings.support_llm_api_key.get_secret_value() or None
    base_url = settings.support_llm_base_url or None
    if base_url and not api_key:
        api_key = _PLACEHOLDER_KEY
    return LLM(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=settings.support_llm_timeout_seconds,
        max_retries=settings.support_llm_max_retries,
        # Deterministic-ish replies make support answers and tests reproducible.
        temperature=0.2,
    )


def build_models(settings: Settings, router: LocalRouter) -> ModelSet:
    local = LocalLLM(router=router)
    specialist: BaseLLM = (
        build_hosted_llm(settings.support_llm_model, settings) if settings.support_llm_model else local
    )
    classifier: BaseLLM = (
        build_hosted_llm(settings.support_classifier_model, settings) if settings.support_classifier_model else local
    )
    return ModelSet(classifier=classifier, specialist=specialist, local=local)
