"""Static checks of template.yaml against the ASL, the handlers and selfheal's safety promises.

cfn-lint and `sam validate --lint` do not look inside a SAM state machine's DefinitionUri, nor do they
know which Lambda may touch Glue: these tests do.
"""

from __future__ import annotations

import ast
import fnmatch
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
    "RunFinishedFunction": "run_finished",
}
AWS_ERROR_PREFIXES = ("States.", "Lambda.", "SNS.")
GLUE_WRITE = re.compile(
    r"^glue:(\*|(Start|Update|Create|Delete|Put|BatchCreate|BatchDelete|Reset|Stop|Import|Tag|Untag)\w*)$",
    re.IGNORECASE,
)
EVENT_LOG = {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}
# The least privilege each function gets (statement actions; SAM policy templates listed separately).
EXPECTED_ACTIONS = {
    "DiagnoseFunction": EVENT_LOG
    | {"glue:GetJob", "glue:GetJobRun", "glue:GetJobRuns", "glue:GetTags"}
    | {"glue:GetTableVersions", "glue:GetDataQualityResult", "logs:DescribeLogStreams", "logs:GetLogEvents"}
    | {"glue:ListDataQualityResults"}
    | {"ssm:GetParameter"},
    "ProposeFunction": EVENT_LOG | {"dynamodb:BatchGetItem"},
    "SafetyGateFunction": EVENT_LOG | {"dynamodb:UpdateItem"},  # + the storm table
    "ExecuteFunction": EVENT_LOG
    | {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns"}
    | {"glue:GetTableVersion", "glue:GetTable", "glue:UpdateTable"},
    "ValidateFunction": EVENT_LOG
    | {"glue:GetJobRun", "glue:GetTableVersions"}
    | {
        "glue:GetDataQualityResult",
        "glue:ListDataQualityResults",
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
    },
    "EscalateFunction": EVENT_LOG
    | {"s3:PutObject"}  # the labelled answers (answers/ in the audit bucket)
    | {"kms:GenerateDataKey", "kms:Decrypt", "dynamodb:UpdateItem"}  # + the storm table
    | {"secretsmanager:GetSecretValue"},  # the answer links' signing key
    "LearnFunction": EVENT_LOG | {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
    # Its RUN#<run id> items only (a LeadingKeys condition); SendTaskSuccess in RunFinishedReleasePolicy.
    "RunFinishedFunction": {"dynamodb:PutItem", "dynamodb:GetItem", "glue:GetJobRun"},
}
EXPECTED_TEMPLATES = {
    "DiagnoseFunction": set(),
    "ProposeFunction": {"SSMParameterReadPolicy"},
    "SafetyGateFunction": {"SSMParameterReadPolicy"},
    "ExecuteFunction": {"SSMParameterReadPolicy"},
    "ValidateFunction": set(),
    "EscalateFunction": {"SNSPublishMessagePolicy"},
    "LearnFunction": {"SSMParameterReadPolicy"},
    "RunFinishedFunction": set(),
}


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))


def _tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement that can be deployed: a conditional one (Fn::If) counts as its true branch."""
    statements = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in policy["Statement"]:
                if "Fn::If" in statement:
                    statement = statement["Fn::If"][1]
                statements.append(statement)
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


def _matches(pattern: Any, event: Any, parameters: dict[str, str] | None = None) -> bool:
    """EventBridge matching for the subset the template uses: nested objects, lists of literals and
    {"wildcard": ...} ("*" matches any run of characters), whose Refs are resolved from ``parameters``."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and _matches(value, event[key], parameters) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        values = event if isinstance(event, list) else [event]
        return any(_matches_one(item, value, parameters or {}) for item in pattern for value in values)
    raise AssertionError(f"unsupported pattern element {pattern!r}")


def _matches_one(item: Any, value: Any, parameters: dict[str, str]) -> bool:
    if isinstance(item, dict):
        (operator, operand), *rest = item.items()
        assert operator == "wildcard" and not rest, f"unsupported pattern element {item!r}"
        if isinstance(operand, dict):
            operand = parameters[operand["Ref"]]
        # GlueJobNamePattern allows no "?" or "[": fnmatch's "*" is EventBridge's and IAM's.
        return isinstance(value, str) and fnmatch.fnmatchcase(value, operand)
    return bool(item == value)


def _defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}


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
    observability = (repo_root / "shared/selfheal_core/runtime/observability.py").read_text()
    assert '"POWERTOOLS_TRACE_DISABLED"' in observability
    known = _config_variables(repo_root) | {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_TRACE_DISABLED",
    }
    assert {"EVENTS_TABLE", "SETTINGS_PARAMETER", "MODE"} <= known
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["STORE_BACKEND"] == "dynamodb"
    for name in ("EVENTS_TABLE", "Q_TABLE", "SETTINGS_PARAMETER"):
        assert name in shared
    assert "AUDIT_BUCKET" not in shared  # only the AuditWriter writes the audit trail
    writer = template["Resources"]["AuditWriterFunction"]["Properties"]
    assert writer["Environment"]["Variables"] == {"AUDIT_BUCKET": {"Ref": "AuditBucket"}}
    stream = writer["Events"]["NewIncidentEvents"]["Properties"]
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # A batch the writer gives up on is recorded, and someone is told.
    assert stream["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["AuditDeadLetterQueue", "Arn"]},
    }
    alarm = template["Resources"]["AuditDeadLettersAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AuditDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["AlarmActions"] == [{"Ref": "EscalationTopic"}]
    for logical_id in FUNCTIONS:
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        unknown = (set(shared) | set(own)) - known
        assert not unknown, f"{logical_id} sets variables nothing reads: {unknown}"
    escalate = template["Resources"]["EscalateFunction"]["Properties"]["Environment"]["Variables"]
    assert escalate["TOPIC_ARN"] == {"Ref": "EscalationTopic"}


def test_aws_calls_are_traced_only_on_request(template: dict[str, Any]) -> None:
    """The X-Ray SDK costs a third of a cold start; Lambda's active tracing stays on regardless."""
    assert template["Parameters"]["TraceAwsCalls"]["Default"] == "off"
    assert template["Conditions"]["TraceAwsCallsOn"] == {"Fn::Equals": [{"Ref": "TraceAwsCalls"}, "on"]}
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TraceAwsCallsOn", "false", "true"]}
    assert template["Globals"]["Function"]["Tracing"] == "Active"


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
    assert _matches(pattern, _glue_event("FAILED"), _defaults(template))
    assert _matches(pattern, _glue_event("TIMEOUT"), _defaults(template))
    for state in ("SUCCEEDED", "STOPPED", "RUNNING"):
        assert not _matches(pattern, _glue_event(state), _defaults(template))
    sample = json.loads((repo_root / "events/functions/diagnose.json").read_text())["event"]
    assert _matches(pattern, sample, _defaults(template))


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
    assert _matches(data_quality, sample, _defaults(template))
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


def test_the_tests_events_table_is_the_templates(template: dict[str, Any]) -> None:
    from fakes import EVENTS_TABLE_KEYS

    props = template["Resources"]["IncidentEventsTable"]["Properties"]
    assert props["KeySchema"] == EVENTS_TABLE_KEYS["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        EVENTS_TABLE_KEYS["AttributeDefinitions"], key=str
    )


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


# --- scope: job names, rollback databases --------------------------------------------------------


def _named(event: dict[str, Any], job_name: str) -> dict[str, Any]:
    """The event about another job: the job-state event's detail.jobName, the DQ result's context one."""
    renamed = json.loads(json.dumps(event))
    detail = renamed["detail"]
    detail.get("context", detail)["jobName"] = job_name
    return renamed


@pytest.mark.parametrize(
    ("rule", "sample"),
    [
        ("GlueJobFailed", "events/functions/diagnose.json"),
        ("DataQualityFailed", "events/glue/dq_results_failed.json"),
    ],
)
def test_rules_open_incidents_only_for_jobs_in_the_name_pattern(
    template: dict[str, Any], repo_root: Path, rule: str, sample: str
) -> None:
    """GlueJobNamePattern scopes the triggers as it scopes IAM: no incident for a job selfheal may not touch."""
    pattern = _rules(template)[rule]["Pattern"]
    loaded = json.loads((repo_root / sample).read_text())
    event = loaded.get("event", loaded)
    narrowed = {**_defaults(template), "GlueJobNamePattern": "etl-*"}
    assert _matches(pattern, _named(event, "etl-orders"), narrowed)
    assert not _matches(pattern, _named(event, "billing-orders"), narrowed)
    assert _matches(pattern, _named(event, "billing-orders"), _defaults(template))  # "*": every job
    job_arn = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/${GlueJobNamePattern}"
    diagnose = _statements(template["Resources"]["DiagnoseFunction"]["Properties"])
    assert {"Fn::Sub": job_arn} in [s["Resource"] for s in diagnose]


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}


def _evaluate(node: Any, parameters: dict[str, str]) -> Any:
    """The few intrinsic functions the rollback ARNs use, as CloudFormation evaluates them."""
    if isinstance(node, str | int):
        return node
    ((function, argument),) = node.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Fn::Split":
        return _evaluate(argument[1], parameters).split(argument[0])
    if function == "Fn::Select":
        return _evaluate(argument[1], parameters)[int(argument[0])]
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {**parameters, **{k: _evaluate(v, parameters) for k, v in variables.items()}}
        return re.sub(r"\$\{([\w:]+)\}", lambda m: values[m.group(1)], text)
    raise AssertionError(f"no evaluator for {function}")


def _rollback_statement(template: dict[str, Any]) -> dict[str, Any]:
    policies = template["Resources"]["ExecuteFunction"]["Properties"]["Policies"]
    statements = [s for p in policies if "Statement" in p for s in p["Statement"]]
    (conditional,) = [s for s in statements if "Fn::If" in s]
    condition, statement, otherwise = conditional["Fn::If"]
    assert condition == "RollbackEnabled" and otherwise == {"Ref": "AWS::NoValue"}
    return dict(statement)


@pytest.mark.parametrize("databases", ["crm", "crm,sales_*", "a,b,c,d,e", "a,a"])
def test_rollback_may_update_tables_only_in_the_rollback_databases(
    template: dict[str, Any], databases: str
) -> None:
    parameter = template["Parameters"]["RollbackDatabases"]
    assert re.fullmatch(parameter["AllowedPattern"], databases)
    statement = _rollback_statement(template)
    assert set(statement["Action"]) == {"glue:GetTableVersion", "glue:GetTable", "glue:UpdateTable"}
    resources = {_evaluate(r, {**PSEUDO, "RollbackDatabases": databases}) for r in statement["Resource"]}
    prefix = "arn:aws:glue:eu-west-1:111122223333"
    tables = {r for r in resources if ":table/" in r}
    assert tables == {f"{prefix}:table/{name}/*" for name in databases.split(",")}
    # The table ARNs decide: each action also needs the catalog and the table's database.
    assert resources - tables == {f"{prefix}:catalog", f"{prefix}:database/*"}


def test_rollback_is_off_unless_databases_are_named(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["RollbackDatabases"]
    assert parameter["Default"] == ""
    assert template["Conditions"]["RollbackEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RollbackDatabases"}, ""]}]
    }
    # Five slots in the policy: a sixth name would get no ARN, so the parameter refuses it.
    assert not re.fullmatch(parameter["AllowedPattern"], "a,b,c,d,e,f")
    assert not re.fullmatch(parameter["AllowedPattern"], "crm, sales")


# --- environment: what the handlers read ------------------------------------------------------------

# Variables config.py reads that the template leaves unset on purpose.
NOT_DEPLOYED = {
    "SQLITE_PATH": "the local engine's store",
    "AUDIT_DIR": "the local engine's audit files",
    "EXPLORATION_SEED": "tests and replays seed exploration; deployed, it is random",
    "AWS_REGION": "set by Lambda",
    "AWS_DEFAULT_REGION": "set by Lambda",
    "MAX_QUARANTINE_FRACTION": "a safety threshold: changed in code, with review, not per deployment",
}


def _variables_by_field(repo_root: Path) -> dict[str, set[str]]:
    """Config field -> the environment variables config.py derives it from (through local names too)."""
    tree = ast.parse((repo_root / "shared/selfheal_core/runtime/config.py").read_text())
    from_env = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "from_env")

    def names(node: ast.AST, local: dict[str, set[str]]) -> set[str]:
        found: set[str] = set()
        for child in ast.walk(node):
            if (
                isinstance(child, ast.Constant)
                and isinstance(child.value, str)
                and re.fullmatch(r"[A-Z][A-Z_]+", child.value)
            ):
                found.add(child.value)
            if isinstance(child, ast.Name) and child.id in local:
                found |= local[child.id]
        return found

    local: dict[str, set[str]] = {}
    fields: dict[str, set[str]] = {}
    for statement in from_env.body:
        if isinstance(statement, ast.Assign | ast.Try):
            for assign in [n for n in ast.walk(statement) if isinstance(n, ast.Assign)]:
                for target in assign.targets:
                    if isinstance(target, ast.Name):
                        local[target.id] = local.get(target.id, set()) | names(assign.value, local)
        if isinstance(statement, ast.Return):
            call = statement.value
            assert isinstance(call, ast.Call)
            fields = {k.arg: names(k.value, local) for k in call.keywords if k.arg}
    return fields


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_variable_a_handler_reads_is_set_by_the_template(
    template: dict[str, Any], repo_root: Path, logical_id: str
) -> None:
    """A variable the template forgets silently runs the code's default, whatever the parameters say."""
    fields = _variables_by_field(repo_root)
    app = (repo_root / f"functions/{FUNCTIONS[logical_id]}/app.py").read_text()
    read = set().union(*(fields[f] for f in set(re.findall(r"config\.(\w+)", app)) if f in fields))
    shared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    own = set(template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    missing = read - shared - own - set(NOT_DEPLOYED) - {"STORE_BACKEND"}
    assert not missing, f"{logical_id} reads {sorted(missing)} but the template does not set them"


def test_template_defaults_are_the_code_defaults(template: dict[str, Any]) -> None:
    """A deployment with default parameters behaves like the code (and the evaluation) with no settings."""
    from selfheal_core.runtime.config import Config

    code = Config.from_env({"STORE_BACKEND": "sqlite"})
    default = {
        name: float(p["Default"]) for name, p in template["Parameters"].items() if p["Type"] == "Number"
    }
    assert default["BackoffSeconds"] == code.backoff_seconds
    assert default["PollSeconds"] == code.poll_seconds
    assert default["MaxPolls"] == code.max_polls
    assert default["HumanTimeoutSeconds"] == code.human_timeout_seconds
    assert default["MaxAttempts"] == code.safety.max_attempts
    assert default["SettingsMaxAgeSeconds"] == code.settings_max_age_seconds
    assert default["HumanHours"] == code.learning_terms.weights.human_hours == -code.learner.initial_value
    assert default["DecisionSeconds"] == code.learning_terms.decision_minutes * 60
    functions = template["Resources"]
    for logical_id in ("ProposeFunction", "LearnFunction"):  # both build the learner from it
        assert functions[logical_id]["Properties"]["Environment"]["Variables"]["HUMAN_HOURS"] == {
            "Ref": "HumanHours"
        }


# --- encryption, access logs, object lock -----------------------------------------------------------


def test_every_log_group_is_encrypted_with_the_logs_key(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    groups = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) >= 8
    for logical_id, props in groups.items():
        assert props.get("KmsKeyId") == {"Fn::GetAtt": ["LogsKey", "Arn"]}, logical_id
    key = resources["LogsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (logs,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal", {}).get("Service")]
    assert logs["Principal"]["Service"] == {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
    # Only this stack's groups: the encryption context names the log group.
    allowed = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    for props in groups.values():
        name = props["LogGroupName"]["Fn::Sub"]
        arn = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}"
        assert any(fnmatch.fnmatchcase(arn, a["Fn::Sub"]) for a in allowed), name


def test_audit_bucket_access_is_logged_to_a_private_bucket(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    logging = resources["AuditBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AuditAccessLogsBucket"}
    logs = resources["AuditAccessLogsBucket"]
    assert logs["DeletionPolicy"] == "Retain"
    # S3 delivers access logs only to SSE-S3 buckets.
    rule = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(logs["Properties"]["PublicAccessBlockConfiguration"].values())
    statements = resources["AuditAccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (delivery,) = [s for s in statements if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": ["AuditBucket", "Arn"]}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_audit_object_lock_is_optional_governance_and_off_by_default(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["AuditObjectLockDays"]
    assert parameter["Default"] == 0 and parameter["MinValue"] == 0
    assert template["Conditions"]["AuditObjectLock"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuditObjectLockDays"}, "0"]}]
    }
    props = template["Resources"]["AuditBucket"]["Properties"]
    assert props["ObjectLockEnabled"] == {"Fn::If": ["AuditObjectLock", True, {"Ref": "AWS::NoValue"}]}
    condition, lock, otherwise = props["ObjectLockConfiguration"]["Fn::If"]
    assert condition == "AuditObjectLock" and otherwise == {"Ref": "AWS::NoValue"}
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": {"Ref": "AuditObjectLockDays"}}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}  # Object Lock requires it


# --- checkov skips ----------------------------------------------------------------------------------


def test_every_checkov_skip_has_a_reason(template: dict[str, Any], repo_root: Path) -> None:
    import yaml

    text = (repo_root / ".checkov.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["framework"] == ["cloudformation"]
    for check in config["skip-check"]:
        (line,) = [line for line in text.splitlines() if re.match(rf"\s*-\s*{check}\b", line)]
        assert re.search(r"#\s*\S.{20,}", line), f"{check} is skipped without a reason"
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical_id
            assert len(skip.get("comment", "")) > 20, f"{logical_id} skips {skip['id']} without a reason"


def test_functions_are_granted_exactly_the_glue_calls_the_adapter_makes(
    template: dict[str, Any], repo_root: Path
) -> None:
    """An API the adapter calls but no role allows fails in AWS only; one allowed but never called is
    privilege nobody needs (Diagnose's glue:GetTable was)."""
    source = (repo_root / "shared/selfheal_core/adapters/glue.py").read_text()
    calls = set(re.findall(r"self\.client\.(\w+)\(", source)) - {"get_paginator"}
    calls |= set(re.findall(r"get_paginator\(\"(\w+)\"\)", source))
    called = {"glue:" + "".join(part.title() for part in call.split("_")) for call in calls}
    granted = {
        action
        for logical_id in FUNCTIONS
        for action in _actions(template["Resources"][logical_id]["Properties"])
        if action.startswith("glue:")
    }
    assert granted == called


def test_every_parameter_is_in_the_operations_table(template: dict[str, Any], repo_root: Path) -> None:
    documented = set(
        re.findall(r"^\| `(\w+)` \| ", (repo_root / "docs/operations.md").read_text(), re.MULTILINE)
    )
    assert set(template["Parameters"]) - documented == set()


def test_run_finished_touches_only_its_run_items_and_releases_only_this_state_machine(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    props = resources["RunFinishedFunction"]["Properties"]
    watches = next(s for s in _statements(props) if s["Sid"] == "RunWatches")
    assert watches["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RUN#*"]}}
    release = resources["RunFinishedReleasePolicy"]["Properties"]
    assert release["RoleName"] == {"Ref": "RunFinishedFunctionRole"}
    (statement,) = release["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:SendTaskSuccess"
    assert statement["Resource"] == {"Ref": "IncidentStateMachine"}
    rule = props["Events"]["GlueRunEnded"]["Properties"]["Pattern"]
    assert rule["source"] == ["aws.glue"] and rule["detail-type"] == ["Glue Job State Change"]
    assert set(rule["detail"]["state"]) == {"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"}
    assert rule["detail"]["jobName"] == [{"wildcard": {"Ref": "GlueJobNamePattern"}}]
