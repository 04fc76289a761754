"""Labelled examples for the classifier: the corpus (tests/corpus/glue_errors.jsonl) and human answers.

One JSON object per line: ``message``, ``category`` (the root cause), ``source`` (a URL, or
``human:<incident_id>`` for an operator's answer), ``group`` (examples that share a group never
straddle cross-validation folds), ``note`` and ``hard``. Pure parsing: the caller reads the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from selfheal_core.vocabulary import Category

HUMAN_SOURCE_PREFIX = "human:"


class CorpusError(ValueError):
    """A labelled line is malformed; the message names the line."""


@dataclass(frozen=True)
class Example:
    message: str
    category: Category
    source: str = ""
    group: str = ""
    note: str = ""
    hard: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "category": self.category.value,
            "source": self.source,
            "group": self.group,
            "note": self.note,
            "hard": self.hard,
        }


def group_of(source: str) -> str:
    """The cross-validation group of a source: one GitHub repository, one documentation page, one
    human incident, or one page elsewhere. Messages from one repository share wording and
    environment, so letting them straddle folds would flatter the model."""
    if source.startswith(HUMAN_SOURCE_PREFIX):
        return source
    parsed = urlparse(source)
    host = parsed.netloc.lower()
    path = parsed.path.rstrip("/")
    if host in {"github.com", "www.github.com"}:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2:
            return f"github:{parts[0]}/{parts[1]}"
    if host.startswith("docs."):
        return f"docs:{host}{path}"
    return f"{host}{path}" if host else source


def is_hard(note: str) -> bool:
    return "HARD" in note


def parse_example(record: object, where: str) -> Example:
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    message = record.get("message")
    if not isinstance(message, str) or not message.strip():
        raise CorpusError(f"{where}: missing 'message' (a non-empty string)")
    raw = record.get("category")
    try:
        category = Category(str(raw))
    except ValueError:
        allowed = ", ".join(c.value for c in Category)
        raise CorpusError(f"{where}: unknown category {raw!r} (expected one of: {allowed})") from None
    source = str(record.get("source") or "")
    note = str(record.get("note") or "")
    group = record.get("group")
    hard = record.get("hard")
    return Example(
        message=message,
        category=category,
        source=source,
        group=str(group) if isinstance(group, str) and group else group_of(source),
        note=note,
        hard=bool(hard) if isinstance(hard, bool) else is_hard(note),
    )


def parse_lines(lines: Iterable[str], name: str = "input") -> list[Example]:
    """Parse JSON lines (blank lines skipped). Raises CorpusError naming the first bad line."""
    examples: list[Example] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{name}: line {number}: not valid JSON ({error.msg})") from None
        examples.append(parse_example(record, f"{name}: line {number}"))
    return examples
