"""Autonomy levels: how far selfheal may go on its own, per category, action and job.

``shadow`` proposes and records, ``approve`` asks a human and executes only on their approval, ``auto``
executes. The levels live in the settings parameter (key ``autonomy``) so an operator changes them
without a deployment. They sit under the safety gate's hard rules: a level can only hold back an action
the rules allow, never let through one they forbid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from selfheal_core.errors import ConfigurationError

WILDCARD = "*"


class Autonomy(StrEnum):
    SHADOW = "shadow"
    APPROVE = "approve"
    AUTO = "auto"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: Any) -> Autonomy:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ConfigurationError(
                f"autonomy level must be one of shadow, approve, auto; got {value!r}"
            ) from None


_RANK = {Autonomy.SHADOW: 0, Autonomy.APPROVE: 1, Autonomy.AUTO: 2}
_RULE_KEYS = frozenset({"category", "action", "job", "tag", "level"})


@dataclass(frozen=True)
class AutonomyRule:
    level: Autonomy
    category: str = WILDCARD
    action: str = WILDCARD
    job: str | None = None
    tag: str | None = None  # "key=value"

    def matches(self, category: str, action: str, job_name: str, tags: Mapping[str, str]) -> bool:
        if self.category not in (WILDCARD, category) or self.action not in (WILDCARD, action):
            return False
        if self.job is not None and self.job != job_name:
            return False
        if self.tag is not None:
            key, _, value = self.tag.partition("=")
            if str(tags.get(key.strip(), "")).strip().lower() != value.strip().lower():
                return False
        return True

    @property
    def specificity(self) -> tuple[int, int]:
        """Most specific wins: a job or tag rule, then category+action, then category, then action."""
        scoped = int(self.job is not None or self.tag is not None)
        category = self.category != WILDCARD
        action = self.action != WILDCARD
        return (scoped, 2 * int(category) + int(action))

    def to_data(self) -> dict[str, str]:
        data = {"category": self.category, "action": self.action, "level": self.level.value}
        if self.job is not None:
            data["job"] = self.job
        if self.tag is not None:
            data["tag"] = self.tag
        return data

    @classmethod
    def from_data(cls, data: Any) -> AutonomyRule:
        from selfheal_core.vocabulary import ACTIONS, CATEGORIES

        if not isinstance(data, Mapping):
            raise ConfigurationError(f"an autonomy rule must be an object, got {data!r}")
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise ConfigurationError(
                f"unknown key(s) in autonomy rule: {', '.join(sorted(map(str, unknown)))} "
                f"(allowed: {', '.join(sorted(_RULE_KEYS))})"
            )
        if "level" not in data:
            raise ConfigurationError(f"autonomy rule {dict(data)!r} has no level")
        category = str(data.get("category") or WILDCARD)
        action = str(data.get("action") or WILDCARD)
        if category != WILDCARD and category not in CATEGORIES:
            raise ConfigurationError(
                f"unknown category {category!r} in autonomy rule (one of {', '.join(CATEGORIES)} or *)"
            )
        if action != WILDCARD and action not in ACTIONS:
            raise ConfigurationError(
                f"unknown action {action!r} in autonomy rule (one of {', '.join(ACTIONS)} or *)"
            )
        job = data.get("job")
        tag = data.get("tag")
        if tag is not None and "=" not in str(tag):
            raise ConfigurationError(f"autonomy rule tag must be key=value, got {tag!r}")
        return cls(
            level=Autonomy.parse(data["level"]),
            category=category,
            action=action,
            job=None if job in (None, "") else str(job),
            tag=None if tag in (None, "") else str(tag),
        )


@dataclass(frozen=True)
class AutonomyPolicy:
    rules: tuple[AutonomyRule, ...] = ()
    default: Autonomy = Autonomy.AUTO

    def level_for(
        self, category: str, action: str, job_name: str = "", tags: Mapping[str, str] | None = None
    ) -> Autonomy:
        tags = tags or {}
        matching = [r for r in self.rules if r.matches(str(category), str(action), job_name, tags)]
        if not matching:
            return self.default
        best = max(r.specificity for r in matching)
        # Two equally specific rules that disagree: the more cautious one holds.
        return min((r.level for r in matching if r.specificity == best), key=lambda level: level.rank)

    def with_rule(self, rule: AutonomyRule) -> AutonomyPolicy:
        """This policy with ``rule`` replacing any rule of the same scope."""
        kept = tuple(r for r in self.rules if _scope(r) != _scope(rule))
        return AutonomyPolicy((*kept, rule), self.default)

    def rule_for_scope(
        self, category: str, action: str, job: str | None, tag: str | None
    ) -> AutonomyRule | None:
        scope = (category, action, job, tag)
        return next((r for r in self.rules if _scope(r) == scope), None)

    @classmethod
    def from_data(cls, data: Iterable[Any] | None, default: Autonomy = Autonomy.AUTO) -> AutonomyPolicy:
        if data is None:
            return cls((), default)
        if isinstance(data, str | bytes | Mapping) or not isinstance(data, Iterable):
            raise ConfigurationError(f"autonomy must be a list of rules, got {type(data).__name__}")
        return cls(tuple(AutonomyRule.from_data(item) for item in data), default)

    def to_data(self) -> list[dict[str, str]]:
        return [r.to_data() for r in self.rules]


def _scope(rule: AutonomyRule) -> tuple[str, str, str | None, str | None]:
    return (rule.category, rule.action, rule.job, rule.tag)
