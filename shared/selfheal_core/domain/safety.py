"""The safety gate: fixed rules outside the policy that can only make a proposal safer.

Each rule is a pure predicate with a name; the gate replaces a forbidden proposal by ``escalate`` and
records the name of the first rule that fired. The same rules produce the action mask the learner
explores within, so the mask and the veto can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from selfheal_core.domain.autonomy import Autonomy, AutonomyPolicy
from selfheal_core.domain.context import DecisionContext, Risk
from selfheal_core.vocabulary import ACTIONS, HUMAN_ONLY_CATEGORIES, Action, Category, Criticality

# Changing the catalog or diverting records is never "low risk": those are for a human on critical jobs.
LOW_RISK_ACTIONS: frozenset[Action] = frozenset(
    {Action.RETRY, Action.BACKOFF_RETRY, Action.LOG_AND_WAIT, Action.ESCALATE}
)
RERUN_ACTIONS: frozenset[Action] = frozenset({Action.RETRY, Action.BACKOFF_RETRY})
CAUSE_FROM_FACTS_RULE = "cause_from_facts"


class Mode:
    AUTO = "auto"
    SHADOW = "shadow"


@dataclass(frozen=True)
class SafetySettings:
    """Configuration of the gate. Defaults are the conservative production defaults."""

    max_attempts: int = 3
    max_quarantine_fraction: float = 0.10
    # Above this fraction, re-running on the same input only reloads the bad records.
    max_rerun_bad_fraction: float = 0.01
    min_confidence: float = 0.5
    kill_switch: bool = False
    mode: str = Mode.AUTO
    # Per category/action/job autonomy levels (the settings parameter's ``autonomy``).
    autonomy: AutonomyPolicy = field(default_factory=AutonomyPolicy)
    # Whether someone can be asked: with it, a soft rule or an ``approve`` level holds the action for a
    # human's approval; without it (the simulator, a stack with no approval wait) both escalate.
    ask_approval: bool = False
    # Whether a category only the facts named (rule ``cause_from_facts``) may be put to a human for approval.
    # Off: the lead is in the escalation, and nothing it suggests runs. On: it is asked like a soft rule.
    approve_causes_from_facts: bool = False

    def soft_rules(self) -> frozenset[str]:
        """The rules a human's approval may overrule under these settings."""
        return SOFT_RULES | ({CAUSE_FROM_FACTS_RULE} if self.approve_causes_from_facts else frozenset())

    def policy(self) -> AutonomyPolicy:
        """The autonomy policy, with the old ``mode: shadow`` as the default level."""
        if self.mode == Mode.SHADOW:
            return AutonomyPolicy(self.autonomy.rules, Autonomy.SHADOW)
        return self.autonomy


@dataclass(frozen=True)
class GateDecision:
    proposed: Action
    action: Action
    rules_fired: tuple[str, ...]
    shadow: bool = False
    # Non-empty: ``action`` may run only after a human approves; the soft rules and/or autonomy level
    # that asked.
    approval: tuple[str, ...] = ()
    autonomy: str = Autonomy.AUTO.value

    @property
    def vetoed(self) -> bool:
        return self.action != self.proposed

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval)


Rule = Callable[[Action, DecisionContext, SafetySettings], bool]


def _kill_switch(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: while the kill switch is on, nothing is automated."""
    return s.kill_switch


def _attempt_budget(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: at most ``max_attempts`` automated attempts per incident."""
    return ctx.attempt > s.max_attempts


def _human_only_category(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: permission, code and unknown failures are never remediated automatically."""
    return ctx.category in HUMAN_ONLY_CATEGORIES


def _low_confidence(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: no automated action on a diagnosis the classifier itself doubts."""
    return not ctx.confidence >= s.min_confidence  # written so that a NaN confidence fires it


def _rollback_needs_drift(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: a catalog rollback needs drift evidence and a baseline version to go back to."""
    return action is Action.ROLLBACK and not (ctx.drift and ctx.rollback_available)


def _measured(fraction: float | None) -> float | None:
    """The bad-record fraction if it is a measurement; NaN or a negative value is none (a NaN compares
    false with every threshold, so it would otherwise pass them all)."""
    if fraction is None or math.isnan(fraction) or fraction < 0.0:
        return None
    return fraction


def _quarantine_fraction(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: quarantine only a measured, small fraction of bad records."""
    if action is not Action.QUARANTINE:
        return False
    fraction = _measured(ctx.bad_record_fraction)
    return fraction is None or fraction <= 0.0 or fraction > s.max_quarantine_fraction


def _quarantine_needs_capable_job(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: quarantine only jobs that declare they set bad records aside (tag selfheal:quarantine)."""
    return action is Action.QUARANTINE and not ctx.quarantine_capable


def _no_rerun_on_bad_records(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: do not re-run a job over input known to hold bad records (it would load them downstream),
    nor over a data-quality failure whose share of bad records nobody measured."""
    if action not in RERUN_ACTIONS:
        return False
    fraction = _measured(ctx.bad_record_fraction)
    if fraction is None:
        return ctx.category is Category.DATA_QUALITY
    return fraction > s.max_rerun_bad_fraction


def _critical_jobs_low_risk_only(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: on high/critical jobs (or in a high-risk window) only low-risk actions run unattended."""
    high = ctx.criticality in (Criticality.HIGH, Criticality.CRITICAL) or ctx.risk == Risk.HIGH
    return high and action not in LOW_RISK_ACTIONS


def _cause_from_facts(action: Action, ctx: DecisionContext, s: SafetySettings) -> bool:
    """Rule: a category that only the facts named (the text named none) is a lead, not a diagnosis: the
    action it leads to never runs unattended (with ``approve_causes_from_facts``, a human may approve it)."""
    return ctx.cause_from_facts


# Order matters only for which name is recorded first; every rule that fires is recorded.
RULES: tuple[tuple[str, Rule], ...] = (
    ("kill_switch", _kill_switch),
    ("attempt_budget", _attempt_budget),
    ("human_only_category", _human_only_category),
    ("low_confidence", _low_confidence),
    ("rollback_requires_drift", _rollback_needs_drift),
    ("quarantine_fraction_limit", _quarantine_fraction),
    ("quarantine_needs_capable_job", _quarantine_needs_capable_job),
    ("no_rerun_on_bad_records", _no_rerun_on_bad_records),
    (CAUSE_FROM_FACTS_RULE, _cause_from_facts),
    ("critical_job_low_risk_only", _critical_jobs_low_risk_only),
)
RULE_NAMES: tuple[str, ...] = tuple(name for name, _ in RULES)
# Rules a human's approval may overrule (when someone can be asked); every other rule is hard: no
# approval ever unlocks what it forbids.
# ``cause_from_facts`` joins them when the settings allow it (SafetySettings.soft_rules).
SOFT_RULES: frozenset[str] = frozenset({"critical_job_low_risk_only"})
APPROVE_LEVEL = "autonomy:approve"
SHADOW_LEVEL = "autonomy:shadow"


class SafetyGate:
    """Reviews proposals. ``escalate`` always passes: asking a human is never unsafe."""

    def __init__(self, settings: SafetySettings | None = None) -> None:
        self.settings = settings or SafetySettings()

    def violations(self, action: Action, ctx: DecisionContext) -> tuple[str, ...]:
        if action is Action.ESCALATE:
            return ()
        return tuple(name for name, rule in RULES if rule(action, ctx, self.settings))

    def blocking(self, action: Action, ctx: DecisionContext) -> tuple[str, ...]:
        """The rules that forbid ``action`` outright: every rule, or only the hard ones when a human can
        be asked to approve what a soft rule holds back."""
        fired = self.violations(action, ctx)
        if self.settings.ask_approval:
            soft = self.settings.soft_rules()
            return tuple(rule for rule in fired if rule not in soft)
        return fired

    def mask_reasons(self, ctx: DecisionContext) -> dict[Action, tuple[str, ...]]:
        """For each action the gate forbids here, the rules that forbid it."""
        reasons = {a: self.blocking(a, ctx) for a in ACTIONS}
        return {a: fired for a, fired in reasons.items() if fired}

    def constraints(self, ctx: DecisionContext, expected: Action) -> tuple[str, ...]:
        """The rules that kept the expected fix, or every automated action, off the table: what a human
        reading the incident wants to know when selfheal did less than they expected."""
        reasons = self.mask_reasons(ctx)
        blocking = list(reasons.get(expected, ()))
        automated = [reasons.get(a, ()) for a in ACTIONS if a is not Action.ESCALATE]
        if all(automated):
            common = set(automated[0]).intersection(*map(set, automated[1:]))
            blocking.extend(rule for rule in RULE_NAMES if rule in common)
        return tuple(dict.fromkeys(blocking))

    def allowed_actions(self, ctx: DecisionContext) -> tuple[Action, ...]:
        """The mask: actions this gate would let through, in vocabulary order (never empty)."""
        return tuple(a for a in ACTIONS if not self.blocking(a, ctx))

    def level(self, proposed: Action, ctx: DecisionContext) -> Autonomy:
        """The autonomy level for this proposal (a tag rule matches the job's ``criticality`` tag)."""
        tags = {"criticality": ctx.criticality.value}
        return self.settings.policy().level_for(ctx.category.value, proposed.value, ctx.job_name, tags)

    def review(self, proposed: Action, ctx: DecisionContext) -> GateDecision:
        fired = self.violations(proposed, ctx)
        level = self.level(proposed, ctx)
        if level is Autonomy.SHADOW:
            # Shadow: every proposal is recorded, nothing is executed, and a human is told instead.
            why = "shadow_mode" if self.settings.mode == Mode.SHADOW else SHADOW_LEVEL
            stopped = () if proposed is Action.ESCALATE else (why,)
            return GateDecision(proposed, Action.ESCALATE, (*fired, *stopped), shadow=True, autonomy=level)
        blocking = self.blocking(proposed, ctx)
        if blocking:
            return GateDecision(proposed, Action.ESCALATE, fired, autonomy=level)
        if proposed is Action.ESCALATE:
            return GateDecision(proposed, proposed, (), autonomy=level)
        asking = [rule for rule in fired if rule in self.settings.soft_rules()]
        if level is Autonomy.APPROVE:
            asking.append(APPROVE_LEVEL)
        if asking and not self.settings.ask_approval:
            return GateDecision(proposed, Action.ESCALATE, tuple(asking), autonomy=level)
        return GateDecision(proposed, proposed, (), approval=tuple(asking), autonomy=level)
