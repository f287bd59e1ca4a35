"""CrewAI tools of the support desk: today one, the knowledge-base search.

Output format of `KnowledgeBaseSearchTool` (the contract with the local model, `crew/local_model/llm.py`,
and with `parse_tool_output` / `parse_tool_hits` below):

    Found 2 knowledge base articles. Cite the ones you use by id in square brackets, e.g. [KB-003].

    [KB-003] Refund policy and what can be refunded
    category: billing; relevance: 7.412
    <article body, verbatim, several lines>

    [KB-004] How long a refund takes and how to track it
    category: billing; relevance: 3.905
    <article body>

- Each article starts with a header line `[KB-nnn] <title>` at the start of a line, followed by exactly
  one metadata line `category: <billing|technical|escalation|general>; relevance: <float>`, then the body
  up to the next header line or the end of the text. Article bodies never start a line with `[KB-`.
- With no relevant article the whole output is `NO_RESULTS_MESSAGE` (it begins "No relevant article
  found"); it contains no `[KB-` header, so parsing it yields an empty list.
- The customer's query is never echoed into the output, so a crafted query cannot smuggle text that a
  prompt-parsing model would mistake for an article or an instruction.

`find_cited_ids` recovers the ids a written reply cites inline (`... within 2 business days [KB-004].`).

`prefetch_articles` runs the same search in code before a specialist's task (~1 ms) and returns the same
format; the task carries it between `<knowledge_base_articles>` markers, so a hosted model can answer in
one call instead of spending a round-trip on the tool call. The tool stays attached for questions the
prefetched articles do not cover.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from crewai.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from crew.knowledge_base import ARTICLE_ID_PATTERN, KnowledgeBase, KnowledgeHit, make_snippet
from crew.models import Category, Citation, FixedSchemaModel, Route

NO_RESULTS_MESSAGE = (
    "No relevant article found in the knowledge base for this question. Do not guess a policy, price or "
    "time frame: say that no article covers it and offer to connect the customer with a human agent."
)
_HEADER = re.compile(rf"^\[(?P<id>{ARTICLE_ID_PATTERN})\] (?P<title>.+?)[ \t]*$", flags=re.MULTILINE)
_METADATA = re.compile(r"^category: (?P<category>[a-z]+); relevance: (?P<score>[0-9.]+)[ \t]*$")
_INLINE_CITATION = re.compile(rf"\[({ARTICLE_ID_PATTERN})\]")
# The tool schema's own limit on a query; a prefetch searches with no more than a tool call could.
QUERY_MAX_CHARS = 2000


class KnowledgeBaseSearchInput(FixedSchemaModel):
    query: str = Field(
        min_length=1,
        max_length=QUERY_MAX_CHARS,
        description="What the customer needs, in plain words, e.g. 'refund for annual plan' or 'locked out'.",
    )
    category: Category | None = Field(
        default=None,
        description="Optional: billing, technical, escalation or general, to prefer articles of that kind.",
    )


def format_hits(hits: list[KnowledgeHit]) -> str:
    """Render hits in the documented tool output format."""
    if not hits:
        return NO_RESULTS_MESSAGE
    noun = "article" if len(hits) == 1 else "articles"
    blocks = [
        f"Found {len(hits)} knowledge base {noun}. Cite the ones you use by id in square brackets, "
        f"e.g. [{hits[0].article_id}]."
    ]
    for hit in hits:
        blocks.append(
            f"[{hit.article_id}] {hit.title}\n"
            f"category: {hit.category.value}; relevance: {hit.score:.3f}\n"
            f"{hit.body.strip()}"
        )
    return "\n\n".join(blocks)


def parse_tool_hits(text: str) -> list[KnowledgeHit]:
    """The articles in a tool output, in order, bodies included (for the local model's composer)."""
    headers = list(_HEADER.finditer(text))
    hits: list[KnowledgeHit] = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        metadata_line, _, body = text[header.end() : end].strip("\n").partition("\n")
        metadata = _METADATA.match(metadata_line)
        if metadata is None or metadata.group("category") not in Category.__members__.values():
            continue  # an inline mention such as a model quoting "[KB-001] ..." is not an article block
        body = body.strip()
        hits.append(
            KnowledgeHit(
                article_id=header.group("id"),
                title=header.group("title"),
                category=Category(metadata.group("category")),
                score=float(metadata.group("score")),
                body=body,
                snippet=make_snippet(body),
            )
        )
    return hits


def parse_tool_output(text: str) -> list[Citation]:
    """Citations (id + title) for the articles a tool output returned, without duplicates."""
    seen: set[str] = set()
    citations: list[Citation] = []
    for hit in parse_tool_hits(text):
        if hit.article_id not in seen:
            seen.add(hit.article_id)
            citations.append(Citation(article_id=hit.article_id, title=hit.title))
    return citations


def find_cited_ids(text: str) -> list[str]:
    """Article ids cited inline in a reply as `[KB-nnn]`, in first-mention order, without duplicates."""
    return list(dict.fromkeys(_INLINE_CITATION.findall(text)))


class KnowledgeBaseSearchTool(BaseTool):
    """Searches the help-centre articles and returns them as cite-able text."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "search_knowledge_base"
    description: str = (
        "Search the company's help-centre knowledge base. Use it before answering any customer question "
        "about billing, refunds, accounts, technical problems, orders, security or policies. Returns the "
        "most relevant articles with ids like [KB-003]; base the answer only on them and cite the ids you "
        "use. If it says no relevant article was found, do not guess: offer a human agent."
    )
    args_schema: type[BaseModel] = KnowledgeBaseSearchInput
    knowledge_base: KnowledgeBase = Field(exclude=True)
    max_results: int = Field(default=3, ge=1, le=10)

    def _run(self, query: str, category: Category | str | None = None) -> str:
        preferred = Category(category) if category else None
        return format_hits(self.knowledge_base.search(query, k=self.max_results, category=preferred))


def prefetch_articles(tool: KnowledgeBaseSearchTool, query: str, routes: Sequence[Route]) -> str:
    """What the tool would return for `query` with each route's category, merged (first hit of an id wins),
    in the tool's output format. Routes without a category (complex) search without a preference."""
    categories = [Category(route.value) if route.value in Category.__members__.values() else None for route in routes]
    hits: dict[str, KnowledgeHit] = {}
    for category in categories or [None]:
        for hit in tool.knowledge_base.search(query[:QUERY_MAX_CHARS], k=tool.max_results, category=category):
            hits.setdefault(hit.article_id, hit)
    return format_hits(list(hits.values()))
