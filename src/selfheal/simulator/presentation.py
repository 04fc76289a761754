"""What a human sees of an evaluation: the rows, the columns with their units, the number formats.

The terminal tables and the HTML report both read this module, so they show the same rows with the same
labels and the same rounding. The JSON keys (``mttr_minutes``...) are the spec's contract and stay as they
are; only the human-facing labels convert (times over an hour are shown in hours, and say so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.table import Table

from selfheal.simulator.evaluation import SPEC_KEYS, WITHOUT_APPROVALS, Evaluation

# Shown by the human outputs only: the oracle restricted to what the safety gate allows.
GATED_ORACLE_KEYS: tuple[str, ...] = ("oracle_gated", "oracle_gated_final")
# Below this many columns the metrics are split into two tables (outcomes, then times) that each fit.
WIDE_TABLE_COLUMNS = 140
MISSING = "-"


def _or_missing(render: Callable[[Any], str]) -> Callable[[Any], str]:
    """A ``None`` (e.g. no automatically resolved incident, so no MTTR for them) shows as ``-``."""
    return lambda value: MISSING if value is None else render(value)


@_or_missing
def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}"


@_or_missing
def hours_from_minutes(minutes: float) -> str:
    return f"{minutes / 60:,.1f}"


@_or_missing
def whole_minutes(minutes: float) -> str:
    return f"{minutes:,.0f}"


@_or_missing
def whole_number(value: float) -> str:
    return f"{value:,.0f}"


@_or_missing
def ratio(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class MetricColumn:
    key: str  # the spec's key in the M object
    label: str  # the header with its unit, broken where a narrow table may wrap it
    group: str  # "outcomes" or "times": which table it belongs to on a narrow terminal
    render: Callable[[Any], str]
    description: str  # for the HTML report's legend

    @property
    def one_line_label(self) -> str:
        return self.label.replace("\n", " ")


COLUMNS: tuple[MetricColumn, ...] = (
    MetricColumn("automated_resolution", "auto\n(%)", "outcomes", percent, "incidents fixed with no human"),
    MetricColumn(
        "assisted_resolution",
        "assisted\n(%)",
        "outcomes",
        percent,
        "incidents fixed by an action a human approved (approve-then-execute)",
    ),
    MetricColumn(
        "non_escalation", "non-esc\n(%)", "outcomes", percent, "incidents that did not page a human"
    ),
    MetricColumn("harmful_actions", "harmful", "outcomes", whole_number, "actions that damaged data"),
    MetricColumn(
        "blocked_by_safety", "blocked", "outcomes", whole_number, "proposals the safety gate vetoed"
    ),
    MetricColumn("wasted_runs", "wasted\nruns", "outcomes", whole_number, "runs started that failed again"),
    MetricColumn(
        "actions_per_incident",
        "actions /\nincident",
        "outcomes",
        ratio,
        "automated actions executed per incident",
    ),
    MetricColumn(
        "mttr_minutes", "MTTR\n(h)", "times", hours_from_minutes, "mean time to resolve, all incidents"
    ),
    MetricColumn("p50_minutes", "p50\n(h)", "times", hours_from_minutes, "median time to resolve"),
    MetricColumn("p90_minutes", "p90\n(h)", "times", hours_from_minutes, "90th percentile time to resolve"),
    MetricColumn(
        "mttr_auto_minutes",
        "MTTR auto\n(min)",
        "times",
        whole_minutes,
        "mean time to resolve the automatically resolved incidents",
    ),
    MetricColumn("human_hours", "human\n(h)", "times", whole_number, "total hours of human work"),
)
GROUP_TITLES = {"outcomes": "outcomes", "times": "time to resolve"}


@dataclass(frozen=True)
class PolicyRow:
    name: str  # e.g. "learned" or "learned_final" (the last 20% of the stream)
    metrics: dict[str, Any]

    def cells(self, columns: Sequence[MetricColumn]) -> list[str]:
        return [column.render(self.metrics[column.key]) for column in columns]


def policy_rows(evaluation: Evaluation) -> list[PolicyRow]:
    """The spec's policies in the spec's order, then the gated oracle when it was evaluated (the runs
    without approvals are in ``approval_table``)."""
    names = [
        *SPEC_KEYS,
        *(key for key in GATED_ORACLE_KEYS if key.removesuffix("_final") in evaluation.results),
    ]
    return [
        PolicyRow(name, evaluation.metrics(name.removesuffix("_final"), final=name.endswith("_final")))
        for name in names
    ]


def title(evaluation: Evaluation) -> str:
    return f"{evaluation.scenario.name}: {evaluation.incidents:,} incidents, seed {evaluation.seed}"


def metric_tables(evaluation: Evaluation, width: int) -> list[Table]:
    """One table on a wide terminal; on a narrow one, two (outcomes, times) that each fit in 80 columns.

    The policy column never wraps or truncates; headers wrap onto two lines instead.
    """
    rows = policy_rows(evaluation)
    if width >= WIDE_TABLE_COLUMNS:
        return [_table(title(evaluation), COLUMNS, rows, one_line_headers=True)]
    return [
        _table(f"{title(evaluation)}: {GROUP_TITLES[group]}", [c for c in COLUMNS if c.group == group], rows)
        for group in GROUP_TITLES
    ]


def _table(
    caption: str, columns: Sequence[MetricColumn], rows: Sequence[PolicyRow], one_line_headers: bool = False
) -> Table:
    table = Table(title=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    longest_name = max(len(row.name) for row in rows)
    table.add_column("policy", no_wrap=True, min_width=longest_name)
    cells = [row.cells(columns) for row in rows]
    for index, column in enumerate(columns):
        # Numbers keep their full width; only the header may wrap (on its spaces).
        widest_value = max(len(line[index]) for line in cells)
        header = column.one_line_label if one_line_headers else column.label
        table.add_column(header, justify="right", min_width=widest_value, overflow="fold")
    for row, line in zip(rows, cells, strict=True):
        table.add_row(row.name, *line)
    return table


@dataclass(frozen=True)
class ApprovalGain:
    """One gated policy on the same stream with approvals (a held action waits for a human's yes) and
    without (the held action goes to a human who fixes it by hand)."""

    name: str
    with_approvals: dict[str, Any]
    without: dict[str, Any]
    requests: int
    granted: int

    @staticmethod
    def no_hand_fix(metrics: dict[str, Any]) -> float:
        """Share of incidents resolved with no human fixing them: automated plus assisted."""
        return float(metrics["automated_resolution"] + metrics["assisted_resolution"])

    @property
    def gain_points(self) -> float:
        return (self.no_hand_fix(self.with_approvals) - self.no_hand_fix(self.without)) * 100


@dataclass(frozen=True)
class ApprovalRow:
    label: str
    description: str
    render: Callable[[ApprovalGain], str]


# Rows, not columns: one column per policy keeps the table within 80 columns.
APPROVAL_ROWS: tuple[ApprovalRow, ...] = (
    ApprovalRow(
        "no hand fix, with approvals (%)",
        "resolved with no human fixing it (automated + assisted), with approvals",
        lambda g: percent(g.no_hand_fix(g.with_approvals)),
    ),
    ApprovalRow(
        "  of which assisted (%)",
        "resolved by an action a human approved",
        lambda g: percent(g.with_approvals["assisted_resolution"]),
    ),
    ApprovalRow(
        "no hand fix, without approvals (%)",
        "the same without approvals: an action the gate holds goes to a human fix",
        lambda g: percent(g.no_hand_fix(g.without)),
    ),
    ApprovalRow("gain (points)", "what approve-then-execute adds", lambda g: f"{g.gain_points:+.1f}"),
    ApprovalRow(
        "MTTR with approvals (h)",
        "mean time to resolve, the wait for answers included",
        lambda g: hours_from_minutes(g.with_approvals["mttr_minutes"]),
    ),
    ApprovalRow(
        "MTTR without approvals (h)",
        "mean time to resolve without approvals",
        lambda g: hours_from_minutes(g.without["mttr_minutes"]),
    ),
    ApprovalRow(
        "human fixing with approvals (h)",
        "hours of human fixing (answering an approval request is not counted)",
        lambda g: whole_number(g.with_approvals["human_hours"]),
    ),
    ApprovalRow(
        "human fixing without approvals (h)",
        "hours of human fixing without approvals",
        lambda g: whole_number(g.without["human_hours"]),
    ),
    ApprovalRow("approval requests", "requests sent to a human", lambda g: whole_number(g.requests)),
    ApprovalRow("approved", "requests the human approved", lambda g: whole_number(g.granted)),
)


def approval_gains(evaluation: Evaluation) -> list[ApprovalGain]:
    """Each policy run both with and without approvals on the same stream (none without approvals)."""
    out = []
    for name in evaluation.approval_comparison():
        results = evaluation.results[name]
        out.append(
            ApprovalGain(
                name,
                evaluation.metrics(name),
                evaluation.metrics(name + WITHOUT_APPROVALS),
                sum(r.approval_requests for r in results),
                sum(r.approvals_granted for r in results),
            )
        )
    return out


def approval_table(evaluation: Evaluation) -> Table | None:
    """Approve-then-execute against escalate-and-fix-by-hand, or None when the scenario has no approvals."""
    gains = approval_gains(evaluation)
    if not gains:
        return None
    table = Table(
        title=f"{title(evaluation)}: approve-then-execute vs escalate-and-fix-by-hand, same stream",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("whole stream", no_wrap=True)
    for gain in gains:
        table.add_column(gain.name, justify="right", no_wrap=True)
    for row in APPROVAL_ROWS:
        table.add_row(row.label, *(row.render(gain) for gain in gains))
    return table
