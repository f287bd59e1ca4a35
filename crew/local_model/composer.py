"""The local model's reply writer: deterministic replies grounded only in knowledge-base articles.

`compose_reply` answers one issue from the articles the knowledge-base tool returned; it picks the
sentences and steps of those articles that share the most terms with the customer's message and cites
each article inline as `[KB-nnn]`. With no article it says so, never a guess.
`compose_complex_reply` answers several issues in one reply, one short section per issue.

The customer's message is only used to rank sentences; none of its text is copied into the reply, so
markup or injected instructions in it cannot reach the page or a later prompt.

Facts that are not in a hit (opening hours, response times) come from the constants below, which are
kept word-for-word in sync with the contact (KB-028) and escalation (KB-031) articles by a test.

No reply here promises a person or says anyone was alerted: the crew cannot know. The desk decides whether a
case goes to a person and writes that sentence itself (`desk/handoff.py`), only when it has done it. What
the replies do say about people is what the desk guarantees: a customer who says the answer did not help,
or asks for a person, is put in the people's queue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from crew.knowledge_base import KnowledgeHit, expand_query, terms
from crew.local_model.thread import ThreadFacts, reports_all_done
from crew.models import Category, Route

CONTACT_HOURS = "Monday to Friday 8:00-20:00 and Saturday 9:00-17:00 (CET)"
URGENT_RESPONSE = "within 1 hour, 24/7"
HIGH_RESPONSE = "within 4 business hours"
EMERGENCY_NUMBERS = "112 in Europe, 911 in North America"

_MAX_STEPS = 6
_MAX_LEAD_SENTENCES = 2

_TEAM_NAMES = {
    Route.BILLING: "billing team",
    Route.TECHNICAL: "technical support team",
    Route.ESCALATION: "escalation team",
    Route.GENERAL: "support team",
    Route.COMPLEX: "support team",
    Route.AUTO: "support team",
}
_SECTION_TITLES = {
    Category.BILLING: "Billing",
    Category.TECHNICAL: "Technical",
    Category.ESCALATION: "Urgent matters",
    Category.GENERAL: "Your other question",
}
_STEP = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

GREETING = "Thanks for getting in touch."
_CLOSING_PREFIX = "If this doesn't solve it"


@dataclass(frozen=True)
class _Unit:
    """A sentence or a list item of an article, with its place in the article for stable ordering."""

    text: str
    position: int
    is_step: bool
    paragraph: int


def _units(body: str) -> list[_Unit]:
    units: list[_Unit] = []
    for paragraph_number, paragraph in enumerate(re.split(r"\n\s*\n", body.strip())):
        for line in paragraph.splitlines():
            if _STEP.match(line):
                units.append(_Unit(_STEP.sub("", line).strip(), len(units), True, paragraph_number))
                continue
            for sentence in _SENTENCE_END.split(line.strip()):
                if sentence:
                    units.append(_Unit(sentence.strip(), len(units), False, paragraph_number))
    return units


def _relevance(unit: _Unit, query: list[dict[str, float]]) -> float:
    unit_terms = set(terms(unit.text))
    return sum(max((w for t, w in alternatives.items() if t in unit_terms), default=0.0) for alternatives in query)


def _lead(units: list[_Unit], query: list[dict[str, float]]) -> list[_Unit]:
    """The article's opening sentence (our articles open with the gist) plus its most relevant other one."""
    prose = [unit for unit in units if not unit.is_step]
    if not prose:
        return []
    # An opening like "these steps fix most cases:" introduces the list that follows in the reply.
    opening = replace(prose[0], text=prose[0].text.removesuffix(":") + ".") if prose[0].text.endswith(":") else prose[0]
    others = sorted(
        (unit for unit in prose[1:] if not unit.text.endswith(":")),
        key=lambda unit: (-_relevance(unit, query), unit.position),
    )
    chosen = [opening, *(unit for unit in others[: _MAX_LEAD_SENTENCES - 1] if _relevance(unit, query) >= 1.0)]
    return sorted(chosen, key=lambda unit: unit.position)


def _steps(units: list[_Unit], query: list[dict[str, float]], limit: int = _MAX_STEPS) -> list[_Unit]:
    """The most relevant list of the article (some have one list per case), trimmed to `limit` items."""
    lists: dict[int, list[_Unit]] = {}
    for unit in units:
        if unit.is_step:
            lists.setdefault(unit.paragraph, []).append(unit)
    if not lists:
        return []
    best = max(lists.values(), key=lambda items: (sum(_relevance(u, query) for u in items), -items[0].position))
    if len(best) <= limit:
        return best
    relevant = [unit for unit in best if _relevance(unit, query) > 0]
    return (relevant or best)[:limit]


def _article_answer(hit: KnowledgeHit, query: list[dict[str, float]], *, max_steps: int = _MAX_STEPS) -> str:
    units = _units(hit.body)
    lead = " ".join(unit.text for unit in _lead(units, query))
    steps = _steps(units, query, max_steps)
    parts = [f"{lead} [{hit.article_id}]" if lead else ""]
    if steps:
        numbered = "\n".join(f"{index}. {unit.text}" for index, unit in enumerate(steps, start=1))
        intro = "What to do:" if lead else f"What to do [{hit.article_id}]:"
        parts.append(f"{intro}\n{numbered}")
    return "\n\n".join(part for part in parts if part)


def _no_article_text(team: str) -> str:
    return (
        "I looked through our help centre but found no article that covers this, so rather than guess, this "
        f"needs someone from our {team}. Live chat and phone are open {CONTACT_HOURS}; the web form and email "
        "are open 24/7."
    )


def _escalation_opening(emergency: bool) -> str:
    if emergency:
        return (
            "Thank you for telling us straight away; we are treating this as an emergency. If anyone is in "
            f"immediate danger, call your local emergency number ({EMERGENCY_NUMBERS}) first.\n\n"
            "What happens next: the person who takes your case reviews it, contacts you, takes the urgent "
            "protective steps (such as freezing an account or card) and keeps you updated until it is resolved."
        )
    return (
        "I'm sorry you're dealing with this, and thank you for raising it. Our escalation team handles cases "
        f"like this one: they respond {URGENT_RESPONSE} for urgent matters such as security, fraud or safety, "
        f"and {HIGH_RESPONSE} for other escalated cases."
    )


def _grounded_body(message: str, hits: Sequence[KnowledgeHit]) -> str:
    """The best article's answer only: a second article's loosely related sentence read as padding, and the
    desk lists only the articles a reply cites."""
    return _article_answer(hits[0], expand_query(message))


def compose_reply(message: str, route: Route, hits: Sequence[KnowledgeHit], *, emergency: bool = False) -> str:
    """A reply to `message` grounded only in `hits`, citing each article it uses as `[KB-nnn]`."""
    team = _TEAM_NAMES[route]
    if route is Route.ESCALATION or emergency:
        opening = _escalation_opening(emergency)
        if not hits:
            return f"{opening}\n\nYou don't need to do anything else for now."
        return f"{opening}\n\nWhile you wait, this is what you can already do:\n\n{_grounded_body(message, hits)}"
    if not hits:
        return _no_article_text(team)
    return (
        f"{GREETING} Here is what should help.\n\n{_grounded_body(message, hits)}\n\n"
        f"{_CLOSING_PREFIX}, reply and tell us, and your case goes to a person from our {team}."
    )


def _new_answer(hit: KnowledgeHit, query: list[dict[str, float]], thread: ThreadFacts) -> str | None:
    """The parts of `hit` the customer has not been given yet (ranked by their new message), or None."""
    units = _units(hit.body)
    lead = [unit for unit in _lead(units, query) if not thread.already_given(unit.text)]
    steps = [unit for unit in _steps(units, query, limit=len(units)) if not thread.already_given(unit.text)]
    if not steps and not (lead and hit.article_id not in thread.cited):
        return None
    parts = []
    if lead:
        parts.append(" ".join(unit.text for unit in lead) + f" [{hit.article_id}]")
    if steps:
        numbered = "\n".join(f"{index}. {unit.text}" for index, unit in enumerate(steps[:_MAX_STEPS], start=1))
        parts.append(f"{'Next' if lead else f'Next [{hit.article_id}]'}:\n{numbered}")
    return "\n\n".join(parts)


_SITUATION_MIN_RELEVANCE = 2.0


def _where_they_are(hit: KnowledgeHit, query: list[dict[str, float]], thread: ThreadFacts) -> str | None:
    """The customer's new facts located in steps we already gave: the last given step that matches what they
    say now is where they are, so that step and the ones after it are the answer ("both charges are listed"
    is the situation of "if both charges are listed, report the duplicate")."""
    steps = _steps(_units(hit.body), query, limit=_MAX_STEPS * 2)
    matched = [
        index
        for index, unit in enumerate(steps)
        if thread.already_given(unit.text) and _relevance(unit, query) >= _SITUATION_MIN_RELEVANCE
    ]
    if not matched:
        return None
    rest = steps[matched[-1] :][:_MAX_STEPS]
    numbered = "\n".join(f"{index}. {unit.text}" for index, unit in enumerate(rest, start=1))
    return f"From what you describe, this is the step for you now [{hit.article_id}]:\n{numbered}"


def compose_follow_up(
    message: str, route: Route, hits: Sequence[KnowledgeHit], thread: ThreadFacts, *, emergency: bool = False
) -> str:
    """A reply to a follow-up, from the thread and what the customer says now:
    - they report every step done: nothing is repeated; the case needs a person (no citation, so the desk
      puts it in the people's queue);
    - their new facts match a step we gave: that step and the ones after it;
    - otherwise what they have not been given yet, from the first article that still has something new
      (articles already cited come last); with nothing new left, the same as the first case.
    The customer's words only rank and match our sentences; none of their text is copied."""
    if route is Route.ESCALATION or emergency:
        return compose_reply(message, route, hits, emergency=emergency)
    team = _TEAM_NAMES[route]
    closing = f"{_CLOSING_PREFIX}, reply and tell us, and your case goes to a person from our {team}."
    nothing_more = (
        "Thanks for trying those steps. I've shared everything our help centre has on this, so the next step is "
        f"someone from our {team}. Live chat and phone are open {CONTACT_HOURS}."
    )
    if reports_all_done(message):
        return nothing_more
    query = expand_query(message)
    for hit in (hit for hit in hits if hit.article_id in thread.cited):
        situation = _where_they_are(hit, query, thread)
        if situation is not None:
            return f"Thanks, that helps.\n\n{situation}\n\n{closing}"
    for hit in sorted(hits, key=lambda hit: hit.article_id in thread.cited):
        answer = _new_answer(hit, query, thread)
        if answer is not None:
            return f"Thanks for the update. Here is what else should help.\n\n{answer}\n\n{closing}"
    return nothing_more


def _specialist_answer_text(answer: str) -> str:
    """A specialist's written answer without the greeting and closing that `compose_reply` adds."""
    lines = answer.strip().splitlines()
    if lines and lines[0].startswith(GREETING):
        lines = lines[1:]
    if lines and lines[-1].startswith(_CLOSING_PREFIX):
        lines = lines[:-1]
    return "\n".join(lines).strip()


def _section(label: Category | Route, content: Sequence[KnowledgeHit] | str, message: str) -> str:
    category = Category(label.value) if label.value in Category.__members__.values() else Category.GENERAL
    title = _SECTION_TITLES[category]
    if isinstance(content, str):
        text = (
            _specialist_answer_text(content) or "I have no answer for this part yet; ask for a person if you need one."
        )
        return f"**{title}**\n{text}"
    team = _TEAM_NAMES[Route(category.value)]
    lines: list[str] = []
    if category is Category.ESCALATION:
        lines.append(
            f"This part is for our escalation team, who respond {URGENT_RESPONSE} for urgent matters and "
            f"{HIGH_RESPONSE} otherwise."
        )
    if content:
        lines.append(_article_answer(content[0], expand_query(message), max_steps=4))
    elif category is not Category.ESCALATION:
        lines.append(f"I found no article on this part; ask for a person from our {team} if you need one.")
    return f"**{title}**\n" + "\n\n".join(lines)


def compose_complex_reply(
    message: str,
    parts: Sequence[tuple[Category | Route, Sequence[KnowledgeHit] | str]],
) -> str:
    """One reply covering several issues: a short titled section per issue, each citing its articles.

    Each part is an issue's category (or route) with either the articles found for it or a specialist's
    already written answer, which is used as that section's text.
    """
    if not parts:
        return _no_article_text(_TEAM_NAMES[Route.GENERAL])
    sections = [_section(label, content, message) for label, content in parts]
    count = "two" if len(parts) == 2 else str(len(parts))
    opening = f"{GREETING} You raised {count} things, so I've taken them one at a time."
    if len(parts) == 1:
        opening = f"{GREETING} Here is what should help."
    closing = (
        "If any part is still open, reply and tell us, and your case goes to a person. Live chat and phone are "
        f"open {CONTACT_HOURS}."
    )
    return "\n\n".join([opening, *sections, closing])


def with_open_cases_note(reply: str, other_open_cases: int) -> str:
    """A customer who already has open cases is told so (from the desk's profile), so one issue is not
    handled twice. Their case subjects are not quoted: they are customer text."""
    if other_open_cases <= 0:
        return reply
    cases = "another open case" if other_open_cases == 1 else f"{other_open_cases} other open cases"
    return (
        f"{reply}\n\nYou already have {cases} with us. If this is about the same issue, reply on that case so "
        "everything stays in one place."
    )
