from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.vocabulary import Action, Criticality

from selfheal.simulator.scenario import ScenarioError, load_scenario, parse_scenario, shipped_scenarios_dir


def test_defaults_are_applied() -> None:
    s = parse_scenario(
        {"name": "x", "jobs": [{"name": "a"}], "modes": [{"category": "throttling", "weight": 2}]}
    )
    assert (s.incidents, s.seed, s.detection_seconds, s.decision_seconds) == (2000, 0, 30.0, 5.0)
    assert (s.backoff_minutes, s.max_attempts, s.description) == (10.0, 3, "")
    assert (s.human.median_hours, s.human.p90_hours) == (20.0, 60.0)
    job = s.jobs[0]
    assert (job.criticality, job.runtime_minutes, job.weight, job.tables, job.schedule_hours) == (
        Criticality.MEDIUM,
        10.0,
        1.0,
        (),
        24.0,
    )
    mode = s.modes[0]
    assert (mode.jobs, mode.start, mode.until, dict(mode.fix), mode.harm) == (None, 0.0, 1.0, {}, frozenset())
    assert (mode.drift, mode.bad_record_fraction, mode.messages) == (None, None, None)


def _with(data: dict[str, Any], path: list[Any], value: Any, delete: bool = False) -> dict[str, Any]:
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "delete", "expected"),
    [
        (["surprise"], 1, False, "surprise: unknown key"),
        (["name"], None, True, "name: required key is missing"),
        (["jobs"], [], False, "jobs: must hold at least one item"),
        (["modes"], None, True, "modes: required key is missing"),
        (["incidents"], 0, False, "incidents: must be >= 1"),
        (["incidents"], 2.5, False, "incidents: expected an integer"),
        (["incidents"], True, False, "incidents: expected an integer"),
        (["max_attempts"], 0, False, "max_attempts: must be >= 1"),
        (["detection_seconds"], -1, False, "detection_seconds: must be >= 0"),
        (["human"], {"median_hours": 10, "p90_hours": 5}, False, "human.p90_hours: must be >="),
        (["human"], {"mean": 3}, False, "human.mean: unknown key"),
        (["jobs", 0, "criticality"], "urgent", False, "jobs[0].criticality"),
        (["jobs", 0, "runtime_minutes"], 0, False, "jobs[0].runtime_minutes: must be > 0"),
        (["jobs", 0, "tables"], ["no_dot"], False, "jobs[0].tables[0]: expected 'db.table'"),
        (["jobs", 0, "weight"], "1", False, "jobs[0].weight: expected a number"),
        (["modes", 0, "category"], "cosmic_ray", False, "modes[0].category"),
        (["modes", 0, "weight"], None, True, "modes[0].weight: required key is missing"),
        (["modes", 0, "fix"], {"retry": 1.5}, False, "modes[0].fix.retry: must be <= 1"),
        (["modes", 0, "fix"], {"reboot": 0.5}, False, "modes[0].fix.reboot"),
        (["modes", 0, "harm"], ["delete"], False, "modes[0].harm[0]"),
        (["modes", 0, "drift"], "column_added", False, "modes[0].drift"),
        (["modes", 0, "bad_record_fraction"], 2, False, "modes[0].bad_record_fraction: must be <= 1"),
        (["modes", 0, "jobs"], ["ghost"], False, 'modes[0].jobs[0]: "ghost" is not the name of a job'),
        (["modes", 0, "until"], 0.0, False, "modes[0].until: must be greater than from"),
        (["modes", 0, "messages"], [], False, "modes[0].messages: must hold at least one item"),
        (["modes", 0, "from"], 0.5, False, 'no mode applies to job "a" from 0'),
        # bounds the format leaves open: a run must end and every figure stay finite
        (["incidents"], 10**8, False, "incidents: must be <= 1,000,000"),
        (["max_attempts"], 10**8, False, "max_attempts: must be <= 100"),
        (["modes", 0, "weight"], 10**400, False, "modes[0].weight: expected a number, got 1000"),
        (["modes", 0, "weight"], 1e308, False, "modes[0].weight: must be <= 1e+09"),
        (["backoff_minutes"], 1e308, False, "backoff_minutes: must be <= 525600"),
        (["human"], {"median_hours": 1e300, "p90_hours": 1e308}, False, "human.median_hours: must be <="),
        (["jobs", 0, "schedule_hours"], 10**20, False, "jobs[0].schedule_hours: must be <= 8760"),
        (["description"], ["y" * 100_000], False, 'description: expected a string, got ["yyy'),
    ],
)
def test_invalid_files_are_rejected_naming_the_key(
    base: dict[str, Any], path: list[Any], value: Any, delete: bool, expected: str
) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(_with(base, path, value, delete))
    assert expected in str(error.value)


def test_an_error_shows_a_long_value_cut_short(base: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(_with(base, ["description"], ["y" * 100_000]))
    assert len(str(error.value)) < 200 and str(error.value).endswith("...")


@pytest.mark.parametrize("seed", [-1, -(2**70), 2**130])
def test_any_integer_is_a_seed(make_scenario: Any, seed: int) -> None:
    from selfheal.simulator.world import CachedClassifier, default_classifier, generate_incidents

    scenario = make_scenario(seed=seed)
    first = generate_incidents(scenario, 5, seed, CachedClassifier(default_classifier()))
    again = generate_incidents(scenario, 5, seed, CachedClassifier(default_classifier()))
    assert [i.message for i in first] == [i.message for i in again] and len(first) == 5


def test_duplicate_job_names_are_rejected(make_scenario: Any) -> None:
    with pytest.raises(ScenarioError, match=r"jobs\[1\].name: duplicate"):
        make_scenario(jobs=[{"name": "a"}, {"name": "a"}])


def test_load_names_the_file_and_json_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match=r"bad\.json: not valid JSON"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read it"):
        load_scenario(tmp_path / "missing.json")


@pytest.mark.parametrize("path", sorted(shipped_scenarios_dir().glob("*.json")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path: Path) -> None:
    s = load_scenario(path)
    assert s.name == path.stem == json.loads(path.read_text())["name"]
    assert any(m.fix for m in s.modes)


def test_fix_keys_become_actions(make_scenario: Any) -> None:
    s = make_scenario(
        modes=[{"category": "throttling", "weight": 1, "fix": {"backoff_retry": 0.8}, "harm": ["retry"]}]
    )
    assert s.modes[0].fix == {Action.BACKOFF_RETRY: 0.8}
    assert s.modes[0].harm == frozenset({Action.RETRY})
