"""Persist a Q-table as JSON: ``{"settings": {...}, "rows": {state_key: QEntry.to_dict()}}``."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from selfheal_core.domain.qlearning import LearnerSettings, QEntry, QTable
from selfheal_core.ports import QTableStore


class QTableFileError(ValueError):
    """The file is not a Q-table this project wrote; the message says why."""


def save_qtable(path: str | Path, table: QTable, settings: LearnerSettings | None = None) -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "settings": dataclasses.asdict(settings or LearnerSettings()),
        "rows": {key: table.rows[key].to_dict() for key in sorted(table.rows)},
    }
    file.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return file


def load_qtable(path: str | Path) -> tuple[QTable, LearnerSettings]:
    file = Path(path)
    try:
        document: Any = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise QTableFileError(f"{file}: cannot read it ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise QTableFileError(f"{file}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("rows"), dict):
        raise QTableFileError(f"{file}: expected an object with 'settings' and 'rows'")
    known = {f.name for f in dataclasses.fields(LearnerSettings)}
    raw_settings = document.get("settings") or {}
    if not isinstance(raw_settings, dict):
        raise QTableFileError(f"{file}: settings: expected an object")
    try:
        settings = LearnerSettings(**{k: v for k, v in raw_settings.items() if k in known})
        rows = {str(key): QEntry.from_dict(row) for key, row in document["rows"].items()}
    except (KeyError, TypeError, ValueError) as error:
        raise QTableFileError(f"{file}: malformed row or setting ({error})") from None
    for key, row in rows.items():
        if not all(math.isfinite(float(v)) for v in row.values):
            raise QTableFileError(f"{file}: rows.{key}: values must be finite numbers")
    return QTable(rows), settings


def install(table: QTable, store: QTableStore, settings: LearnerSettings | None = None) -> int:
    """Write trained rows into the store Propose reads: each replaces the row it finds, and keeps learning
    at the pace its visits set (``settings.learning_rate``)."""
    settings = settings or LearnerSettings()
    for key, trained in table.rows.items():
        store.install(key, trained.to_row(settings))
    return len(table.rows)
