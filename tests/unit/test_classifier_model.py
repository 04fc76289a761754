"""The learned fallback: training, persistence, thresholds, grouped folds, and the layered answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from selfheal_core.classification.classifier import Classifier
from selfheal_core.classification.costs import cost_array
from selfheal_core.classification.features import vectorize
from selfheal_core.classification.layers import Inspection, SignatureState, combine
from selfheal_core.classification.model import NEVER, Policy, load, save
from selfheal_core.classification.result import Classification
from selfheal_core.vocabulary import CATEGORIES, Category

from selfheal.classification import training
from selfheal.classification.corpus import Example, group_of, parse_lines
from selfheal.classification.metrics import bootstrap_intervals

TOY_TEXTS = {
    Category.THROTTLING: ["Rate exceeded for GetTable {i}", "SlowDown please reduce request rate {i}"],
    Category.PERMISSION: ["AccessDenied on bucket b{i}", "is not authorized to perform glue:GetTable {i}"],
    Category.SCHEMA_DRIFT: ["cannot resolve column c{i} given input columns", "No such struct field f{i}"],
}


def toy_examples() -> list[Example]:
    out = []
    for category, templates in TOY_TEXTS.items():
        for i in range(6):
            text = templates[i % 2].format(i=i)
            out.append(Example(text, category, source=f"https://github.com/o/r{i}", group=f"g{i}"))
    return out


@pytest.fixture(scope="module")
def toy_items() -> list[training.Inspected]:
    return training.inspect_examples(toy_examples(), Classifier(model=None, structured=False))


def test_training_is_deterministic(toy_items: list[training.Inspected]) -> None:
    first, second = training.train(toy_items), training.train(toy_items)
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.bias, second.bias)
    assert (first.temperature, first.policy) == (second.temperature, second.policy)


def test_model_learns_the_toy_set(toy_items: list[training.Inspected]) -> None:
    model = training.train(toy_items)
    for item in toy_items:
        assert model.predict(*vectorize(item.inspection.tokens))[0] is item.category


def test_save_load_round_trip(toy_items: list[training.Inspected], tmp_path: Path) -> None:
    model = training.train(toy_items)
    path = tmp_path / "model.npz"
    save(model, path)
    again = load(path)
    assert (again.temperature, again.policy, again.info) == (model.temperature, model.policy, model.info)
    vector = vectorize(toy_items[0].inspection.tokens)
    assert np.allclose(again.probabilities(*vector), model.probabilities(*vector), atol=1e-3)
    save(again, tmp_path / "again.npz")  # float16 on disk: a second round trip changes nothing
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()


def _inspection(state: SignatureState, upstream: Category = Category.UNKNOWN) -> Inspection:
    answer = Classification(upstream, 0.9 if upstream is not Category.UNKNOWN else 0.0, None, ())
    return Inspection(answer, state, ("x",), ("evidence line",))


def _probs(category: Category, p: float) -> list[float]:
    rest = (1.0 - p) / (len(CATEGORIES) - 1)
    return [p if c is category else rest for c in CATEGORIES]


def test_model_abstains_below_its_threshold() -> None:
    policy = Policy(answer=0.6)
    below = combine(_inspection(SignatureState.NONE), _probs(Category.THROTTLING, 0.5), policy)
    assert below.category is Category.UNKNOWN and below.source is None
    above = combine(_inspection(SignatureState.NONE), _probs(Category.THROTTLING, 0.7), policy)
    assert (above.category, above.source, above.signature) == (Category.THROTTLING, "model", None)
    assert above.checks == ("recent_retries: not checked (text only)",)


def test_strong_human_evidence_is_never_overruled() -> None:
    policy = Policy(answer=0.0, switch=0.0, veto=0.0, unlock=0.0)
    final = _inspection(SignatureState.HUMAN_STRONG, Category.PERMISSION)
    assert combine(final, _probs(Category.THROTTLING, 0.99), policy).category is Category.PERMISSION


def test_thresholds_minimise_the_cost_matrix() -> None:
    # Six no-decision cases: the model is right at 0.9 and 0.8, wrong (an auto category for a
    # human-only truth, cost 10) at 0.7 and 0.6, right at 0.5 and 0.4. Abstaining costs 1 or 0.
    confidences = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    truth = [Category.THROTTLING, Category.THROTTLING, Category.CODE_ERROR, Category.UNKNOWN]
    truth += [Category.THROTTLING, Category.THROTTLING]
    probabilities = np.array([_probs(Category.THROTTLING, p) for p in confidences])
    y = np.array([CATEGORIES.index(c) for c in truth])
    inspections = [_inspection(SignatureState.NONE)] * len(y)
    policy = training.choose_policy(inspections, probabilities, y, cost_array())
    # answering >= 0.8 costs 0 + abstaining on the rest 0+1+1 (auto truths) ... lowest total: 0.8
    assert policy.answer == pytest.approx(0.8)
    assert (policy.switch, policy.veto, policy.unlock) == (NEVER, NEVER, NEVER)


def test_grouped_folds_never_straddle_groups() -> None:
    groups = [f"g{i % 17}" for i in range(200)] + ["big"] * 40
    folds = training.grouped_folds(groups, 5, seed=3)
    by_group: dict[str, set[int]] = {}
    for group, fold in zip(groups, folds, strict=True):
        by_group.setdefault(group, set()).add(int(fold))
    assert all(len(f) == 1 for f in by_group.values())
    assert set(folds.tolist()) == set(range(5))
    assert np.array_equal(folds, training.grouped_folds(groups, 5, seed=3))


def test_group_of_sources() -> None:
    assert group_of("https://github.com/apache/spark/pull/123") == "github:apache/spark"
    assert (
        group_of("https://docs.aws.amazon.com/glue/latest/dg/x.html#y")
        == "docs:docs.aws.amazon.com/glue/latest/dg/x.html"
    )
    assert group_of("https://www.repost.aws/questions/Q1") == "www.repost.aws/questions/Q1"
    assert group_of("human:inc-42") == "human:inc-42"


def test_human_answers_parse_and_count_in_training(tmp_path: Path) -> None:
    line = json.dumps(
        {"message": "ERROR weird vendor failure 7", "category": "throttling", "source": "human:inc-9"}
    )
    [example] = parse_lines([line])
    assert example.group == "human:inc-9"
    items = training.inspect_examples(
        [*toy_examples(), example], Classifier(model=None, structured=False), 3.0
    )
    assert items[-1].weight == 3.0 and items[0].weight == 1.0


def test_bootstrap_intervals_are_seeded_and_bracket_the_value() -> None:
    pairs = [(Category.THROTTLING, Category.THROTTLING)] * 30 + [
        (Category.CODE_ERROR, Category.THROTTLING)
    ] * 5
    groups = [f"g{i}" for i in range(35)]
    first = bootstrap_intervals(pairs, groups, rounds=300, seed=1)
    assert first == bootstrap_intervals(pairs, groups, rounds=300, seed=1)
    low, high = first["accuracy"]
    assert low <= 30 / 35 <= high
    assert first["unsafe_rate"] == (1.0, 1.0)
