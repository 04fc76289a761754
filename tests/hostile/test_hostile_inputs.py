"""Every input of the hostile corpus (tests/hostile/corpus.py) is handled cleanly by its real entry
point: exit code 0 or 2 with one clear line, never a traceback, and no failed run left without an
escalated incident. The inputs that run the local engine or a subprocess are marked ``slow``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.corpus import Case, all_cases, problems

CASES = all_cases()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 80
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.name,
            marks=[
                *([pytest.mark.slow] if case.slow else []),
                *([pytest.mark.xfail(reason=case.known_gap, strict=False)] if case.known_gap else []),
            ],
        )
        for case in CASES
    ],
)
def test_a_hostile_input_is_handled_cleanly(case: Case, tmp_path: Path) -> None:
    result = case.run(tmp_path)
    assert problems(result) == [], case.name
