"""`pass_messages_through(llm)`: a CrewAI OpenAI-family model sends its chat messages and tool schemas to the
SDK's HTTP body as they are, without the SDK's parameter walk.

Private internals used: CrewAI's `OpenAICompletion._get_sync_client()` (the model's OpenAI client). Checked by
`tests/crew/test_openai_pass_through.py` (a hosted model built by the desk must hold the pass-through client);
at run time a change only costs speed (the model keeps the SDK's own path and `pass_messages_through` logs it).

Why: before every chat call the OpenAI SDK walks the whole request body against its typed parameter
definitions (`maybe_transform`), looking for keys to rename or values to reformat. Chat messages and tool
schemas have none, so the walk returns what it was given; but it costs about a millisecond of CPU per call
for one of the desk's prompts, twice that for `parse` (the classifier's structured call walks a union of two
parameter types; openai-python PR #3616), and it holds the GIL (docs/performance.md, "The OpenAI SDK's
request walk"). CrewAI builds `messages` and `tools` in wire format already, so the client's chat resources
move them into `extra_body`, which the SDK merges over the walked body (its documented meaning: extra JSON
properties that take precedence); every other parameter is still walked. The bytes on the wire are the same
(`tests/crew/test_openai_pass_through.py`). `parse` keeps its `tools`: it reads them back to parse strict
tool-call arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from crewai import BaseLLM
from crewai.llms.providers.openai.completion import OpenAICompletion
from openai import OpenAI
from openai.resources.beta import Beta
from openai.resources.chat import Chat
from openai.resources.chat.completions import Completions

logger = logging.getLogger(__name__)

_CREATE_PASS_THROUGH = ("messages", "tools")
_PARSE_PASS_THROUGH = ("messages",)


def _moved(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """`params` with each list among `keys` moved into `extra_body`; the walked body keeps an empty list in its
    place (the SDK requires `messages`), which the merge replaces. A caller's own `extra_body` is merged on top,
    as the SDK would merge it."""
    wire = {key: params[key] for key in keys if isinstance(params.get(key), list)}
    if not wire:
        return params
    extra = params.get("extra_body")
    return {
        **params,
        **{key: [] for key in wire},
        "extra_body": {**wire, **(extra if isinstance(extra, Mapping) else {})},
    }


class PassThroughCompletions(Completions):
    def create(self, **params: Any) -> Any:  # type: ignore[override]
        return super().create(**_moved(params, _CREATE_PASS_THROUGH))

    def parse(self, **params: Any) -> Any:  # type: ignore[override]
        return super().parse(**_moved(params, _PARSE_PASS_THROUGH))


class PassThroughChat(Chat):
    @cached_property
    def completions(self) -> Completions:
        return PassThroughCompletions(self._client)


class PassThroughBeta(Beta):
    @cached_property
    def chat(self) -> Chat:
        return PassThroughChat(self._client)


def pass_messages_through(llm: BaseLLM) -> bool:
    """Give `llm`'s OpenAI client the pass-through chat resources. False when `llm` is not CrewAI's OpenAI
    family (Anthropic, the local model) or its client cannot be reached."""
    if not isinstance(llm, OpenAICompletion):
        return False
    try:
        client = llm._get_sync_client()
    except (AttributeError, ValueError):
        logger.warning("CrewAI's OpenAI client is out of reach; the SDK walks every request body", exc_info=True)
        return False
    if not isinstance(client, OpenAI):
        logger.warning("CrewAI's OpenAI client is a %s; the SDK walks every request body", type(client).__name__)
        return False
    # The SDK's `chat` and `beta` are cached properties: the instance dict is where their values are cached.
    vars(client).update(chat=PassThroughChat(client), beta=PassThroughBeta(client))
    return True
