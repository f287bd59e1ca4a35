"""A multi-turn conversation with the local model: a follow-up is answered from the thread, not afresh."""

from __future__ import annotations

from typing import Any

from crew.local_model.thread import read_thread, reports_all_done
from crew.models import ThreadMessage

FIRST = "I was charged twice for my subscription this month, please refund one"
FACTS = "I checked Billing > Payments, both charges are listed, what now?"
ALL_DONE = "I did all of that and it still shows two charges"


def test_follow_ups_take_up_new_facts_never_repeat_given_steps_and_end_with_a_person(local_desk: Any) -> None:
    first = local_desk.handle(FIRST)
    thread = [ThreadMessage(author="customer", text=FIRST), ThreadMessage(author="agent", text=first.reply)]
    assert "Compare the charges" in first.reply and "[KB-005]" in first.reply

    second = local_desk.handle(FACTS, history=thread)
    assert second.reply != first.reply
    assert "Compare the charges" not in second.reply  # the step they report having done
    assert "Report duplicate" in second.reply  # the step their new facts point to
    assert [c.article_id for c in second.citations] == ["KB-005"]

    thread += [ThreadMessage(author="customer", text=FACTS), ThreadMessage(author="agent", text=second.reply)]
    third = local_desk.handle(ALL_DONE, history=thread)
    assert third.citations == []  # nothing left to cite: the desk hands the case to a person
    assert "Report duplicate" not in third.reply and "someone from our billing team" in third.reply


def test_the_thread_is_read_into_cited_articles_given_sentences_and_the_customer_topic() -> None:
    history = (
        "customer: my card was declined\n"
        "agent: Card payments can fail for several reasons. [KB-006]\n"
        "What to do:\n1. Check the card's expiry date.\n"
        "customer: still declined"
    )
    facts = read_thread(history)
    assert facts.cited == ("KB-006",)
    assert facts.already_given("2. Check the card's expiry date.")
    assert not facts.already_given("Try another card.")
    assert facts.search_query("what now?").splitlines() == ["what now?", "my card was declined", "still declined"]
    assert reports_all_done("I tried everything") and not reports_all_done("I tried the first step")


def test_a_customer_with_other_open_cases_is_told_so_without_quoting_them(local_desk: Any) -> None:
    profile = {"customer_profile": {"open_cases": 5, "in_progress_cases": 2, "recent_subjects": ["<b>old</b> issue"]}}
    reply = local_desk.handle(FIRST, context=profile).reply
    assert "You already have 2 other open cases with us" in reply and "old" not in reply
    assert "already have" not in local_desk.handle(FIRST).reply
