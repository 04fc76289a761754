"""Input validation against the JSON Schemas in ``schemas/``: a clear error, never a KeyError later."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from selfheal_core.errors import InvalidInputError

SCHEMA_DIR = Path(__file__).parent / "schemas"


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    return Draft202012Validator(schema)


def validate(payload: Any, schema: str) -> Mapping[str, Any]:
    errors = sorted(_validator(schema).iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InvalidInputError(f"invalid {schema} input at {where}: {first.message}")
    if not isinstance(payload, Mapping):  # pragma: no cover - every schema requires an object
        raise InvalidInputError(f"invalid {schema} input: expected an object")
    return payload
