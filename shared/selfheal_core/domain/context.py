"""What the agent knows when it decides: built from the diagnosis, the job's tags and the incident so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from selfheal_core.vocabulary import Action, Category, Criticality


class Risk:
    """Risk bands, ordered: a higher band restricts automation more."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ORDER: tuple[str, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class DecisionContext:
    """Everything the policy and the safety gate may look at for one attempt.

    ``attempt`` is 1-based: the number of the automated attempt about to be made.
    """

    job_name: str
    category: Category
    confidence: float = 1.0
    criticality: Criticality = Criticality.MEDIUM
    risk: str = Risk.MEDIUM
    attempt: int = 1
    drift: bool = False
    rollback_available: bool = False
    bad_record_fraction: float | None = None
    # The job honours --selfheal-quarantine-path (tag selfheal:quarantine=enabled); without it a
    # "quarantine" would be a plain re-run over bad records.
    quarantine_capable: bool = False
    previous_action: Action | None = None
    previous_actions: tuple[Action, ...] = field(default_factory=tuple)
    # The text named no cause; trusted facts (catalog, Data Quality) named the category.
    cause_from_facts: bool = False
