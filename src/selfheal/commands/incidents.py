"""``selfheal incidents list|show|sweep``: read the incident log (local, or a deployed stack's), and run
the Sweeper on the local one."""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from selfheal.commands import answer, help_options
from selfheal.errors import UsageError

EXAMPLES = """\
examples:
  # every incident in $SELFHEAL_HOME, newest first; open ones past their
  # deadline are flagged
  selfheal incidents list
  # the open ones of one job, opened in the last day, as one JSON array
  selfheal incidents list --open --job customer-dim-build --since 24h --json
  # one incident as a timeline: steps, decisions, durations, waits, answer
  selfheal incidents show inc-06edafa9d017a1ca
  # the same as a page: the state machine with the path taken highlighted
  selfheal incidents show inc-06edafa9d017a1ca --html incident.html
  # a deployed stack's incidents (DynamoDB log, Step Functions history)
  selfheal incidents list --stack selfheal
  # close what a killed replay left open (its execution is gone)
  selfheal incidents sweep --older-than 3600 --json
  # run a rollback held for approval; reject one; say what you did
  selfheal incidents approve inc-0123456789abcdef
  selfheal incidents reject inc-0123456789abcdef --note "not during close"
  selfheal incidents resolve inc-0123456789abcdef --category schema_drift \\
      --action rollback --note "restored the column" --stack selfheal-prod
"""

DESCRIPTION = """\
Read the incident log: list the incidents (status, outcome, deadline), or show one incident's
timeline, where it waited and for how long, the human's answer, and a page with the state machine
drawn from its definition. Locally the log is $SELFHEAL_HOME's; with --stack NAME it is the deployed
stack's DynamoDB table and its Step Functions executions. The sweep runs the Sweeper on the local log:
an incident neither resolved nor escalated whose execution has ended or vanished (a replay that was
killed) is escalated with what its log knows, the notification appended to $SELFHEAL_HOME/outbox.jsonl.
"""

STACK_HELP = "read the deployed stack NAME (its DynamoDB log and Step Functions executions)"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "incidents",
        help="list, show or sweep the incidents (locally or of a stack)",
        **help_options(DESCRIPTION, EXAMPLES),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="one line per incident, newest first")
    listing.add_argument("--open", action="store_true", help="only incidents not closed yet")
    listing.add_argument("--job", metavar="J", help="only this job (a glob: etl-*)")
    listing.add_argument(
        "--since", metavar="T", help="only incidents opened since T: 2026-11-26, an ISO time, or 30m, 24h, 7d"
    )
    listing.add_argument("--json", action="store_true", help="print exactly one JSON array")
    listing.add_argument("--stack", metavar="NAME", help=STACK_HELP)
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", help="one incident: timeline, waits, answer, path")
    show.add_argument("incident_id", metavar="ID", help="the incident (inc-...)")
    show.add_argument("--json", action="store_true", help="print exactly one JSON object")
    show.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained page")
    show.add_argument("--stack", metavar="NAME", help=STACK_HELP)
    show.set_defaults(run=run_show)

    for verb, what in (
        ("approve", "run the action an incident holds for approval"),
        ("reject", "refuse it: a human owns the incident"),
        ("resolve", "say you fixed it, what you did and the true cause"),
    ):
        answering = actions.add_parser(verb, help=what)
        answer.add_arguments(answering)
        answering.set_defaults(run=answer.run)

    sweep = actions.add_parser("sweep", help="escalate the local incidents left open")
    sweep.add_argument(
        "--older-than",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sweep only incidents opened at least this long ago (default 0: every open one)",
    )
    sweep.add_argument("--json", action="store_true", help="print exactly one JSON object")
    sweep.set_defaults(run=run_sweep)


def source_for(stack: str | None) -> Any:
    """The local log, or the stack's."""
    from selfheal.home import selfheal_home
    from selfheal.readmodel.sources import LocalSource, StackSource

    if not stack:
        return LocalSource(selfheal_home())
    import boto3
    from botocore.exceptions import BotoCoreError

    from selfheal.stack import resolve

    names = resolve(stack)
    try:
        return StackSource(names.events_table, boto3.client("dynamodb"), boto3.client("stepfunctions"))
    except BotoCoreError as error:  # no region configured, typically
        raise UsageError(f"cannot reach stack {stack!r}: {error}") from None


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> str:
    """``--since``: a duration back from now (30m, 24h, 7d) or an ISO-8601 date or time (UTC if no zone)."""
    from selfheal.readmodel.records import iso, parse_time

    relative = _RELATIVE.match(text.strip().lower())
    if relative:
        return iso(now - timedelta(seconds=float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]))
    moment = parse_time(text.strip())
    if moment is None:
        raise UsageError(
            f"--since {text!r} is neither a duration (30m, 24h, 7d) nor an ISO-8601 date or time"
        )
    return iso(moment)


def rows(
    source: Any, now: datetime, since: str = "", job: str | None = None, only_open: bool = False
) -> list[dict[str, Any]]:
    from fnmatch import fnmatchcase

    from selfheal.readmodel.records import summary

    found = []
    for log in source.logs(since):
        row = summary(log, now)
        if job is not None and not fnmatchcase(str(row["job_name"] or ""), job):
            continue
        if only_open and row["status"] == "closed":
            continue
        found.append(row)
    return found


def run_list(args: argparse.Namespace) -> int:
    from rich.console import Console

    from selfheal.readmodel.views import incidents_table

    now = datetime.now(UTC)
    since = parse_since(args.since, now) if args.since else ""
    found = rows(source_for(args.stack), now, since, args.job, args.open)
    if args.json:
        sys.stdout.write(json.dumps(found) + "\n")
        return 0
    console = Console()
    if not found:
        console.print("no incidents", highlight=False)
        return 0
    console.print(incidents_table(found), highlight=False)
    overdue = sum(1 for r in found if r["overdue"])
    if overdue:
        console.print(f"[red]{overdue} open incident(s) past their deadline[/red]", highlight=False)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from rich.console import Console

    from selfheal.readmodel.show import incident_document, render_html
    from selfheal.readmodel.views import print_timeline

    source = source_for(args.stack)
    document = incident_document(source, args.incident_id, datetime.now(UTC), args.stack)
    if args.html is not None:
        try:
            args.html.write_text(render_html(document), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.html}: {error.strerror or error}") from None
        print(f"selfheal incidents show: wrote {args.html}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(document.as_json(), default=str) + "\n")
        return 0
    print_timeline(Console(), document)
    return 0


# -- the sweep (the local run of the Sweeper) ----------------------------------------------------------


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


def run_sweep(args: argparse.Namespace) -> int:
    from selfheal_core.adapters.sqlite_store import SqliteEventStore
    from selfheal_core.steps import sweep

    if args.action in answer.VERBS:
        return answer.run(args)

    from selfheal.home import selfheal_home
    from selfheal.local.audit import write_missing

    home = selfheal_home()
    store = SqliteEventStore(home / "selfheal.sqlite3")
    try:
        result = sweep.run(
            store,
            store,
            NoExecutions(),
            LocalOutbox(home / "outbox.jsonl"),
            now=datetime.now(UTC),
            deadline_seconds=args.older_than,
            lookback_seconds=float(365 * 86400),
            region="us-east-1",
        )
        audited = write_missing(home / "audit", {i: store.load(i) for i in store.incident_ids()})
    finally:
        store.close()
    if args.json:
        sys.stdout.write(json.dumps({**result.to_json(), "audit_files_written": audited}) + "\n")
        return 1 if result.failed else 0
    for incident_id in result.swept:
        print(f"swept {incident_id}: escalated (notification in {home / 'outbox.jsonl'})")
    for incident_id, error in result.failed.items():
        print(f"could not sweep {incident_id}: {error}", file=sys.stderr)
    print(f"{result.examined} open incident(s) examined, {len(result.swept)} swept")
    return 1 if result.failed else 0
