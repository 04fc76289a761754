"""The labelled corpus of real Glue/Spark/AWS error messages, and the targets measured on it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.diagnosis.classifier import classify
from selfheal_core.diagnosis.metrics import evaluate
from selfheal_core.vocabulary import Category

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "glue_errors.jsonl"


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_large_labelled_and_sourced(corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) >= 150
    for record in corpus:
        assert set(record) >= {"message", "category", "source", "note"}
        assert record["message"].strip() and record["source"].strip()
        Category(record["category"])
    counts = Counter(record["category"] for record in corpus)
    for category in Category:
        assert counts[category.value] >= (8 if category is Category.UNKNOWN else 10), category
    assert len({record["message"] for record in corpus}) == len(corpus), "duplicate messages"
    assert sum("HARD" in record["note"] for record in corpus) >= 15


def test_corpus_targets(corpus: list[dict[str, Any]]) -> None:
    report = evaluate((Category(r["category"]), classify(r["message"]).category) for r in corpus)
    assert report.macro_f1 >= 0.95, report.to_dict()
    assert report.unsafe_rate <= 0.02, report.to_dict()
