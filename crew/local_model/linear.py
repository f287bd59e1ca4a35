"""Small numpy models for the embedding classifier: a multinomial logistic regression and an isotonic map.

Both are deliberately tiny (a few hundred examples, 384 features): no scikit-learn or scipy in the desk's
dependencies for two functions. The regression matched scikit-learn's `LogisticRegression` (lbfgs,
`class_weight="balanced"`) within 0.001 of accuracy in the prototype.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SoftmaxRegression:
    """`predict_proba(x) = softmax(x @ weights + bias)`; rows of x are examples."""

    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return softmax(np.atleast_2d(features) @ self.weights + self.bias)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=1, keepdims=True)


def fit_softmax_regression(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    c: float = 10.0,
    balanced: bool = True,
    iterations: int = 400,
) -> SoftmaxRegression:
    """Minimise the (class-balanced) mean cross-entropy + ||W||^2 / (2 * C * n) by Nesterov's accelerated
    gradient with the step from the Lipschitz bound of the gradient (no line search, no tuning).

    The penalty is scikit-learn's convention (C is the inverse strength relative to the summed loss); the
    bias is not penalised. Convex, so the result does not depend on a seed."""
    n, dims = features.shape
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), labels] = 1.0
    counts = onehot.sum(axis=0)
    if balanced:
        # scikit-learn's "balanced": each class weighs as much in total; absent classes weigh nothing.
        per_class = np.divide(n, n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
        sample_weight = per_class[labels]
    else:
        sample_weight = np.ones(n)
    sample_weight = sample_weight / sample_weight.sum()
    penalty = 1.0 / (c * n)
    # The softmax cross-entropy's Hessian is bounded by 0.5 * x x^T per example (x with the bias's 1 appended).
    augmented = np.hstack([features, np.ones((n, 1))]) * np.sqrt(sample_weight)[:, None]
    step = 1.0 / (0.5 * np.linalg.norm(augmented, ord=2) ** 2 + penalty)
    weights = np.zeros((dims, n_classes))
    bias = np.zeros(n_classes)
    prev_w, prev_b = weights, bias
    for iteration in range(1, iterations + 1):
        momentum = (iteration - 1) / (iteration + 2)
        look_w = weights + momentum * (weights - prev_w)
        look_b = bias + momentum * (bias - prev_b)
        error = (softmax(features @ look_w + look_b) - onehot) * sample_weight[:, None]
        grad_w = features.T @ error + penalty * look_w
        grad_b = error.sum(axis=0)
        prev_w, prev_b = weights, bias
        weights = look_w - step * grad_w
        bias = look_b - step * grad_b
    return SoftmaxRegression(weights=weights.astype(np.float32), bias=bias.astype(np.float32))


@dataclass(frozen=True)
class IsotonicMap:
    """A monotone, piecewise-linear map from a score in 0..1 to the observed rate of being right.

    Fitted by pool-adjacent-violators on (score, correct) pairs; the knots are the pooled blocks' mean
    scores and rates, and between knots the map interpolates linearly (flat beyond the ends)."""

    knots_x: np.ndarray
    knots_y: np.ndarray

    def __call__(self, score: float) -> float:
        if self.knots_x.size == 0:
            return float(score)
        return float(np.interp(score, self.knots_x, self.knots_y))


def fit_isotonic(scores: Sequence[float], correct: Sequence[bool], *, min_block: int = 10) -> IsotonicMap:
    """Pool-adjacent-violators with blocks of at least `min_block` examples (small blocks over-fit)."""
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    xs = np.asarray(scores, dtype=float)[order]
    ys = np.asarray(correct, dtype=float)[order]
    blocks: list[list[float]] = []  # [sum_x, sum_y, count]
    for x, y in zip(xs, ys, strict=True):
        blocks.append([x, y, 1.0])
        while len(blocks) > 1 and (
            blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2] or blocks[-2][2] < min_block
        ):
            sx, sy, cnt = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += cnt
    # A short last block is merged back into its neighbour.
    if len(blocks) > 1 and blocks[-1][2] < min_block:
        sx, sy, cnt = blocks.pop()
        blocks[-1] = [blocks[-1][0] + sx, blocks[-1][1] + sy, blocks[-1][2] + cnt]
    knots_x = np.array([b[0] / b[2] for b in blocks])
    knots_y = np.maximum.accumulate(np.array([b[1] / b[2] for b in blocks]))
    return IsotonicMap(knots_x=knots_x, knots_y=knots_y)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """The mean |confidence - accuracy| over equal-width confidence bins, weighted by the bins' sizes."""
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for index in range(bins):
        members = edges == index
        if members.any():
            total += members.sum() * abs(conf[members].mean() - hits[members].mean())
    return float(total / conf.size)


def stratified_folds(labels: Sequence[int], k: int, seed: int = 0) -> list[np.ndarray]:
    """k index arrays; every label is spread evenly over the folds (a fixed seed: the same folds every run)."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    label_array = np.asarray(labels)
    offset = 0
    for label in sorted(set(label_array.tolist())):
        members = np.flatnonzero(label_array == label)
        rng.shuffle(members)
        for position, index in enumerate(members):
            folds[(position + offset) % k].append(int(index))
        offset += len(members)
    return [np.array(sorted(fold), dtype=int) for fold in folds]
