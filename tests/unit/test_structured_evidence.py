"""Structured evidence layer: extraction of names (Glue categories, Spark error classes, SQLSTATEs,
exception classes, AWS codes) and the decision over them. Message shapes are real; each has its
source in a comment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from script_loader import load_script
from selfheal_core.classification import structured
from selfheal_core.classification.structured import StructuredHit, decide, extract, load_maps
from selfheal_core.vocabulary import Category

MAPS = Path(structured.__file__).with_name("evidence_maps")
ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = {c.value for c in Category}


def keys(text: str) -> list[tuple[str, str, str]]:
    return [(h.source, h.key, h.category.value) for h in extract(text)]


def decided(text: str) -> tuple[str, str, str] | None:
    hit = decide(extract(text))
    return None if hit is None else (hit.source, hit.key, hit.category.value)


# --------------------------------------------------------------------------- each source


def test_glue_category_with_spark_error_class():
    # Glue 4.0 job-run ErrorMessage, quoted in a public incident note (GitHub code search):
    # "Error Category: QUERY_ERROR; Spark Error Class: MISSING_COLUMN; AnalysisException: ..."
    text = (
        "Error Category: QUERY_ERROR; Spark Error Class: MISSING_COLUMN; AnalysisException: "
        "Column 'asset.ipv4' does not exist."
    )
    assert ("glue_category", "QUERY_ERROR", "code_error") in keys(text)
    assert decided(text) == ("spark_error_class", "MISSING_COLUMN", "schema_drift")
    assert [h.generic for h in extract(text) if h.source == "glue_category"] == [True]


def test_glue_category_specific_decides():
    # "error:Error Category: SYNTAX_ERROR; SyntaxError: invalid syntax (amazonsales-gluejob-rsk.py, line 63)"
    # (a Glue job's error text pasted in a public repository, GitHub code search)
    text = "Error Category: SYNTAX_ERROR; SyntaxError: invalid syntax (amazonsales-gluejob-rsk.py, line 63)"
    assert decided(text) == ("glue_category", "SYNTAX_ERROR", "code_error")


def test_unclassified_glue_category_alone_does_not_decide():
    # "Error Category: UNCLASSIFIED_ERROR; An error occurred while calling o163.pyWriteDynamicFrame.
    #  DynamoDB write exceeds max retry 10" (README of a public Glue sample, GitHub code search)
    text = (
        "Error Category: UNCLASSIFIED_ERROR; An error occurred while calling o163.pyWriteDynamicFrame. "
        "DynamoDB write exceeds max retry 10"
    )
    hits = extract(text)
    assert [(h.key, h.generic) for h in hits] == [("UNCLASSIFIED_ERROR", True)]
    assert decide(hits) is None


def test_glue_exception_analysis_pretty_printed():
    # https://github.com/aws-samples/aws-glue-flatten-nested-json/issues/13
    text = r"""ERROR GlueExceptionAnalysisListener: [Glue Exception Analysis]
{
    "Event": "GlueETLJobExceptionEvent",
    "Timestamp": 1688391115980,
    "Failure Reason": "Traceback (most recent call last):\n  File \"/tmp/Smaple job.py\", line 513, in <module>\n    clean_columns_name(root_table, tables_info_map)\n  File \"/tmp/Smaple job.py\", line 327, in clean_columns_name\n    for col_name in tables_info_map[tbl_name]['columns']:\nKeyError: '2023_1'",
    "Stack Trace": [
        {
            "Declaring Class": "clean_columns_name",
            "Method Name": "for col_name in tables_info_map[tbl_name]['columns']:",
            "File Name": "/tmp/Smaple job.py",
            "Line Number": 327
        }
    ],
    "Last Executed Line number": 513,
    "script": "Smaple job.py"
}"""
    hits = extract(text)
    assert [(h.source, h.key, h.category.value) for h in hits] == [("exception", "KeyError", "code_error")]
    assert hits[0].line == "KeyError: '2023_1'"


def test_glue_exception_analysis_single_line_ignores_stack_trace_code():
    # the same event as Glue writes it on one line; the Stack Trace's source code mentions
    # ValueError, which must not count: only the Failure Reason is evidence
    event = {
        "Event": "GlueETLJobExceptionEvent",
        "Timestamp": 1688391115980,
        "Failure Reason": 'Traceback (most recent call last):\n  File "/tmp/job.py", line 9, in <module>\n'
        "    import great_expectations\nModuleNotFoundError: No module named 'great_expectations'",
        "Stack Trace": [{"Declaring Class": "<module>", "Method Name": "raise ValueError('x')"}],
        "Last Executed Line number": 9,
        "script": "job.py",
    }
    text = "23/07/03 13:31:55 ERROR GlueExceptionAnalysisListener: [Glue Exception Analysis] " + json.dumps(
        event
    )
    assert keys(text) == [("exception", "ModuleNotFoundError", "code_error")]


def test_spark_error_class_with_subclass_and_sqlstate():
    # message template of UNRESOLVED_COLUMN.WITH_SUGGESTION, apache/spark
    # common/utils/src/main/resources/error/error-conditions.json; Spark 4 appends "SQLSTATE: 42703"
    text = (
        "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, "
        "or function parameter with name `order_ts` cannot be resolved. Did you mean one of the following? "
        "[`order_id`, `order_date`]. SQLSTATE: 42703"
    )
    found = keys(text)
    assert ("spark_error_class", "UNRESOLVED_COLUMN.WITH_SUGGESTION", "schema_drift") in found
    assert not any(source == "sqlstate" for source, _, _ in found)  # the class already decided
    assert decided(text) == ("spark_error_class", "UNRESOLVED_COLUMN.WITH_SUGGESTION", "schema_drift")


def test_spark_error_class_real_message():
    # https://github.com/NVIDIA/cudf-spark/issues/14215
    text = (
        "12:59:52  org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] The value '+1.2' of the "
        'type "STRING" cannot be cast to "INT" because it is malformed. Correct the value as per the syntax, '
        "or change its target type. Use `try_cast` to tolerate malformed input and return NULL instead."
    )
    assert decided(text) == ("spark_error_class", "CAST_INVALID_INPUT", "type_mismatch")


def test_subclass_overrides_class_and_wrapper_class_is_not_evidence():
    # FAILED_READ_FILE is a wrapper; its PARQUET_COLUMN_DATA_TYPE_MISMATCH subclass is type_mismatch
    # (subclasses from apache/spark error-conditions.json)
    text = (
        "org.apache.spark.SparkException: [FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH] Encountered "
        "error while reading file s3://b/x.parquet. Data type mismatches when reading Parquet column "
        "`price`. Expected Spark type double, actual Parquet type INT64. SQLSTATE: KD001"
    )
    assert decided(text) == (
        "spark_error_class",
        "FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH",
        "type_mismatch",
    )
    wrapper = "org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file s3://b/x."
    assert extract(wrapper) == []


@pytest.mark.parametrize(
    ("text", "state", "category"),
    [
        # PostgreSQL/Redshift style "(SQLSTATE XX000)": https://github.com/estuary/connectors/pull/918
        # then two synthetic shapes: Spark 4's "SQLSTATE: 22018" suffix with a class not in the map, and
        # Spark Connect's JSON fields
        ("ERROR: Cannot COPY into nonexistent table some_table (SQLSTATE XX000)", "XX000", "unknown"),
        ("[SOME_FUTURE_CONDITION] value cannot be cast. SQLSTATE: 22018", "22018", "type_mismatch"),
        ('{"errorClass": "NOT_IN_OUR_MAP", "sqlState": "42501"}', "42501", "permission"),
    ],
)
def test_sqlstate(text, state, category):
    assert ("sqlstate", state, category) in keys(text)


def test_sqlstate_class_default_is_generic():
    hits = extract("java.sql.SQLException: something odd SQLSTATE: 42Z99")
    assert [(h.source, h.key, h.category.value, h.generic) for h in hits if h.source == "sqlstate"] == [
        ("sqlstate", "42Z99", "code_error", True)
    ]


def test_aws_codes_sdk_v1_with_503_slow_down():
    # https://github.com/apache/hudi/issues/3758
    text = (
        "21/10/07 07:13:12 ERROR Utils: Aborting task\n"
        "com.amazon.ws.emr.hadoop.fs.shaded.com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down "
        "(Service: Amazon S3; Status Code: 503; Error Code: 503 Slow Down; Request ID: FS3ZPMHVXR7ACCC6; "
        "S3 Extended Request ID: xJVRCXk4gMFkuG2q; Proxy: null)"
    )
    found = keys(text)
    assert ("aws_error_code", "SlowDown", "throttling") in found
    assert ("aws_error_code", "503", "transient_network") in found
    assert decided(text) == ("aws_error_code", "SlowDown", "throttling")  # a code beats a status


def test_botocore_client_error():
    # https://github.com/moj-analytical-services/etl_manager/issues/84
    text = (
        "[2018-11-23 16:57:25,607] {models.py:1595} ERROR - An error occurred (ThrottlingException) when "
        "calling the GetJobRun operation (reached max retries: 4): Rate exceeded"
    )
    assert ("aws_error_code", "ThrottlingException", "throttling") in keys(text)
    assert decided(text) is not None and decided(text)[2] == "throttling"


def test_concurrent_runs_exceeded():
    # https://github.com/aws-solutions/amazon-marketing-cloud-uploader-from-aws/issues/51
    text = (
        "{/var/task/app.py:139} ERROR - An error occurred (ConcurrentRunsExceededException) when calling the "
        "StartJobRun operation: Concurrent runs exceeded for iantest06-GlueStack-687EJNLXVGOW-amc-job"
    )
    assert decided(text)[2] == "throttling"


def test_entity_not_found_is_refined_by_its_message():
    # https://github.com/hashicorp/terraform-provider-aws/issues/34132 (a table: code_error, docs)
    table = (
        "An error occurred (EntityNotFoundException) when calling the GetPartitionIndexes operation: "
        "Table image_metadata not found."
    )
    assert decided(table)[2] == "code_error"
    partition = (
        "An error occurred (EntityNotFoundException) when calling the GetPartition operation: "
        "Cannot find partition."
    )
    assert decided(partition)[2] == "source_not_ready"
    bare = "com.amazonaws.services.glue.model.EntityNotFoundException: Entity Not Found (Service: AWSGlue; Status Code: 400; Error Code: EntityNotFoundException)"
    assert decide(extract(bare)) is None  # ambiguous: the layer does not decide


def test_access_denied_status_and_code():
    # example of signatures.json perm.access_denied (the common EMRFS/S3A shape)
    text = (
        "com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: Amazon S3; "
        "Status Code: 403; Error Code: AccessDenied; Request ID: 7Y5T1KX8BQ9K3N2M)"
    )
    found = keys(text)
    assert ("aws_error_code", "403", "permission") in found
    assert decided(text) == ("aws_error_code", "AccessDenied", "permission")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # https://github.com/prestodb/presto/issues/21489
        ("\tCaused by: java.net.SocketTimeoutException: Read timed out", "transient_network"),
        ("java.net.SocketTimeoutException: connect timed out", "unknown"),  # docs: connect timeout
        ("java.net.UnknownHostException: glue.us-east-1.amazonaws.com", "unknown"),
        # https://github.com/fabric8io/fabric8/pull/7056
        ("java.lang.OutOfMemoryError: Java heap space", "resource_exhaustion"),
        (
            "java.io.FileNotFoundException: No such file or directory: s3://bucket/in/2024/06/01",
            "source_not_ready",
        ),
        (
            "java.io.FileNotFoundException: /tmp/blockmgr-1/0c/shuffle_3_12_0.index (No such file or directory)",
            "unknown",
        ),
        ("NameError: name 'spark_df' is not defined", "code_error"),
        ("ModuleNotFoundError: No module named 'pydeequ'", "code_error"),
        ("org.apache.spark.sql.catalyst.parser.ParseException: mismatched input 'FORM'", "code_error"),
        ('java.text.ParseException: Unparseable date: "2023/13/45"', "type_mismatch"),
    ],
)
def test_exceptions(text, category):
    hits = [h for h in extract(text) if h.source == "exception"]
    assert hits and hits[-1].category.value == category
    assert decide(hits) is not None and decide(hits).category.value == category


def test_wrappers_unwrap_to_the_deepest_cause():
    # Py4J-wrapped Glue failure, the shape of docs/diagnosis.md and benchmarks/bench_classifier.py
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/tmp/orders_job.py", line 88, in <module>',
            "    sink.writeFrame(orders)",
            "py4j.protocol.Py4JJavaError: An error occurred while calling o1032.pyWriteDynamicFrame.",
            ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 12 in stage 36.0 failed "
            "4 times, most recent failure: Lost task 12.3 in stage 36.0: java.io.IOException: error writing",
            "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2672)",
            "Caused by: java.net.SocketTimeoutException: Read timed out",
            "\t... 42 more",
        ]
    )
    hits = extract(text)
    assert all(h.key not in {"py4j.protocol.Py4JJavaError", "org.apache.spark.SparkException"} for h in hits)
    winner = decide(hits)
    assert winner is not None
    assert (winner.key, winner.category) == ("java.net.SocketTimeoutException", Category.TRANSIENT_NETWORK)
    io = next(h for h in hits if h.key == "java.io.IOException")
    assert io.generic and winner.depth > io.depth and winner.chain == io.chain


def test_task_write_failed_sqlstate_is_not_evidence():
    # TASK_WRITE_FAILED carries SQLSTATE 58030 (system error); that says nothing about the cause
    text = (
        "org.apache.spark.SparkException: [TASK_WRITE_FAILED] Task failed while writing rows to s3://b/o. "
        "SQLSTATE: 58030\nCaused by: com.amazonaws.services.s3.model.AmazonS3Exception: Please reduce your "
        "request rate. (Service: Amazon S3; Status Code: 503; Error Code: SlowDown; Request ID: 1)"
    )
    assert not any(h.source == "sqlstate" for h in extract(text))
    assert decided(text) == ("aws_error_code", "SlowDown", "throttling")


# --------------------------------------------------------------------------- priority


def test_deep_access_denied_beats_auto_categories():
    # docs/diagnosis.md: a schema mismatch caused by an S3 AccessDenied is permission
    text = (
        "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] A column, variable, "
        "or function parameter with name `c` cannot be resolved.\n"
        "Caused by: com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: Amazon S3; "
        "Status Code: 403; Error Code: AccessDenied; Request ID: X)"
    )
    assert decided(text) == ("aws_error_code", "AccessDenied", "permission")


def test_permission_outranks_other_human_only_categories():
    text = (
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `sales`.`orders` cannot be found.\n"
        "Caused by: AccessDeniedException: Insufficient Lake Formation permission(s) on orders "
        "(Service: AWSGlue; Status Code: 400; Error Code: AccessDeniedException)"
    )
    assert decided(text)[2] == "permission"


def test_glue_category_outranks_lower_sources_in_the_same_chain():
    text = (
        "Error Category: OUT_OF_MEMORY_ERROR; An error occurred while calling o99.save. "
        "java.net.SocketTimeoutException: Read timed out"
    )
    assert decided(text) == ("glue_category", "OUT_OF_MEMORY_ERROR", "resource_exhaustion")


def test_spark_class_outranks_exception():
    text = (
        "org.apache.spark.SparkArithmeticException: [DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to "
        "tolerate divisor being 0 and return NULL instead. SQLSTATE: 22012 java.lang.ArithmeticException: x"
    )
    assert decided(text) == ("spark_error_class", "DIVIDE_BY_ZERO", "data_quality")


def test_lower_ranked_disagreeing_chain_is_outvoted():
    text = "\n".join(
        [
            "24/06/01 10:00:00 WARN TaskSetManager: Lost task 3.0: java.net.SocketTimeoutException: Read timed out",
            "Error Category: OUT_OF_MEMORY_ERROR; An error occurred while calling o12.pyWriteDynamicFrame.",
        ]
    )
    assert decided(text)[2] == "resource_exhaustion"


# --------------------------------------------------------------------------- no decision


def test_conflicting_chains_give_none():
    text = "\n".join(
        [
            "24/06/01 10:00:00 ERROR Executor: java.lang.OutOfMemoryError: Java heap space",
            "24/06/01 10:05:00 ERROR Executor: java.io.FileNotFoundException: No such file or directory: s3://b/in/",
        ]
    )
    hits = extract(text)
    assert {h.category for h in hits} == {Category.RESOURCE_EXHAUSTION, Category.SOURCE_NOT_READY}
    assert len({h.chain for h in hits}) == 2
    assert decide(hits) is None


def test_generic_only_gives_none():
    assert decide(extract("java.lang.RuntimeException: something went wrong")) is None
    assert decide(extract("Error Category: UNCLASSIFIED_SPARK_ERROR; An error occurred")) is None
    assert decide([]) is None
    assert extract("") == []


def test_decide_is_pure_over_hits():
    hit = StructuredHit(Category.THROTTLING, "aws_error_code", "SlowDown", "x", 1, "r")
    assert decide([hit]) is hit


# --------------------------------------------------------------------------- data files


def _load(name: str) -> dict:
    return json.loads((MAPS / name).read_text(encoding="utf-8"))


def _entries(node, path=""):
    """Every mapping entry (with a 'reason') in a map file, with its path."""
    if isinstance(node, dict):
        if "reason" in node and ("category" in node or node.get("wrapper") is True or "lookup" in node):
            yield path, node
        for key, value in node.items():
            if key != "attribution":
                yield from _entries(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _entries(value, f"{path}[{index}]")


@pytest.mark.parametrize(
    "name", ["spark_error_classes.json", "exceptions.json", "aws_error_codes.json", "glue_categories.json"]
)
def test_map_files_are_valid(name):
    data = _load(name)
    assert data["attribution"]
    entries = list(_entries(data))
    assert len(entries) >= 25
    for path, entry in entries:
        assert isinstance(entry["reason"], str) and entry["reason"].strip(), path
        if "category" in entry:
            assert entry["category"] in CATEGORIES, path
        for rule in entry.get("message_rules", []):
            assert rule["category"] in CATEGORIES and rule["reason"].strip() and rule["contains"], path


def test_spark_map_size_and_attribution():
    data = _load("spark_error_classes.json")
    assert 50 <= len(data["error_classes"]) <= 400
    source = data["attribution"]["sources"][0]
    assert source["repo"] == "apache/spark" and source["license"] == "Apache-2.0"
    assert source["retrieved"] == "2026-12-01"
    for name, entry in data["error_classes"].items():
        assert ("category" in entry) != bool(entry.get("wrapper")), name
        for sub, sub_entry in entry.get("subclasses", {}).items():
            assert sub_entry["reason"].strip(), f"{name}.{sub}"


def test_aws_groups_have_provenance():
    for group in _load("aws_error_codes.json")["groups"]:
        assert group["provenance"].strip() and group["codes"]


def test_load_maps_parses_everything():
    maps = load_maps()
    assert maps.glue_categories["PERMISSION_ERROR"].category is Category.PERMISSION
    assert maps.error_classes["TASK_WRITE_FAILED"].entry.wrapper
    assert maps.aws_codes["NoSuchBucket"].category is Category.CODE_ERROR
    assert maps.exceptions["Py4JJavaError"].wrapper


def test_derived_states_cover_only_classes_not_mapped_by_hand():
    data = _load("spark_error_states.json")
    curated = set(_load("spark_error_classes.json")["error_classes"])
    assert {s["repo"] for s in data["attribution"]["sources"]} == {"apache/spark", "delta-io/delta"}
    states = data["states"]
    assert len(states) >= 500
    assert not curated & set(states)
    assert all(re.fullmatch(r"[0-9A-Z]{5}", state) for state in states.values())


def test_a_class_not_mapped_by_hand_is_read_through_its_sqlstate():
    # Spark 4.0's message for this condition (error-conditions.json), printed without its SQLSTATE as Spark 3.3
    # (Glue 4.0) prints classes: the state 22012 is a division by zero in the data.
    text = (
        "org.apache.spark.SparkArithmeticException: [INTERVAL_DIVIDED_BY_ZERO] Division by zero. "
        "Use `try_divide` to tolerate divisor being 0 and return NULL instead."
    )
    hit = decide(extract(text))
    assert hit is not None
    assert (hit.source, hit.key, hit.category) == (
        "spark_error_class",
        "INTERVAL_DIVIDED_BY_ZERO",
        Category.DATA_QUALITY,
    )
    assert hit.reason.startswith("SQLSTATE 22012, Spark's state for INTERVAL_DIVIDED_BY_ZERO")


def test_a_derived_class_with_a_generic_state_decides_nothing_and_hides_its_sqlstate():
    # INVALID_PARAMETER_VALUE is 22023 (class 22, data exception: generic); the SQLSTATE printed on the same
    # line is the class's own, not a second hit.
    text = "[INVALID_PARAMETER_VALUE.PATTERN] The value of parameter(s) `regexp` is invalid. SQLSTATE: 22023"
    hits = extract(text)
    assert [(h.source, h.generic) for h in hits] == [("spark_error_class", True)]
    assert decide(hits) is None


def test_an_unknown_bracketed_name_is_not_evidence():
    assert extract("[NOT_A_SPARK_CONDITION_NAME] something failed") == []


def test_derive_keeps_hand_mapped_classes_out_and_spark_first():
    derive_module = load_script("scripts/derive_spark_error_states.py")
    spark = {"A_CLASS": {"sqlState": "42P01"}, "NO_STATE": {}, "CURATED": {"sqlState": "42703"}}
    delta = {
        "A_CLASS": {"sqlState": "0A000"},
        "DELTA_ONE": {"sqlState": "21506"},
        "bad name": {"sqlState": "1"},
    }
    assert derive_module.derive(spark, delta, {"CURATED"}) == {"A_CLASS": "42P01", "DELTA_ONE": "21506"}


# --------------------------------------------------------------------------- bounded work


@pytest.mark.parametrize(
    "text",
    [
        ("[" * 300 + "A_B_C" + "]" * 300 + " ") * 1700,
        (": " * 1000 + "\n") * 500,
        ("1234567890" * 200 + "\n") * 500,
        ("a." * 1000 + "\n") * 500,
        ("AErrorBError.CException" * 80 + "\n") * 500,
        ("SQLSTATE: SQLSTATE " * 100 + "\n") * 500,
        ("Error Code: Error Code: Status Code: " * 50 + "\n") * 550,
        ("[A.B] x.y.Z: SQLSTATE 4 Error Code: 5 (Service: S3; Status Code: 9" * 30 + "\n") * 500,
        '{"Failure Reason": "' + "a\\n" * 300_000 + '"}\n',
    ],
)
def test_adversarial_megabyte_inputs(text):
    assert len(text) >= 800_000
    hits = extract(text)
    assert decide(hits) is None
    assert all(len(h.line) <= structured.EVIDENCE_CHARS for h in hits)


def test_line_and_count_caps():
    long_line = "java.lang.OutOfMemoryError: " + "x" * 10_000
    (hit,) = extract(long_line)
    assert len(hit.line) == structured.EVIDENCE_CHARS
    many = "\n".join(
        f"java.lang.RuntimeException: case {chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}"
        for i in range(12_000)
    )
    assert len(extract(many)) == structured.MAX_LINES
