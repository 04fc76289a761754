"""Static checks of template.yaml against the ASL, the handlers and selfheal's safety promises.

cfn-lint and `sam validate --lint` do not look inside a SAM state machine's DefinitionUri, nor do they
know which Lambda may touch Glue: these tests do.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import selfheal_core.errors as errors_module

FUNCTIONS = {
    "DiagnoseFunction": "diagnose",
    "ProposeFunction": "propose",
    "SafetyGateFunction": "safety_gate",
    "ExecuteFunction": "execute",
    "ValidateFunction": "validate",
    "EscalateFunction": "escalate",
    "LearnFunction": "learn",
}
AWS_ERROR_PREFIXES = ("States.", "Lambda.", "SNS.")
GLUE_WRITE = re.compile(
    r"^glue:(\*|(Start|Update|Create|Delete|Put|BatchCreate|BatchDelete|Reset|Stop|Import|Tag|Untag)\w*)$",
    re.IGNORECASE,
)
EVENT_LOG = {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}
AUDIT = {"s3:PutObject"}
# The least privilege each function gets (statement actions; SAM policy templates listed separately).
EXPECTED_ACTIONS = {
    "DiagnoseFunction": EVENT_LOG
    | AUDIT
    | {"glue:GetJob", "glue:GetJobRun", "glue:GetJobRuns", "glue:GetTags", "glue:GetTable"}
    | {"glue:GetTableVersions", "glue:GetDataQualityResult", "logs:DescribeLogStreams", "logs:GetLogEvents"}
    | {"ssm:GetParameter"},
    "ProposeFunction": EVENT_LOG | AUDIT | {"dynamodb:BatchGetItem"},
    "SafetyGateFunction": EVENT_LOG | AUDIT,
    "ExecuteFunction": EVENT_LOG
    | AUDIT
    | {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:GetTableVersion"}
    | {"glue:GetTableVersions", "glue:UpdateTable"},
    "ValidateFunction": EVENT_LOG | AUDIT | {"glue:GetJobRun", "glue:GetTableVersions"},
    "EscalateFunction": EVENT_LOG | AUDIT | {"kms:GenerateDataKey", "kms:Decrypt"},
    "LearnFunction": EVENT_LOG | AUDIT | {"dynamodb:BatchGetItem"},
}
EXPECTED_TEMPLATES = {
    "DiagnoseFunction": set(),
    "ProposeFunction": {"SSMParameterReadPolicy"},
    "SafetyGateFunction": {"SSMParameterReadPolicy"},
    "ExecuteFunction": {"SSMParameterReadPolicy"},
    "ValidateFunction": set(),
    "EscalateFunction": {"SNSPublishMessagePolicy"},
    "LearnFunction": {"SSMParameterReadPolicy"},
}


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))


def _tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            statements.extend(policy["Statement"])
    return statements


def _actions(props: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in _statements(props):
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


def _policy_templates(props: dict[str, Any]) -> set[str]:
    return {name for policy in props.get("Policies", []) if isinstance(policy, dict) for name in policy} - {
        "Statement",
        "Version",
    }


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge matching for the subset the template uses: nested objects and lists of literals."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and _matches(value, event[key]) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        values = event if isinstance(event, list) else [event]
        return any(value in pattern for value in values)
    raise AssertionError(f"unsupported pattern element {pattern!r}")


def _rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = template["Resources"]["IncidentStateMachine"]["Properties"]["Events"]
    return {name: e["Properties"] for name, e in events.items() if e["Type"] == "EventBridgeRule"}


# --- ASL <-> template -------------------------------------------------------------------------------


def test_every_asl_placeholder_has_a_substitution_and_vice_versa(
    template: dict[str, Any], asl_text: str
) -> None:
    props = template["Resources"]["IncidentStateMachine"]["Properties"]
    assert props["DefinitionUri"] == "statemachine/incident.asl.json"
    assert set(props["DefinitionSubstitutions"]) == _placeholders(asl_text)


def test_function_substitutions_point_to_functions_with_a_handler(
    template: dict[str, Any], repo_root: Path
) -> None:
    resources = template["Resources"]
    substitutions = resources["IncidentStateMachine"]["Properties"]["DefinitionSubstitutions"]
    function_subs = {k: v for k, v in substitutions.items() if k.endswith("FunctionArn")}
    assert len(function_subs) == len(FUNCTIONS)
    for name, value in function_subs.items():
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", name
        assert logical_id == name.removesuffix("Arn"), f"{name} points to {logical_id}"
        function = resources[logical_id]
        assert function["Type"] == "AWS::Serverless::Function"
        props = function["Properties"]
        assert props["CodeUri"] == f"functions/{FUNCTIONS[logical_id]}/"
        assert props["Handler"] == "app.lambda_handler"
        assert {"Ref": "SharedLayer"} in props["Layers"]
        app = repo_root / props["CodeUri"] / "app.py"
        assert app.is_file(), app
        assert "def lambda_handler(" in app.read_text()
    assert substitutions["EscalationTopicArn"] == {"Ref": "EscalationTopic"}


def test_every_function_is_invokable_by_the_state_machine(template: dict[str, Any]) -> None:
    policies = template["Resources"]["IncidentStateMachine"]["Properties"]["Policies"]
    invokable = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in policies if "LambdaInvokePolicy" in p
    }
    assert invokable == set(FUNCTIONS)
    topics = [p["SNSPublishMessagePolicy"] for p in policies if "SNSPublishMessagePolicy" in p]
    assert topics == [{"TopicName": {"Fn::GetAtt": ["EscalationTopic", "TopicName"]}}]


# --- ASL structure ----------------------------------------------------------------------------------


def test_every_task_retries_and_catches(asl: dict[str, Any]) -> None:
    for name, state in _tasks(asl).items():
        assert state.get("Retry"), f"{name} has no Retry"
        assert state.get("Catch"), f"{name} has no Catch"
        if name != "Await Human Decision":
            assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name


def test_every_transition_target_exists(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert asl["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", [])]
        targets += [c["Next"] for c in state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"


def test_custom_error_names_are_selfheal_errors(asl: dict[str, Any]) -> None:
    names = {
        error
        for state in asl["States"].values()
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for error in rule["ErrorEquals"]
        if not error.startswith(AWS_ERROR_PREFIXES)
    }
    assert names, "the ASL retries selfheal's own errors"
    for name in names:
        cls = getattr(errors_module, name, None)
        assert inspect.isclass(cls) and issubclass(cls, errors_module.SelfhealError), name
        assert issubclass(cls, errors_module.RetryableError), f"{name} is retried but not retryable"


# --- IAM --------------------------------------------------------------------------------------------


def test_diagnose_cannot_write_to_glue(template: dict[str, Any]) -> None:
    props = template["Resources"]["DiagnoseFunction"]["Properties"]
    glue = {a for a in _actions(props) if a.lower().startswith("glue:")}
    assert glue, "Diagnose reads Glue"
    assert not {a for a in glue if GLUE_WRITE.match(a)}
    # No SAM policy template that could carry a Glue or wildcard permission either.
    assert _policy_templates(props) == set()
    for statement in _statements(props):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_get_least_privilege(template: dict[str, Any], logical_id: str) -> None:
    props = template["Resources"][logical_id]["Properties"]
    assert _actions(props) == EXPECTED_ACTIONS[logical_id]
    assert _policy_templates(props) == EXPECTED_TEMPLATES[logical_id]
    for statement in _statements(props):
        assert statement["Resource"] != "*", f"{logical_id}: {statement.get('Sid')}"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a.endswith("*")], f"{logical_id}: {statement.get('Sid')}"


def test_only_execute_may_change_glue(template: dict[str, Any]) -> None:
    for logical_id in FUNCTIONS:
        writes = {a for a in _actions(template["Resources"][logical_id]["Properties"]) if GLUE_WRITE.match(a)}
        assert writes == (
            {"glue:StartJobRun", "glue:UpdateTable"} if logical_id == "ExecuteFunction" else set()
        )


# --- configuration ----------------------------------------------------------------------------------


def _config_variables(repo_root: Path) -> set[str]:
    source = (repo_root / "shared/selfheal_core/runtime/config.py").read_text()
    return set(re.findall(r"""(?:env\.get\(|_float\(env, |_bool\(env, )"([A-Z_]+)\"""", source))


def test_environment_variables_are_ones_the_handlers_read(template: dict[str, Any], repo_root: Path) -> None:
    known = _config_variables(repo_root) | {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert {"EVENTS_TABLE", "SETTINGS_PARAMETER", "MODE"} <= known
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["STORE_BACKEND"] == "dynamodb"
    for name in ("EVENTS_TABLE", "Q_TABLE", "AUDIT_BUCKET", "SETTINGS_PARAMETER"):
        assert name in shared
    for logical_id in FUNCTIONS:
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        unknown = (set(shared) | set(own)) - known
        assert not unknown, f"{logical_id} sets variables nothing reads: {unknown}"
    escalate = template["Resources"]["EscalateFunction"]["Properties"]["Environment"]["Variables"]
    assert escalate["TOPIC_ARN"] == {"Ref": "EscalationTopic"}


def _render_settings(template: dict[str, Any], mode: str, kill_switch: bool) -> Any:
    text, variables = template["Resources"]["SettingsParameter"]["Properties"]["Value"]["Fn::Sub"]
    condition, when_true, when_false = variables["KillSwitchJson"]["Fn::If"]
    assert condition == "KillSwitchOn"
    assert template["Conditions"]["KillSwitchOn"] == {"Fn::Equals": [{"Ref": "KillSwitch"}, "on"]}
    rendered = text.replace("${Mode}", mode).replace(
        "${KillSwitchJson}", when_true if kill_switch else when_false
    )
    return json.loads(rendered)


def test_settings_parameter_is_json_with_a_boolean_kill_switch(template: dict[str, Any]) -> None:
    props = template["Resources"]["SettingsParameter"]["Properties"]
    assert props["Type"] == "String"
    assert _render_settings(template, "shadow", False) == {"mode": "shadow", "kill_switch": False}
    assert _render_settings(template, "auto", True) == {"mode": "auto", "kill_switch": True}


def test_a_new_deployment_starts_in_shadow_mode(template: dict[str, Any], repo_root: Path) -> None:
    parameters = template["Parameters"]
    assert parameters["Mode"]["Default"] == "shadow"
    assert sorted(parameters["Mode"]["AllowedValues"]) == ["auto", "shadow"]
    assert parameters["KillSwitch"]["Default"] == "off"
    samconfig = (repo_root / "samconfig.toml").read_text()
    assert 'Mode=\\"shadow\\"' in samconfig


# --- triggers ---------------------------------------------------------------------------------------


def _glue_event(state: str) -> dict[str, Any]:
    return {
        "source": "aws.glue",
        "detail-type": "Glue Job State Change",
        "detail": {"jobName": "j", "jobRunId": "jr_1", "state": state},
    }


def test_rule_starts_an_execution_for_failed_and_timed_out_runs(
    template: dict[str, Any], repo_root: Path
) -> None:
    pattern = _rules(template)["GlueJobFailed"]["Pattern"]
    assert _matches(pattern, _glue_event("FAILED"))
    assert _matches(pattern, _glue_event("TIMEOUT"))
    for state in ("SUCCEEDED", "STOPPED", "RUNNING"):
        assert not _matches(pattern, _glue_event(state))
    sample = json.loads((repo_root / "events/functions/diagnose.json").read_text())["event"]
    assert _matches(pattern, sample)


def test_rules_retry_and_dead_letter(template: dict[str, Any]) -> None:
    rules = _rules(template)
    assert set(rules) == {"GlueJobFailed", "DataQualityFailed"}
    for name, rule in rules.items():
        assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0, name
        assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}}
    assert rules["DataQualityFailed"]["State"] == {"Ref": "DataQualityTrigger"}
    assert template["Parameters"]["DataQualityTrigger"]["Default"] == "ENABLED"
    data_quality = rules["DataQualityFailed"]["Pattern"]
    sample = json.loads((Path(__file__).parents[2] / "events/glue/dq_results_failed.json").read_text())
    assert _matches(data_quality, sample)
    assert data_quality["source"] == ["aws.glue-dataquality"]
    assert data_quality["detail-type"] == ["Data Quality Evaluation Results Available"]
    assert data_quality["detail"]["state"] == ["FAILED"]
    queue_policy = template["Resources"]["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    allowed = queue_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {a["Fn::GetAtt"][0] for a in allowed} == {f"IncidentStateMachine{n}" for n in rules}


# --- storage and notification -----------------------------------------------------------------------


def test_audit_bucket_is_versioned_encrypted_private_and_retained(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["AuditBucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
    block = props["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    policy = template["Resources"]["AuditBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "AuditBucket"}
    deny = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(
    ("logical_id", "keys"),
    [
        ("IncidentEventsTable", [("incident_id", "S", "HASH"), ("seq", "N", "RANGE")]),
        ("QTable", [("state", "S", "HASH")]),
    ],
)
def test_tables_are_keyed_encrypted_and_recoverable(
    template: dict[str, Any], logical_id: str, keys: list[tuple[str, str, str]]
) -> None:
    props = template["Resources"][logical_id]["Properties"]
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    schema = [(k["AttributeName"], types[k["AttributeName"]], k["KeyType"]) for k in props["KeySchema"]]
    assert schema == keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_alarms_reach_the_encrypted_topic(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        assert alarms[metric]["Namespace"] == "AWS/States"
        assert alarms[metric]["Dimensions"][0]["Value"] == {"Ref": "IncidentStateMachine"}
        assert alarms[metric]["AlarmActions"] == [{"Ref": "EscalationTopic"}]
    # CloudWatch alarms cannot publish to a topic under alias/aws/sns: its key must let them.
    assert resources["EscalationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    key_statements = resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements)
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"


def test_state_machine_logs_errors_without_data_and_traces(template: dict[str, Any]) -> None:
    props = template["Resources"]["IncidentStateMachine"]["Properties"]
    assert props["Type"] == "STANDARD"
    assert props["Logging"]["Level"] == "ERROR"
    assert props["Logging"]["IncludeExecutionData"] is False
    assert props["Tracing"] == {"Enabled": True}


def test_learner_defaults_match_the_evaluated_settings(template: dict[str, Any]) -> None:
    """The deployed learner must be the one `selfheal evaluate` measured."""
    from selfheal_core.domain.qlearning import LearnerSettings

    parameters = template["Parameters"]
    assert float(parameters["LearningRate"]["Default"]) == LearnerSettings.learning_rate
    assert float(parameters["DiscountFactor"]["Default"]) == LearnerSettings.discount_factor
    assert float(parameters["ExplorationRate"]["Default"]) == LearnerSettings.epsilon
