"""`ParsedResponseClasses`: the OpenAI SDK's structured-output response classes, built once per process.

Private internals used: pydantic's `pydantic._internal._generics._GENERIC_TYPES_CACHE` (a context
variable) and the OpenAI SDK's `openai.lib._parsing._completions.ResponseFormatT` (a TypeVar).
Checked by `tests/crew/test_compat.py`, which fails when either changes shape. At run time a rename only
costs speed: `build()` logs it and the SDK builds the classes itself, as before.

Why: a crew task with `output_pydantic` (the classifier, the complex crew's issue analyst) makes CrewAI
call `client.beta.chat.completions.parse(response_format=Model)`, and the SDK parses the answer into
`ParsedChatCompletion[ResponseFormatT]` (with `ParsedChoice[...]` and `ParsedChatCompletionMessage[...]`
inside). Pydantic parametrizes a generic model through a cache that lives in a context variable and holds
its classes weakly. So each request's context (a worker thread's copy, no cache in it) parametrized the
three classes anew, and any garbage collection dropped them again: every hosted structured call rebuilt
their schemas (the measured cost is in docs/performance.md, "Private internals: kept and dropped").

`build()` parametrizes and builds the three classes once and keeps strong references to them;
`activate()` puts the cache that holds them into the current context before a kickoff, so the SDK finds
them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, cast

from pydantic import BaseModel

logger = logging.getLogger(__name__)


class ParsedResponseClasses:
    def __init__(self, cache_var: ContextVar[Any] | None, cache: object, classes: tuple[type[BaseModel], ...]) -> None:
        self._cache_var = cache_var
        self._cache = cache
        # Strong references: pydantic's cache alone would let a garbage collection drop them.
        self.classes = classes

    @classmethod
    def build(cls) -> ParsedResponseClasses:
        try:
            from openai.lib._parsing._completions import ResponseFormatT
            from openai.types.chat import ParsedChatCompletion, ParsedChatCompletionMessage, ParsedChoice
            from pydantic._internal._generics import _GENERIC_TYPES_CACHE
        except ImportError as exc:
            logger.warning("structured-output classes not pre-built (%s): hosted classifier calls cost more CPU", exc)
            return cls(None, None, ())
        if not isinstance(_GENERIC_TYPES_CACHE, ContextVar):
            logger.warning("pydantic's generic-types cache is not a context variable: classes not pre-built")
            return cls(None, None, ())
        generics = (ParsedChatCompletionMessage, ParsedChoice, ParsedChatCompletion)
        # At runtime a pydantic generic's subscript is a class (typing sees a GenericAlias).
        classes = tuple(cast(type[BaseModel], model[ResponseFormatT]) for model in generics)
        for model in classes:
            model.model_rebuild()
        return cls(_GENERIC_TYPES_CACHE, _GENERIC_TYPES_CACHE.get(), classes)

    def activate(self) -> None:
        """Make the current context parametrize generics through the cache that holds `classes`."""
        if self._cache_var is not None and self._cache_var.get() is not self._cache:
            self._cache_var.set(self._cache)
