"""The help-centre knowledge base and its local search.

Articles are Markdown files in `crew/knowledge/` with a small YAML front-matter header:

    ---
    id: KB-007
    title: Refund policy and timelines
    category: billing            # billing | technical | escalation | general
    tags: [refund, money back, reimbursement]
    ---
    Body: a few short paragraphs and/or numbered steps.

Search is BM25 over title + tags + body (title and tags weighted up), with light suffix stemming, a few
multi-word phrases folded into single terms ("sign in" -> "login") and query-side synonym expansion so
a banking customer's "statement" finds the invoice article. Everything is computed once in
`KnowledgeBase.load`; a query is a handful of dictionary look-ups (tens of microseconds for ~40 articles).

A minimum relevance score keeps unrelated questions ("what's the weather on Mars") from returning
anything: an honest "no article" beats a confidently wrong one.

This module deliberately imports nothing from crewai so the local model and tests can use it cheaply.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crew.models import Category

DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
ARTICLE_ID_PATTERN = r"KB-\d{3}"

# BM25 parameters: the textbook defaults; the articles are short and similar in length.
_K1 = 1.2
_B = 0.75
# Title and tags describe what an article is *about*, the body also mentions neighbouring topics.
_TITLE_WEIGHT = 3
_TAG_WEIGHT = 2
_SYNONYM_WEIGHT = 0.5
# Below this BM25 score a match rests on one common word; tuned on the questions in the tests.
DEFAULT_MIN_SCORE = 1.5
# Secondary hits must be reasonably close to the best one, or they are noise next to it.
_RELATIVE_CUTOFF = 0.3
_CATEGORY_BOOST = 1.25
# A multi-word tag found word for word in the question ("charged twice") names the article's exact topic;
# single words alone can tie it with a neighbouring article ("refund" in the refund policy).
_TAG_PHRASE_BONUS = 2.0
_SNIPPET_CHARS = 320

# A word list reads better as a block of text than as a 150-item list literal.
_STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be because been before being below between both
    but by can cannot could did do does doing don done during each few for from further get got had has
    have having he her here hers him his how i if im in into is it its itself ive just me more most my myself
    no nor not now of off on once only or other our ours out over own same she should so some such than that
    the their them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself hi hello hey dear please thanks
    thank regards help need want like know tell let still also really already one anyone someone something
    anything way ok okay yes us im ive id dont doesnt didnt cant wont isnt whats hows its havent hasnt
    arent wasnt werent youre theyre thats theres ill youve weve shouldnt couldnt wouldnt
    """.split()  # noqa: SIM905
)

# Multi-word phrases customers use for one idea, folded before tokenising so they match as one term.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(?:log|logging|sign|signing)[- ]?(?:in|on)\b|\blogon\b|\bsignin\b", " login "),
        (r"\b(?:log|logging|sign|signing)[- ]?(?:out|off)\b", " logout "),
        (r"\b(?:two|2)[- ]?(?:factor|step)\b|\bmfa\b|\b2fa\b|\botp\b|\bone[- ]time (?:code|password)\b", " twofactor "),
        (
            r"\b(?:charged|billed|debited|paid) (?:me )?(?:twice|two times|double)\b|\bdouble[- ]charged?\b",
            " duplicate charge ",
        ),
        (r"\bmoney back\b", " refund "),
        (r"\bcharge[- ]back\b", " chargeback "),
        (r"\be-?mail\b", " email "),
        (r"\bwi-?fi\b", " wifi "),
        (r"\bset[- ]up\b", " setup "),
        (r"\bsim[- ]card\b", " sim "),
        (r"\b(?:opt|sign)[- ]?out\b", " unsubscribe "),
        (r"\b(?:credit|debit|bank|atm) card\b", " card "),
        (r"\b(?:real|actual|live) (?:person|human|agent)\b|\bcustomer (?:service|care)\b|\bhuman being\b", " human "),
        (r"\bnot working\b|\bdoesn'?t work\b|\bstopped working\b|\bwon'?t work\b", " broken "),
        (r"\bup ?grade\b", " upgrade "),
        (r"\bdown ?grade\b", " downgrade "),
        (r"\bstatus page\b", " statuspage "),
        (r"\bback ?up codes?\b|\brecovery codes?\b", " backupcode "),
        (r"\bdata protection\b|\bprivacy request\b", " gdpr "),
        (r"\bvat\b|\btax id\b|\bsales tax\b", " vat "),
        (r"\bpass ?code\b|\bpass word\b", " password "),
        (r"\bon[- ]?call\b", " oncall "),
    )
)

# Groups of words customers from different industries use for the same thing. Expansion is query-side
# only and weighted down, so an exact word still beats its synonym.
_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("invoice", "bill", "receipt", "statement"),
    ("refund", "reimburse", "reimbursement", "repay"),
    ("duplicate", "twice", "double"),
    ("decline", "reject", "fail", "bounce", "denied"),
    ("cancel", "terminate", "end", "stop", "quit"),
    ("subscription", "plan", "membership", "contract", "tariff"),
    ("upgrade", "downgrade", "switch"),
    ("login", "access", "signin"),
    ("lock", "locked", "blocked", "suspended", "frozen"),
    ("crash", "freeze", "hang", "close", "quit"),
    ("slow", "lag", "laggy", "sluggish", "delay"),
    ("network", "internet", "connection", "connectivity", "wifi", "signal", "coverage", "data"),
    ("outage", "down", "unavailable", "disruption", "offline"),
    ("install", "setup", "download", "configure"),
    ("error", "bug", "problem", "issue", "broken", "glitch"),
    ("delivery", "shipping", "shipment", "parcel", "package", "courier", "tracking"),
    ("order", "purchase", "buy", "bought"),
    ("return", "exchange", "replacement"),
    ("hack", "hacked", "compromised", "breach", "takeover"),
    ("fraud", "scam", "unauthorized", "unauthorised", "phishing", "suspicious"),
    ("card", "debit", "credit"),
    ("stolen", "lost", "missing", "theft"),
    ("human", "person", "agent", "representative", "operator", "staff"),
    ("complaint", "complain", "unhappy", "dissatisfied", "disappointed"),
    ("feedback", "suggestion", "review", "idea"),
    ("delete", "erase", "remove", "close"),
    ("export", "backup", "copy", "portability"),
    ("newsletter", "marketing", "promotional", "mailing"),
    ("api", "integration", "webhook", "token"),
    ("hours", "open", "available", "contact", "phone", "chat"),
    ("legal", "lawyer", "court", "subpoena", "police", "attorney"),
    ("emergency", "danger", "unsafe", "injury", "fire", "threat"),
    ("dispute", "chargeback", "contest"),
    ("address", "name", "details", "profile"),
    ("payment", "pay", "paid", "charge"),
    ("product", "item", "specification", "compatible", "warranty"),
)


class KnowledgeBaseError(ValueError):
    """An article file is malformed; raised at load time with the file name, never during a request."""


class KnowledgeArticle(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: str = Field(pattern=rf"^{ARTICLE_ID_PATTERN}$")
    title: str = Field(min_length=3)
    category: Category
    tags: tuple[str, ...] = ()
    body: str = Field(min_length=20)


class KnowledgeHit(BaseModel):
    """One search result: the article, how relevant it is, and a short excerpt for display."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    title: str
    category: Category
    score: float
    body: str
    snippet: str


def normalise(text: str) -> str:
    """Lower-case text with multi-word phrases folded to single terms."""
    # Apostrophes go first so "haven't" is one stop word rather than "haven" plus "t".
    folded = re.sub(r"['’]", "", text.lower())
    for pattern, replacement in _PHRASES:
        folded = pattern.sub(replacement, folded)
    return folded


def stem(word: str) -> str:
    """A deliberately light suffix stripper: enough to join 'refunds'/'refunded', 'charges'/'charging'."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in (("ational", "ate"), ("ation", ""), ("ments", ""), ("ment", ""), ("ies", "y")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("sses"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        for suffix in ("ing", "ed", "ly"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                    word = word[:-1]  # "logging" -> "logg" -> "log"
                break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # so "charge", "charged" and "charging" meet at "charg"
    if word.endswith("ll") and len(word) > 5:
        word = word[:-1]  # "cancelled" / "canceled"
    return word


def terms(text: str) -> list[str]:
    """The search terms of a text: normalised, tokenised, stop words dropped, stemmed. Order kept."""
    tokens = re.findall(r"[a-z0-9]{2,}", normalise(text))
    return [stem(token) for token in tokens if token not in _STOPWORDS]


def _build_synonym_index(groups: Iterable[Sequence[str]]) -> Mapping[str, frozenset[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        # One word per entry: a multi-word entry would tie its common words ("plan") to the group.
        stemmed = {term for word in group if " " not in word for term in terms(word)}
        for term in stemmed:
            index[term] |= stemmed - {term}
    return MappingProxyType({term: frozenset(others) for term, others in index.items()})


_SYNONYMS = _build_synonym_index(_SYNONYM_GROUPS)


def expand_query(text: str) -> list[dict[str, float]]:
    """One alternatives map per distinct query term: the term itself at 1.0, its synonyms lower.

    `search` takes the best alternative per term, not the sum, so a term with many synonyms cannot
    outweigh the rest of the question.
    """
    return expand_terms(terms(text))


def expand_terms(query_terms: Sequence[str]) -> list[dict[str, float]]:
    """`expand_query` for a query already split into `terms`."""
    return [
        {term: 1.0} | {synonym: _SYNONYM_WEIGHT for synonym in _SYNONYMS.get(term, ())}
        for term in dict.fromkeys(query_terms)
    ]


def parse_article(text: str, *, source: str = "<string>") -> KnowledgeArticle:
    """Parse one Markdown article with its front matter; raise `KnowledgeBaseError` naming `source`."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", text, flags=re.DOTALL)
    if match is None:
        raise KnowledgeBaseError(f"{source}: missing '---' front matter")
    try:
        header = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{source}: front matter is not valid YAML") from exc
    if not isinstance(header, dict):
        raise KnowledgeBaseError(f"{source}: front matter must be a mapping")
    try:
        return KnowledgeArticle(
            article_id=str(header.get("id", "")),
            title=str(header.get("title", "")),
            category=header.get("category"),
            tags=tuple(str(tag) for tag in header.get("tags") or ()),
            body=match.group(2).strip(),
        )
    except ValidationError as exc:
        raise KnowledgeBaseError(f"{source}: {exc}") from exc


def make_snippet(body: str) -> str:
    """The first paragraph of an article body, cut at a word boundary to a display length."""
    first_paragraph = body.split("\n\n", 1)[0].replace("\n", " ").strip()
    if len(first_paragraph) <= _SNIPPET_CHARS:
        return first_paragraph
    return first_paragraph[: _SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


class KnowledgeBase:
    """Immutable after `load`: the articles and a precomputed BM25 index over them."""

    def __init__(self, articles: Sequence[KnowledgeArticle], *, min_score: float = DEFAULT_MIN_SCORE) -> None:
        ids = [article.article_id for article in articles]
        duplicates = sorted({article_id for article_id in ids if ids.count(article_id) > 1})
        if duplicates:
            raise KnowledgeBaseError(f"duplicate article ids: {', '.join(duplicates)}")
        self._articles: tuple[KnowledgeArticle, ...] = tuple(articles)
        self._by_id: Mapping[str, KnowledgeArticle] = MappingProxyType({a.article_id: a for a in self._articles})
        self._min_score = min_score
        self._postings: Mapping[str, tuple[tuple[int, float], ...]] = self._index(self._articles)
        # What each article is *about*: a hit must touch one of these, not only a word used in passing.
        self._topic_terms: tuple[frozenset[str], ...] = tuple(
            frozenset(terms(article.title + " " + " ".join(article.tags))) for article in self._articles
        )
        self._tag_phrases: tuple[frozenset[tuple[str, ...]], ...] = tuple(
            frozenset(phrase for tag in article.tags if len(phrase := tuple(terms(tag))) > 1)
            for article in self._articles
        )

    @classmethod
    def load(cls, directory: Path | None = None, *, min_score: float = DEFAULT_MIN_SCORE) -> KnowledgeBase:
        """Read every `*.md` article in `directory` (default: the packaged `crew/knowledge`)."""
        folder = directory or DEFAULT_KNOWLEDGE_DIR
        paths = sorted(folder.glob("*.md"))
        if not paths:
            raise KnowledgeBaseError(f"no articles (*.md) in {folder}")
        articles = [parse_article(path.read_text(encoding="utf-8"), source=path.name) for path in paths]
        return cls(articles, min_score=min_score)

    @staticmethod
    def _index(articles: Sequence[KnowledgeArticle]) -> Mapping[str, tuple[tuple[int, float], ...]]:
        """Per term, the BM25 contribution to each article containing it (idf x saturated tf)."""
        frequencies: list[dict[str, int]] = []
        for article in articles:
            counts: dict[str, int] = defaultdict(int)
            weighted = (
                (article.title, _TITLE_WEIGHT),
                (" ".join(article.tags), _TAG_WEIGHT),
                (article.body, 1),
            )
            for text, weight in weighted:
                for term in terms(text):
                    counts[term] += weight
            frequencies.append(dict(counts))
        lengths = [sum(counts.values()) for counts in frequencies]
        average_length = sum(lengths) / max(len(lengths), 1)
        document_frequency: dict[str, int] = defaultdict(int)
        for counts in frequencies:
            for term in counts:
                document_frequency[term] += 1
        total = len(articles)
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for position, counts in enumerate(frequencies):
            norm = _K1 * (1 - _B + _B * lengths[position] / average_length)
            for term, tf in counts.items():
                df = document_frequency[term]
                idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
                postings[term].append((position, idf * tf * (_K1 + 1) / (tf + norm)))
        return MappingProxyType({term: tuple(entries) for term, entries in postings.items()})

    @property
    def articles(self) -> tuple[KnowledgeArticle, ...]:
        return self._articles

    def __len__(self) -> int:
        return len(self._articles)

    def get(self, article_id: str) -> KnowledgeArticle | None:
        return self._by_id.get(article_id.strip().upper())

    def search(self, query: str, k: int = 3, category: Category | None = None) -> list[KnowledgeHit]:
        """The best `k` articles for `query`, most relevant first; empty when nothing is relevant enough.

        `category` boosts articles of that category (it does not filter: a billing question may well be
        answered by a general article). The relevance threshold is applied before the boost, so a boost
        never turns an unrelated article into a hit.
        """
        if k <= 0:
            return []
        scores: dict[int, float] = defaultdict(float)
        on_topic: set[int] = set()
        query_terms = terms(query)  # once: the phrase bonus below reads them too
        for alternatives in expand_terms(query_terms):
            best_for_term: dict[int, float] = {}
            for term, weight in alternatives.items():
                for position, contribution in self._postings.get(term, ()):
                    best_for_term[position] = max(best_for_term.get(position, 0.0), weight * contribution)
                    if term in self._topic_terms[position]:
                        on_topic.add(position)
            for position, contribution in best_for_term.items():
                scores[position] += contribution
        relevant = {
            position: score for position, score in scores.items() if score >= self._min_score and position in on_topic
        }
        if not relevant:
            return []
        phrases = {tuple(query_terms[i : i + n]) for n in (2, 3) for i in range(len(query_terms) - n + 1)}
        for position in relevant:
            relevant[position] += _TAG_PHRASE_BONUS * len(self._tag_phrases[position] & phrases)
        boosted = {
            position: score * (_CATEGORY_BOOST if self._articles[position].category == category else 1.0)
            for position, score in relevant.items()
        }
        ranked = sorted(boosted.items(), key=lambda item: (-item[1], self._articles[item[0]].article_id))
        best = ranked[0][1]
        return [self._hit(position, score) for position, score in ranked[:k] if score >= best * _RELATIVE_CUTOFF]

    def _hit(self, position: int, score: float) -> KnowledgeHit:
        article = self._articles[position]
        return KnowledgeHit(
            article_id=article.article_id,
            title=article.title,
            category=article.category,
            score=round(score, 3),
            body=article.body,
            snippet=make_snippet(article.body),
        )
