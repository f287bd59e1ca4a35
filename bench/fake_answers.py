"""What the fake hosted model answers: valid replies for each of the crew's prompts.

The crew's prompts (crew/config/tasks.yaml) start with `Task: <name>` and fence the customer text between
`<customer_message>` markers. A structured task (classifier, issue analyst) arrives with an OpenAI
`response_format` json_schema; a specialist arrives with the `search_knowledge_base` tool offered and
the articles the crew prefetched between `<knowledge_base_articles>` markers.
The fake behaves like a cooperative model: when the prefetched articles hold at least one article it
answers at once citing the first of them (one call, as the task asks); otherwise it calls the tool once
when offered, then answers citing the first article the tool returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

_CUSTOMER = re.compile(r"<customer_message>(.*?)</customer_message>", re.DOTALL)
_TASK = re.compile(r"Task:\s*(\w+)")
_ARTICLE = re.compile(r"\[(KB-\d{3})\]")
# An article block's header line, as the tool and the prefetch format it (crew/tools.py).
_ARTICLE_HEADER = re.compile(r"^\[(KB-\d{3})\] ", re.MULTILINE)
_PREFETCHED = re.compile(r"<knowledge_base_articles>(.*?)</knowledge_base_articles>", re.DOTALL)
# A few words per category are enough: the bench needs plausible routing, not accuracy.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "escalation": ("lawyer", "complaint", "unacceptable", "manager", "outage", "urgent", "legal"),
    "billing": ("invoice", "refund", "charge", "charged", "payment", "billing", "vat", "subscription"),
    "technical": ("error", "crash", "login", "password", "api", "sync", "install", "bug", "app"),
}
COMPLEX_MARKER = " also "
_REPLY = "Thanks for reaching out. Here is what to do next."
_CONTEXT_HEADER = "This is the context you're working with:"


def _text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(item.get("text", "")) for item in content if isinstance(item, dict))
    return "\n".join(parts)


def categories_of(message: str) -> list[str]:
    lowered = message.lower()
    found = [name for name, words in _KEYWORDS.items() if any(word in lowered for word in words)]
    return found or ["general"]


def _classification(message: str) -> dict[str, Any]:
    found = categories_of(message)
    is_complex = len(found) > 1 and COMPLEX_MARKER in message.lower()
    return {
        "category": found[0],
        "priority": "high" if found[0] == "escalation" else "medium",
        "confidence": 0.9,
        "is_complex": is_complex,
        "signals": found,
        "secondary_categories": found[1:] if is_complex else [],
    }


def _issue_analysis(message: str) -> dict[str, Any]:
    return {
        "issues": [
            {"category": c, "summary": f"{c} issue", "query": f"{c} {message[:40]}"} for c in categories_of(message)
        ]
    }


def customer_text(body: dict[str, Any]) -> str:
    """The fenced customer message of a request ("" when there is none)."""
    found = _CUSTOMER.search(_text(body.get("messages") or []))
    return found.group(1).strip() if found else ""


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message for one chat/completions request body."""
    messages = body.get("messages") or []
    text = _text(messages)
    task = _TASK.search(text)
    customer = _CUSTOMER.search(text)
    message_text = customer.group(1).strip() if customer else ""
    tool_results = [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]
    schema_name = str(((body.get("response_format") or {}).get("json_schema") or {}).get("name") or "")
    task_name = task.group(1) if task else ""
    if task_name == "classify_request" or schema_name == "Classification":
        return {"role": "assistant", "content": json.dumps(_classification(message_text))}
    if task_name == "analyse_issues" or schema_name == "IssueAnalysis":
        return {"role": "assistant", "content": json.dumps(_issue_analysis(message_text))}
    prefetched = _PREFETCHED.search(text)
    given = _ARTICLE_HEADER.search(prefetched.group(1)) if prefetched else None
    if given and not tool_results:
        return {"role": "assistant", "content": f"{_REPLY} See [{given.group(1)}]."}
    if body.get("tools") and not tool_results:
        arguments = json.dumps({"query": message_text[:80] or "help"})
        call = {
            "id": "call_bench",
            "type": "function",
            "function": {"name": body["tools"][0]["function"]["name"], "arguments": arguments},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    # The reviewer keeps the specialists' citations: taken from CrewAI's context section, never from the
    # task's own example id ("e.g. [KB-003]"), which no article lookup returned.
    cited = _ARTICLE.search("\n".join(tool_results) or text.partition(_CONTEXT_HEADER)[2])
    cite = f" See [{cited.group(1)}]." if cited else ""
    return {"role": "assistant", "content": f"{_REPLY}{cite}"}


def completion(body: dict[str, Any]) -> dict[str, Any]:
    message = answer(body)
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }
