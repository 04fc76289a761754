"""Approve-then-execute in the simulator: the scenario's ``approvals`` object, the answer drawn with
common random numbers, assisted (not automated) resolution, and no change at all without approvals."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from selfheal_core.domain.answers import parse_answer
from selfheal_core.vocabulary import Action

from selfheal.simulator.engine import IncidentResult, InProcessEngine, approval_answer
from selfheal.simulator.evaluation import WITHOUT_APPROVALS, evaluate
from selfheal.simulator.policies import LearnedPolicy, OraclePolicy, Policy, RulesPolicy, oracle_plan
from selfheal.simulator.scenario import (
    ApprovalsSpec,
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenarios_dir,
)
from selfheal.simulator.world import generate_incidents

PINNED = Path(__file__).parent / "data" / "shipped_results_pinned.json"
DRIFT = "schema_drift: cannot resolve column"

# One critical job whose schema drifts: the rulebook's rollback is held by critical_job_low_risk_only.
HELD: dict[str, Any] = {
    "name": "held",
    "incidents": 60,
    "detection_seconds": 30,
    "decision_seconds": 6,
    "human": {"median_hours": 10, "p90_hours": 30},
    "jobs": [{"name": "ledger", "criticality": "critical", "runtime_minutes": 20, "tables": ["fin.ledger"]}],
    "modes": [
        {
            "category": "schema_drift",
            "weight": 1,
            "drift": "column_removed",
            "fix": {"rollback": 1.0},
            "messages": [DRIFT],
        }
    ],
    "approvals": {"median_minutes": 30, "p90_minutes": 240, "approve_probability": 1.0},
}


def greedy(scenario: Any) -> LearnedPolicy:
    """The learner without exploration (it would sometimes try a retry instead of the held rollback)."""
    return LearnedPolicy(scenario, 0, explore=False, learning=False)


def held(**approvals: Any) -> Any:
    data = copy.deepcopy(HELD)
    data["approvals"].update(approvals)
    return parse_scenario(data)


def run(scenario: Any, policy: Policy, classify: Any, n: int | None = None) -> list[IncidentResult]:
    engine = InProcessEngine(scenario)
    stream = generate_incidents(scenario, n or scenario.incidents, 0, classify)
    results = [engine.run_incident(i, policy) for i in stream]
    assert engine.anomalies == []
    return results


# -- the scenario format ----------------------------------------------------------------------------------
def test_approvals_defaults_apply_when_the_object_is_present(base: dict[str, Any]) -> None:
    s = parse_scenario({**base, "approvals": {}})
    assert s.approvals == ApprovalsSpec(True, 30.0, 240.0, 0.9)
    assert s.active_approvals == s.approvals
    assert s.approvals.sigma == pytest.approx(math.log(8) / 1.2816)
    assert s.approvals.answer_minutes(0.0) == pytest.approx(30.0)
    assert s.approvals.answer_minutes(1.2816) == pytest.approx(240.0)
    assert s.approvals.mean_minutes == pytest.approx(30.0 * math.exp(s.approvals.sigma**2 / 2))


def test_a_file_without_approvals_or_with_them_disabled_has_none(base: dict[str, Any]) -> None:
    assert parse_scenario(base).approvals is None
    off = parse_scenario({**base, "approvals": {"enabled": False, "median_minutes": 5}})
    assert off.approvals is not None and off.approvals.median_minutes == 5.0
    assert off.active_approvals is None


def test_every_approvals_key_is_read(base: dict[str, Any]) -> None:
    values = {"enabled": True, "median_minutes": 12, "p90_minutes": 60.5, "approve_probability": 0.25}
    assert parse_scenario({**base, "approvals": values}).approvals == ApprovalsSpec(True, 12.0, 60.5, 0.25)


@pytest.mark.parametrize(
    ("approvals", "message"),
    [
        ([], "approvals: expected an object, got list"),
        (None, "approvals: expected an object, got NoneType"),
        ({"enable": True}, "approvals.enable: unknown key (allowed: enabled, median_minutes, p90_minutes"),
        ({"enabled": "yes"}, 'approvals.enabled: expected true or false, got "yes"'),
        ({"enabled": 1}, "approvals.enabled: expected true or false, got 1"),
        ({"median_minutes": 0}, "approvals.median_minutes: must be > 0, got 0"),
        ({"median_minutes": "30"}, 'approvals.median_minutes: expected a number, got "30"'),
        ({"p90_minutes": -1}, "approvals.p90_minutes: must be > 0, got -1"),
        (
            {"median_minutes": 60, "p90_minutes": 30},
            "approvals.p90_minutes: must be >= approvals.median_minutes (60), got 30",
        ),
        ({"approve_probability": 1.5}, "approvals.approve_probability: must be <= 1, got 1.5"),
        ({"approve_probability": -0.1}, "approvals.approve_probability: must be >= 0, got -0.1"),
        ({"approve_probability": True}, "approvals.approve_probability: expected a number, got true"),
    ],
)
def test_bad_approvals_are_clear_errors(base: dict[str, Any], approvals: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario({**base, "approvals": approvals})
    assert str(error.value) == message or str(error.value).startswith(message)


def test_the_shipped_approvals_scenario_is_valid_and_half_its_jobs_are_high_or_critical() -> None:
    s = load_scenario(shipped_scenarios_dir() / "approvals.json")
    assert s.active_approvals is not None
    high = [j for j in s.jobs if j.criticality.value in ("high", "critical")]
    assert len(high) * 2 == len(s.jobs)


# -- no approvals: nothing changes --------------------------------------------------------------------------
def test_the_shipped_scenarios_results_are_unchanged() -> None:
    """Pinned from integration cb1ead4, before approvals existed (300 incidents, seed 0, perfect diagnosis
    so that a change of the classifier does not move it): every metric of every policy is the same, and
    assisted_resolution is 0. Regenerate only for a deliberate change of the policies' behaviour."""
    pinned = json.loads(PINNED.read_text())
    for name, expected in pinned.items():
        scenario = load_scenario(shipped_scenarios_dir() / f"{name}.json")
        assert scenario.approvals is None
        got = evaluate(scenario, 300, 0, perfect_diagnosis=True).spec_json()
        assert set(got["policies"]) == set(expected["policies"])
        for policy, metrics in got["policies"].items():
            assert metrics.pop("assisted_resolution") == 0, (name, policy)
        assert json.loads(json.dumps(got)) == expected, name


def test_disabled_approvals_give_the_same_results_as_none(classify: Any) -> None:
    off = held(enabled=False)
    none = replace(off, approvals=None)
    for make in (lambda s: RulesPolicy(s, 0), lambda s: OraclePolicy(s, gated=True)):
        assert run(off, make(off), classify) == run(none, make(none), classify)


# -- assisted versus automated ------------------------------------------------------------------------------
def test_an_approved_fix_counts_as_assisted_and_its_time_includes_the_wait(classify: Any) -> None:
    s = held(approve_probability=1.0)
    stream = generate_incidents(s, s.incidents, 0, classify)
    for policy in (RulesPolicy(s, 0), greedy(s), OraclePolicy(s, gated=True)):
        results = run(s, policy, classify)
        for incident, r in zip(stream, results, strict=True):
            answer, approved = incident.approval(s.approvals, 1)
            assert approved
            assert (r.assisted, r.automated, r.escalated, r.blocked) == (True, False, False, 0), policy.name
            assert (r.approval_requests, r.approvals_granted, r.actions, r.human_hours) == (1, 1, 1, 0.0)
            expected = 0.5 + 0.1 + answer + 1.0 + 20.0  # detection, decision, answer, rollback, run
            assert r.minutes == pytest.approx(expected) and r.approval_minutes == pytest.approx(answer)
    m = evaluate(s, 60, 0, classify=classify, compare_approvals=False).metrics("rules")
    assert (m["assisted_resolution"], m["automated_resolution"], m["non_escalation"]) == (1.0, 0.0, 1.0)
    assert m["mttr_auto_minutes"] is None  # nothing resolved without a human's yes


def test_a_rejection_goes_to_a_human_fix_after_the_wait(classify: Any) -> None:
    s = held(approve_probability=0.0)
    stream = generate_incidents(s, s.incidents, 0, classify)
    for policy in (RulesPolicy(s, 0), greedy(s)):
        for incident, r in zip(stream, run(s, policy, classify), strict=True):
            answer, _ = incident.approval(s.approvals, 1)
            human = incident.human_hours(s)
            assert (r.assisted, r.automated, r.escalated, r.actions, r.wasted_runs) == (
                False,
                False,
                True,
                0,
                0,
            )
            assert (r.approval_requests, r.approvals_granted) == (1, 0)
            assert r.human_hours == pytest.approx(human)
            assert r.minutes == pytest.approx(0.5 + 0.1 + answer + human * 60.0)


def test_without_approvals_the_held_fix_is_vetoed_and_a_human_fixes_it(classify: Any) -> None:
    s = replace(held(), approvals=None)
    stream = generate_incidents(s, s.incidents, 0, classify)
    for incident, r in zip(stream, run(s, RulesPolicy(s, 0), classify), strict=True):
        assert (r.assisted, r.automated, r.escalated, r.blocked, r.approval_requests) == (
            False,
            False,
            True,
            1,
            0,
        )
        assert r.minutes == pytest.approx(0.5 + 0.1 + incident.human_hours(s) * 60.0)


def test_an_approved_harmful_action_is_harm_not_assistance(classify: Any) -> None:
    data = copy.deepcopy(HELD)
    data["modes"][0].update(fix={}, harm=["rollback"])
    s = parse_scenario(data)
    results = run(s, RulesPolicy(s, 0), classify)
    assert all(r.harmful == 1 and not r.assisted and r.escalated for r in results)


def test_a_fix_after_an_approved_action_failed_is_automated(classify: Any) -> None:
    """Only the fix that held decides: an approved rollback that fails, then a retry that works, is an
    automated resolution (the retry needed nobody)."""
    data = copy.deepcopy(HELD)
    data["modes"][0].update(fix={"rollback": 0.0, "retry": 1.0})
    s = parse_scenario(data)

    class RollbackThenRetry(Policy):
        name = "rollback_then_retry"

        def choose(self, step: Any) -> Action:
            return Action.ROLLBACK if step.attempt == 1 else Action.RETRY

    for r in run(s, RollbackThenRetry(), classify):
        assert (r.automated, r.assisted, r.approval_requests, r.wasted_runs) == (True, False, 1, 1)


# -- common random numbers ----------------------------------------------------------------------------------
def test_every_policy_meets_the_same_human_answer(classify: Any) -> None:
    s = held(approve_probability=0.5)
    stream = generate_incidents(s, s.incidents, 0, classify)
    by_policy = {
        p.name: run(s, p, classify) for p in (RulesPolicy(s, 0), greedy(s), OraclePolicy(s, gated=True))
    }
    verdicts = {name: [r.assisted for r in results] for name, results in by_policy.items()}
    waits = {name: [r.approval_minutes for r in results] for name, results in by_policy.items()}
    assert len({tuple(v) for v in verdicts.values()}) == 1
    assert 0 < sum(verdicts["rules"]) < len(stream)  # both answers occur
    assert len({tuple(w) for w in waits.values()}) == 1
    assert [r.approval_minutes for r in by_policy["rules"]] == [
        pytest.approx(i.approval(s.approvals, 1)[0]) for i in stream
    ]


def test_answer_draws_leave_the_other_draws_as_they_were(classify: Any) -> None:
    with_approvals = held()
    without = replace(with_approvals, approvals=None)
    a = generate_incidents(with_approvals, 40, 3, classify)
    b = generate_incidents(without, 40, 3, classify)
    for x, y in zip(a, b, strict=True):
        assert (x.luck == y.luck).all() and x.human_z == y.human_z
        assert (x.answer_z == y.answer_z).all() and (x.answer_u == y.answer_u).all()
    assert len({float(i.answer_z[0]) for i in a}) == len(a)  # one draw per incident


# -- the oracle restricted to the gate ----------------------------------------------------------------------
def test_the_gated_oracle_prices_the_answer_and_the_rejection(classify: Any) -> None:
    s = held(approve_probability=0.9)
    incident = generate_incidents(s, 1, 0, classify)[0]
    allowed = (Action.ROLLBACK, Action.ESCALATE)
    action, cost = oracle_plan(s, incident.mode, incident.job, allowed, 3, (Action.ROLLBACK,))
    human = s.human.mean_hours * 60.0
    expected = 0.1 + s.approvals.mean_minutes + 0.9 * (1.0 + 20.0) + 0.1 * human
    assert action is Action.ROLLBACK and cost == pytest.approx(expected)
    never = held(approve_probability=0.0)
    assert (
        oracle_plan(never, incident.mode, incident.job, allowed, 3, (Action.ROLLBACK,))[0] is Action.ESCALATE
    )


# -- evaluate ---------------------------------------------------------------------------------------------
def test_evaluate_compares_each_gated_policy_with_and_without_approvals(classify: Any) -> None:
    s = held(approve_probability=0.8)
    e = evaluate(s, 60, 0, classify=classify, with_gated_oracle=True)
    assert e.approval_comparison() == ["rules", "learned", "oracle_gated"]
    policies = e.spec_json()["policies"]
    assert {"rules" + WITHOUT_APPROVALS, "learned" + WITHOUT_APPROVALS} <= set(policies)
    assert "oracle_gated" + WITHOUT_APPROVALS not in policies  # human output only, like oracle_gated
    with_, without = policies["rules"], policies["rules" + WITHOUT_APPROVALS]
    assert with_["assisted_resolution"] > 0.5 and without["assisted_resolution"] == 0
    assert without["blocked_by_safety"] == 60 and with_["blocked_by_safety"] == 0
    assert with_["mttr_minutes"] < without["mttr_minutes"]
    # The same stream, so the same incidents were held: every one was asked about once.
    assert sum(r.approval_requests for r in e.results["rules"]) == 60
    none = evaluate(replace(s, approvals=None), 60, 0, classify=classify, with_gated_oracle=True)
    assert none.approval_comparison() == []
    assert e.results["rules" + WITHOUT_APPROVALS] == none.results["rules"]


def test_the_in_process_engine_records_the_deployed_approval_path(classify: Any) -> None:
    """Escalate (the request) → answer_requested → answered (the world's draw) → Execute on approve, or
    straight to Learn on reject, as the state machine does; Learn then sees the approval, not a hold."""
    s = held(approve_probability=0.5)
    assert s.approvals is not None
    engine, policy = InProcessEngine(s), RulesPolicy(s, 0)
    seen: set[str] = set()
    for incident in generate_incidents(s, 30, 0, classify):
        state = engine.run_deployed(incident, policy)
        asked = [a for a in state.attempts if a.needs_approval]
        if not asked:
            continue
        kinds = [r.event.kind for r in policy.store.load(state.incident_id)]
        start = kinds.index("gated") + 1
        decision = "approve" if incident.approval(s.approvals, 1)[1] else "reject"
        assert asked[0].approval_answer == decision
        after = "executed" if decision == "approve" else "learned"
        assert kinds[start : start + 5] == ["escalated", "notified", "answer_requested", "answered", after]
        assert state.learned and state.assisted == (decision == "approve")  # the rollback always fixes it
        seen.add(decision)
    assert seen == {"approve", "reject"}
    assert engine.anomalies == []


def test_the_simulated_answers_are_ones_the_deployed_check_answer_accepts() -> None:
    approve = parse_answer(approval_answer(True, harmed=False), "approval")
    reject = parse_answer(approval_answer(False, harmed=True), "approval")
    assert (approve.decision, approve.harmful) == ("approve", False)
    assert (reject.decision, reject.harmful) == ("reject", True)


def _main(argv: list[str]) -> int:
    import argparse

    from selfheal import cli
    from selfheal.commands import evaluate as evaluate_command

    parser = argparse.ArgumentParser(prog="selfheal")
    evaluate_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except cli.UsageError as error:
        print(f"selfheal {args.command}: error: {error}", file=__import__("sys").stderr)
        return 2


def test_evaluate_shows_the_approval_comparison(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    assert (
        _main(["evaluate", "--scenario", "approvals", "--incidents", "150", "--out", str(tmp_path / "r")])
        == 0
    )
    out = capsys.readouterr().out
    assert "approve-then-execute vs" in out and "escalate-and-fix-by-hand" in out
    assert "no hand fix, with approvals (%)" in out and "assisted" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    page = (tmp_path / "r" / "index.html").read_text()
    assert "approvals.png" in page and "of which assisted (%)" in page and "assisted (%)" in page
    assert (tmp_path / "r" / "approvals.png").stat().st_size > 0
    assert _main(["evaluate", "--scenario", "approvals", "--incidents", "150", "--json"]) == 0
    policies = json.loads(capsys.readouterr().out)["policies"]
    assert policies["rules"]["assisted_resolution"] > 0
    assert policies["rules_without_approvals"]["assisted_resolution"] == 0


def test_the_deployed_steps_and_the_direct_path_agree_on_approvals() -> None:
    """``rules`` runs through the deployed Propose, SafetyGate, Escalate and Learn steps; the same
    rulebook as a plain gated policy runs on the engine's direct path. Same stream, same answers: the
    same per-incident results, approvals included."""
    from selfheal_core.domain.rules import rule_action

    from selfheal.simulator.world import CachedClassifier, default_classifier

    class Rulebook(Policy):
        name = "rulebook"

        def choose(self, step: Any) -> Action:
            return rule_action(step.ctx)

    s = load_scenario(shipped_scenarios_dir() / "approvals.json")
    stream = generate_incidents(s, 300, 0, CachedClassifier(default_classifier()))
    engine = InProcessEngine(s)
    deployed = [engine.run_incident(i, RulesPolicy(s, 0)) for i in stream]
    direct = [engine.run_incident(i, Rulebook()) for i in stream]
    assert engine.anomalies == []
    assert deployed == direct
    assert sum(r.assisted for r in deployed) > 0 and sum(r.approval_requests for r in deployed) > sum(
        r.assisted for r in deployed
    )


def test_one_approval_per_incident_on_both_paths(classify: Any) -> None:
    """As the deployed gate: once an incident has had an approval, a later action that would need one is
    escalated (a veto), on the direct path and in ``decisions.review`` the deployed SafetyGate runs."""
    from selfheal_core.domain import decisions
    from selfheal_core.domain.events import (
        Diagnosed,
        Executed,
        Gated,
        IncidentEvent,
        Opened,
        Proposed,
        Validated,
    )
    from selfheal_core.domain.incident import fold

    from selfheal.simulator.engine import safety_settings

    data = copy.deepcopy(HELD)
    data["modes"][0]["fix"] = {"rollback": 0.0}
    s = parse_scenario(data)

    class AlwaysRollback(Policy):
        name = "always_rollback"

        def choose(self, step: Any) -> Action:
            return Action.ROLLBACK

    for r in run(s, AlwaysRollback(), classify):
        assert (r.approval_requests, r.approvals_granted, r.wasted_runs, r.blocked) == (1, 1, 1, 1)
        assert r.escalated and not r.assisted

    incident = generate_incidents(s, 1, 0, classify)[0]
    held_rules = ("critical_job_low_risk_only",)
    log = [
        Opened("ledger", "jr_1"),
        Diagnosed(incident.diagnosis),
        Proposed(1, Action.ROLLBACK),
        Gated(1, Action.ROLLBACK, Action.ROLLBACK, (), approval=held_rules),
        Executed(1, Action.ROLLBACK, "jr_1-1", awaiting_run=True),
        Validated(1, "jr_1-1", "FAILED", final=True, fixed=False),
        Proposed(2, Action.ROLLBACK),
    ]
    state = fold(IncidentEvent("inc", seq, "", event) for seq, event in enumerate(log))
    assert state.current_attempt is not None
    second = decisions.review(state.current_attempt, state, safety_settings(s), 600.0)
    assert (second.action, second.approval, second.rules_fired) == (Action.ESCALATE, (), held_rules)
    first = fold(IncidentEvent("inc", seq, "", event) for seq, event in enumerate(log[:3]))
    assert first.current_attempt is not None
    assert decisions.review(first.current_attempt, first, safety_settings(s), 600.0).approval == held_rules
