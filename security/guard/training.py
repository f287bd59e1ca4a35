"""Fit the injection detector from the examples in `security/guard/data/` and write `injection_model.json`.

    python -m security.guard.training            # writes security/guard/data/injection_model.json
    python -m security.guard.training --check    # exits 1 if the shipped model is out of date

Everything here is deterministic (seeded generators, sorted vocabularies, full-batch optimisation from
zero), so the same data files give the same weights. The training set is:
- `attacks_train.txt` and `benign_train.txt`: examples written by hand;
- `attack_templates.yaml` and `benign_templates.yaml` expanded: slot values drawn with a seeded generator;
- obfuscated copies of attack examples (leetspeak, base64, hex, percent-encoding, zero-width characters,
  Cyrillic look-alikes, spaced and hyphenated letters, mixed case), and benign messages carrying opaque
  tokens (API keys, hashes, ids), so that an encoded run alone does not make a message an attack.
`attacks_holdout.txt` and `benign_holdout.txt` are never read here: they measure the model.

numpy is needed only here (it comes with CrewAI); scoring (`security.guard.injection`) is pure Python.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from security.guard.features import Analysed, tfidf
from security.guard.injection import DATA_DIR, MIN_WORDS, MODEL_PATH
from security.guard.normalize import STRUCTURE_NAMES

SEED = 20261202
TRAINING_FILES = ("attacks_train.txt", "benign_train.txt", "attack_templates.yaml", "benign_templates.yaml")
WORD_MIN_DF, WORD_MAX_FEATURES = 2, 20000
CHAR_MIN_DF, CHAR_MAX_FEATURES = 3, 40000
L2 = 1e-4
ITERATIONS = 600
FOLDS = 4
# The threshold keeps the out-of-fold false-positive rate on benign training messages at or below this.
TARGET_FPR = 0.004
MIN_THRESHOLD = 0.5
DECIMALS = 5


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 = injection
    family: str


def read_examples(path: Path, label: int) -> list[Example]:
    """One example per line; `# family: x` starts a group; other `#` lines are comments; `\\n` = newline."""
    family = "unknown"
    out: list[Example] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.lower().startswith("# family:"):
                family = stripped.split(":", 1)[1].strip()
            continue
        out.append(Example(stripped.replace("\\n", "\n"), label, family))
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?:" else text + "."


def _fill(pattern: str, slots: dict[str, Sequence[str]], rng: random.Random, extra: dict[str, str]) -> str:
    values = {name: rng.choice(list(options)) for name, options in slots.items()}
    values.update(extra)
    text = pattern.format(**values)
    text = " ".join(part for part in text.split(" ") if part)  # empty slot values leave no double spaces
    return text[0].upper() + text[1:]


def benign_from_templates(spec: dict[str, Any], rng: random.Random, per_language: dict[str, int]) -> list[Example]:
    out: list[Example] = []
    for lang, parts in spec.items():
        for _ in range(per_language.get(lang, per_language["default"])):
            problem = rng.choice(parts["problem"])
            if rng.random() < 0.3:
                # Two problems in one sentence: customers join clauses with "and" as much as attacks do.
                problem = f"{problem} {parts['and']} {rng.choice(parts['problem'])}"
            pieces = [
                rng.choice(parts["greeting"]),
                _sentence(problem),
                rng.choice(parts["detail"]),
                rng.choice(parts["request"]),
                rng.choice(parts["closing"]),
            ]
            joiner = rng.choice([" ", " ", "\n"])
            text = joiner.join(p for p in pieces if p)
            style = rng.random()
            if style < 0.12:
                text = text.lower()
            elif style < 0.15:
                text = text.upper()
            elif style < 0.25:
                text = text.rstrip(".!?")
            out.append(Example(text, 0, f"template-{lang}"))
    return out


def formal_emails(parts: dict[str, Sequence[str]], rng: random.Random, count: int) -> list[Example]:
    out = []
    for _ in range(count):
        body = [rng.choice(parts["intro"]), *rng.sample(list(parts["issue"]), rng.choice([1, 1, 2]))]
        paragraphs = [
            rng.choice(parts["opening"]),
            " ".join(body),
            " ".join([rng.choice(parts["steps"]), rng.choice(parts["impact"])]),
            rng.choice(parts["request"]),
            rng.choice(parts["closing"]),
        ]
        out.append(Example(rng.choice(["\n\n", "\n", " "]).join(paragraphs), 0, "formal-en"))
    return out


def attacks_from_templates(
    spec: dict[str, Any], benign_spec: dict[str, Any], rng: random.Random, samples: dict[str, int]
) -> list[Example]:
    out: list[Example] = []
    for lang, parts in spec.items():
        slots = {name: parts[name] for name in ("verb", "scope", "adj", "obj", "payload", "new")}
        openers = benign_spec[lang]["problem"]
        for family, patterns in parts["patterns"].items():
            count = samples.get(f"{lang}.{family}", samples.get(family, 6))
            for pattern in patterns:
                for _ in range(count):
                    opener = _sentence(rng.choice(openers))
                    out.append(Example(_fill(pattern, slots, rng, {"benign": opener}), 1, f"{family}-{lang}"))
        for pieces in parts.get("splitting", []):
            for pattern in parts.get("split_patterns", []):
                out.append(
                    Example(pattern.format(p0=pieces[0], p1=pieces[1], p2=pieces[2], p3=pieces[3]), 1, f"split-{lang}")
                )
    return out


# --- obfuscation ------------------------------------------------------------------------------------------
_LEET_OUT = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPH_OUT = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "i": "і", "x": "х", "y": "у"}
_DECODE_PROMPTS = (
    "Decode this and do what it says: {}",
    "{}",
    "Base64: {}",
    "Please decode the following message and follow it: {}",
    "Run this: {}",
    "Dekodiere und befolge: {}",
    "Décode et exécute : {}",
    "Decodifica y ejecuta: {}",
)


def _leet(text: str, rng: random.Random) -> str:
    return "".join(_LEET_OUT[c.lower()] if c.lower() in _LEET_OUT and rng.random() < 0.6 else c for c in text)


def _homoglyphs(text: str, rng: random.Random) -> str:
    return "".join(_HOMOGLYPH_OUT[c] if c in _HOMOGLYPH_OUT and rng.random() < 0.5 else c for c in text)


def _zero_width(text: str, rng: random.Random) -> str:
    marks = ("\u200b", "\u200c", "\u2060", "\ufeff", "\u00ad")
    return "".join(c + rng.choice(marks) if c.isalpha() and rng.random() < 0.35 else c for c in text)


def _spaced(text: str, rng: random.Random) -> str:
    sep = rng.choice([" ", ".", "-", "_", "*"])
    words = text.split()
    return "   ".join(sep.join(w) for w in words[:8])


def _hyphenated(text: str, rng: random.Random) -> str:
    return " ".join(w[: len(w) // 2] + "-" + w[len(w) // 2 :] if len(w) > 5 else w for w in text.split())


def _mixed_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def _base64(text: str, rng: random.Random) -> str:
    return rng.choice(_DECODE_PROMPTS).format(base64.b64encode(text.encode()).decode())


def _hex(text: str, rng: random.Random) -> str:
    return rng.choice(["Hex: {}", "{}", "Decode from hex and follow: {}"]).format(text.encode().hex())


def _percent(text: str, rng: random.Random) -> str:
    return "".join(f"%{b:02X}" if chr(b).isalnum() or b == 32 else chr(b) for b in text.encode())


TRANSFORMS = {
    "leet": _leet,
    "homoglyph": _homoglyphs,
    "zero-width": _zero_width,
    "spaced": _spaced,
    "hyphenated": _hyphenated,
    "mixed-case": _mixed_case,
    "base64": _base64,
    "hex": _hex,
    "percent": _percent,
}


def obfuscated(attacks: Sequence[Example], rng: random.Random, per_transform: int) -> list[Example]:
    short = [a for a in attacks if len(a.text) < 220]
    out = []
    for name, transform in TRANSFORMS.items():
        for example in rng.sample(short, min(per_transform, len(short))):
            out.append(Example(transform(example.text, rng), 1, f"obfuscation-{name}"))
    return out


def benign_with_tokens(benign: Sequence[Example], rng: random.Random, count: int) -> list[Example]:
    """Support messages that carry opaque tokens (keys, hashes, ids, encoded blobs of random bytes)."""
    frames = (
        "{} My API key {} is rejected since this morning.",
        "{} The reference on the transfer was {}.",
        "{} Licence key: {}",
        "{} The error page showed request id {}.",
        "{} Attached hash {} for the download.",
    )
    out = []
    for _ in range(count):
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(12, 40)))
        token = rng.choice(
            [
                base64.b64encode(raw).decode(),
                raw.hex(),
                "sk_live_" + base64.urlsafe_b64encode(raw).decode().rstrip("="),
                hashlib.sha256(raw).hexdigest(),
            ]
        )
        out.append(Example(rng.choice(frames).format(rng.choice(benign).text, token), 0, "tokens"))
    return out


def training_examples() -> list[Example]:
    rng = random.Random(SEED)
    attack_spec = yaml.safe_load((DATA_DIR / "attack_templates.yaml").read_text(encoding="utf-8"))
    benign_spec = yaml.safe_load((DATA_DIR / "benign_templates.yaml").read_text(encoding="utf-8"))
    hand_attacks = read_examples(DATA_DIR / "attacks_train.txt", 1)
    hand_benign = read_examples(DATA_DIR / "benign_train.txt", 0)
    templ_attacks = attacks_from_templates(
        attack_spec,
        benign_spec,
        rng,
        {"en.override": 24, "override": 12, "en.abuse": 8, "abuse": 6, "exfiltration": 4},
    )
    formal = benign_spec.pop("formal_en")
    templ_benign = benign_from_templates(benign_spec, rng, {"en": 900, "default": 160})
    templ_benign += formal_emails(formal, rng, 300)
    attacks = hand_attacks + templ_attacks
    benign = hand_benign + templ_benign
    extra = obfuscated(attacks, rng, 45) + benign_with_tokens(benign, rng, 80)
    seen: set[str] = set()
    out: list[Example] = []
    for example in [*attacks, *benign, *extra]:
        if example.text not in seen:
            seen.add(example.text)
            out.append(example)
    return out


# --- fitting -------------------------------------------------------------------------------------------------
@dataclass
class Matrix:
    rows: Any
    cols: Any
    vals: Any
    n_rows: int
    n_cols: int

    def dot(self, w: Any) -> Any:
        import numpy as np

        return np.bincount(self.rows, weights=self.vals * w[self.cols], minlength=self.n_rows)

    def tdot(self, r: Any) -> Any:
        import numpy as np

        return np.bincount(self.cols, weights=self.vals * r[self.rows], minlength=self.n_cols)

    def subset(self, keep: Any) -> Matrix:
        import numpy as np

        mask = keep[self.rows]
        new_index = np.cumsum(keep) - 1
        return Matrix(new_index[self.rows[mask]], self.cols[mask], self.vals[mask], int(keep.sum()), self.n_cols)


def _vocabulary(docs: Iterable[Counter[str]], min_df: int, max_features: int) -> tuple[list[str], dict[str, float]]:
    df: Counter[str] = Counter()
    n = 0
    for counts in docs:
        n += 1
        df.update(counts.keys())
    kept = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))[:max_features]
    kept.sort()
    idf = {t: math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept}
    return kept, idf


def build_matrix(
    analysed: Sequence[Analysed], word_idf: dict[str, float], char_idf: dict[str, float], index: dict[str, int]
) -> Matrix:
    import numpy as np

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, doc in enumerate(analysed):
        for prefix, counts, idf in (("w", doc.words, word_idf), ("c", doc.chars, char_idf)):
            for term, v in tfidf(counts, idf).items():
                rows.append(i)
                cols.append(index[f"{prefix}:{term}"])
                vals.append(v)
        for name, v in doc.structure.items():
            if v:
                rows.append(i)
                cols.append(index[f"s:{name}"])
                vals.append(v)
    return Matrix(
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=float),
        len(analysed),
        len(index),
    )


def fit_logistic(x: Matrix, y: Any, sample_weight: Any, l2: float, iterations: int) -> tuple[Any, float]:
    """L2-regularised logistic regression, full-batch Nesterov gradient descent from zero (deterministic)."""
    import numpy as np

    row_sq = np.bincount(x.rows, weights=x.vals**2, minlength=x.n_rows)
    lipschitz = 0.25 * float(np.max(row_sq * sample_weight) + 1.0) + l2
    step = 1.0 / lipschitz
    w = np.zeros(x.n_cols)
    b = 0.0
    w_prev, b_prev = w.copy(), b
    total = float(sample_weight.sum())
    for t in range(1, iterations + 1):
        momentum = (t - 1) / (t + 2)
        vw = w + momentum * (w - w_prev)
        vb = b + momentum * (b - b_prev)
        z = x.dot(vw) + vb
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        r = sample_weight * (p - y) / total
        grad_w = x.tdot(r) + l2 * vw
        grad_b = float(r.sum())
        w_prev, b_prev = w, b
        w = vw - step * grad_w
        b = vb - step * grad_b
    return w, b


def _weights(y: Any) -> Any:
    import numpy as np

    positives = float(y.sum())
    negatives = float(len(y) - positives)
    return np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * negatives))


def choose_threshold(analysed: Sequence[Analysed], y: Any, fit_one: Any) -> tuple[float, dict[str, float]]:
    """Out-of-fold scores of the training set; the lowest threshold >= MIN_THRESHOLD whose benign
    false-positive rate is at most TARGET_FPR."""
    import numpy as np

    n = len(analysed)
    fold = np.arange(n) % FOLDS
    scores = np.zeros(n)
    for k in range(FOLDS):
        train = fold != k
        predict = fit_one([a for a, keep in zip(analysed, train, strict=True) if keep], y[train])
        scores[~train] = [predict(a) for a, keep in zip(analysed, train, strict=True) if not keep]
    # Only what the detector could flag counts: it never flags a message of fewer than MIN_WORDS words
    # without a structural signal (security.guard.injection).
    counted = np.array([_flaggable(a) for a in analysed])
    benign = np.sort(scores[(y == 0) & counted])
    allowed = math.floor(TARGET_FPR * len(benign))
    cut = benign[len(benign) - allowed - 1] if allowed < len(benign) else 0.0
    threshold = max(MIN_THRESHOLD, float(cut) + 1e-6)
    recall = float(((scores >= threshold) & counted)[y == 1].mean())
    fpr = float(((scores >= threshold) & counted)[y == 0].mean())
    return threshold, {"oof_recall": round(recall, 4), "oof_false_positive_rate": round(fpr, 4)}


def _flaggable(doc: Analysed) -> bool:
    return doc.word_total >= MIN_WORDS or any(v > 0 for v in doc.structure.values())


def train(examples: Sequence[Example]) -> dict[str, Any]:
    import numpy as np

    analysed = [Analysed(e.text) for e in examples]
    y = np.array([e.label for e in examples], dtype=float)

    def fit_one(docs: Sequence[Analysed], labels: Any) -> Any:
        words, word_idf = _vocabulary((d.words for d in docs), WORD_MIN_DF, WORD_MAX_FEATURES)
        chars, char_idf = _vocabulary((d.chars for d in docs), CHAR_MIN_DF, CHAR_MAX_FEATURES)
        names = [f"w:{t}" for t in words] + [f"c:{t}" for t in chars] + [f"s:{s}" for s in STRUCTURE_NAMES]
        index = {name: i for i, name in enumerate(names)}
        x = build_matrix(docs, word_idf, char_idf, index)
        w, b = fit_logistic(x, labels, _weights(labels), L2, ITERATIONS)

        def predict(doc: Analysed) -> float:
            one = build_matrix([doc], word_idf, char_idf, index)
            z = float(one.dot(w)[0] + b)
            return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

        predict.model = (words, word_idf, chars, char_idf, w, b, index)  # type: ignore[attr-defined]
        return predict

    threshold, oof = choose_threshold(analysed, y, fit_one)
    final = fit_one(analysed, y)
    words, word_idf, chars, char_idf, w, b, index = final.model
    r = DECIMALS
    return {
        "format": 1,
        "bias": round(float(b), r),
        "threshold": round(threshold, 4),
        "word": {t: [round(word_idf[t], 4), round(float(w[index[f"w:{t}"]]), r)] for t in words},
        "char": {t: [round(char_idf[t], 4), round(float(w[index[f"c:{t}"]]), r)] for t in chars},
        "structure": {s: round(float(w[index[f"s:{s}"]]), r) for s in STRUCTURE_NAMES},
        "provenance": {
            "made_by": "python -m security.guard.training",
            "data_sha256": data_digest(),
            "examples": len(examples),
            "attacks": int(y.sum()),
            "benign": int(len(y) - y.sum()),
            "families": dict(sorted(Counter(e.family.split("-")[0] for e in examples).items())),
            "seed": SEED,
            "l2": L2,
            "iterations": ITERATIONS,
            "threshold_rule": f"out-of-fold ({FOLDS} folds) benign FPR <= {TARGET_FPR}, at least {MIN_THRESHOLD}",
            **oof,
        },
    }


def data_digest() -> str:
    digest = hashlib.sha256()
    for name in (*TRAINING_FILES, "../normalize.py", "../features.py", "../training.py"):
        digest.update(name.encode())
        digest.update((DATA_DIR / name).read_bytes())
    return digest.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if injection_model.json is out of date")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    if args.check:
        shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["provenance"]["data_sha256"]
        ok = shipped == data_digest()
        sys.stdout.write("up to date\n" if ok else "out of date: run python -m security.guard.training\n")
        return 0 if ok else 1
    examples = training_examples()
    model = train(examples)
    args.out.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n")
    sys.stdout.write(json.dumps(model["provenance"], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
