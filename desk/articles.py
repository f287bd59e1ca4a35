"""The knowledge-base articles as customers and staff read them: one article by id, and the short excerpt
a citation shows. The articles are the crew's own (crew/knowledge/), loaded once per app."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from crew.knowledge_base import KnowledgeArticle, KnowledgeBase, make_snippet
from desk.errors import NotFound


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    category: str
    body: str
    excerpt: str


class Articles:
    @cached_property
    def _knowledge(self) -> KnowledgeBase:
        return KnowledgeBase.load()

    def get(self, article_id: str) -> Article:
        article = self._knowledge.get(article_id)
        if article is None:
            raise NotFound(code="article_not_found")
        return _article(article)

    def excerpt(self, article_id: str) -> str:
        article = self._knowledge.get(article_id)
        return make_snippet(article.body) if article is not None else ""


def _article(article: KnowledgeArticle) -> Article:
    return Article(article.article_id, article.title, article.category.value, article.body, make_snippet(article.body))
