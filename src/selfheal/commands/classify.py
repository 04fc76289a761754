"""``selfheal classify``: classify error logs given as JSON lines, or measure the classifier.

Input: one JSON object per line with a ``message`` field (and, with ``--report``, the true
``category``). Output: one JSON line per input, or (``--report``) the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from selfheal_core.diagnosis.classifier import Classifier, SignatureError, load_signatures
from selfheal_core.diagnosis.metrics import evaluate, format_report
from selfheal_core.vocabulary import Category

_CATEGORY_VALUES = frozenset(c.value for c in Category)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify Glue error logs (JSON lines with a 'message' field)",
        description="Classify Glue error logs given as JSON lines, or measure the classifier with --report.",
    )
    parser.add_argument("file", nargs="?", default="-", help="JSON-lines file; '-' or nothing for stdin")
    parser.add_argument("--signatures", metavar="EXTRA.json", help="extra signatures (extend or override)")
    parser.add_argument(
        "--report",
        action="store_true",
        help="inputs carry the true 'category': print precision/recall/F1, unsafe rate, confusion",
    )
    parser.add_argument("--json", action="store_true", help="with --report: print one JSON object")
    parser.set_defaults(run=run)


def _usage_error(message: str) -> Exception:
    from selfheal.cli import UsageError  # lazy: selfheal.cli imports this module

    return UsageError(message)


def _records(stream: TextIO, need_label: bool) -> Iterator[tuple[str, Category | None]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise _usage_error(f"line {number}: not valid JSON ({error.msg})") from None
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
                raise _usage_error(f"line {number}: unknown category {raw!r} (expected one of: {allowed})")
            label = Category(raw)
        yield message, label


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")  # closed by run()
    except OSError as error:
        raise _usage_error(f"cannot read {path}: {error.strerror or error}") from None


def run(args: argparse.Namespace) -> int:
    try:
        signatures = load_signatures(args.signatures) if args.signatures else None
    except SignatureError as error:
        raise _usage_error(str(error)) from None
    classifier = Classifier(signatures)
    stream = _open(args.file)
    try:
        if not args.report:
            for message, _ in _records(stream, need_label=False):
                print(json.dumps(classifier.classify(message).to_dict(), ensure_ascii=False))
            return 0
        pairs = [
            (label, classifier.classify(message).category)
            for message, label in _records(stream, need_label=True)
            if label is not None
        ]
    finally:
        if stream is not sys.stdin:
            stream.close()
    if not pairs:
        raise _usage_error("no input lines to measure")
    report = evaluate(pairs)
    print(json.dumps(report.to_dict()) if args.json else format_report(report))
    return 0
