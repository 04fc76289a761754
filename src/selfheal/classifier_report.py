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
from dataclasses import dataclass
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "folds": self.folds,
            "seed": self.seed,
            "groups": self.groups,
            **self.report.to_dict(),
            "intervals": {key: [low, high] for key, (low, high) in self.intervals.items()},
        }

    def render(self) -> str:
        how = (
            f"grouped {self.folds}-fold cross-validation (model, calibration and thresholds fitted on "
            f"the training folds), seed {self.seed}"
            if self.mode == "cv"
            else "scored as-is with the shipped classifier"
        )
        header = f"{how}; {self.groups} groups; [95% interval, bootstrap over groups]\n"
        return header + format_report(self.report, self.intervals)


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
    )
