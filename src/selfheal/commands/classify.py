"""``selfheal classify``: classify error logs given as JSON lines, or measure the classifier.

Input: one JSON object per line with a ``message`` field (and, with ``--report``, the true
``category``), or with ``--text`` one plain-text log. Output: one JSON line per input
(category, confidence, signature, evidence, checks, source), or (``--report``) the figures; the
measuring lives in selfheal/classifier_report.py.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from selfheal_core.classification.classifier import Classifier, SignatureError, load_signatures
from selfheal_core.domain.bounds import json_nesting_depth
from selfheal_core.vocabulary import Category

from selfheal.commands import help_options, whole_number
from selfheal.errors import UsageError
from selfheal.untrusted import read_text

_CATEGORY_VALUES = frozenset(c.value for c in Category)
MAX_LINE_DEPTH = 32


CLASSIFY_EXAMPLES = """\
examples:
  echo '{"message": "Rate exceeded (Service: AWSGlue)"}' | selfheal classify
  # one JSON line out per line in
  selfheal classify errors.jsonl > categories.jsonl
  # precision, recall, F1, unsafe rate, confusion matrix
  selfheal classify --report tests/corpus/glue_errors.jsonl
  # the same with extra operator signatures, as one JSON object
  selfheal classify --report --json --signatures extra.json corpus.jsonl
"""


DESCRIPTION = """\
Classify Glue error logs given as JSON lines (one object with a 'message' field per line) into the ten
failure categories, printing each category with its confidence, evidence lines and deciding signature;
or, with --report and inputs that carry the true 'category', measure the classifier.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify Glue error logs (JSON lines with a 'message' field)",
        **help_options(
            DESCRIPTION,
            CLASSIFY_EXAMPLES,
        ),
    )
    parser.add_argument("file", nargs="?", default="-", help="JSON-lines file; '-' or nothing for stdin")
    parser.add_argument("--signatures", metavar="EXTRA.json", help="extra signatures (extend or override)")
    parser.add_argument(
        "--report",
        action="store_true",
        help="inputs carry the true 'category': print precision/recall/F1, unsafe rate, confusion",
    )
    parser.add_argument("--json", action="store_true", help="with --report: print one JSON object")
    parser.add_argument(
        "--text",
        action="store_true",
        help="the whole file (or stdin) is one plain-text log, not JSON lines",
    )
    parser.add_argument(
        "--cv",
        type=int,
        metavar="K",
        default=None,
        help="with --report: grouped K-fold cross-validation, the model refitted on the training folds "
        "(default 5 when the lines carry 'group', else 0: score the file as-is with the shipped model)",
    )
    parser.add_argument(
        "--seed", type=whole_number(0), default=8, help="with --report: folds and bootstrap seed (0 or more)"
    )
    parser.set_defaults(run=run)


def _usage_error(message: str) -> Exception:

    return UsageError(message)


def _records(text: str, need_label: bool) -> Iterator[tuple[str, Category | None]]:
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        record = _parse_line(line, number)
        if not isinstance(record, dict):
            raise _usage_error(f"line {number}: expected a JSON object")
        message = record.get("message")
        if not isinstance(message, str):
            raise _usage_error(f"line {number}: missing 'message' (a string)")
        label: Category | None = None
        if need_label:
            raw = record.get("category")
            if not isinstance(raw, str) or raw not in _CATEGORY_VALUES:
                allowed = ", ".join(c.value for c in Category)
                shown = repr(raw)[:80]
                raise _usage_error(f"line {number}: unknown category {shown} (expected one of: {allowed})")
            label = Category(raw)
        yield message, label


def _parse_line(line: str, number: int) -> object:
    depth = json_nesting_depth(line)
    if depth > MAX_LINE_DEPTH:
        raise _usage_error(f"line {number}: JSON nested {depth} levels deep, more than {MAX_LINE_DEPTH}")
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise _usage_error(f"line {number}: not valid JSON ({error.msg})") from None
    except (ValueError, RecursionError) as error:  # e.g. an integer of more than 4,300 digits
        raise _usage_error(f"line {number}: not valid JSON ({error})") from None


def _print_json(value: object) -> None:
    # ensure_ascii (the default): a lone surrogate in the input is written as \udXXX, never raised
    # as UnicodeEncodeError by the terminal's encoding.
    print(json.dumps(value))


def run(args: argparse.Namespace) -> int:
    try:
        signatures = load_signatures(args.signatures) if args.signatures else None
    except SignatureError as error:
        raise _usage_error(str(error)) from None
    classifier = Classifier(signatures)
    text = read_text(args.file, "classify")
    if args.text:
        _print_json(classifier.classify(text).to_dict())
        return 0
    if not args.report:
        for message, _ in _records(text, need_label=False):
            _print_json(classifier.classify(message).to_dict())
        return 0
    for number, line in enumerate(text.split("\n"), start=1):  # bounded parsing before the report's own
        if line.strip():
            _parse_line(line, number)
    from selfheal import classifier_report  # lazy: numpy and the training code only for --report

    try:
        report = classifier_report.measure(text, classifier, args.cv, args.seed, name=args.file)
    except ValueError as error:
        raise _usage_error(str(error)) from None
    print(json.dumps(report.to_dict()) if args.json else report.render())
    return 0
