"""Refuse operator-supplied signature patterns that can backtrack catastrophically.

Python's ``re`` is a backtracking engine: ``(a+)+$`` on ``"aaaa…a!"`` tries every way of splitting
the run between the two quantifiers, 2^n of them, and a regex call cannot be interrupted. A
signature is matched against thousands of log lines, so one bad pattern stalls every diagnosis.
``check_pattern`` raises ``UnsafePattern`` for such patterns, in two stages.

1. Static inspection of the parse tree (``re._parser``, the stdlib's sre_parse). Inside every
   quantified group that can repeat (``+``, ``*``, ``{2,}``, ``{20}``), an *ambiguous* element is a
   variable-width quantifier (``a+``, ``\\s?``, ``x{1,40}``) or an alternation whose branches differ
   in width or share a first character (``a|aa``, after the parser's prefix factoring ``a(?:|a)``).
   An ambiguous element is safe only when the group also holds a mandatory character it cannot
   match: a *separator* that pins where each repetition ends (``(?:\\d+,)+`` is fine: ``\\d`` never
   matches ``,``). Otherwise the pattern is rejected: ``(a+)+``, ``(a*)*``, ``(a|aa)+``,
   ``(.*a){20}``, ``(\\w+\\s?)+$``. Possessive quantifiers and atomic groups never backtrack, so
   they are neither checked nor counted as ambiguous.

2. An empirical probe, run only when the static stage passes. Attack strings are built from the
   pattern itself: the literal text that leads up to each quantifier (``Failed to call ``), the
   quantifier's own characters pumped n times, and a final character the quantifier cannot match,
   so the match fails and backtracking is forced. ``search`` is timed as n grows, one step at a
   time at first and then by a quarter each step, up to ``MAX_SUBJECT_CHARS`` (the classifier never
   shows a pattern a longer line). One search slower than ``SLOW_SEARCH_SECONDS`` rejects the
   pattern. Growing n by a quarter bounds the overshoot: an exponential pattern crosses the
   threshold at most one step, about 18x the threshold, too late, and a quadratic one well before
   2,000 characters. The whole probe stops after ``PROBE_BUDGET_SECONDS``.

Limits, stated plainly. This is a heuristic, not a proof. The static rule is conservative: it also
rejects some unambiguous patterns (``(?:foo|barbaz)+``), and its character sets are computed over a
small sample alphabet (ASCII plus a few non-ASCII characters). The probe can only find what its
attack strings exercise: a pattern that needs an input unlike its own literals to blow up, a
backreference, or a slowdown that only appears beyond ``MAX_SUBJECT_CHARS`` can pass it. Timing is
noisy: a slow search is re-timed before it counts, and a probe that runs out of budget without
ever seeing a slow search accepts (being loaded is not evidence against the pattern). An engine
with guaranteed linear time, such as RE2 (``google-re2``), removes the problem instead of detecting
it, but it has no lookaround or backreferences, which some shipped signatures use.
"""

from __future__ import annotations

import re
import re._constants as sre  # the stdlib's regex parser (sre_parse before 3.11); private: Any
import re._parser as sre_parse
import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

MAX_PATTERN_CHARS = 2000
MAX_SUBJECT_CHARS = 2048  # the classifier caps each log line at 2,000 characters
# Up to SHORT_SUBJECT_CHARS, any search slower than SLOW_SHORT_SEARCH_SECONDS is exponential or
# cubic (a linear pattern needs microseconds; even a quadratic one stays under a millisecond).
SHORT_SUBJECT_CHARS = 256
SLOW_SHORT_SEARCH_SECONDS = 0.004
# Longer subjects get a per-search allowance instead: a quadratic scan of a 2 KB line
# (``\S+Exception``, 10-40 ms) is accepted, since the classifier's line cap bounds it.
SLOW_LONG_SEARCH_SECONDS = 0.1
PROBE_BUDGET_SECONDS = 0.2
MAX_ATTACKS = 24
RETIMES = 2  # a slow search is re-timed this often; the fastest run counts

# A small alphabet standing in for Unicode when comparing character sets.
_UNIVERSE = frozenset(string.printable) | frozenset("\x00\x0b\x0céßΩ\u00a0\u2028\u3000ー٣")
_FAILING_SUFFIXES = ("!", "\x00", "\n", "a", "0", " ", "-")
_PREFERRED_PUMP_CHARS = "a0 _.-/:"
_PREFERRED_SEPARATORS = ",.;:-_/'\"=()[]"

_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT})
_ATOMS = frozenset({sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN})
_CATEGORY_REGEX = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
    sre.CATEGORY_LINEBREAK: r"\n",
    sre.CATEGORY_NOT_LINEBREAK: r"[^\n]",
}

Node = tuple[Any, Any]  # (opcode, argument) as re._parser produces them


class UnsafePattern(ValueError):
    """A pattern that can backtrack catastrophically; the message says why."""


def check_pattern(
    pattern: str,
    *,
    flags: int = 0,
    max_subject_chars: int = MAX_SUBJECT_CHARS,
    probe_budget_seconds: float = PROBE_BUDGET_SECONDS,
) -> None:
    """Raise ``UnsafePattern`` if ``pattern`` (compiled with ``flags``) can backtrack catastrophically.

    ``max_subject_chars`` is the longest text the pattern will ever see: raise it for a pattern
    run on uncapped text, and quadratic patterns fail the probe too. A pattern that does not
    compile raises ``re.error``, as ``re.compile`` would.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePattern(f"pattern is {len(pattern)} characters, more than {MAX_PATTERN_CHARS}")
    try:  # the stdlib compiler and parser recurse per group: deep nesting overflows them too
        compiled = re.compile(pattern, flags)
        parsed = sre_parse.parse(pattern, flags)
        sets = _CharSets(
            ignore_case=bool(compiled.flags & re.IGNORECASE), dot_all=bool(compiled.flags & re.DOTALL)
        )
        _check_nested_quantifiers(parsed, sets)
        attacks = _attack_strings(parsed, sets, max_subject_chars)
    except RecursionError:
        raise UnsafePattern("pattern is nested too deeply to inspect") from None
    _probe(compiled.search, attacks, probe_budget_seconds)


# --------------------------------------------------------------------------- character sets


@cache
def _category_chars(category: Any) -> frozenset[str]:
    regex = re.compile(_CATEGORY_REGEX.get(category, r"[^\s\S]"))
    return frozenset(char for char in _UNIVERSE if regex.fullmatch(char))


@dataclass(frozen=True)
class _CharSets:
    """The characters (of ``_UNIVERSE``) each part of a parse tree can consume."""

    ignore_case: bool
    dot_all: bool

    def atom(self, node: Node) -> frozenset[str]:
        op, arg = node
        if op is sre.LITERAL:
            return self._cased({chr(arg)})
        if op is sre.NOT_LITERAL:
            return _UNIVERSE - self._cased({chr(arg)})
        if op is sre.ANY:
            return _UNIVERSE if self.dot_all else _UNIVERSE - {"\n"}
        return self._in(arg)

    def _in(self, items: Sequence[Node]) -> frozenset[str]:
        chars: set[str] = set()
        negate = False
        for op, arg in items:
            if op is sre.NEGATE:
                negate = True
            elif op is sre.LITERAL:
                chars.add(chr(arg))
            elif op is sre.RANGE:
                low, high = arg
                chars.update(char for char in _UNIVERSE if low <= ord(char) <= high)
            elif op is sre.CATEGORY:
                chars.update(_category_chars(arg))
        cased = self._cased(chars)
        return _UNIVERSE - cased if negate else cased

    def _cased(self, chars: set[str]) -> frozenset[str]:
        if self.ignore_case:
            chars = chars | {char.lower() for char in chars} | {char.upper() for char in chars}
        return frozenset(chars)

    def all_chars(self, sequence: Sequence[Node]) -> frozenset[str]:
        """Every character any part of ``sequence`` can consume."""
        chars: set[str] = set()
        for node in sequence:
            if node[0] in _ATOMS:
                chars |= self.atom(node)
            for child in _child_sequences(node):
                chars |= self.all_chars(child)
        return frozenset(chars)


def _child_sequences(node: Node) -> list[Sequence[Node]]:
    """The sub-patterns directly inside ``node`` (group bodies, branches, lookarounds)."""
    op, arg = node
    if op in _REPEATS or op is sre.POSSESSIVE_REPEAT:
        return [arg[2]]
    if op is sre.SUBPATTERN:
        return [arg[3]]
    if op is sre.ATOMIC_GROUP:
        return [arg]
    if op is sre.BRANCH:
        return list(arg[1])
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [arg[1]]
    if op is sre.GROUPREF_EXISTS:
        return [branch for branch in arg[1:] if branch is not None]
    return []


# --------------------------------------------------------------------------- static stage


def _width(sequence: Sequence[Node]) -> tuple[int, int]:
    low, high = sre_parse.SubPattern(sre_parse.State(), list(sequence)).getwidth()
    return int(low), int(high)


def _is_ambiguous(node: Node, sets: _CharSets) -> bool:
    """A quantifier or alternation that can consume the same text in more than one way."""
    op, arg = node
    if op in _REPEATS:
        low, high, _body = arg
        return bool(high > low)
    if op is sre.BRANCH:
        branches = arg[1]
        if len({_width(branch) for branch in branches}) > 1:
            return True
        firsts = [_first_chars(branch, sets) for branch in branches]
        return any(a & b for i, a in enumerate(firsts) for b in firsts[i + 1 :])
    return False


def _first_chars(sequence: Sequence[Node], sets: _CharSets) -> frozenset[str]:
    """Characters a match of ``sequence`` can start with (over-approximated)."""
    for node in sequence:
        if node[0] in _ATOMS:
            return sets.atom(node)
        if node[0] in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        return sets.all_chars([node])  # groups, repeats, branches: take everything
    return frozenset()


def _ambiguous_elements(sequence: Sequence[Node], sets: _CharSets) -> Iterator[Node]:
    """Ambiguous elements anywhere in ``sequence``, except inside atomic or possessive parts."""
    for node in sequence:
        if node[0] in (sre.ATOMIC_GROUP, sre.POSSESSIVE_REPEAT):
            continue
        if _is_ambiguous(node, sets):
            yield node
        for child in _child_sequences(node):
            yield from _ambiguous_elements(child, sets)


def _mandatory_atoms(sequence: Sequence[Node], skip: Node) -> Iterator[Node]:
    """Single-character nodes every match of ``sequence`` consumes, outside ``skip``."""
    for node in sequence:
        op, arg = node
        if node is skip:
            continue
        if op in _ATOMS:
            yield node
        elif op is sre.SUBPATTERN:
            yield from _mandatory_atoms(arg[3], skip)
        elif op is sre.ATOMIC_GROUP:
            yield from _mandatory_atoms(arg, skip)
        elif (op in _REPEATS or op is sre.POSSESSIVE_REPEAT) and arg[0] >= 1:
            yield from _mandatory_atoms(arg[2], skip)


def _has_separator(body: Sequence[Node], element: Node, sets: _CharSets) -> bool:
    element_chars = sets.all_chars([element])
    return any(not (sets.atom(atom) & element_chars) for atom in _mandatory_atoms(body, element))


def _check_nested_quantifiers(sequence: Sequence[Node], sets: _CharSets) -> None:
    for node in sequence:
        op, arg = node
        if op in _REPEATS and arg[1] >= 2:
            body = arg[2]
            for element in _ambiguous_elements(body, sets):
                if not _has_separator(body, element, sets):
                    raise UnsafePattern(
                        "nested quantifier: a repeated group holds a quantifier or alternation that "
                        "can match the same text in more than one way, with no separator between "
                        "repetitions (catastrophic backtracking)"
                    )
        for child in _child_sequences(node):
            _check_nested_quantifiers(child, sets)


# --------------------------------------------------------------------------- attack strings


@dataclass(frozen=True)
class _Attack:
    prefix: str
    pump: str
    suffix: str
    max_repetitions: int

    def subject(self, repetitions: int) -> str:
        return self.prefix + self.pump * repetitions + self.suffix


def _max_repetitions(pump: str, quantifier_max: int, max_subject_chars: int) -> int:
    """Pump a bounded quantifier a little past its bound (more shows nothing new), else to the cap."""
    limit = max_subject_chars // len(pump)
    if quantifier_max != sre.MAXREPEAT:
        limit = min(limit, 4 * int(quantifier_max) + 16)
    return max(1, limit)


def _sample(sequence: Sequence[Node], sets: _CharSets) -> str:
    """A short string matching ``sequence`` (approximately: lookarounds are ignored)."""
    parts: list[str] = []
    for node in sequence:
        op, arg = node
        if op in _ATOMS:
            parts.append(_representative(sets.atom(node)))
        elif op in _REPEATS or op is sre.POSSESSIVE_REPEAT:
            parts.append(_sample(arg[2], sets) * min(arg[0], 64))
        elif op is sre.BRANCH:
            parts.append(_sample(arg[1][0], sets))
        elif op in (sre.SUBPATTERN, sre.ATOMIC_GROUP):
            parts.append(_sample(_child_sequences(node)[0], sets))
    return "".join(parts)


def _representative(chars: frozenset[str]) -> str:
    for char in _PREFERRED_PUMP_CHARS:
        if char in chars:
            return char
    return min(chars) if chars else ""


def _pumps(chars: frozenset[str]) -> list[str]:
    r"""Strings to repeat: single characters, and a word character followed by a non-word one.

    The mixed pump ("0,") puts a word boundary after every pair, so a pattern that restarts at
    each boundary and rescans the rest (``\b\d[\d,]*x``) shows its quadratic cost.
    """
    singles = [char for char in _PREFERRED_PUMP_CHARS if char in chars][:3] or ([min(chars)] if chars else [])
    word = next((char for char in "a0" + "".join(sorted(chars)) if char in chars and char.isalnum()), "")
    others = [char for char in _PREFERRED_SEPARATORS if char in chars] or sorted(
        char for char in chars if not char.isalnum() and not char.isspace()
    )
    return [*singles, word + others[0]] if word and others else singles


def _quantifiers_with_prefix(
    sequence: Sequence[Node], prefix: str, sets: _CharSets
) -> Iterator[tuple[Node, str]]:
    """Every quantifier in ``sequence`` with a string that leads a match up to it."""
    leading = prefix
    for node in sequence:
        if node[0] in _REPEATS or node[0] is sre.POSSESSIVE_REPEAT:
            yield node, leading
        for child in _child_sequences(node):
            yield from _quantifiers_with_prefix(child, leading, sets)
        leading += _sample([node], sets)


def _attack_strings(parsed: Sequence[Node], sets: _CharSets, max_subject_chars: int) -> list[_Attack]:
    attacks: dict[_Attack, None] = {}  # ordered and de-duplicated
    for node, prefix in _quantifiers_with_prefix(parsed, "", sets):
        _low, high, body = node[1]
        chars = sets.all_chars(body)
        suffix = next((char for char in _FAILING_SUFFIXES if char not in chars), "")
        pumps = [*_pumps(chars), _sample(body, sets)]
        for pump in dict.fromkeys(pump for pump in pumps if pump):
            for leading in dict.fromkeys((prefix, "")):
                repetitions = _max_repetitions(pump, high, max_subject_chars)
                attacks[_Attack(leading[-200:], pump, suffix, repetitions)] = None
    return list(attacks)[:MAX_ATTACKS]


# --------------------------------------------------------------------------- empirical stage


def _repetition_schedule(limit: int) -> Iterator[int]:
    """1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, ... : each step at most a quarter longer."""
    repetitions = 1
    while repetitions <= limit:
        yield repetitions
        repetitions += max(1, repetitions // 4)


def _timed(search: Callable[[str], object], subject: str) -> float:
    # CPU time of this thread, not wall time: another process loading the machine must not make an
    # ordinary pattern look catastrophic.
    started = time.thread_time()
    search(subject)
    return time.thread_time() - started


def _allowed_seconds(subject: str) -> float:
    return SLOW_SHORT_SEARCH_SECONDS if len(subject) <= SHORT_SUBJECT_CHARS else SLOW_LONG_SEARCH_SECONDS


def _search_seconds(search: Callable[[str], object], subject: str, allowed: float) -> float:
    """Seconds one search takes; a slow one is re-timed so a scheduler hiccup does not count."""
    seconds = _timed(search, subject)
    for _ in range(RETIMES):
        if seconds <= allowed:
            break
        seconds = min(seconds, _timed(search, subject))
    return seconds


def _probe(search: Callable[[str], object], attacks: Sequence[_Attack], budget_seconds: float) -> None:
    deadline = time.perf_counter() + budget_seconds
    for attack in attacks:
        for repetitions in _repetition_schedule(attack.max_repetitions):
            if time.perf_counter() > deadline:
                return  # out of budget without a slow search: no evidence against the pattern
            subject = attack.subject(repetitions)
            allowed = _allowed_seconds(subject)
            seconds = _search_seconds(search, subject, allowed)
            if seconds > allowed:
                raise UnsafePattern(
                    f"catastrophic backtracking: one search took {seconds * 1000:.1f} ms on "
                    f"{len(subject)} characters ({attack.pump!r} x {repetitions} + {attack.suffix!r})"
                )
