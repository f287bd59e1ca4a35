"""The features of the injection classifier: word 1-2-grams and character 3-5-grams of the folded text
(TF-IDF, sublinear term frequency, each block L2-normalised, as scikit-learn's `TfidfVectorizer` with
`sublinear_tf=True` and `analyzer="char_wb"` for the characters), plus the structural signals of
`security.guard.normalize.structure`. Shared by training and scoring, so both see the same features."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping

from security.guard.normalize import model_text, structure

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
CHAR_SIZES = (3, 4, 5)
# Very long messages are scored on their start and end (where instructions sit); the rest adds little.
MAX_CHARS = 6000


def _clip(raw: str) -> str:
    if len(raw) <= MAX_CHARS:
        return raw
    half = MAX_CHARS // 2
    return raw[:half] + "\n" + raw[-half:]


# Function words of the seven languages the examples are written in. As single words they say nothing about
# an attack, yet they are not spread evenly over hand-written examples (templates join clauses with "and",
# customers write "I" and "my"), so a model learns them as if they did; pairs ("ignore all") are kept.
STOP_WORDS = frozenset(
    """a an and are as at be but by do for from had has have i if in is it its me my of on or our so that the
    their them then there these they this to us was we were will with you your yours
    aber auch auf aus bei bin bist das dass dem den der des die du ein eine einen er es ich ihr im ist mein
    meine mit nicht sie sind und von war wir zu
    au aux avec ce ces dans de des du elle en est et il je la le les ma mes mon ne nous on ou par pas pour
    que qui sa se ses son sur ta te tes ton tu un une vous
    al con del el ella es esta este las lo los mi mis por que se su sus tu un una y yo
    che di e gli ha ho il io lei lo ma mia mio nel per non sono ti tua tuo uno
    ao as com da do dos ela eu minha meu na nao no os se seu sua um uma voce
    dat de een en het hij ik is je jij mijn niet of op te van voor wat ze zijn""".split()  # noqa: SIM905
)


def word_counts(text: str) -> Counter[str]:
    tokens = _TOKEN.findall(text)
    counts: Counter[str] = Counter(t for t in tokens if t not in STOP_WORDS)
    counts.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return counts


def char_counts(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for token in _TOKEN.findall(text):
        padded = f" {token} "
        for size in CHAR_SIZES:
            if len(padded) < size:
                break
            counts.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    return counts


class Analysed:
    """One message, analysed: term counts per block and structural signals."""

    __slots__ = ("chars", "structure", "word_total", "words")

    def __init__(self, raw: str) -> None:
        clipped = _clip(raw)
        self.word_total = len(_TOKEN.findall(clipped))
        text = model_text(clipped)
        self.words = word_counts(text)
        self.chars = char_counts(text)
        self.structure = structure(clipped)


def tfidf(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    """Sublinear TF-IDF over the known terms, L2-normalised (unknown terms are dropped, as in scikit-learn)."""
    weights = {term: (1.0 + math.log(n)) * idf[term] for term, n in counts.items() if term in idf}
    norm = math.sqrt(sum(v * v for v in weights.values()))
    if norm == 0:
        return {}
    return {term: v / norm for term, v in weights.items()}
