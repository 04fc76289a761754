"""The error classifier: signatures as data, cause chains, conflicts, hard cases, bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selfheal_core.classification import classifier as clf
from selfheal_core.classification.classifier import (
    Classifier,
    Signature,
    SignatureError,
    load_signatures,
)
from selfheal_core.vocabulary import Category

from selfheal.classification.metrics import evaluate

SHIPPED = load_signatures()

# These tests pin the signature layer: structured evidence and the learned model sit on top of it
# (tests/unit/test_classifier_layers.py) and may overrule it by design.
classify = Classifier(model=None, structured=False).classify

PY4J_WRAPPER = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/job.py", line 42, in <module>\n'
    "    sink.writeFrame(frame)\n"
    '  File "/opt/amazon/lib/python3.10/site-packages/py4j/protocol.py", line 326, in get_return_value\n'
    "py4j.protocol.Py4JJavaError: An error occurred while calling o123.pyWriteDynamicFrame.\n"
    ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times,"
    " most recent failure: Lost task 3.3 in stage 7.0 (TID 88) (10.0.1.12 executor 2): "
    "org.apache.spark.SparkException: Task failed while writing rows.\n"
    "\tat org.apache.spark.sql.errors.QueryExecutionErrors$.taskFailedWhileWritingRowsError("
    "QueryExecutionErrors.scala:642)\n"
    "\tat org.apache.spark.scheduler.Task.run(Task.scala:141)\n"
)


# --------------------------------------------------------------------------- shipped signatures


@pytest.mark.parametrize("signature", SHIPPED, ids=[s.id for s in SHIPPED])
def test_every_shipped_example_matches_its_pattern_and_classifies_to_its_category(
    signature: Signature,
) -> None:
    import re

    assert re.search(signature.pattern, signature.example, re.IGNORECASE), signature.id
    assert classify(signature.example).category is signature.category, signature.id


def test_shipped_signatures_have_unique_ids_and_one_line_rationales() -> None:
    ids = [s.id for s in SHIPPED]
    assert len(ids) == len(set(ids))
    assert all("\n" not in s.rationale and s.rationale.strip() for s in SHIPPED)
    assert {s.category for s in SHIPPED} >= set(Category) - {Category.UNKNOWN} | {Category.UNKNOWN}


# --------------------------------------------------------------------------- cause chains


def test_generic_wrappers_alone_are_not_evidence() -> None:
    result = classify(PY4J_WRAPPER)
    assert result.category is Category.UNKNOWN
    assert result.signature is None
    assert result.confidence == 0.0


def test_cause_under_py4j_and_stage_failure_wrappers_decides() -> None:
    log = PY4J_WRAPPER + (
        "Caused by: java.io.FileNotFoundException: No such file or directory: "
        "s3://raw/orders/dt=2024-05-01/part-0000.parquet\n"
        "\tat org.apache.hadoop.fs.s3a.S3AFileSystem.getFileStatus(S3AFileSystem.java:3866)\n"
        "\t... 21 more\n"
    )
    result = classify(log)
    assert result.category is Category.SOURCE_NOT_READY
    assert result.signature == "source.path_not_exist"
    assert any("FileNotFoundException" in line for line in result.evidence)


def test_deeper_caused_by_wins_over_a_comparable_shallower_symptom() -> None:
    log = (
        "org.apache.spark.sql.AnalysisException: Unable to infer schema for Parquet. "
        "It must be specified manually.\n"
        "Caused by: java.io.IOException: No space left on device\n"
    )
    # source.empty_input (0.9) vs res.disk (1.05): the explicit deeper cause wins either way
    assert classify(log).category is Category.RESOURCE_EXHAUSTION
    chain = (
        'java.lang.NumberFormatException: For input string: "12,50"\n'
        # data_quality (1.0), deeper than the type_mismatch line (0.95)
        "Caused by: org.apache.spark.SparkException: Malformed records are detected in record parsing.\n"
    )
    assert classify(chain).category is Category.DATA_QUALITY


def test_unrelated_comparable_evidence_conflicts_to_unknown() -> None:
    log = (
        "25/05/01 10:00:01 WARN TaskSetManager: Lost task 1.0: java.io.IOException: No space left on device\n"
        '25/05/01 10:00:02 ERROR Main: java.lang.NumberFormatException: For input string: "abc"\n'
        "25/05/01 10:00:03 ERROR Main: org.apache.spark.sql.AnalysisException: Path does not exist: s3://a/b\n"
    )
    result = classify(log)
    assert result.category is Category.UNKNOWN
    assert result.signature is None
    assert len(result.evidence) == 2


def test_permission_root_cause_is_never_outvoted_by_an_auto_category() -> None:
    log = (
        "java.lang.OutOfMemoryError: Java heap space\n"
        "Caused by: com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied "
        "(Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: X1)\n"
    )
    assert classify(log).category is Category.PERMISSION


# --------------------------------------------------------------------------- hard cases


def test_npe_without_null_data_is_a_code_error() -> None:
    log = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling o81.count.\n"
        ": java.lang.NullPointerException\n"
    )
    assert classify(log).category is Category.CODE_ERROR


def test_npe_from_null_data_is_data_quality() -> None:
    log = (
        "Caused by: java.lang.NullPointerException: Null value appeared in non-nullable field:\n"
        '- field (class: "scala.Long", name: "id")\n'
        '- root class: "scala.Tuple2"\n'
    )
    result = classify(log)
    assert result.category is Category.DATA_QUALITY
    assert result.signature == "dq.null_non_nullable"


def test_unresolved_column_is_drift_but_missing_table_is_code_error() -> None:
    drift = (
        "pyspark.sql.utils.AnalysisException: cannot resolve 'customer_id' "
        "given input columns: [id, cust_id, amount];"
    )
    typo = "pyspark.sql.utils.AnalysisException: Table or view not found: sales.ordres; line 1 pos 14"
    assert classify(drift).category is Category.SCHEMA_DRIFT
    assert classify(typo).category is Category.CODE_ERROR


def test_connect_timeout_to_an_aws_endpoint_is_not_transient() -> None:
    log = (
        "com.amazonaws.SdkClientException: Unable to execute HTTP request: Connect to "
        "my-bucket.s3.us-east-1.amazonaws.com:443 [my-bucket.s3.us-east-1.amazonaws.com/52.216.0.1] "
        "failed: connect timed out\n"
    )
    result = classify(log)
    assert result.category is Category.UNKNOWN
    assert result.signature == "unknown.network_config_connect_timeout"
    # whereas a read timeout on an established connection is a blip
    assert classify("java.net.SocketTimeoutException: Read timed out").category is Category.TRANSIENT_NETWORK


def test_schema_mismatch_caused_by_access_denied_is_permission() -> None:
    log = (
        "org.apache.spark.sql.AnalysisException: "
        "A schema mismatch detected when writing to the Delta table.\n"
        "Caused by: java.nio.file.AccessDeniedException: "
        "s3a://lake/orders/_delta_log/00000000000000000012.json: "
        "getFileStatus on s3a://lake/orders/_delta_log: "
        "com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden\n"
    )
    assert classify(log).category is Category.PERMISSION


def test_illegal_argument_naming_a_missing_field_is_drift() -> None:
    assert classify('java.lang.IllegalArgumentException: Field "customer_id" does not exist.').category is (
        Category.SCHEMA_DRIFT
    )
    assert classify("java.lang.IllegalArgumentException: requirement failed").category is Category.CODE_ERROR


def test_s3_slowdown_is_throttling_even_though_it_is_a_503() -> None:
    log = (
        "com.amazonaws.services.s3.model.AmazonS3Exception: Please reduce your request rate. "
        "(Service: Amazon S3; Status Code: 503; Error Code: SlowDown; Request ID: 1)"
    )
    assert classify(log).category is Category.THROTTLING
    boto = "An error occurred (ThrottlingException) when calling the StartJobRun operation: Rate exceeded"
    assert classify(boto).category is Category.THROTTLING


def test_missing_shuffle_file_is_not_missing_input() -> None:
    log = "java.io.FileNotFoundException: No such file or directory: s3://b/tmp/executor-1/30/shuffle_0_0_0.index"
    assert classify(log).category is Category.UNKNOWN


# --------------------------------------------------------------------------- scanning and bounds


def test_stack_frames_are_not_evidence() -> None:
    log = (
        "java.lang.RuntimeException: boom\n"
        "\tat com.acme.security.AccessDeniedHandler.handle(AccessDeniedHandler.java:12)\n"
    )
    assert classify(log).category is Category.UNKNOWN


def test_quiet_info_lines_are_skipped_unless_they_report_an_exception() -> None:
    quiet = "24/05/01 10:00:00 INFO RetryPolicy: Rate exceeded on a listing call, backing off and retrying\n"
    assert classify(quiet).category is Category.UNKNOWN
    loud = (
        "2023-08-17 10:07:52 INFO ApplicationMaster: Final app status: FAILED, exitCode: 15, "
        "(reason: User class threw exception: org.apache.spark.sql.AnalysisException: "
        "Table or view not found: test123; line 1 pos 21"
    )
    assert classify(loud).category is Category.CODE_ERROR


def test_evidence_is_trimmed_and_long_lines_are_capped() -> None:
    line = "java.lang.OutOfMemoryError: Java heap space " + "x" * 50_000
    result = classify(line)
    assert result.category is Category.RESOURCE_EXHAUSTION
    assert all(len(e) <= clf.EVIDENCE_CHARS for e in result.evidence)


def test_empty_log_is_unknown_for_lack_of_evidence() -> None:
    assert classify("") == clf.Classification(Category.UNKNOWN, 0.0, None, ())


def test_large_log_is_bounded_and_still_finds_the_cause() -> None:
    noise = "".join(
        f"24/05/01 10:{i % 60:02d}:00 INFO TaskSetManager: Finished task {i}.0 in stage 3.0 (TID {i})\n"
        f"\tat org.apache.spark.scheduler.Task.run(Task.scala:{i})\n"
        for i in range(20_000)
    )
    distinct = "".join(f"WARN custom message number {i} with a unique word w{i}q\n" for i in range(6_000))
    log = noise + distinct + "Caused by: java.io.IOException: No space left on device\n"
    assert classify(log).category is Category.RESOURCE_EXHAUSTION


# --------------------------------------------------------------------------- user signatures


def _user_sig(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "user.teradata_lock",
        "category": "transient_network",
        "pattern": r"\[Teradata Database\] \[Error 2631\] Transaction ABORTED due to deadlock",
        "rationale": "A deadlock on the warehouse side: a retry succeeds.",
        "example": "[Teradata Database] [Error 2631] Transaction ABORTED due to deadlock.",
    }
    entry.update(overrides)
    return entry


def test_user_signature_extends_the_shipped_set() -> None:
    signatures = load_signatures([_user_sig()])
    assert len(signatures) == len(SHIPPED) + 1
    message = "[Teradata Database] [Error 2631] Transaction ABORTED due to deadlock."
    result = Classifier(signatures).classify(message)
    assert result.category is Category.TRANSIENT_NETWORK
    assert result.signature == "user.teradata_lock"
    # the default classifier does not know it
    assert classify("[Teradata Database] [Error 2631] Transaction ABORTED due to deadlock.").category is (
        Category.UNKNOWN
    )


def test_user_signature_with_a_shipped_id_overrides_it(tmp_path: Path) -> None:
    shipped = next(s for s in SHIPPED if s.id == "res.disk")
    override = {
        "id": "res.disk",
        "category": "unknown",
        "pattern": shipped.pattern,
        "rationale": "Our workers have fixed disks: escalate instead of resizing.",
        "example": shipped.example,
    }
    path = tmp_path / "extra.json"
    path.write_text(json.dumps([override]), encoding="utf-8")
    signatures = load_signatures(path)
    assert len(signatures) == len(SHIPPED)
    assert next(s for s in signatures if s.id == "res.disk").category is Category.UNKNOWN
    assert Classifier(signatures).classify("java.io.IOException: No space left on device").category is (
        Category.UNKNOWN
    )


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (_user_sig(category="flaky"), "unknown category 'flaky'"),
        (_user_sig(pattern="(unclosed"), "pattern does not compile"),
        (_user_sig(example="something else entirely"), "does not match its own example"),
        (_user_sig(weight=5), "'weight' must be in"),
        (_user_sig(weight="high"), "'weight' must be a number"),
        ({"id": "x", "category": "permission", "pattern": "x", "example": "x"}, "'rationale'"),
        ("not an object", "expected an object"),
    ],
)
def test_invalid_signature_entries_are_rejected_with_a_clear_message(entry: object, fragment: str) -> None:
    with pytest.raises(SignatureError) as error:
        load_signatures([entry])  # type: ignore[list-item]
    assert fragment in str(error.value)
    assert "entry 0" in str(error.value)
    assert isinstance(error.value, ValueError)


def test_invalid_signature_files_are_rejected(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{", encoding="utf-8")
    with pytest.raises(SignatureError, match="not valid JSON"):
        load_signatures(bad_json)
    not_a_list = tmp_path / "obj.json"
    not_a_list.write_text("{}", encoding="utf-8")
    with pytest.raises(SignatureError, match="expected a JSON list"):
        load_signatures(not_a_list)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([_user_sig(), _user_sig()]), encoding="utf-8")
    with pytest.raises(SignatureError, match=r"entry 1: duplicate id 'user\.teradata_lock'"):
        load_signatures(dup)
    with pytest.raises(SignatureError, match="cannot read"):
        load_signatures(tmp_path / "missing.json")


# --------------------------------------------------------------------------- metrics


def test_metrics_precision_recall_f1_and_unsafe_rate() -> None:
    pairs = [
        (Category.PERMISSION, Category.PERMISSION),
        (Category.PERMISSION, Category.TRANSIENT_NETWORK),  # unsafe
        (Category.CODE_ERROR, Category.UNKNOWN),  # wrong but safe
        (Category.TRANSIENT_NETWORK, Category.TRANSIENT_NETWORK),
    ]
    report = evaluate(pairs)
    transient = next(s for s in report.per_category if s.category is Category.TRANSIENT_NETWORK)
    assert (transient.precision, transient.recall) == (0.5, 1.0)
    assert transient.f1 == pytest.approx(2 / 3)
    assert report.unsafe_automation == 1
    assert report.human_only_total == 3
    assert report.confusion[Category.PERMISSION][Category.TRANSIENT_NETWORK] == 1
    # categories absent from truth and predictions do not count in the macro average
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0 + 0) / 4)


# --------------------------------------------------------------------------- prefilter


def test_prefilter_literals_are_required_by_every_shipped_example() -> None:
    for signature in SHIPPED:
        literals = clf.required_literals(signature.pattern)
        if literals is not None:
            assert any(lit in signature.example.lower() for lit in literals), signature.id


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bAccess ?Denied\b|Status Code: ?403", ("access", "status code:")),
        (r"Parquet column cannot be converted", ("parquet column cannot be converted",)),
        (r"Expected: \w+, Found: \w+", ("expected:",)),
        (r"(?:foo|bar)bazz", ("bazz",)),  # the group is skipped, what follows is still required
        (r"(?:foo|bar)ba", None),  # too short to be a useful filter
        (r"a.b|[abc]+", None),
        (r"No such struct field\b(?:x)?", ("no such struct field",)),
    ],
)
def test_prefilter_extraction_is_conservative(pattern: str, expected: tuple[str, ...] | None) -> None:
    assert clf.required_literals(pattern) == expected
