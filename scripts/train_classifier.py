"""Train the classifier's learned fallback and write shared/selfheal_core/classification/model.npz.

    .venv/bin/python scripts/train_classifier.py                      # the corpus alone
    .venv/bin/python scripts/train_classifier.py --extra answers.jsonl  # plus human answers

``--extra`` takes labelled lines in the corpus format; operators' answers use
``"source": "human:<incident_id>"`` (each incident is its own cross-validation group) and count
``--human-weight`` times a corpus line. Deterministic: the same inputs give the same file.
See docs/diagnosis.md ("The learned fallback").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from selfheal.classifier_report import single_threaded_blas

single_threaded_blas()  # before numpy is imported

from selfheal_core.classification.model import MODEL_FILE, save  # noqa: E402

from selfheal.classification import training  # noqa: E402
from selfheal.classification.corpus import CorpusError, Example, parse_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "glue_errors.jsonl"


def read(path: Path) -> list[Example]:
    return parse_lines(path.read_text(encoding="utf-8").splitlines(), str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="labelled corpus (JSON lines)")
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more labelled lines")
    parser.add_argument("--human-weight", type=float, default=1.0, help="weight of a 'human:' line")
    parser.add_argument("--output", type=Path, default=MODEL_FILE, help="where to write the model")
    parser.add_argument("--seed", type=int, default=training.SEED)
    args = parser.parse_args(argv)
    try:
        examples = read(args.corpus)
        for extra in args.extra:
            examples += read(extra)
    except (OSError, CorpusError) as error:
        print(f"train_classifier: {error}", file=sys.stderr)
        return 2
    seen: set[str] = set()
    unique = []
    for example in examples:  # a human answer repeated (a retried Learn) must not count twice
        key = " ".join(example.message.split())
        if key not in seen:
            seen.add(key)
            unique.append(example)
    items = training.inspect_examples(unique, human_weight=args.human_weight)
    model = training.train(items, seed=args.seed)
    save(model, args.output)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1024:.0f} KiB) from {len(unique)} examples")
    print(f"l2 {model.info['l2']}, temperature {model.temperature:.3f}, thresholds {model.policy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
