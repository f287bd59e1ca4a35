"""Structured answers from a hosted model are parsed into classes built once, whatever thread asks."""

from __future__ import annotations

import gc
import threading

from openai.lib._parsing._completions import parse_chat_completion
from openai.types.chat import ChatCompletion

from crew.compat.openai_parsed_classes import ParsedResponseClasses
from crew.models import Classification

ANSWER = (
    '{"category": "billing", "priority": "medium", "confidence": 0.9, "is_complex": false, '
    '"signals": ["charged twice"], "secondary_categories": []}'
)


def _completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}],
        }
    )


def test_each_request_thread_parses_into_the_prebuilt_classes_even_after_a_collection() -> None:
    prebuilt = ParsedResponseClasses.build()
    message_cls, choice_cls, completion_cls = prebuilt.classes
    seen: list[tuple[type, type, type, str]] = []

    def one_request() -> None:
        # A worker thread starts with a context of its own, as each API request does.
        prebuilt.activate()
        gc.collect()
        parsed = parse_chat_completion(response_format=Classification, input_tools=[], chat_completion=_completion())
        choice = parsed.choices[0]
        assert isinstance(choice.message.parsed, Classification)
        seen.append((type(parsed), type(choice), type(choice.message), choice.message.parsed.category.value))

    threads = [threading.Thread(target=one_request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [(completion_cls, choice_cls, message_cls, "billing")] * 3
