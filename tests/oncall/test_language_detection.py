"""The case language the desk records: short lower-case English is English, the six other languages are
recognised (the notice in the customer's language depends on it)."""

from __future__ import annotations

import pytest

from desk.language import LanguageGuesser


@pytest.fixture(scope="module")
def guesser() -> LanguageGuesser:
    return LanguageGuesser()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("how do i export all my data", "en"),
        ("how do i reset my password", "en"),
        ("where is my order", "en"),
        ("Ich habe die Rechnung nicht bekommen", "de"),
        ("Je ne trouve pas ma facture", "fr"),
        ("No puedo pagar con mi tarjeta", "es"),
        ("Il mio ordine è in ritardo", "it"),
        ("Não consigo entrar na minha conta", "pt"),
        ("Ik kan niet inloggen op mijn account", "nl"),
    ],
)
def test_the_language_of_a_message(guesser: LanguageGuesser, text: str, code: str) -> None:
    assert guesser.detect(text) == code


def test_too_short_to_tell_is_unknown(guesser: LanguageGuesser) -> None:
    assert guesser.detect("refund pls") is None
