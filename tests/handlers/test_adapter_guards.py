"""The adapters against the real API shapes (issue 9, item 6): log paging, the ARN partition, the
optimistic lock of a rollback, and the Data Quality event's real fields, strictly parsed."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fakes import EVENTS_DIR, make_deps
from selfheal_core.adapters.cloudwatch_logs import CloudWatchLogReader
from selfheal_core.adapters.eventbridge import trigger_from_event
from selfheal_core.adapters.glue import GlueAdapter
from selfheal_core.errors import InvalidInputError, RemediationError
from selfheal_core.runtime import wiring


# -- 3. GetLogEvents paging --------------------------------------------------------------------------
class PagedLogs:
    """GetLogEvents as documented: a page may be empty before the end; the end is the token coming back."""

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.calls: list[str | None] = []

    def describe_log_streams(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["logGroupName"] != "/aws-glue/jobs/error":
            return {"logStreams": []}
        return {"logStreams": [{"logStreamName": "jr_1"}]}

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        token = kwargs.get("nextToken")
        self.calls.append(token)
        index = int(token.removeprefix("f/")) if token else 0
        if index >= len(self.pages):
            return {"events": [], "nextForwardToken": token}
        events = [{"message": m, "timestamp": 0} for m in self.pages[index]]
        return {"events": events, "nextForwardToken": f"f/{index + 1}"}


def test_log_paging_goes_past_empty_pages_until_the_token_repeats() -> None:
    client = PagedLogs([["first"], [], [], ["after two empty pages"], []])
    read = CloudWatchLogReader(client=client).read_run_logs("jr_1")
    assert read.text == "first\nafter two empty pages"
    assert read.truncated is False
    assert client.calls == [None, "f/1", "f/2", "f/3", "f/4", "f/5"]


def test_log_paging_of_endless_empty_pages_stops_at_the_time_bound() -> None:
    class Endless(PagedLogs):
        def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(kwargs.get("nextToken"))
            return {"events": [], "nextForwardToken": f"f/{len(self.calls)}"}

    client = Endless([])
    read = CloudWatchLogReader(client=client, max_seconds=0.05).read_run_logs("jr_1")
    assert read.truncated is True and len(client.calls) > 2


# -- 4. the partition of GetTags' ARN --------------------------------------------------------------
@pytest.mark.parametrize(
    ("partition", "region"), [("aws", "us-east-1"), ("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1")]
)
def test_get_tags_uses_the_partition_the_adapter_was_given(partition: str, region: str) -> None:
    client = boto3.client("glue", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("get_job", {"Job": {"Name": "j", "MaxRetries": 1}}, {"JobName": "j"})
        arn = f"arn:{partition}:glue:{region}:123456789012:job/j"
        stub.add_response("get_tags", {"Tags": {"team": "data"}}, {"ResourceArn": arn})
        job = GlueAdapter(client=client, account_id="123456789012", partition=partition).get_job("j")
    assert job.tags == {"team": "data"}


def test_without_a_partition_the_adapter_uses_its_clients() -> None:
    client = boto3.client("glue", region_name="cn-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert GlueAdapter(client=client, account_id="123456789012").partition == "aws-cn"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws-cn:lambda:cn-north-1:123456789012:function:selfheal-diagnose", ("123456789012", "aws-cn")),
        ("arn:aws-us-gov:lambda:us-gov-west-1:210987654321:function:d", ("210987654321", "aws-us-gov")),
        ("arn:aws:lambda:eu-west-1:111122223333:function:d:live", ("111122223333", "aws")),
        ("", ("", "")),
    ],
)
def test_the_handler_wiring_takes_account_and_partition_from_the_invoked_arn(
    monkeypatch: pytest.MonkeyPatch, arn: str, expected: tuple[str, str]
) -> None:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        wiring, "_cached", lambda config, account, partition: seen.append((account, partition))
    )
    monkeypatch.setattr(wiring.Config, "from_env", classmethod(lambda cls, env=None: None))

    class Context:
        invoked_function_arn = arn

    wiring.default_dependencies(Context())
    assert seen == [expected]


# -- 5. rollback under optimistic locking ------------------------------------------------------------
OLD_TABLE = {
    "Name": "orders",
    "DatabaseName": "sales",
    "StorageDescriptor": {"Columns": [{"Name": "amount", "Type": "double"}]},
    "VersionId": "1",
}


@pytest.fixture
def stubbed_glue() -> Iterator[tuple[GlueAdapter, Stubber]]:
    client = boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield GlueAdapter(client=client), stub
        stub.assert_no_pending_responses()


# The drift: the column's type changed after version 1.
DRIFTED = {"Columns": [{"Name": "amount", "Type": "string"}]}


def _read_old_and_current(stub: Stubber, current: dict[str, Any] | None = None) -> None:
    stub.add_response(
        "get_table_version",
        {"TableVersion": {"Table": OLD_TABLE, "VersionId": "1"}},
        {"DatabaseName": "sales", "TableName": "orders", "VersionId": "1"},
    )
    current = current or {**OLD_TABLE, "StorageDescriptor": DRIFTED, "VersionId": "7"}
    stub.add_response("get_table", {"Table": current}, {"DatabaseName": "sales", "Name": "orders"})


def test_a_table_already_back_at_its_baseline_is_not_written_again(
    stubbed_glue: tuple[GlueAdapter, Stubber],
) -> None:
    """A retried rollback whose first UpdateTable went through: no second catalog version."""
    adapter, stub = stubbed_glue
    _read_old_and_current(stub, current={**OLD_TABLE, "VersionId": "8"})
    adapter.restore_table_version("sales", "orders", "1")  # the stub fails on any update_table


def test_a_rollback_writes_only_over_the_version_it_read_as_current(
    stubbed_glue: tuple[GlueAdapter, Stubber],
) -> None:
    adapter, stub = stubbed_glue
    _read_old_and_current(stub)
    stub.add_response(
        "update_table",
        {},
        {
            "DatabaseName": "sales",
            "TableInput": {"Name": "orders", "StorageDescriptor": ANY},
            "VersionId": "7",
        },
    )
    adapter.restore_table_version("sales", "orders", "1")


def test_a_catalog_change_racing_the_rollback_fails_it_clearly(
    stubbed_glue: tuple[GlueAdapter, Stubber],
) -> None:
    adapter, stub = stubbed_glue
    _read_old_and_current(stub)
    stub.add_client_error(
        "update_table",
        "ConcurrentModificationException",
        "Update table failed due to concurrent modification",
    )
    with pytest.raises(RemediationError, match=r"changed while selfheal restored it .*version 7"):
        adapter.restore_table_version("sales", "orders", "1")


# -- 7, 8. the Data Quality event's real fields, strictly parsed -------------------------------------
def dq_event(**detail: Any) -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / "glue" / "dq_results_failed.json").read_text())
    for key in ("rulesSucceeded", "rulesFailed", "rulesSkipped", "numRulesSucceeded", "numRulesFailed"):
        event["detail"].pop(key, None)
    event["detail"].pop("numRulesSkipped", None)
    event["detail"].update(detail)
    return event


def test_the_rule_counts_are_read_from_the_fields_glue_sends() -> None:
    trigger = trigger_from_event(dq_event(numRulesSucceeded=4, numRulesFailed=2, numRulesSkipped=1))
    assert "2 of 7 rules failed" in trigger.message
    assert trigger.extra["rules_failed"] == 2


def test_the_documented_sample_field_names_still_work() -> None:
    trigger = trigger_from_event(dq_event(rulesSucceeded=3, rulesFailed=1))
    assert "1 of 4 rules failed" in trigger.message


def test_the_committed_sample_has_the_real_shape() -> None:
    detail = json.loads((EVENTS_DIR / "glue" / "dq_results_failed.json").read_text())["detail"]
    assert {"numRulesSucceeded", "numRulesFailed", "numRulesSkipped"} <= set(detail)


VALID_COUNTS: dict[str, Any] = {"numRulesSucceeded": 1, "numRulesFailed": 1}
BAD_COUNTS = [
    ("numRulesFailed", "2"),
    ("numRulesFailed", 10**30),
    ("numRulesFailed", float("inf")),
    ("numRulesSucceeded", -1),
    ("numRulesSkipped", True),
    ("score", "0.5"),
    ("score", 7.0),
]


@pytest.mark.parametrize(("field", "value"), BAD_COUNTS)
def test_a_malformed_count_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        trigger_from_event(dq_event(**{**VALID_COUNTS, field: value}))


@pytest.mark.parametrize(("field", "value"), BAD_COUNTS)
def test_diagnose_refuses_a_malformed_count_as_invalid_input(
    load_handler: Any, lambda_context: Any, field: str, value: Any
) -> None:
    event = dq_event(**{**VALID_COUNTS, field: value})
    payload = {"event": copy.deepcopy(event), "execution_id": "ex-1"}
    # A non-finite number is refused before the fields are looked at (it is not JSON at all).
    expected = "not a JSON number" if value == float("inf") else field
    with pytest.raises(InvalidInputError, match=expected):
        load_handler("diagnose")(payload, lambda_context, deps=make_deps())
