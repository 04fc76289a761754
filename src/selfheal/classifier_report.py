"""``selfheal classify --report``: measure the classifier on labelled lines, as-is or by grouped CV.

As-is (``--cv 0``): every line is classified by the classifier as shipped (signatures, structured
evidence, the packaged model) -- the way to score a held-out set once.
Cross-validation (``--cv K``): lines are split into K folds by ``group`` (one repository or page
never straddles two folds); for each fold the model, its calibration and its thresholds are fitted
on the other folds only (selfheal.classification.training) and the fold is predicted with them.
The structured maps and the signatures are fixed, hand-written rules: they are used as they are.
Either way the figures get 95% intervals from a bootstrap over groups.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from selfheal_core.classification.classifier import Classifier
from selfheal_core.vocabulary import Category

from selfheal.classification.corpus import Example, parse_lines
from selfheal.classification.metrics import Report, bootstrap_intervals, evaluate, format_report

DEFAULT_FOLDS = 5


def single_threaded_blas() -> None:
    """The fits multiply matrices of a few hundred rows: BLAS threads only fight over the cores
    (measured 5-30x slower on a shared 2-core machine). Must run before numpy is imported."""
    if "numpy" not in sys.modules:
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")


@dataclass(frozen=True)
class MeasuredReport:
    mode: str  # "cv" or "as_is"
    folds: int
    seed: int
    groups: int
    report: Report
    intervals: dict[str, tuple[float, float]]
    # the same predictions scored on the lines marked hard (wording that points to another category)
    # and on the others, when the input marks any: where the errors are, not only how many
    by_hardness: dict[str, Subset] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "folds": self.folds,
            "seed": self.seed,
            "groups": self.groups,
            **self.report.to_dict(),
            "intervals": {key: [low, high] for key, (low, high) in self.intervals.items()},
            "by_hardness": {name: subset.to_dict() for name, subset in self.by_hardness.items()},
        }

    def render(self) -> str:
        how = (
            f"grouped {self.folds}-fold cross-validation (model, calibration and thresholds fitted on "
            f"the training folds), seed {self.seed}"
            if self.mode == "cv"
            else "scored as-is with the shipped classifier"
        )
        header = f"{how}; {self.groups} groups; [95% interval, bootstrap over groups]\n"
        return header + format_report(self.report, self.intervals) + self._render_hardness()

    def _render_hardness(self) -> str:
        if not self.by_hardness:
            return ""
        lines = ["", "", "by hardness (hard: the wording points to another category than the label's)"]
        for name, subset in self.by_hardness.items():
            r, ci = subset.report, subset.intervals
            lines.append(
                f"{name:<9} {r.total:>4} messages  macro-F1 {r.macro_f1:.3f} {_pair(ci['macro_f1'])}  "
                f"unsafe {r.unsafe_automation}/{r.human_only_total} = {r.unsafe_rate:.3f} "
                f"{_pair(ci['unsafe_rate'])}  "
                f"abstention {r.abstention_rate:.3f} {_pair(ci['abstention_rate'])}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Subset:
    report: Report
    intervals: dict[str, tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        figures = self.report.to_dict()
        keys = (
            "total",
            "macro_f1",
            "unsafe_automation",
            "human_only_total",
            "unsafe_rate",
            "abstention_rate",
        )
        return {
            **{key: figures[key] for key in keys},
            "intervals": {
                key: list(self.intervals[key]) for key in ("macro_f1", "unsafe_rate", "abstention_rate")
            },
        }


def _pair(interval: tuple[float, float]) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def _by_hardness(
    examples: list[Example], pairs: list[tuple[Category, Category]], groups: list[str], seed: int
) -> dict[str, Subset]:
    marks = [example.hard for example in examples]
    if not any(marks):
        return {}
    out: dict[str, Subset] = {}
    for name, wanted in (("hard", True), ("not hard", False)):
        rows = [i for i, mark in enumerate(marks) if mark is wanted]
        if rows:
            chosen = [pairs[i] for i in rows]
            out[name] = Subset(
                evaluate(chosen), bootstrap_intervals(chosen, [groups[i] for i in rows], seed=seed)
            )
    return out


def _has_groups(text: str) -> bool:
    for line in text.splitlines():
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return False
            if isinstance(record, dict) and record.get("group"):
                return True
    return False


def _groups(examples: list[Example]) -> list[str]:
    # a line without a group (and no URL to derive one from) is its own group
    return [example.group or f"line:{number}" for number, example in enumerate(examples)]


def measure(
    text: str, classifier: Classifier, cv: int | None, seed: int, name: str = "input"
) -> MeasuredReport:
    """Raises ValueError (a usage error) for malformed lines, an empty input or a bad ``cv``."""
    examples = parse_lines(text.splitlines(), name)
    if not examples:
        raise ValueError("no input lines to measure")
    folds = (DEFAULT_FOLDS if _has_groups(text) else 0) if cv is None else cv
    if folds < 0 or folds == 1:
        raise ValueError(f"--cv must be 0 (score as-is) or at least 2, got {folds}")
    groups = _groups(examples)
    truth = [example.category for example in examples]
    if folds == 0:
        predicted = [classifier.classify(example.message).category for example in examples]
    else:
        if len(set(groups)) < folds:
            raise ValueError(f"--cv {folds} needs at least {folds} groups, the input has {len(set(groups))}")
        single_threaded_blas()
        from selfheal.classification import training  # numpy: only when cross-validating

        predicted = training.cross_validate(training.inspect_examples(examples, classifier), folds, seed)
    pairs: list[tuple[Category, Category]] = list(zip(truth, predicted, strict=True))
    return MeasuredReport(
        mode="cv" if folds else "as_is",
        folds=folds,
        seed=seed,
        groups=len(set(groups)),
        report=evaluate(pairs),
        intervals=bootstrap_intervals(pairs, groups, seed=seed),
        by_hardness=_by_hardness(examples, pairs, groups, seed),
    )
