"""Charts (PNG, matplotlib's Agg backend) and an HTML page (Jinja2) that shows the tables and the charts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import jinja2
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from selfheal.simulator.evaluation import WITHOUT_APPROVALS, Evaluation
from selfheal.simulator.metrics import FINAL_FRACTION, final_start, rolling_automated
from selfheal.simulator.presentation import (
    APPROVAL_ROWS,
    COLUMNS,
    ApprovalGain,
    approval_gains,
    policy_rows,
    title,
)

COLORS = {
    "manual": "#9e9e9e",
    "glue_retries": "#ff9800",
    "backoff_retries": "#795548",
    "rules": "#2196f3",
    "learned": "#e91e63",
    "oracle": "#4caf50",
    "oracle_gated": "#8bc34a",
}
TEMPLATE = "report.html.j2"
DPI = 120


@dataclass(frozen=True)
class Chart:
    file: str
    title: str
    caption: str


def learning_curve(evaluation: Evaluation, path: Path) -> Chart:
    window = max(20, evaluation.incidents // 20)
    fig, ax = plt.subplots(figsize=(12, 5))
    for name, results in _policies(evaluation).items():
        curve = rolling_automated(results, window) * 100
        x = np.arange(len(results) - len(curve) + 1, len(results) + 1)
        ax.plot(x, curve, label=name, color=COLORS.get(name), linewidth=2.2 if name == "learned" else 1.2)
    ax.axvline(
        final_start(evaluation.incidents),
        color="black",
        linestyle=":",
        linewidth=1,
        label=f"start of the last {FINAL_FRACTION:.0%}",
    )
    ax.set_xlabel("incident (position in the stream)")
    ax.set_ylabel(f"automated resolution (%), last {window} incidents")
    ax.set_ylim(0, 100)
    ax.set_title(
        f"{evaluation.scenario.name}: automated resolution along the stream (seed {evaluation.seed})"
    )
    # Outside the axes: inside, it would hide the curves it explains.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, title="policy")
    ax.grid(alpha=0.3)
    _save(fig, path)
    return Chart(
        path.name,
        "Learning curve",
        f"Share of incidents resolved with no human over a trailing window of {window} incidents; "
        "the learned policy starts with no knowledge and learns along the stream.",
    )


def _policies(evaluation: Evaluation) -> dict[str, list[Any]]:
    """The policies as evaluated, without the runs with approvals off (the approvals chart shows them)."""
    return {n: r for n, r in evaluation.results.items() if not n.endswith(WITHOUT_APPROVALS)}


def comparison(evaluation: Evaluation, path: Path) -> Chart:
    names = list(_policies(evaluation))
    whole = [evaluation.metrics(n) for n in names]
    last = [evaluation.metrics(n, final=True) for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    _grouped_bars(
        left,
        names,
        [m["automated_resolution"] * 100 for m in whole],
        [m["automated_resolution"] * 100 for m in last],
        "{:.0f}",
    )
    left.set_title("Automated resolution (higher is better)")
    left.set_ylabel("automated resolution (%)")
    _grouped_bars(
        right,
        names,
        [m["mttr_minutes"] / 60 for m in whole],
        [m["mttr_minutes"] / 60 for m in last],
        "{:.1f}",
    )
    right.set_title("Mean time to resolve (lower is better)")
    right.set_ylabel("MTTR (h)")
    fig.suptitle(title(evaluation))
    _save(fig, path)
    return Chart(
        path.name,
        "Policies compared",
        f"Each policy over the whole stream and over its last {FINAL_FRACTION:.0%}; "
        "MTTR counts every incident, including those only a human can fix.",
    )


def approvals_chart(evaluation: Evaluation, gains: list[ApprovalGain], path: Path) -> Chart:
    """Per gated policy, with and without approvals: resolved with no hand fix (automated, with the
    assisted share stacked on it) and MTTR."""
    names = [g.name for g in gains]
    x = np.arange(len(names))
    width = 0.38
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    colors = [COLORS.get(n, "#607d8b") for n in names]
    auto_with = [g.with_approvals["automated_resolution"] * 100 for g in gains]
    assisted = [g.with_approvals["assisted_resolution"] * 100 for g in gains]
    auto_without = [
        g.without["automated_resolution"] * 100 + g.without["assisted_resolution"] * 100 for g in gains
    ]
    left.bar(x - width / 2, auto_with, width, color=colors, label="automated, with approvals")
    bars = left.bar(
        x - width / 2,
        assisted,
        width,
        bottom=auto_with,
        color=colors,
        alpha=0.5,
        hatch="xx",
        label="assisted (approved, then fixed)",
    )
    left.bar_label(
        bars, labels=[f"{a + b:.1f}" for a, b in zip(auto_with, assisted, strict=True)], fontsize=8
    )
    bars = left.bar(x + width / 2, auto_without, width, color="#bdbdbd", label="without approvals (hand fix)")
    left.bar_label(bars, fmt="{:.1f}", fontsize=8)
    left.set_title("Resolved with no hand fix (higher is better)")
    left.set_ylabel("incidents (%)")
    mttr_with = [g.with_approvals["mttr_minutes"] / 60 for g in gains]
    mttr_without = [g.without["mttr_minutes"] / 60 for g in gains]
    bars = right.bar(x - width / 2, mttr_with, width, color=colors, label="with approvals")
    right.bar_label(bars, fmt="{:.1f}", fontsize=8)
    bars = right.bar(x + width / 2, mttr_without, width, color="#bdbdbd", label="without approvals")
    right.bar_label(bars, fmt="{:.1f}", fontsize=8)
    right.set_title("Mean time to resolve (lower is better)")
    right.set_ylabel("MTTR (h)")
    for ax in (left, right):
        ax.set_xticks(x, names, fontsize=9)
        ax.set_xlabel("policy")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.1)  # room for the labels above the bars
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{title(evaluation)}: approve-then-execute vs escalate-and-fix-by-hand")
    _save(fig, path)
    return Chart(
        path.name,
        "Approve-then-execute",
        "Each gated policy on the same stream with approvals (a held action waits for a human's answer, "
        "then runs) and without (the held action goes to a human who fixes it by hand). MTTR includes "
        "the wait for answers.",
    )


def _grouped_bars(ax: Axes, names: list[str], whole: list[float], last: list[float], fmt: str) -> None:
    x = np.arange(len(names))
    width = 0.4
    colors = [COLORS.get(n, "#607d8b") for n in names]
    bars = ax.bar(x - width / 2, whole, width, color=colors, label="whole stream")
    ax.bar_label(bars, fmt=fmt, fontsize=7, padding=1)
    bars = ax.bar(
        x + width / 2, last, width, color=colors, alpha=0.45, hatch="//", label=f"last {FINAL_FRACTION:.0%}"
    )
    ax.bar_label(bars, fmt=fmt, fontsize=7, padding=1)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=9)
    ax.set_xlabel("policy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _environment() -> jinja2.Environment:
    # The template ends in .j2, which select_autoescape would not recognise: escaping is switched on
    # explicitly because the scenario's name and description come from a user's file.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("selfheal.simulator", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(evaluation: Evaluation, charts: list[Chart]) -> str:
    forbidden, total = evaluation.gate_forbidden("oracle")
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            scenario=evaluation.scenario,
            incidents=evaluation.incidents,
            seed=evaluation.seed,
            title=title(evaluation),
            columns=COLUMNS,
            rows=policy_rows(evaluation),
            forbidden=forbidden,
            total=total,
            charts=charts,
            approval_rows=APPROVAL_ROWS,
            approval_gains=approval_gains(evaluation),
        )
    )


def write_report(evaluation: Evaluation, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    charts = [
        learning_curve(evaluation, directory / "learning_curve.png"),
        comparison(evaluation, directory / "comparison.png"),
    ]
    gains = approval_gains(evaluation)
    if gains:
        charts.append(approvals_chart(evaluation, gains, directory / "approvals.png"))
    index = directory / "index.html"
    index.write_text(render_html(evaluation, charts), encoding="utf-8")
    return index
