"""``selfheal autonomy set CATEGORY[/ACTION] LEVEL``: how far selfheal may go on its own, without a deploy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selfheal.commands import help_options
from selfheal.errors import UsageError

SETTINGS_PARAMETER = "SettingsParameter"

EXAMPLES = """\
examples:
  # rollbacks of schema drift wait for a human's approval
  selfheal autonomy set schema_drift/rollback approve
  # every action on one job is only proposed and recorded
  selfheal autonomy set '*' shadow --job revenue-daily-close
  # retries of transient errors run on their own, on a deployed stack
  selfheal autonomy set transient_network/retry auto --stack selfheal-prod
"""

DESCRIPTION = """\
Set the autonomy level of a category, a category and action, or any of them on one job: shadow
(propose and record), approve (ask a human, execute only on their approval) or auto. The level is
stored in the settings parameter (locally $SELFHEAL_HOME/settings.json, with --stack the stack's SSM
parameter), read by the SafetyGate within a minute, and always sits under the hard safety rules and
the kill switch. Prints the level before and after.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "autonomy",
        help="set how far selfheal may act on its own, per category, action or job",
        **help_options(DESCRIPTION, EXAMPLES),
    )
    parser.add_argument("verb", choices=("set",), help="set a level")
    parser.add_argument("scope", metavar="CATEGORY[/ACTION]", help="a category or *, optionally /ACTION")
    parser.add_argument("level", choices=("shadow", "approve", "auto"), help="the level")
    parser.add_argument("--job", help="only this job")
    parser.add_argument("--stack", metavar="NAME", help="the deployed stack (CloudFormation name)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from selfheal_core.domain.autonomy import AutonomyPolicy, AutonomyRule
    from selfheal_core.errors import ConfigurationError

    category, _, action = str(args.scope).partition("/")
    try:
        rule = AutonomyRule.from_data(
            {"category": category or "*", "action": action or "*", "job": args.job, "level": args.level}
        )
    except ConfigurationError as error:
        raise UsageError(str(error)) from None
    settings, save = _settings(args.stack)
    try:
        policy = AutonomyPolicy.from_data(settings.get("autonomy"))
    except ConfigurationError as error:
        raise UsageError(f"the current autonomy settings are unreadable: {error}") from None
    before = _level(policy, rule)
    changed = policy.with_rule(rule)
    save({**settings, "autonomy": changed.to_data()})
    after = _level(changed, rule)
    scope = f"{rule.category}/{rule.action}" + (f" on job {rule.job}" if rule.job else "")
    print(f"{scope}: {before} -> {after}")
    if settings.get("mode") == "shadow":
        print("note: the stack's mode is shadow, so every level below a rule is shadow by default")
    return 0


def _level(policy: Any, rule: Any) -> str:
    """The level for the rule's scope, and where it comes from."""
    existing = policy.rule_for_scope(rule.category, rule.action, rule.job, rule.tag)
    if existing is not None:
        return str(existing.level.value)
    effective = policy.level_for(rule.category, rule.action, rule.job or "", {})
    return f"{effective.value} (not set)"


def _settings(stack: str | None) -> tuple[dict[str, Any], Any]:
    if stack:
        return _stack_settings(stack)
    from selfheal.home import selfheal_home
    from selfheal.local.engine import SETTINGS_FILE, local_settings

    home = selfheal_home()
    path = home / SETTINGS_FILE

    def save(data: Mapping[str, Any]) -> None:
        _write(path, data)

    return local_settings(home), save


def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(data), indent=2) + "\n")
    tmp.replace(path)


def _stack_settings(stack: str) -> tuple[dict[str, Any], Any]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from selfheal.stack import stack_resource

    name = stack_resource(stack, SETTINGS_PARAMETER)
    ssm = boto3.client("ssm")
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(f"cannot read the settings parameter {name}: {error}") from None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as error:
        raise UsageError(f"the settings parameter {name} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"the settings parameter {name} must hold one JSON object")

    def save(new: Mapping[str, Any]) -> None:
        try:
            ssm.put_parameter(Name=name, Value=json.dumps(dict(new)), Type="String", Overwrite=True)
        except (ClientError, BotoCoreError) as error:
            raise UsageError(f"cannot write the settings parameter {name}: {error}") from None

    return data, save
