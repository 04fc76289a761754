"""The answer link function in template.yaml: a public URL whose only power is to answer a waiting
task of this stack, with a generated key, a used-links table and least privilege."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from selfheal_core.domain.signed_links import MIN_KEY_BYTES
from test_template import _actions, _config_variables, _policy_templates, _statements


def _function(template: dict[str, Any]) -> dict[str, Any]:
    resource = template["Resources"]["AnswerLinkFunction"]
    assert resource["Type"] == "AWS::Serverless::Function"
    return dict(resource["Properties"])


def test_the_url_is_public_and_the_checkov_skip_says_why(template: dict[str, Any], repo_root: Path) -> None:
    props = _function(template)
    assert props["FunctionUrlConfig"] == {"AuthType": "NONE"}
    assert props["CodeUri"] == "functions/answer_link/"
    assert "def lambda_handler(" in (repo_root / "functions/answer_link/app.py").read_text()
    skips = template["Resources"]["AnswerLinkFunction"]["Metadata"]["checkov"]["skip"]
    assert [s["id"] for s in skips] == ["CKV_AWS_258"]
    assert "HMAC" in skips[0]["comment"]


def test_the_function_gets_least_privilege(template: dict[str, Any]) -> None:
    props = _function(template)
    assert _actions(props) == {
        "dynamodb:Query",  # reads the incident's log (DynamoDbEventStore.load)
        "dynamodb:PutItem",  # claims a link
        "dynamodb:DeleteItem",  # frees a claim whose answer could not be delivered
        "secretsmanager:GetSecretValue",
    }
    assert _policy_templates(props) == set()
    resources = {s["Sid"]: s["Resource"] for s in _statements(props)}
    assert resources == {
        "EventLogRead": {"Fn::GetAtt": ["IncidentEventsTable", "Arn"]},
        "UsedLinks": {"Fn::GetAtt": ["AnswerLinksTable", "Arn"]},
        "LinkSigningKey": {"Ref": "AnswerLinkSecret"},
    }
    policy = template["Resources"]["AnswerLinkSendTaskPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy"
    assert policy["Properties"]["RoleName"] == {"Ref": "AnswerLinkFunctionRole"}  # SAM's role for it
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:SendTaskSuccess"  # never SendTaskFailure, never StartExecution
    assert statement["Resource"] == {"Ref": "IncidentStateMachine"}


def test_the_adapters_call_exactly_what_the_role_allows(repo_root: Path) -> None:
    source = (repo_root / "shared/selfheal_core/adapters/links.py").read_text()
    calls = set(re.findall(r"self\.client\.(\w+)\(", source))
    assert calls == {"put_item", "delete_item"}
    tasks = (repo_root / "shared/selfheal_core/adapters/stepfunctions.py").read_text()
    release = tasks[tasks.index("class StepFunctionsTasks") :]
    assert set(re.findall(r"self\.client\.(\w+)\(", release)) == {"send_task_success"}
    store = (repo_root / "shared/selfheal_core/adapters/dynamodb_store.py").read_text()
    load = store[store.index("def load(") : store.index("def open_incidents(")]
    assert set(re.findall(r"self\.client\.(\w+)", load)) == {"query"}


def test_the_key_is_generated_long_enough_and_only_two_functions_read_it(template: dict[str, Any]) -> None:
    secret = template["Resources"]["AnswerLinkSecret"]["Properties"]
    assert "SecretString" not in secret  # never in the template or its parameters
    generated = secret["GenerateSecretString"]
    assert generated["PasswordLength"] >= MIN_KEY_BYTES and generated["ExcludePunctuation"] is True
    readers = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and "secretsmanager:GetSecretValue" in _actions(resource["Properties"])
    }
    assert readers == {"AnswerLinkFunction", "EscalateFunction"}


def test_used_links_expire_from_the_table_by_the_attribute_the_ledger_writes(
    template: dict[str, Any], repo_root: Path
) -> None:
    table = template["Resources"]["AnswerLinksTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "nonce", "KeyType": "HASH"}]
    ttl = table["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    source = (repo_root / "shared/selfheal_core/adapters/links.py").read_text()
    assert f'"{ttl["AttributeName"]}": {{"N":' in source
    assert 'ConditionExpression="attribute_not_exists(nonce)"' in source


def test_escalate_signs_links_to_this_url_with_this_key(template: dict[str, Any]) -> None:
    variables = template["Resources"]["EscalateFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ANSWER_LINK_URL"] == {"Fn::GetAtt": ["AnswerLinkFunctionUrl", "FunctionUrl"]}
    assert variables["LINK_SECRET"] == {"Ref": "AnswerLinkSecret"}
    outputs = template["Outputs"]
    assert outputs["AnswerLinkUrl"]["Value"] == {"Fn::GetAtt": ["AnswerLinkFunctionUrl", "FunctionUrl"]}


def test_every_variable_the_function_is_given_is_read(template: dict[str, Any], repo_root: Path) -> None:
    own = set(_function(template)["Environment"]["Variables"])
    assert own == {"LINK_SECRET", "ANSWER_LINKS_TABLE"}
    assert own <= _config_variables(repo_root)
    assert _function(template)["LoggingConfig"] == {"LogGroup": {"Ref": "AnswerLinkLogGroup"}}
