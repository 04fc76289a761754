"""Pure metrics for a classifier measured on a labelled corpus: per-category precision, recall, F1,
macro-F1, the confusion matrix, and the unsafe-automation rate.

Unsafe automation: among messages whose true category needs a human (permission, code_error,
unknown), the share the classifier put into a category that would be remediated automatically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from selfheal_core.vocabulary import CATEGORIES, HUMAN_ONLY_CATEGORIES, Category


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "unsafe_automation": self.unsafe_automation,
            "human_only_total": self.human_only_total,
            "unsafe_rate": round(self.unsafe_rate, 4),
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


def format_report(report: Report) -> str:
    """A plain-text rendering: per-category table, headline figures, confusion matrix."""
    lines = [f"{'category':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for s in report.per_category:
        lines.append(
            f"{s.category.value:<20} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8}"
        )
    lines += [
        "",
        f"messages          {report.total}",
        f"accuracy          {report.accuracy:.4f}",
        f"macro-F1          {report.macro_f1:.4f}",
        f"unsafe automation {report.unsafe_automation}/{report.human_only_total} "
        f"= {report.unsafe_rate:.4f}  (human-only truth classified into an auto-remediated category)",
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
