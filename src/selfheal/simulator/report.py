"""Charts (PNG, matplotlib's Agg backend) and an HTML page that links them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from selfheal.simulator.evaluation import Evaluation
from selfheal.simulator.metrics import METRIC_KEYS, final_start, rolling_automated

COLORS = {
    "manual": "#9e9e9e",
    "glue_retries": "#ff9800",
    "backoff_retries": "#795548",
    "rules": "#2196f3",
    "learned": "#e91e63",
    "oracle": "#4caf50",
    "oracle_gated": "#8bc34a",
}


def learning_curve(evaluation: Evaluation, path: Path) -> Path:
    window = max(20, evaluation.incidents // 20)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, results in evaluation.results.items():
        curve = rolling_automated(results, window) * 100
        x = range(len(results) - len(curve) + 1, len(results) + 1)
        ax.plot(list(x), curve, label=name, color=COLORS.get(name), linewidth=1.6 if name == "learned" else 1)
    ax.axvline(final_start(evaluation.incidents), color="black", linestyle=":", linewidth=0.8)
    ax.set_xlabel("incident")
    ax.set_ylabel(f"automated resolution, % (trailing {window})")
    ax.set_title(f"{evaluation.scenario.name}: learning curve (seed {evaluation.seed})")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def comparison(evaluation: Evaluation, path: Path) -> Path:
    names = list(evaluation.results)
    metrics = [evaluation.metrics(n) for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = [COLORS.get(n, "#607d8b") for n in names]
    left.bar(names, [m["automated_resolution"] * 100 for m in metrics], color=colors)
    left.set_ylabel("automated resolution, %")
    right.bar(names, [m["mttr_minutes"] / 60 for m in metrics], color=colors)
    right.set_ylabel("MTTR, hours")
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=35, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{evaluation.scenario.name}: {evaluation.incidents} incidents, seed {evaluation.seed}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def write_report(evaluation: Evaluation, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    curve = learning_curve(evaluation, directory / "learning_curve.png")
    bars = comparison(evaluation, directory / "comparison.png")
    spec = evaluation.spec_json()["policies"]
    head = "".join(f"<th>{k}</th>" for k in METRIC_KEYS)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{_cell(m[k])}</td>" for k in METRIC_KEYS)
        + "</tr>"
        for name, m in spec.items()
    )
    forbidden, total = evaluation.gate_forbidden("oracle")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>selfheal evaluation: {html.escape(evaluation.scenario.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>Scenario {html.escape(evaluation.scenario.name)}</h1>
<p>{html.escape(evaluation.scenario.description)}</p>
<p>{evaluation.incidents} incidents, seed {evaluation.seed}. <code>*_final</code>: the last 20% of the stream.
The oracle's fix was one the safety gate forbids in {forbidden} of {total} incidents.</p>
<table><tr><th>policy</th>{head}</tr>{rows}</table>
<h2>Learning curve</h2><p><a href="{curve.name}"><img src="{curve.name}" width="800"></a></p>
<h2>Comparison</h2><p><a href="{bars.name}"><img src="{bars.name}" width="900"></a></p>
</body></html>
"""
    index = directory / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
