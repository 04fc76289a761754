"""Classify a failed Glue job's error log into one of selfheal's failure categories.

Pure: no boto3, no environment variables, no I/O except reading the packaged ``signatures.json``
(and an operator's extra signature file when one is passed).

How it decides (see docs/diagnosis.md):

1. The log is cut into lines. Stack frames (``\\tat org.apache...``, ``... 12 more``, Python
   ``File "x.py", line 3`` and the source line under it), INFO/DEBUG log lines that report no
   exception or failure, and repeats (lines
   equal once digits are ignored) are skipped; each line is capped at ``MAX_LINE_CHARS``; at most
   ``MAX_CANDIDATE_LINES`` lines are examined (the head and, mostly, the tail of the log).
2. Each remaining line is matched against every signature; the heaviest signature on a line is
   that line's *hit*. Generic wrappers (Py4JJavaError, "Job aborted due to stage failure", "Task
   failed while writing rows", "An error occurred while calling o123.x") have no signature, so
   they are never evidence; the specific cause on the same or a later line is.
3. A strong (weight >= ``STRONG``) permission, code_error or explicit-unknown hit anywhere wins:
   those need a human, and an automated remediation on top of them is worse than an escalation.
4. Otherwise the heaviest category wins, unless another category is within ``MARGIN`` of it. Then,
   if the competing hits form a cause chain (the deeper one is a ``Caused by:`` line after the
   other), the deepest cause wins; if not, the evidence conflicts and the answer is ``unknown``.
5. No hit at all, or a winner lighter than ``MIN_WEIGHT``, is ``unknown`` with ``signature=None``.

That is the signature layer. ``Classifier.classify`` puts it between the structured evidence
(diagnosis/structured.py) and the learned model (diagnosis/model.py); layers.py says how they
combine. ``Classifier(model=None, structured=False)`` is the signature layer alone.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from selfheal_core.classification import features
from selfheal_core.classification.layers import (
    Inspection,
    SignatureState,
    StructuredDecision,
    combine,
    situation,
    upstream,
)
from selfheal_core.classification.model import Model, Policy, shipped_model
from selfheal_core.classification.regex_safety import UnsafePattern, check_pattern
from selfheal_core.classification.result import Classification, checks_for
from selfheal_core.domain.bounds import json_nesting_depth
from selfheal_core.domain.fact_checks import text_checks
from selfheal_core.vocabulary import CATEGORIES, HUMAN_ONLY_CATEGORIES, Category

SIGNATURES_FILE = Path(__file__).with_name("signatures.json")

MAX_LINE_CHARS = 2000  # regexes never see more than this many characters of one line
MAX_CANDIDATE_LINES = 4000  # distinct, non-frame lines examined per log
HEAD_LINES = 1000  # of which from the start of the log; the rest from its end
EVIDENCE_CHARS = 300  # evidence lines are trimmed to this length
MAX_EVIDENCE = 3
STRONG = 0.8  # a human-only hit at least this heavy wins outright
MARGIN = 0.2  # two categories closer than this conflict
MIN_WEIGHT = 0.5  # a winner lighter than this is not evidence enough
MAX_WEIGHT = 2.0
MAX_FILE_DEPTH = 32  # a signature file nests three levels; deeper JSON is refused before it is parsed

_REQUIRED_FIELDS = ("id", "category", "pattern", "rationale", "example")
_DIGITS = str.maketrans("", "", "0123456789")
_LOG_HEADER_QUIET = re.compile(r"^[\d/:\-,.T\[\] ]{8,40}(?:INFO|DEBUG|TRACE)\b")
_PY_FRAME = re.compile(r'^File "[^"]*", line \d+')
_ALARM = re.compile(r"xception|rror|FAIL|[Dd]enied|[Kk]illed")


class SignatureError(ValueError):
    """A signature file or entry is invalid; the message says which entry and what is wrong."""


@dataclass(frozen=True)
class Signature:
    id: str
    category: Category
    pattern: str
    rationale: str
    example: str
    weight: float = 1.0


__all__ = ["Classification", "Classifier", "Signature", "SignatureError", "classify", "load_signatures"]

MODEL_HEAD_LINES = 50  # the model reads the first and the last of the candidate lines
MODEL_TAIL_LINES = 250


# --------------------------------------------------------------------------- signatures


def _signature_from_mapping(entry: object, where: str, operator: bool = False) -> Signature:
    if not isinstance(entry, Mapping):
        raise SignatureError(f"{where}: expected an object, got {type(entry).__name__}")
    label = f"{where} (id {entry['id'][:80]!r})" if isinstance(entry.get("id"), str) else where
    for field in _REQUIRED_FIELDS:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise SignatureError(f"{label}: field {field!r} must be a non-empty string")
    try:
        category = Category(entry["category"])
    except ValueError:
        allowed = ", ".join(c.value for c in Category)
        raise SignatureError(
            f"{label}: unknown category {entry['category']!r} (expected one of: {allowed})"
        ) from None
    raw_weight = entry.get("weight", 1.0)
    if isinstance(raw_weight, bool) or not isinstance(raw_weight, int | float):
        raise SignatureError(f"{label}: field 'weight' must be a number")
    weight = float(raw_weight)
    if not math.isfinite(weight) or not 0.0 < weight <= MAX_WEIGHT:
        raise SignatureError(f"{label}: field 'weight' must be in (0, {MAX_WEIGHT}], got {raw_weight}")
    pattern = str(entry["pattern"])
    try:
        if operator:  # before the example is searched: an unsafe pattern may never return from it
            check_pattern(pattern, flags=re.IGNORECASE)
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise SignatureError(f"{label}: pattern does not compile: {error}") from None
    except UnsafePattern as error:
        raise SignatureError(f"{label}: unsafe pattern, refused: {error}") from None
    except RecursionError:
        raise SignatureError(f"{label}: pattern is nested too deeply") from None
    example = str(entry["example"])
    if not compiled.search(example[:MAX_LINE_CHARS]):
        raise SignatureError(f"{label}: pattern does not match its own example")
    return Signature(
        id=str(entry["id"]).strip(),
        category=category,
        pattern=pattern,
        rationale=str(entry["rationale"]),
        example=example,
        weight=weight,
    )


def _parse_entries(entries: object, source: str, operator: bool = True) -> list[Signature]:
    """Operator entries (the default) also have their patterns checked for catastrophic backtracking
    (``regex_safety.check_pattern``); the shipped ones are checked by a test instead."""
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise SignatureError(f"{source}: expected a JSON list of signature objects")
    parsed: list[Signature] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        signature = _signature_from_mapping(entry, f"{source}: entry {index}", operator)
        if signature.id in seen:
            raise SignatureError(f"{source}: entry {index}: duplicate id {signature.id!r}")
        seen.add(signature.id)
        parsed.append(signature)
    return parsed


def _read_file(path: str | os.PathLike[str], operator: bool = True) -> list[Signature]:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SignatureError(f"{path}: cannot read signature file: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SignatureError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        loaded = json.loads(text) if json_nesting_depth(text) <= MAX_FILE_DEPTH else None
    except json.JSONDecodeError as error:
        raise SignatureError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise SignatureError(f"{path}: not valid JSON ({error})") from None
    if loaded is None:
        raise SignatureError(f"{path}: JSON nested more than {MAX_FILE_DEPTH} levels deep")
    return _parse_entries(loaded, str(path), operator)


@functools.cache
def _shipped() -> tuple[Signature, ...]:
    return tuple(_read_file(SIGNATURES_FILE, operator=False))


def load_signatures(
    extra: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Signature, ...]:
    """The shipped signatures, extended by ``extra`` (a JSON file path or a list of dicts).

    A user signature whose id equals a shipped one replaces it in place; new ids are appended.
    """
    shipped = _shipped()
    if extra is None:
        return shipped
    if isinstance(extra, str | os.PathLike):
        user = _read_file(extra)
    else:
        user = _parse_entries(extra, "user signatures")
    overrides = {signature.id: signature for signature in user}
    merged = [overrides.pop(signature.id, signature) for signature in shipped]
    merged.extend(signature for signature in user if signature.id in overrides)
    return tuple(merged)


# --------------------------------------------------------------------------- prefilter
# Each regex is only run on lines that contain one of its "required literals": for every top-level
# alternative of the pattern, the longest run of plain characters that any match must contain. If
# an alternative has no such run (3+ ASCII characters), the signature has no prefilter and always
# runs. The extraction is conservative: anything it does not understand breaks the run.

_MIN_LITERAL = 3


def _split_top_level(pattern: str) -> list[str] | None:
    branches: list[str] = []
    depth = 0
    start = 0
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth != 0 or in_class:
        return None
    branches.append(pattern[start:])
    return branches


def _skip_group(branch: str, i: int) -> int:
    """Index just past the group or class that starts at branch[i]."""
    if branch[i] == "[":
        i += 2 if branch[i + 1 : i + 2] == "]" else 1
        while i < len(branch) and branch[i] != "]":
            i += 2 if branch[i] == "\\" else 1
        return i + 1
    depth = 0
    while i < len(branch):
        c = branch[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _skip_group(branch, i)
            continue
        depth += c == "("
        depth -= c == ")"
        i += 1
        if depth == 0:
            return i
    return i


def _required_literal(branch: str) -> str:
    best = ""
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        text = "".join(run)
        if len(text) > len(best):
            best = text
        run.clear()

    i = 0
    while i < len(branch):
        c = branch[i]
        if c == "\\" and i + 1 < len(branch):
            nxt = branch[i + 1]
            i += 2
            if nxt.isalnum():  # \b \d \S \w \1 \n ...: not a plain character
                flush()
            else:
                run.append(nxt)
            continue
        if c in "([":
            flush()
            i = _skip_group(branch, i)
            continue
        if c in "*?{+":
            if c != "+" and run:
                run.pop()  # the previous character is optional
            flush()
            if c == "{":
                close = branch.find("}", i)
                i = len(branch) if close < 0 else close + 1
            else:
                i += 1
            continue
        if c in ".^$)":
            flush()
            i += 1
            continue
        run.append(c)
        i += 1
    flush()
    return best


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-cased literals, one per top-level alternative, one of which every match contains;
    None when the pattern cannot be prefiltered safely."""
    branches = _split_top_level(pattern)
    if branches is None:
        return None
    literals: list[str] = []
    for branch in branches:
        literal = _required_literal(branch).strip()
        if len(literal) < _MIN_LITERAL or not literal.isascii():
            return None
        literals.append(literal.lower())
    return tuple(dict.fromkeys(literals))


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class _Hit:
    position: int
    signature: Signature
    line: str
    caused_by: bool

    @property
    def category(self) -> Category:
        return self.signature.category

    @property
    def weight(self) -> float:
        return self.signature.weight


def _candidate_lines(log_text: str) -> list[tuple[int, str]]:
    """Distinct, meaningful lines with their position; frames, quiet log lines and repeats skipped."""
    seen: set[str] = set()
    out: list[tuple[int, str]] = []
    after_py_frame = False
    for position, raw in enumerate(log_text.splitlines()):
        if raw.startswith("\tat ") and ".<init>" not in raw:
            after_py_frame = False
            continue  # fast path for the commonest JVM frame layout
        line = raw.strip()
        if not line:
            after_py_frame = False
            continue
        first = line[0]
        if after_py_frame:
            after_py_frame = False
            if raw[:1].isspace() and not (first == "F" and _PY_FRAME.match(line)):
                continue  # the source line printed under a Python frame
        if first == "a" and line.startswith("at ") and ".<init>" not in line:
            continue  # JVM stack frame (a throwable's own constructor frame is kept: it names the error)
        if first == "." and line.startswith("... ") and (line.endswith(" more") or "omitted" in line):
            continue
        if first == "F" and _PY_FRAME.match(line):
            after_py_frame = True
            continue
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS]
        if (
            first.isdigit()
            and ("INFO" in line[:48] or "DEBUG" in line[:48] or "TRACE" in line[:48])
            and _LOG_HEADER_QUIET.match(line)
            and not _ALARM.search(line)
        ):
            continue  # an INFO/DEBUG line, unless it reports an exception or a failure
        key = line.translate(_DIGITS)
        if key in seen:
            continue
        seen.add(key)
        out.append((position, line))
    if len(out) > MAX_CANDIDATE_LINES:
        out = out[:HEAD_LINES] + out[-(MAX_CANDIDATE_LINES - HEAD_LINES) :]
    return out


def _trim(line: str) -> str:
    return line if len(line) <= EVIDENCE_CHARS else line[: EVIDENCE_CHARS - 3] + "..."


def _unknown(evidence: Iterator[str] | tuple[str, ...] = ()) -> Classification:
    lines = tuple(_trim(line) for line in evidence)
    # source None: nothing at all pointed anywhere; "signature": hits that conflict or are too weak
    return Classification(Category.UNKNOWN, 0.0, None, lines, "signature" if lines else None)


# --------------------------------------------------------------------------- classifier


ShippedModel = Literal["shipped"]


class Classifier:
    """Compiles the signatures once; ``classify`` is then pure and thread-safe.

    ``model``: "shipped" (the packaged model.npz, read on first use), a Model, or None (no model
    layer). ``structured``: whether to consult diagnosis/structured.py (when it is installed).
    """

    def __init__(
        self,
        signatures: Sequence[Signature] | None = None,
        model: Model | ShippedModel | None = "shipped",
        structured: bool = True,
    ) -> None:
        self.signatures: tuple[Signature, ...] = tuple(
            load_signatures() if signatures is None else signatures
        )
        self._model_choice = model
        self._structured = structured
        self._compiled = tuple(
            (re.compile(signature.pattern, re.IGNORECASE), signature) for signature in self.signatures
        )
        # literal -> the signatures (by index) that need it; signatures without literals always run
        index: dict[str, list[int]] = {}
        always: list[int] = []
        for number, signature in enumerate(self.signatures):
            literals = required_literals(signature.pattern)
            if literals is None:
                always.append(number)
            else:
                for literal in literals:
                    index.setdefault(literal, []).append(number)
        self._literal_index = tuple((literal, tuple(numbers)) for literal, numbers in index.items())
        self._always = frozenset(always)

    @property
    def model(self) -> Model | None:
        if self._model_choice == "shipped":
            return shipped_model()
        return self._model_choice

    def hits(self, log_text: str) -> list[_Hit]:
        return self._hits(_candidate_lines(log_text))

    def _hits(self, lines: Sequence[tuple[int, str]]) -> list[_Hit]:
        found: list[_Hit] = []
        lowered_lines = [line.lower() for _, line in lines]
        # One scan of the whole text per literal leaves the few a log holds to be tested line by line.
        everything = "\n".join(lowered_lines)
        present = [(literal, numbers) for literal, numbers in self._literal_index if literal in everything]
        for (position, line), lowered in zip(lines, lowered_lines, strict=True):
            active = set(self._always)
            for literal, numbers in present:
                if literal in lowered:
                    active.update(numbers)
            best: Signature | None = None
            for number in sorted(active):
                regex, signature = self._compiled[number]
                if (best is None or signature.weight > best.weight) and regex.search(line):
                    best = signature
            if best is not None:
                found.append(_Hit(position, best, line, line.startswith("Caused by:")))
        return found

    # ------------------------------------------------------------------ the layers together

    def classify(self, log_text: str) -> Classification:
        inspection = self.inspect(log_text)
        model = self.model
        if model is None:
            return combine(inspection, None, Policy())
        probabilities = None
        # the model's top category decides which threshold applies; skip it when none could
        if not _final_without_model(inspection):
            indices, values = features.vectorize(inspection.tokens)
            probabilities = [float(p) for p in model.probabilities(indices, values)]
        return combine(inspection, probabilities, model.policy)

    def inspect(self, log_text: str) -> Inspection:
        """What the structured and signature layers found, and the model's input tokens."""
        lines = _candidate_lines(log_text)
        hits = self._hits(lines)
        signature, state = self._signature_decision(hits)
        structured = _structured_decision(log_text) if self._structured else None
        model_lines = [line for _, line in _model_lines(lines)]
        tokens = features.tokens("\n".join(model_lines))
        tokens += [f"sig:{hit.signature.id}" for hit in hits]
        tokens += [f"sigcat:{signature.category.value}", f"sigstate:{state.value}"]
        if structured is not None:
            tokens += [f"st:{structured.source}:{structured.category.value}", f"stkey:{structured.name}"]
        alarm = [line for line in model_lines if _ALARM.search(line)] or model_lines
        evidence = tuple(_trim(hit.line) for hit in hits[-MAX_EVIDENCE:]) or tuple(
            _trim(line) for line in alarm[-MAX_EVIDENCE:]
        )
        answer, final_state = upstream(structured, signature, state)
        return Inspection(
            answer, final_state, tuple(tokens), evidence, text_checks("\n".join(line for _, line in lines))
        )

    # ------------------------------------------------------------------ the signature layer

    def classify_signatures(self, log_text: str) -> Classification:
        """The signature layer alone (no structured evidence, no model)."""
        return self._signature_decision(self.hits(log_text))[0]

    def _signature_decision(self, hits: Sequence[_Hit]) -> tuple[Classification, SignatureState]:
        if not hits:
            return _unknown(), SignatureState.NONE
        # the heaviest hit of each category (ties: the deeper one)
        best: dict[Category, _Hit] = {}
        for hit in hits:
            current = best.get(hit.category)
            if current is None or (hit.weight, hit.position) >= (current.weight, current.position):
                best[hit.category] = hit

        human = [h for h in best.values() if h.category in HUMAN_ONLY_CATEGORIES and h.weight >= STRONG]
        if human:
            winner = max(human, key=lambda h: (h.weight, h.position))
            return self._decide(winner, hits, runner_up=None), SignatureState.HUMAN_STRONG

        ranked = sorted(best.values(), key=lambda h: (h.weight, h.position), reverse=True)
        winner = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
        if runner_up is not None and winner.weight - runner_up.weight < MARGIN:
            deeper, shallower = sorted((winner, runner_up), key=lambda h: h.position, reverse=True)
            if not deeper.caused_by:
                conflict = sorted((winner, runner_up), key=lambda h: h.position)
                return _unknown(h.line for h in conflict), SignatureState.NONE
            winner, runner_up = deeper, shallower
        if winner.weight < MIN_WEIGHT:
            return _unknown((winner.line,)), SignatureState.NONE
        state = SignatureState.HUMAN_WEAK if winner.category in HUMAN_ONLY_CATEGORIES else SignatureState.AUTO
        return self._decide(winner, hits, runner_up), state

    @staticmethod
    def _decide(winner: _Hit, hits: Sequence[_Hit], runner_up: _Hit | None) -> Classification:
        confidence = min(1.0, winner.weight)
        if runner_up is not None:
            confidence -= 0.25 * min(1.0, runner_up.weight)
        same = [h for h in hits if h.category is winner.category and h is not winner]
        evidence = (winner.line, *(h.line for h in same[-(MAX_EVIDENCE - 1) :]))
        return Classification(
            category=winner.category,
            confidence=round(max(0.0, min(1.0, confidence)), 3),
            signature=winner.signature.id,
            evidence=tuple(_trim(line) for line in evidence),
            source="signature",
            checks=checks_for(winner.category),
        )


def _final_without_model(inspection: Inspection) -> bool:
    """True when no answer of the model could change the outcome (so it need not run)."""
    return all(situation(inspection, category) is None for category in CATEGORIES)


def _model_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if len(lines) <= MODEL_HEAD_LINES + MODEL_TAIL_LINES:
        return lines
    return lines[:MODEL_HEAD_LINES] + lines[-MODEL_TAIL_LINES:]


def _structured_decision(log_text: str) -> StructuredDecision | None:
    """The structured layer's decision, when that module is installed and confident."""
    from selfheal_core.classification import structured_adapter

    return structured_adapter.decision(log_text)


@functools.cache
def _default_classifier() -> Classifier:
    return Classifier()


def classify(log_text: str) -> Classification:
    """Classify with the shipped signatures (the classifier is built once and cached)."""
    return _default_classifier().classify(log_text)


@functools.lru_cache(maxsize=8)
def _classifier_for(extra_json: str) -> Classifier:
    return Classifier(load_signatures(json.loads(extra_json)))


def classifier_with(extra: Sequence[Mapping[str, Any]] | None) -> Classifier:
    """The shipped signatures extended (or overridden, by id) by an operator's; built once per content.

    Raises
    ------
    SignatureError
        when an operator signature is malformed (the message says which one and why).
    """
    if not extra:
        return _default_classifier()
    if not isinstance(extra, Sequence) or isinstance(extra, str | bytes):
        raise SignatureError("operator signatures: expected a list of signature objects")
    try:
        key = json.dumps(list(extra), sort_keys=True)
    except (TypeError, ValueError, RecursionError) as error:
        raise SignatureError(f"operator signatures: not JSON data ({error})") from None
    return _classifier_for(key)
