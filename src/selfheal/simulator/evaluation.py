"""Replay one incident stream against every policy and measure them (the spec's ``evaluate``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from selfheal_core.domain.diagnosis import Classify

from selfheal.simulator.engine import Engine, IncidentResult, InProcessEngine
from selfheal.simulator.metrics import final_start, summarize
from selfheal.simulator.policies import LearnedPolicy, Policy, make_policies
from selfheal.simulator.scenario import Scenario
from selfheal.simulator.world import CachedClassifier, Incident, default_classifier, generate_incidents

SPEC_POLICIES: tuple[str, ...] = ("manual", "glue_retries", "backoff_retries", "rules", "learned", "oracle")
FINAL_POLICIES: tuple[str, ...] = ("learned", "rules", "oracle")
# The key order of the spec's ``policies`` object.
SPEC_KEYS: tuple[str, ...] = (
    "manual",
    "glue_retries",
    "backoff_retries",
    "rules",
    "learned",
    "learned_final",
    "rules_final",
    "oracle",
    "oracle_final",
)
# With approvals, the gated policies are run a second time on the same stream with approvals off (a
# held action goes to a human fix, as before approvals existed): ``<policy>_without_approvals``.
WITHOUT_APPROVALS = "_without_approvals"
# ... and these of them are in the JSON too (further policies, as the spec allows).
APPROVAL_JSON_POLICIES: tuple[str, ...] = ("rules", "learned")

Progress = Callable[[str, int, int], None]  # (policy, done, total)


@dataclass
class Evaluation:
    scenario: Scenario
    incidents: int
    seed: int
    stream: list[Incident]
    results: dict[str, list[IncidentResult]] = field(default_factory=dict)
    learned: LearnedPolicy | None = None

    def metrics(self, name: str, final: bool = False) -> dict[str, Any]:
        results = self.results[name]
        return summarize(results[final_start(len(results)) :] if final else results)

    def spec_json(self) -> dict[str, Any]:
        """Exactly the spec's object."""
        policies: dict[str, Any] = {}
        for key in SPEC_KEYS:
            policies[key] = self.metrics(key.removesuffix("_final"), final=key.endswith("_final"))
        for name in APPROVAL_JSON_POLICIES:
            if name + WITHOUT_APPROVALS in self.results:
                policies[name + WITHOUT_APPROVALS] = self.metrics(name + WITHOUT_APPROVALS)
        return {
            "scenario": self.scenario.name,
            "incidents": self.incidents,
            "seed": self.seed,
            "policies": policies,
        }

    def approval_comparison(self) -> list[str]:
        """The policies run both with and without approvals (empty when the scenario has none)."""
        return [n for n in self.results if n + WITHOUT_APPROVALS in self.results]

    def gate_forbidden(self, name: str = "oracle", final: bool = False) -> tuple[int, int]:
        """(incidents where the gate would have forbidden one of the policy's actions, incidents)."""
        results = self.results[name]
        if final:
            results = results[final_start(len(results)) :]
        return sum(1 for r in results if r.gate_forbidden), len(results)


def evaluate(
    scenario: Scenario,
    incidents: int | None = None,
    seed: int | None = None,
    *,
    classify: Classify | None = None,
    engine: Engine | None = None,
    policies: list[Policy] | None = None,
    with_gated_oracle: bool = False,
    progress: Progress | None = None,
    perfect_diagnosis: bool = False,
    compare_approvals: bool = True,
) -> Evaluation:
    """With approvals in the scenario (and ``compare_approvals``, and the default policies), the gated
    policies also run without approvals on the same stream, in-process (``*_without_approvals``)."""
    n = scenario.incidents if incidents is None else incidents
    s = scenario.seed if seed is None else seed
    classifier = CachedClassifier(classify or default_classifier())
    stream = generate_incidents(scenario, n, s, classifier, perfect_diagnosis=perfect_diagnosis)
    engine = engine or InProcessEngine(scenario)
    chosen = (
        policies if policies is not None else make_policies(scenario, s, with_gated_oracle=with_gated_oracle)
    )
    evaluation = Evaluation(scenario=scenario, incidents=n, seed=s, stream=stream)
    runs: list[tuple[str, Engine, Policy]] = [(policy.name, engine, policy) for policy in chosen]
    if scenario.active_approvals is not None and compare_approvals and policies is None:
        without = dataclasses.replace(scenario, approvals=None)
        by_hand = InProcessEngine(without)
        runs.extend(
            (policy.name + WITHOUT_APPROVALS, by_hand, policy)
            for policy in make_policies(without, s, with_gated_oracle=with_gated_oracle)
            if policy.gated
        )
    step = max(1, n // 100)
    for name, runner, policy in runs:
        results = []
        for incident in stream:
            results.append(runner.run_incident(incident, policy))
            if progress is not None and (incident.index + 1) % step == 0:
                progress(name, incident.index + 1, n)
        if progress is not None:
            progress(name, n, n)
        evaluation.results[name] = results
        if isinstance(policy, LearnedPolicy) and runner is engine:
            evaluation.learned = policy
    return evaluation
