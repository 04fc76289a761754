"""``selfheal incidents list|sweep``: the local incident log, and the local run of the Sweeper."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selfheal.commands import answer, help_options

EXAMPLES = """\
examples:
  # every incident in $SELFHEAL_HOME, newest first, with its outcome
  selfheal incidents list
  # close what a killed replay left open (its execution is gone)
  selfheal incidents sweep
  # only incidents opened more than an hour ago; one JSON object
  selfheal incidents sweep --older-than 3600 --json
  # run a rollback held for approval; reject one; say what you did
  selfheal incidents approve inc-0123456789abcdef
  selfheal incidents reject inc-0123456789abcdef --note "not during close"
  selfheal incidents resolve inc-0123456789abcdef --category schema_drift \\
      --action rollback --note "restored the column" --stack selfheal-prod
"""

DESCRIPTION = """\
List the incidents of the local event log, or run the Sweeper on it: an incident that is neither
resolved nor escalated, and whose execution has ended or vanished (a replay that was killed), is
escalated with what its log knows, exactly as the scheduled Sweeper function does in AWS. The local
notification is appended to $SELFHEAL_HOME/outbox.jsonl. The sweep also writes any audit files a
failed write left out.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "incidents",
        help="list the local incidents, or sweep the ones left open",
        **help_options(DESCRIPTION, EXAMPLES),
    )
    parser.add_argument(
        "action", choices=("list", "sweep", *answer.VERBS), help="list, sweep the stuck ones, or answer one"
    )
    answer.add_arguments(parser)
    parser.add_argument(
        "--older-than",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sweep only incidents opened at least this long ago (default 0: every open one)",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(run=run)


class LocalOutbox:
    """The local escalation topic: one JSON line per message in ``$SELFHEAL_HOME/outbox.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        message_id = str(uuid.uuid4())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps({"id": message_id, "subject": subject, "message": message}, default=str))
            out.write("\n")
        return message_id


class NoExecutions:
    """Local executions live in the process that ran them: outside it, every one has vanished."""

    def status(self, execution_arn: str) -> str | None:
        return None


def run(args: argparse.Namespace) -> int:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    if args.action in answer.VERBS:
        return answer.run(args)

    from selfheal.home import selfheal_home

    home = selfheal_home()
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        if args.action == "list":
            return _list(store, args.json)
        return _sweep(store, home, args.older_than, args.json)
    finally:
        store.close()


def _list(store: Any, as_json: bool) -> int:
    from selfheal_core.domain.events import Escalated
    from selfheal_core.domain.incident import fold

    rows = []
    for incident_id in store.incident_ids():
        events = store.load(incident_id)
        state = fold(events)
        swept = any(isinstance(e.event, Escalated) and e.event.source == "sweeper" for e in events)
        rows.append(
            {
                "incident_id": incident_id,
                "job_name": state.job_name,
                "opened_at": state.opened_at,
                "outcome": state.outcome.value,
                "learned": state.learned,
                "swept": swept,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"incidents": rows}) + "\n")
        return 0
    if not rows:
        print("no incidents")
    for row in rows:
        flags = " (swept)" if row["swept"] else ""
        print(f"{row['incident_id']}  {row['outcome']:<9}  {row['opened_at']}  {row['job_name']}{flags}")
    return 0


def _sweep(store: Any, home: Path, older_than: float, as_json: bool) -> int:
    from selfheal_core.steps import sweep

    from selfheal.local.audit import write_missing

    result = sweep.run(
        store,
        store,
        NoExecutions(),
        LocalOutbox(home / "outbox.jsonl"),
        now=datetime.now(UTC),
        deadline_seconds=older_than,
        lookback_seconds=float(365 * 86400),
        region="us-east-1",
    )
    audited = write_missing(home / "audit", {i: store.load(i) for i in store.incident_ids()})
    if as_json:
        sys.stdout.write(json.dumps({**result.to_json(), "audit_files_written": audited}) + "\n")
        return 1 if result.failed else 0
    for incident_id in result.swept:
        print(f"swept {incident_id}: escalated (notification in {home / 'outbox.jsonl'})")
    for incident_id, error in result.failed.items():
        print(f"could not sweep {incident_id}: {error}", file=sys.stderr)
    print(f"{result.examined} open incident(s) examined, {len(result.swept)} swept")
    return 1 if result.failed else 0
