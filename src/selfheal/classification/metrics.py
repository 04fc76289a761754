"""Pure metrics for a classifier measured on a labelled corpus: per-category precision, recall, F1,
macro-F1, the confusion matrix, the unsafe-automation rate and the abstention rate, with 95%
bootstrap intervals resampled over groups.

Unsafe automation: among messages whose true category needs a human (permission, code_error,
unknown), the share the classifier put into a category that would be remediated automatically.
Abstention: the share of all messages answered ``unknown``.
Intervals: messages of one group (a repository, a page) are not independent, so the bootstrap
draws whole groups with replacement (percentile interval, seeded: the same input gives the same
interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selfheal_core.vocabulary import CATEGORIES, HUMAN_ONLY_CATEGORIES, Category

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 8


@dataclass(frozen=True)
class CategoryScore:
    category: Category
    precision: float
    recall: float
    f1: float
    support: int  # how many messages truly have this category
    predicted: int  # how many messages were predicted as this category


@dataclass(frozen=True)
class Report:
    total: int
    accuracy: float
    macro_f1: float
    per_category: tuple[CategoryScore, ...]
    confusion: dict[Category, dict[Category, int]]  # confusion[true][predicted]
    unsafe_automation: int
    human_only_total: int

    @property
    def unsafe_rate(self) -> float:
        return self.unsafe_automation / self.human_only_total if self.human_only_total else 0.0

    @property
    def abstained(self) -> int:
        return sum(row[Category.UNKNOWN] for row in self.confusion.values() if Category.UNKNOWN in row)

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "unsafe_automation": self.unsafe_automation,
            "human_only_total": self.human_only_total,
            "unsafe_rate": round(self.unsafe_rate, 4),
            "abstained": self.abstained,
            "abstention_rate": round(self.abstention_rate, 4),
            "per_category": {
                s.category.value: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                    "predicted": s.predicted,
                }
                for s in self.per_category
            },
            "confusion": {t.value: {p.value: n for p, n in row.items()} for t, row in self.confusion.items()},
        }


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def evaluate(
    pairs: Iterable[tuple[Category, Category]],
    categories: Sequence[Category] = CATEGORIES,
) -> Report:
    """Score (true, predicted) pairs. Macro-F1 averages over the categories present in the truth
    or the predictions (a category absent from both has no defined F1 and is left out)."""
    confusion: dict[Category, dict[Category, int]] = {t: dict.fromkeys(categories, 0) for t in categories}
    total = 0
    for true, predicted in pairs:
        confusion[true][predicted] += 1
        total += 1
    scores: list[CategoryScore] = []
    for category in categories:
        tp = confusion[category][category]
        support = sum(confusion[category].values())
        n_predicted = sum(confusion[t][category] for t in categories)
        precision = _ratio(tp, n_predicted)
        recall = _ratio(tp, support)
        f1 = _ratio(2 * tp, support + n_predicted)
        scores.append(CategoryScore(category, precision, recall, f1, support, n_predicted))
    present = [s for s in scores if s.support or s.predicted]
    macro_f1 = sum(s.f1 for s in present) / len(present) if present else 0.0
    correct = sum(confusion[c][c] for c in categories)
    human_total = sum(sum(confusion[t].values()) for t in categories if t in HUMAN_ONLY_CATEGORIES)
    unsafe = sum(
        n
        for t in categories
        if t in HUMAN_ONLY_CATEGORIES
        for p, n in confusion[t].items()
        if p not in HUMAN_ONLY_CATEGORIES
    )
    return Report(
        total=total,
        accuracy=_ratio(correct, total),
        macro_f1=macro_f1,
        per_category=tuple(scores),
        confusion=confusion,
        unsafe_automation=unsafe,
        human_only_total=human_total,
    )


def format_report(report: Report, intervals: Mapping[str, tuple[float, float]] | None = None) -> str:
    """A plain-text rendering: per-category table, headline figures (with their 95% intervals when
    given), confusion matrix."""
    bounds = intervals or {}

    def ci(key: str) -> str:
        low, high = bounds.get(key, (math.nan, math.nan))
        return f"[{low:.3f}, {high:.3f}]" if key in bounds else ""

    lines = [f"{'category':<20} {'precision':>9} {'':<16} {'recall':>7} {'':<16} {'f1':>6} {'support':>8}"]
    for s in report.per_category:
        name = s.category.value
        lines.append(
            f"{name:<20} {s.precision:>9.3f} {ci(name + '.precision'):<16} {s.recall:>7.3f} "
            f"{ci(name + '.recall'):<16} {s.f1:>6.3f} {s.support:>8}"
        )
    lines += [
        "",
        f"messages          {report.total}",
        f"accuracy          {report.accuracy:.4f} {ci('accuracy')}",
        f"macro-F1          {report.macro_f1:.4f} {ci('macro_f1')}",
        f"unsafe automation {report.unsafe_automation}/{report.human_only_total} "
        f"= {report.unsafe_rate:.4f} {ci('unsafe_rate')}  (human-only truth, auto-remediated answer)",
        f"abstention        {report.abstained}/{report.total} = {report.abstention_rate:.4f} "
        f"{ci('abstention_rate')}  (answered unknown)",
        "",
        "confusion matrix (rows: true, columns: predicted)",
    ]
    cats = list(report.confusion)
    short = [c.value[:6] for c in cats]
    lines.append(" " * 20 + " ".join(f"{s:>6}" for s in short))
    for true in cats:
        row = report.confusion[true]
        lines.append(f"{true.value:<20}" + " ".join(f"{row[p]:>6}" for p in cats))
    return "\n".join(lines)


def _safe_divide(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    import numpy as np

    out: NDArray[np.float64] = np.divide(
        numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0
    )
    return out


def bootstrap_intervals(
    pairs: Sequence[tuple[Category, Category]],
    groups: Sequence[str],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
    categories: Sequence[Category] = CATEGORIES,
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of accuracy, macro_f1, unsafe_rate, abstention_rate and of each
    category's precision/recall/f1 (keys ``<category>.<figure>``), resampling whole groups."""
    import numpy as np

    if len(pairs) != len(groups) or not pairs:
        raise ValueError("bootstrap needs one group per (true, predicted) pair, and at least one pair")
    names = sorted(set(groups))
    group_index = {name: i for i, name in enumerate(names)}
    position = {category: i for i, category in enumerate(categories)}
    per_group = np.zeros((len(names), len(categories), len(categories)))
    for (true, predicted), group in zip(pairs, groups, strict=True):
        per_group[group_index[group], position[true], position[predicted]] += 1
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(rounds, len(names)))
    weights = np.stack([np.bincount(row, minlength=len(names)) for row in draws]).astype(np.float64)
    confusion = np.tensordot(weights, per_group, axes=(1, 0))  # rounds x true x predicted
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    total = confusion.sum(axis=(1, 2))
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    present = (support + predicted) > 0
    human = np.array([c in HUMAN_ONLY_CATEGORIES for c in categories])
    human_total = support[:, human].sum(axis=1)
    unsafe = confusion[:, human][:, :, ~human].sum(axis=(1, 2))
    figures = {
        "accuracy": _safe_divide(tp.sum(axis=1), total),
        "macro_f1": _safe_divide((f1 * present).sum(axis=1), present.sum(axis=1).astype(np.float64)),
        "unsafe_rate": _safe_divide(unsafe, human_total),
        "abstention_rate": _safe_divide(predicted[:, position[Category.UNKNOWN]], total)
        if Category.UNKNOWN in position
        else np.zeros(rounds),
    }
    for category, i in position.items():
        figures[f"{category.value}.precision"] = precision[:, i]
        figures[f"{category.value}.recall"] = recall[:, i]
        figures[f"{category.value}.f1"] = f1[:, i]
    return {
        key: (round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4))
        for key, v in figures.items()
    }
