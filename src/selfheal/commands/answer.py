"""``selfheal incidents approve|reject|resolve INCIDENT_ID``: answer the question an incident waits on.

The waiting question is the incident's latest ``answer_requested`` with no ``answered`` after it: its task
token is in the log, so nobody handles tokens. The answer is checked here (a typo is exit code 2 with the
reason, before anything is sent), then delivered with ``SendTaskSuccess``:

- with ``--stack NAME``, to the deployed stack: the log is read from its DynamoDB table;
- locally, to the replay that waits on it (``selfheal replay EVENT --human wait`` in another terminal),
  through ``$SELFHEAL_HOME/inbox/``: a local execution lives in the process that runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selfheal.errors import UsageError

VERBS = {"approve": "approve", "reject": "reject", "resolve": "resolved"}
INBOX = "inbox"
EVENTS_TABLE = "IncidentEventsTable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The answer options on the ``incidents`` parser (its positional action takes the verb)."""
    parser.add_argument(
        "incident_id", nargs="?", metavar="INCIDENT_ID", help="approve|reject|resolve: the incident"
    )
    parser.add_argument("--category", help="approve|reject|resolve: the true category, as you found it")
    parser.add_argument(
        "--action", dest="answer_action", metavar="ACTION", help="approve|reject|resolve: what you did"
    )
    parser.add_argument("--note", help="approve|reject|resolve: free text kept with the answer")
    parser.add_argument("--by", default=None, help="approve|reject|resolve: who answers (default: $USER)")
    if "--stack" not in parser._option_string_actions:  # another incidents command may add it
        parser.add_argument(
            "--stack", metavar="NAME", help="answer on a deployed stack (CloudFormation name)"
        )


def payload_for(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "decision": VERBS[args.action],
        "category": args.category,
        "action": args.answer_action,
        "note": args.note,
        "answered_by": args.by or os.environ.get("USER") or "cli",
    }


def run(args: argparse.Namespace) -> int:
    from selfheal_core.domain.answers import parse_answer, waiting_request
    from selfheal_core.errors import InvalidInputError

    incident_id = args.incident_id
    if not incident_id:
        raise UsageError(f"incidents {args.action} needs an INCIDENT_ID (selfheal incidents list shows them)")
    payload = payload_for(args)
    stack = getattr(args, "stack", None)
    events = _load(incident_id, stack)
    if not events:
        raise UsageError(
            f"no incident {incident_id}" + (f" in stack {stack}" if stack else " in $SELFHEAL_HOME")
        )
    waiting = waiting_request(events)
    if waiting is None:
        raise UsageError(
            f"incident {incident_id} is not waiting for an answer (it was answered, or never asked)"
        )
    try:
        answer = parse_answer(payload, waiting.question)
    except InvalidInputError as error:
        raise UsageError(str(error)) from None
    if stack:
        _send(waiting.task_token, answer.to_payload())
        where = f"stack {stack}"
    else:
        path = deliver_locally(_home(), waiting.task_token, json.dumps(answer.to_payload()))
        where = f"the local replay waiting on it (via {path})"
    print(f"{incident_id}: {answer.decision} sent to {where}")
    if waiting.question == "approval" and answer.decision == "approve":
        print(f"selfheal now runs {waiting.proposed} and validates it")
    return 0


def _home() -> Path:
    from selfheal.home import selfheal_home

    return selfheal_home()


def _load(incident_id: str, stack: str | None) -> list[Any]:
    if stack:
        from selfheal_core.adapters.dynamodb_store import DynamoDbEventStore

        from selfheal.stack import stack_resource

        return DynamoDbEventStore(stack_resource(stack, EVENTS_TABLE)).load(incident_id)
    from selfheal_core.adapters.sqlite_store import SqliteEventStore

    database = _home() / "selfheal.sqlite3"
    if not database.exists():
        return []
    store = SqliteEventStore(database)
    try:
        return store.load(incident_id)
    finally:
        store.close()


def _send(token: str, payload: Mapping[str, Any]) -> None:
    from botocore.exceptions import BotoCoreError, ClientError
    from selfheal_core.adapters.stepfunctions import StepFunctionsTasks
    from selfheal_core.errors import TransientDependencyError

    try:
        delivered = StepFunctionsTasks().succeed(token, payload)
    except (BotoCoreError, ClientError, TransientDependencyError) as error:
        raise UsageError(f"SendTaskSuccess failed: {error}") from None
    if not delivered:
        raise UsageError("the wait is over (timed out, answered, or its execution ended): a human owns it")


def deliver_locally(home: Path, token: str, output: str) -> Path:
    """One file per answer; the local on-call (``replay --human wait``) sends it and deletes it."""
    inbox = home / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{hashlib.sha256(token.encode()).hexdigest()[:24]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"task_token": token, "output": output}))
    tmp.replace(path)
    return path


def take_local_answers(home: Path) -> list[Mapping[str, str]]:
    """The answers waiting in the local inbox, removed as they are taken."""
    inbox = home / INBOX
    if not inbox.is_dir():
        return []
    taken: list[Mapping[str, str]] = []
    for path in sorted(inbox.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            path.unlink()
        except (OSError, json.JSONDecodeError) as error:
            print(f"selfheal: ignoring unreadable answer {path}: {error}", file=sys.stderr)
            continue
        if isinstance(data, dict) and isinstance(data.get("task_token"), str):
            taken.append({"task_token": data["task_token"], "output": str(data.get("output", "{}"))})
    return taken
