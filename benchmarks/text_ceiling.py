"""What a classifier of the text alone could score at best on a labelled file marked ``hard``.

    .venv/bin/python benchmarks/text_ceiling.py [FILE]     # default: the corpus

A hard line's wording points to another category than its label (the source thread settles it), so the
best a text classifier can be relied on to do with it is answer ``unknown`` (a person). This scores the
answers "right on every line not marked hard, ``unknown`` on every hard one" against the labels with
``selfheal classify --report``'s metrics: the ceiling the issue's whole-corpus targets are measured against.
No classifier runs; the figures come from the labels and the marks alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from selfheal_core.vocabulary import Category

from selfheal.classification.corpus import parse_lines
from selfheal.classification.metrics import evaluate

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "glue_errors.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", default=CORPUS)
    args = parser.parse_args()
    examples = parse_lines(args.file.read_text(encoding="utf-8").splitlines(), str(args.file))
    pairs = [(e.category, Category.UNKNOWN if e.hard else e.category) for e in examples]
    figures = evaluate(pairs).to_dict()
    keys = ("total", "macro_f1", "unsafe_rate", "abstention_rate")
    print(json.dumps({"hard": sum(e.hard for e in examples), **{key: figures[key] for key in keys}}))


if __name__ == "__main__":
    main()
