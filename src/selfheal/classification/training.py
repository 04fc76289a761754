"""Fit the learned fallback: weights, calibration and thresholds, all from the training examples only.

``fit(examples_inspected)`` runs the whole recipe on whatever it is given, so cross-validation
(``cross_validate``) can call it on the training folds and score the held-out fold untouched:

1. Features: hashed tokens of each message plus the structured/signature layers' outputs
   (``Classifier.inspect``): the model learns how far to trust each signature.
2. Weights: L2-regularised softmax regression, classes weighted to balance them, fitted by
   accelerated gradient descent in the dual (kernel) form -- with a few hundred examples and
   16k features, iterating on the n x n Gram matrix is exact for an L2 penalty and ~100x faster.
   A fixed iteration count and no randomness: the same examples give the same weights.
3. The L2 strength is chosen from a small grid by grouped out-of-fold log-loss (inner folds).
4. Calibration: one temperature, fitted on those out-of-fold logits.
5. Thresholds: per situation (layers.Situation), the one with the lowest total cost
   (costs.json) on the same out-of-fold predictions; ties go to the higher, more cautious one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from selfheal_core.classification.classifier import Classifier
from selfheal_core.classification.costs import cost_array
from selfheal_core.classification.features import N_FEATURES, vectorize
from selfheal_core.classification.layers import Inspection, Situation, combine, situation
from selfheal_core.classification.model import NEVER, Model, Policy, softmax
from selfheal_core.vocabulary import CATEGORIES, Category

from selfheal.classification.corpus import HUMAN_SOURCE_PREFIX, Example

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]
    Ints = NDArray[np.int64]

LAMBDAS = (3e-4, 1e-3, 3e-3)
ITERATIONS = 400
INNER_FOLDS = 5
TEMPERATURES = np.geomspace(0.1, 10.0, 93)
THRESHOLDS = (*(round(0.10 + 0.01 * i, 2) for i in range(90)), NEVER)
SEED = 8


@dataclass(frozen=True)
class Inspected:
    """One labelled example as the layers saw it (features computed once, reused by every fold)."""

    inspection: Inspection
    category: Category
    group: str
    weight: float = 1.0  # a human answer may count for more than a corpus line


# --------------------------------------------------------------------------- folds


def grouped_folds(groups: Sequence[str], k: int, seed: int = SEED) -> Ints:
    """Fold number per example; all examples of a group share one fold. Groups are shuffled with
    ``seed``, then placed largest first into the currently smallest fold, so folds stay balanced."""
    names = sorted(set(groups))
    k = max(1, min(k, len(names)))
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    sizes = {name: 0 for name in names}
    for group in groups:
        sizes[group] += 1
    order.sort(key=lambda name: -sizes[name])  # stable: equal sizes keep the shuffled order
    load = [0] * k
    fold_of: dict[str, int] = {}
    for name in order:
        fold = min(range(k), key=lambda f: (load[f], f))
        fold_of[name] = fold
        load[fold] += sizes[name]
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


# --------------------------------------------------------------------------- features


def design_matrix(items: Sequence[Inspected]) -> Floats:
    rows = np.zeros((len(items), N_FEATURES), dtype=np.float64)
    for row, item in enumerate(items):
        indices, values = vectorize(item.inspection.tokens)
        rows[row, indices] = values
    return rows


# --------------------------------------------------------------------------- weights


def _class_weights(y: Ints, extra: Floats) -> Floats:
    counts = np.bincount(y, minlength=len(CATEGORIES)).astype(np.float64)
    present = np.count_nonzero(counts)
    balanced = len(y) / (present * counts[y])
    weights: Floats = balanced * extra
    normalised: Floats = weights / weights.sum()
    return normalised


def fit_dual(gram: Floats, y: Ints, weights: Floats, lam: float) -> tuple[Floats, Floats]:
    """Coefficients A (n x C) and bias b of min_W,b sum_i w_i CE(softmax(x_i W + b), y_i) + lam/2 |W|^2
    with W = X^T A; ``gram`` = X X^T, ``weights`` sum to 1."""
    n, c = len(y), len(CATEGORIES)
    onehot: Floats = np.zeros((n, c))
    onehot[np.arange(n), y] = 1.0
    # Lipschitz constant of the gradient (softmax Hessian <= 1/2; the bias is a constant feature)
    root = np.sqrt(weights)
    curvature = float(np.linalg.eigvalsh(root[:, None] * (gram + 1.0) * root[None, :])[-1])
    step = 1.0 / (0.5 * curvature + lam)
    coef: Floats = np.zeros((n, c))
    bias: Floats = np.zeros(c)
    look_coef, look_bias = coef.copy(), bias.copy()
    for iteration in range(1, ITERATIONS + 1):
        grad = (softmax(gram @ look_coef + look_bias) - onehot) * weights[:, None]
        new_coef = look_coef - step * (grad + lam * look_coef)
        new_bias = look_bias - step * grad.sum(axis=0)
        momentum = (iteration - 1) / (iteration + 2)
        look_coef = new_coef + momentum * (new_coef - coef)
        look_bias = new_bias + momentum * (new_bias - bias)
        coef, bias = new_coef, new_bias
    return coef, bias


def _nll(logits: Floats, y: Ints, temperature: float = 1.0) -> float:
    shifted = logits / temperature
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(y)), y]))


def fit_temperature(logits: Floats, y: Ints) -> float:
    return float(min(TEMPERATURES, key=lambda t: _nll(logits, y, float(t))))


# --------------------------------------------------------------------------- thresholds


def choose_policy(
    inspections: Sequence[Inspection], probabilities: Floats, y: Ints, costs: Floats | None = None
) -> Policy:
    """Per situation, the threshold with the lowest total cost on these (out-of-fold) predictions."""
    matrix = cost_array() if costs is None else costs
    top = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(y)), top]
    chosen: dict[str, float] = {}
    for where in Situation:
        members = [
            i
            for i, inspection in enumerate(inspections)
            if situation(inspection, CATEGORIES[top[i]]) is where
        ]
        if not members:
            chosen[where.value] = NEVER
            continue
        idx = np.array(members)
        keep_cost = np.array(
            [matrix[y[i], CATEGORIES.index(inspections[i].upstream.category)] for i in members]
        )
        model_cost = matrix[y[idx], top[idx]]
        best_total, best_threshold = float("inf"), NEVER
        for value in sorted(THRESHOLDS, reverse=True):  # ties keep the more cautious threshold
            answers = confidence[idx] >= value
            total = float(np.where(answers, model_cost, keep_cost).sum())
            if total < best_total:
                best_total, best_threshold = total, value
        chosen[where.value] = best_threshold
    return Policy(**chosen)


# --------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class Fitted:
    """A fitted model in dual form (for scoring other rows of the same Gram matrix) and its knobs."""

    train: Ints  # row numbers (of the full Gram matrix) it was fitted on
    coef: Floats
    bias: Floats
    temperature: float
    policy: Policy
    lam: float

    def probabilities(self, gram: Floats, rows: Ints) -> Floats:
        logits = gram[np.ix_(rows, self.train)] @ self.coef + self.bias
        return softmax(logits / self.temperature)


def _labels(items: Sequence[Inspected]) -> Ints:
    return np.array([CATEGORIES.index(item.category) for item in items], dtype=np.int64)


def fit_rows(items: Sequence[Inspected], gram: Floats, train: Ints, seed: int = SEED) -> Fitted:
    """The whole recipe on rows ``train`` of ``gram`` (the Gram matrix of all ``items``)."""
    y_all = _labels(items)
    extra = np.array([item.weight for item in items])
    y = y_all[train]
    inner = grouped_folds([items[i].group for i in train], INNER_FOLDS, seed)
    best: tuple[float, float, Floats] | None = None
    for lam in LAMBDAS:
        oof: Floats = np.zeros((len(train), len(CATEGORIES)))
        for fold in range(int(inner.max()) + 1):
            fit_at, score_at = train[inner != fold], train[inner == fold]
            coef, bias = fit_dual(
                gram[np.ix_(fit_at, fit_at)], y_all[fit_at], _class_weights(y_all[fit_at], extra[fit_at]), lam
            )
            oof[inner == fold] = gram[np.ix_(score_at, fit_at)] @ coef + bias
        temperature = fit_temperature(oof, y)
        loss = _nll(oof, y, temperature)
        if best is None or loss < best[0] - 1e-9:
            best = (loss, lam, oof)
    assert best is not None
    _, lam, oof = best
    temperature = fit_temperature(oof, y)
    policy = choose_policy([items[i].inspection for i in train], softmax(oof / temperature), y)
    coef, bias = fit_dual(gram[np.ix_(train, train)], y, _class_weights(y, extra[train]), lam)
    return Fitted(train, coef, bias, temperature, policy, lam)


def gram_matrix(items: Sequence[Inspected]) -> tuple[Floats, Floats]:
    design = design_matrix(items)
    return design, design @ design.T


def train(items: Sequence[Inspected], seed: int = SEED) -> Model:
    """A Model fitted on all ``items`` (for shipping)."""
    design, gram = gram_matrix(items)
    rows = np.arange(len(items))
    fitted = fit_rows(items, gram, rows, seed)
    weights = (design.T @ fitted.coef).astype(np.float32)
    info = {
        "examples": len(items),
        "groups": len({item.group for item in items}),
        "l2": fitted.lam,
        "iterations": ITERATIONS,
        "inner_folds": INNER_FOLDS,
        "seed": seed,
    }
    return Model(weights, fitted.bias.astype(np.float32), fitted.temperature, fitted.policy, info)


def cross_validate(items: Sequence[Inspected], k: int, seed: int = SEED) -> list[Category]:
    """Grouped K-fold predictions of the whole layered classifier: for each fold, the recipe runs on
    the other folds only and the fold is predicted with what it produced."""
    _, gram = gram_matrix(items)
    folds = grouped_folds([item.group for item in items], k, seed)
    predictions: list[Category | None] = [None] * len(items)
    for fold in range(int(folds.max()) + 1):
        train_rows = np.flatnonzero(folds != fold)
        test_rows = np.flatnonzero(folds == fold)
        fitted = fit_rows(items, gram, train_rows, seed)
        probabilities = fitted.probabilities(gram, test_rows)
        for row, probs in zip(test_rows, probabilities, strict=True):
            answer = combine(items[row].inspection, [float(p) for p in probs], fitted.policy)
            predictions[row] = answer.category
    return [p if p is not None else Category.UNKNOWN for p in predictions]


def inspect_examples(
    examples: Sequence[Example], classifier: Classifier | None = None, human_weight: float = 1.0
) -> list[Inspected]:
    """Run the fixed layers (structured, signatures) once per example."""
    layers = Classifier(model=None) if classifier is None else classifier
    return [
        Inspected(
            inspection=layers.inspect(example.message),
            category=example.category,
            group=example.group,
            weight=human_weight if example.source.startswith(HUMAN_SOURCE_PREFIX) else 1.0,
        )
        for example in examples
    ]
