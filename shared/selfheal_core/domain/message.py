"""The plain-text body of an escalation: what an on-call engineer reads at 2 a.m. on a phone.

Rendered from the message's machine-readable part, so the text and the JSON can never disagree. The
order is the order of the questions a human asks: what broke, why selfheal stopped, what it proposes,
how to answer, where to look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_EVIDENCE_LINES = 3
MAX_LINE_CHARS = 300


def _short(value: Any, limit: int = MAX_LINE_CHARS) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _drift_lines(drift: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for report in drift:
        changes = []
        for key, label in (("removed", "removed"), ("added", "added")):
            if report.get(key):
                changes.append(f"{label} {', '.join(map(str, report[key]))}")
        for old, new in report.get("renamed") or ():
            changes.append(f"renamed {old} -> {new}")
        for column, old, new in report.get("type_changed") or ():
            changes.append(f"{column} {old} -> {new}")
        if report.get("partition_keys_changed"):
            changes.append("partition keys changed")
        baseline = report.get("baseline_version")
        where = f"{report.get('table')} (version {baseline} -> {report.get('current_version')})"
        lines.append(_short(f"{where}: {'; '.join(changes) or 'no breaking change'}"))
    return lines


def _fraction(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "not measured"
    return f"{value:.2%}"


def render_text(message: Mapping[str, Any]) -> str:
    question = message.get("question")
    job, run = message.get("job_name"), message.get("job_run_id")
    proposal = message.get("proposal")
    if question == "approval":
        head = f"selfheal asks for your approval to run {proposal} on job {job} (run {run})."
    elif question == "fix":
        head = f"selfheal hands job {job} (run {run}) to a human and waits for your answer."
    else:
        head = f"selfheal hands job {job} (run {run}) to a human."
    lines = [head, "", f"Why: {_short(message.get('reason', ''), 1000)}", ""]
    confidence = message.get("confidence")
    shown = f" (confidence {confidence:.2f})" if isinstance(confidence, int | float) else ""
    lines += [
        f"Incident:     {message.get('incident_id')}",
        f"Job:          {job}",
        f"Run:          {run}",
        f"Category:     {message.get('category')}{shown}",
    ]
    evidence = list(message.get("evidence") or [])[:MAX_EVIDENCE_LINES]
    lines += [f"Evidence:     {_short(line)}" for line in evidence] or ["Evidence:     none recorded"]
    drift = _drift_lines(message.get("drift") or [])
    lines += [f"Drift:        {line}" for line in drift] or ["Drift:        none found"]
    lines.append(f"Bad records:  {_fraction(message.get('bad_record_fraction'))}")
    attempts = message.get("attempts") or []
    if attempts:
        for a in attempts:
            result = {True: "fixed", False: "still failing", None: "not run"}.get(a.get("fixed"), "?")
            if a.get("held_for_approval"):
                result = "held for your approval"
            what = f"proposed {a.get('proposed')}, gated {a.get('action')}"
            lines.append(f"Attempt {a.get('attempt')}:    {what}: {result}")
    else:
        lines.append("Attempts:     none")
    lines.append(f"Proposal:     {proposal or 'none'}")
    stopped = list(message.get("approval_rules") or []) if question == "approval" else []
    stopped = stopped or list(message.get("safety_rules") or [])
    label = "Held by:      " if question == "approval" else "Stopped by:   "
    lines.append(f"{label}{', '.join(stopped) if stopped else 'no rule (see Why)'}")
    storm = [str(line) for line in message.get("storm") or []]
    if storm:  # storm control's part: the group, its probe, the budgets and the breaker
        lines += ["", "Storm control:"] + [f"  {_short(line)}" for line in storm]
    commands = list(message.get("answer_commands") or [])
    if commands:
        expires = message.get("expires_at")
        silence = "silence never approves" if question == "approval" else "then it stays with you"
        lines += ["", f"How to answer (before {expires}; {silence}; add --stack NAME for a deployed stack):"]
        lines += [f"  {command}" for command in commands]
        for decision, url in (message.get("answer_links") or {}).items():
            lines.append(f"  {decision}: {url}")
    console = message.get("links") or {}
    if console:
        lines += ["", "Console:"]
        lines += [f"  {name}: {url}" for name, url in console.items()]
    return "\n".join(lines) + "\n"
