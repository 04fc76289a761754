"""Does folding people's answers into the model help on failures like theirs? (issue 8, learning from people)

    .venv/bin/python benchmarks/learning_from_people.py [--answers FILE] [--human-weight W] [--folds K]

ANSWERS are labelled lines as operators' answers would give them (default: sealed set 4, 112 real messages
labelled by people from their threads; it has been scored once and is spent, so it can serve as
answers). They are split into folds by source group. For each fold the model is trained twice, as
``scripts/train_classifier.py`` does: on the corpus alone, and on the corpus plus the other folds' answers
(``--extra``, each counted ``--human-weight`` times); both are scored on the fold's answers, which neither
saw. The report is ``selfheal classify --report``'s figures, pooled over the folds, before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from selfheal.classifier_report import single_threaded_blas

single_threaded_blas()  # before numpy is imported

from selfheal_core.classification.classifier import Classifier  # noqa: E402
from selfheal_core.vocabulary import Category  # noqa: E402

from selfheal.classification import training  # noqa: E402
from selfheal.classification.corpus import HUMAN_SOURCE_PREFIX, Example, parse_lines  # noqa: E402
from selfheal.classification.metrics import evaluate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "glue_errors.jsonl"
ANSWERS = ROOT / "tests" / "corpus" / "sealed4" / "sealed.jsonl"  # newest sealed set; run once it is scored


def read(path: Path) -> list[Example]:
    return parse_lines(path.read_text(encoding="utf-8").splitlines(), str(path))


def as_answers(examples: list[Example]) -> list[Example]:
    """As operators' answers: a ``human:`` source, grouped by the original source group."""
    return [dataclasses.replace(e, source=f"{HUMAN_SOURCE_PREFIX}{e.group}") for e in examples]


def trained(items: list[training.Inspected]) -> Classifier:
    return Classifier(model=training.train(items))


def scored(classifier: Classifier, test: list[Example]) -> list[tuple[Category, Category]]:
    return [(example.category, classifier.classify(example.message).category) for example in test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=ANSWERS)
    parser.add_argument("--human-weight", type=float, default=1.0)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = read(CORPUS)
    answers = as_answers(read(args.answers))
    corpus_items = training.inspect_examples(corpus)
    answer_items = training.inspect_examples(answers, human_weight=args.human_weight)
    folds = training.grouped_folds([a.group for a in answers], args.folds)
    corpus_only = trained(corpus_items)  # the same for every fold: it sees no answers
    before: list[tuple[Category, Category]] = []
    after: list[tuple[Category, Category]] = []
    for fold in range(int(folds.max()) + 1):
        test = [a for a, f in zip(answers, folds, strict=True) if f == fold]
        learned = [item for item, f in zip(answer_items, folds, strict=True) if f != fold]
        before += scored(corpus_only, test)
        after += scored(trained(corpus_items + learned), test)
    reports = {"corpus only": evaluate(before), "corpus + answers": evaluate(after)}
    if args.json:
        print(json.dumps({name: report.to_dict() for name, report in reports.items()}))
        return
    print(
        f"{len(answers)} answers from {args.answers}, {args.folds} folds by source group, human weight "
        f"{args.human_weight:g}; each fold scored by models that did not see it"
    )
    print(f"{'model':18} {'accuracy':>9} {'macro-F1':>9} {'unsafe':>12} {'abstention':>11}")
    for name, report in reports.items():
        unsafe = f"{report.unsafe_automation}/{report.human_only_total}"
        print(
            f"{name:18} {report.accuracy:9.3f} {report.macro_f1:9.3f} {unsafe:>12} "
            f"{report.abstention_rate:11.3f}"
        )


if __name__ == "__main__":
    main()
