"""The ASL, with its SAM substitutions applied, is accepted by Step Functions as moto models it.

moto parses the definition when the state machine is created, so a malformed definition fails here
(cfn-lint and `sam validate --lint` never look inside DefinitionUri). asl-validator (npm) would add the
dangling-Next and unreachable-state checks, but it is not a dependency: test_template.py does those.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from moto import mock_aws

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _fake_arn(name: str) -> str:
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:selfheal-{name.removesuffix('FunctionArn')}"
    if name.endswith("TopicArn"):
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:selfheal-{name.removesuffix('TopicArn')}"
    raise AssertionError(f"no fake ARN for ${{{name}}}")


def _substituted(asl_text: str, substitutions: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        assert match.group(1) in substitutions, match.group(1)
        return _fake_arn(match.group(1))

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, asl_text)


def test_moto_accepts_the_substituted_definition(template: dict[str, Any], asl_text: str) -> None:
    substitutions = template["Resources"]["IncidentStateMachine"]["Properties"]["DefinitionSubstitutions"]
    definition = _substituted(asl_text, substitutions)
    assert "${" not in definition
    parsed = json.loads(definition)
    assert parsed["States"]["Diagnose"]["Resource"].startswith("arn:aws:lambda:")
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = sfn.create_state_machine(
            name="selfheal-incidents",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/selfheal-state-machine",
            type="STANDARD",
        )
        described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
        assert json.loads(described["definition"]) == parsed
        assert described["type"] == "STANDARD"
