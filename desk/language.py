"""The language of a customer's message, detected offline with lingua (a well-kept detector from PyPI whose
models ship in its wheel, so nothing is downloaded).

Only the languages the desk answers about are considered, in lingua's low-accuracy (trigram) mode: ~25 MB
and well under a millisecond per message, where the full models cost ~350 MB per process. A detection is
kept only when lingua is confident and the message has a few words; short or mixed lines ("refund pls",
"ok") are `None`, which the desk treats as English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

MIN_CONFIDENCE = 0.6
MIN_WORDS = 3
ENGLISH_MARKERS_ENOUGH = 2
# English function words that are not words of the other languages detected (so "in", "me", "no" are left out).
_ENGLISH_MARKERS = frozenset(
    (
        "i",
        "my",
        "the",
        "is",
        "are",
        "was",
        "how",
        "what",
        "where",
        "when",
        "why",
        "can",
        "could",
        "would",
        "do",
        "does",
        "did",
        "you",
        "your",
        "it",
        "this",
        "that",
        "with",
        "for",
        "from",
        "have",
        "has",
        "not",
        "please",
        "there",
    )
)

# ISO 639-1 codes of the languages detected, and how each is named in its own language.
LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "français",
    "es": "español",
    "it": "italiano",
    "pt": "português",
    "nl": "Nederlands",
}

# What the desk says in the customer's language when the local model (English only) answers: the answer is
# in English, and writing the word for "person" puts the case in the people's queue (desk/handoff.py).
ENGLISH_ONLY_NOTICE = {
    "de": "Unsere automatischen Antworten gibt es nur auf Englisch. Eine Person aus unserem Team hilft Ihnen "
    "gern auf Deutsch weiter: schreiben Sie einfach „Person“ in Ihre Antwort.",
    "fr": "Nos réponses automatiques sont uniquement en anglais. Une personne de notre équipe peut vous aider "
    "en français : écrivez simplement « personne » dans votre réponse.",
    "es": "Nuestras respuestas automáticas solo están en inglés. Una persona de nuestro equipo puede ayudarle "
    "en español: escriba «persona» en su respuesta.",
    "it": "Le nostre risposte automatiche sono solo in inglese. Una persona del nostro team può aiutarla in "
    "italiano: scriva «persona» nella sua risposta.",
    "pt": "As nossas respostas automáticas são apenas em inglês. Uma pessoa da nossa equipa pode ajudar em "
    "português: escreva «pessoa» na sua resposta.",
    "nl": "Onze automatische antwoorden zijn alleen in het Engels. Iemand van ons team helpt u graag in het "
    "Nederlands: schrijf „persoon” in uw antwoord.",
}


@dataclass
class LanguageGuesser:
    """Built once per app; the lingua detector is made on first use (it costs ~60 ms)."""

    codes: tuple[str, ...] = field(default_factory=lambda: tuple(LANGUAGE_NAMES))

    @cached_property
    def _detector(self) -> LanguageDetector:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in self.codes]
        return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()

    def detect(self, text: str) -> str | None:
        words = text.split()
        if len(words) < MIN_WORDS:
            return None
        # The trigram models misread short lower-case English ("how do i export all my data" scores Italian
        # at 0.9); two or more English function words settle it without a model.
        if len(_ENGLISH_MARKERS.intersection(w.strip(".,!?;:'\"()").lower() for w in words)) >= ENGLISH_MARKERS_ENOUGH:
            return "en"
        best = self._detector.compute_language_confidence_values(text)[0]
        if best.value < MIN_CONFIDENCE:
            return None
        return str(best.language.iso_code_639_1.name).lower()


# When a setting sends such cases to people straight away.
QUEUED_NOTICE = {
    "de": "Unsere automatischen Antworten gibt es nur auf Englisch; eine Person aus unserem Team "
    "antwortet Ihnen auf Deutsch.",
    "fr": "Nos réponses automatiques sont uniquement en anglais ; une personne de notre équipe vous "
    "répondra en français.",
    "es": "Nuestras respuestas automáticas solo están en inglés; una persona de nuestro equipo le "
    "responderá en español.",
    "it": "Le nostre risposte automatiche sono solo in inglese; una persona del nostro team le risponderà in italiano.",
    "pt": "As nossas respostas automáticas são apenas em inglês; uma pessoa da nossa equipa responderá em português.",
    "nl": "Onze automatische antwoorden zijn alleen in het Engels; iemand van ons team antwoordt u in het Nederlands.",
}


def english_only_notice(code: str | None, *, queued: bool) -> str | None:
    """The notice for a message in another language answered in English (None for English or unknown)."""
    return (QUEUED_NOTICE if queued else ENGLISH_ONLY_NOTICE).get(code or "en")
