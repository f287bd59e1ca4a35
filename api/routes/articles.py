"""`/kb/articles/{id}`: a knowledge-base article, for the citations under an answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.deps import CurrentUser
from api.openapi import error_responses
from api.presenters import article_out
from api.schemas import ArticleOut
from desk.articles import Articles

router = APIRouter(prefix="/kb", tags=["knowledge base"])


async def get_articles(request: Request) -> Articles:
    articles: Articles = request.app.state.articles
    return articles


ArticlesDep = Annotated[Articles, Depends(get_articles)]


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=error_responses(401, 404, 422))
def read_article(
    article_id: Annotated[str, Path(pattern=r"^[A-Za-z]{2}-\d{3}$", max_length=6)],
    user: CurrentUser,
    articles: ArticlesDep,
) -> ArticleOut:
    """One article of the desk's knowledge base (any signed-in account)."""
    return article_out(articles.get(article_id))
