"""boto3 Glue adapter: jobs, runs and Data Catalog table versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from selfheal_core.domain.drift import TableVersion
from selfheal_core.domain.evidence import DataQualityOutcome
from selfheal_core.errors import JobRunsBusyError, ReadError, RemediationError, TransientDependencyError
from selfheal_core.ports import GlueCatalog, JobInfo, JobRun

_RETRYABLE = {
    "ThrottlingException",
    "ConcurrentRunsExceededException",
    "InternalServiceException",
    "OperationTimeoutException",
    "ResourceNumberLimitExceededException",
}
# The fields UpdateTable accepts in TableInput (GetTable returns more).
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
)
# Timestamps Glue may touch on its own: they do not make two definitions different.
_VOLATILE_KEYS = frozenset({"LastAccessTime", "LastAnalyzedTime"})


def _definition(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: table[k] for k in _TABLE_INPUT_KEYS if k in table and k not in _VOLATILE_KEYS}


def _translate(error: ClientError, what: str, *, write: bool = False) -> Exception:
    """Throttling is retried by the state machine; anything else is terminal: a refused remediation
    (``write``) or a failed read."""
    code = error.response.get("Error", {}).get("Code", "")
    if code in _RETRYABLE:
        return TransientDependencyError(f"{what}: {code}")
    message = f"{what}: {code or 'error'}: {error.response.get('Error', {}).get('Message', '')}"
    return RemediationError(message) if write else ReadError(message)


def _run_settings(item: Mapping[str, Any]) -> dict[str, Any]:
    """The StartJobRun parameters a failed run was started with (worker settings exclude MaxCapacity)."""
    settings = {k: item[k] for k in ("Timeout", "ExecutionClass", "SecurityConfiguration") if item.get(k)}
    if item.get("WorkerType") and item.get("NumberOfWorkers"):
        settings.update(WorkerType=item["WorkerType"], NumberOfWorkers=item["NumberOfWorkers"])
    elif item.get("MaxCapacity"):
        settings["MaxCapacity"] = item["MaxCapacity"]
    return settings


MAX_DQ_RESULTS = 10  # a run evaluates a few rulesets; more than this is not read


def _dq_outcome(result: Mapping[str, Any]) -> DataQualityOutcome:
    metrics = result.get("AggregatedMetrics") or {}
    processed = int(metrics.get("TotalRowsProcessed") or 0)
    failed = sum(1 for rule in result.get("RuleResults") or () if rule.get("Result") in ("FAIL", "ERROR"))
    return DataQualityOutcome(
        result_id=str(result.get("ResultId", "")),
        rules_failed=failed,
        rows_failed=int(metrics.get("TotalRowsFailed") or 0) if processed > 0 else None,
        rows_processed=processed if processed > 0 else None,
    )


def _run(item: Mapping[str, Any]) -> JobRun:
    return JobRun(
        job_name=str(item.get("JobName", "")),
        run_id=str(item["Id"]),
        state=str(item.get("JobRunState", "UNKNOWN")),
        arguments=dict(item.get("Arguments") or {}),
        error_message=item.get("ErrorMessage"),
        started_on=item.get("StartedOn"),
        completed_on=item.get("CompletedOn"),
        log_group=item.get("LogGroupName"),
        attempt=int(item.get("Attempt") or 0),
        run_settings=_run_settings(item),
    )


class GlueAdapter:
    def __init__(
        self, client: Any | None = None, region: str = "", account_id: str = "", partition: str = ""
    ) -> None:
        self.client: Any = client or boto3.client("glue")
        self.region = region or self.client.meta.region_name
        self.account_id = account_id
        # aws, aws-cn or aws-us-gov: from the function's own ARN, else the partition of the client's region.
        self.partition = partition or str(getattr(self.client.meta, "partition", "") or "aws")

    # -- read ------------------------------------------------------------------------------------
    def get_job(self, job_name: str) -> JobInfo:
        try:
            job = self.client.get_job(JobName=job_name)["Job"]
        except ClientError as error:
            raise _translate(error, f"get job {job_name}") from error
        tags: dict[str, str] = {}
        if self.account_id:
            arn = f"arn:{self.partition}:glue:{self.region}:{self.account_id}:job/{job_name}"
            try:
                tags = dict(self.client.get_tags(ResourceArn=arn).get("Tags") or {})
            except ClientError as error:
                raise _translate(error, f"get tags of {job_name}") from error
        return JobInfo(
            name=job_name,
            tags=tags,
            default_arguments=dict(job.get("DefaultArguments") or {}),
            max_retries=int(job.get("MaxRetries") or 0),
            script_location=str((job.get("Command") or {}).get("ScriptLocation") or ""),
        )

    def get_job_run(self, job_name: str, run_id: str) -> JobRun:
        try:
            item = self.client.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
        except ClientError as error:
            raise _translate(error, f"get run {run_id} of {job_name}") from error
        return _run(item)

    def recent_runs(self, job_name: str, limit: int = 50) -> list[JobRun]:
        try:
            items = self.client.get_job_runs(JobName=job_name, MaxResults=min(limit, 200)).get("JobRuns", [])
        except ClientError as error:
            raise _translate(error, f"list runs of {job_name}") from error
        return [_run(item) for item in items[:limit]]

    def table_versions(self, database: str, table: str) -> list[TableVersion]:
        versions: list[TableVersion] = []
        try:
            paginator = self.client.get_paginator("get_table_versions")
            for page in paginator.paginate(DatabaseName=database, TableName=table):
                versions.extend(TableVersion.from_glue(v) for v in page.get("TableVersions", []))
        except ClientError as error:
            raise _translate(error, f"table versions of {database}.{table}") from error
        return versions

    def data_quality_rows(self, result_id: str) -> tuple[int, int] | None:
        try:
            result = self.client.get_data_quality_result(ResultId=result_id)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _RETRYABLE:
                raise TransientDependencyError(f"data quality result {result_id}: {code}") from error
            return None
        except NotImplementedError:  # emulators without Glue Data Quality
            return None
        metrics = result.get("AggregatedMetrics") or {}
        processed = int(metrics.get("TotalRowsProcessed") or 0)
        if processed <= 0:
            return None
        return int(metrics.get("TotalRowsFailed") or 0), processed

    def run_data_quality(self, job_name: str, run_id: str) -> tuple[DataQualityOutcome, ...]:
        what = f"data quality results of run {run_id}"
        try:
            listed = self.client.list_data_quality_results(
                Filter={"JobName": job_name, "JobRunId": run_id}, MaxResults=MAX_DQ_RESULTS
            ).get("Results", [])
            results = [
                self.client.get_data_quality_result(ResultId=item["ResultId"])
                for item in listed[:MAX_DQ_RESULTS]
                if item.get("ResultId")
            ]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _RETRYABLE:
                raise TransientDependencyError(f"{what}: {code}") from error
            return ()  # no results (or no permission to read them): the fraction stays unmeasured
        except NotImplementedError:  # emulators without Glue Data Quality
            return ()
        return tuple(_dq_outcome(result) for result in results)

    # -- act -------------------------------------------------------------------------------------
    def start_job_run(
        self, job_name: str, arguments: Mapping[str, str], run_settings: Mapping[str, Any] | None = None
    ) -> str:
        try:
            response = self.client.start_job_run(
                JobName=job_name, Arguments=dict(arguments), **(run_settings or {})
            )
            return str(response["JobRunId"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConcurrentRunsExceededException":
                raise JobRunsBusyError(f"start {job_name}: MaxConcurrentRuns reached") from error
            raise _translate(error, f"start {job_name}", write=True) from error

    def restore_table_version(self, database: str, table: str, version_id: str) -> None:
        """Glue has no restore call: write the old version's definition back as the new current one.

        The write names the version read as current (``VersionId``, Glue's optimistic lock): if anything
        (a crawler, an ETL job, a person) changes the table in between, Glue refuses the update instead of
        selfheal overwriting that change, and the rollback fails with a ``RemediationError``.
        """
        what = f"restore {database}.{table} to version {version_id}"
        current = ""
        try:
            old = self.client.get_table_version(DatabaseName=database, TableName=table, VersionId=version_id)
            definition = old["TableVersion"]["Table"]
            table_input = {k: definition[k] for k in _TABLE_INPUT_KEYS if k in definition}
            now = self.client.get_table(DatabaseName=database, Name=table)["Table"]
            if _definition(now) == _definition(table_input):
                # Already the baseline's definition: a retried Execute whose first UpdateTable went through
                # (its response lost, or StartJobRun failing after it). Writing again adds a catalog version.
                return
            current = str(now.get("VersionId") or "")
            locked = {"VersionId": current} if current else {}
            self.client.update_table(DatabaseName=database, TableInput=table_input, **locked)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConcurrentModificationException":
                raise RemediationError(
                    f"{what}: {database}.{table} changed while selfheal restored it (it was at version "
                    f"{current or 'unknown'}); the newer definition was not overwritten"
                ) from error
            raise _translate(error, what, write=True) from error
        except KeyError as error:  # moto raises a raw KeyError for a missing version
            raise RemediationError(f"{database}.{table} has no version {version_id}") from error


class InvocationGlueReads:
    """One Diagnose invocation's view of Glue: each fact (a job with its tags, a run, a run history, a
    table's versions) is read once and reused, so the step's several questions about the same run cost
    one call each. Made per invocation (never cached across them: a run's state changes between calls).
    Failed reads are not kept: asking again asks Glue again."""

    def __init__(self, glue: GlueCatalog) -> None:
        self._glue = glue
        self._jobs: dict[str, JobInfo] = {}
        self._runs: dict[tuple[str, str], JobRun] = {}
        self._histories: dict[tuple[str, int], list[JobRun]] = {}
        self._versions: dict[tuple[str, str], list[TableVersion]] = {}
        self._run_quality: dict[tuple[str, str], tuple[DataQualityOutcome, ...]] = {}

    def get_job(self, job_name: str) -> JobInfo:
        if job_name not in self._jobs:
            self._jobs[job_name] = self._glue.get_job(job_name)
        return self._jobs[job_name]

    def get_job_run(self, job_name: str, run_id: str) -> JobRun:
        key = (job_name, run_id)
        if key not in self._runs:
            self._runs[key] = self._glue.get_job_run(job_name, run_id)
        return self._runs[key]

    def recent_runs(self, job_name: str, limit: int = 50) -> list[JobRun]:
        key = (job_name, limit)
        if key not in self._histories:
            self._histories[key] = self._glue.recent_runs(job_name, limit)
        return list(self._histories[key])

    def table_versions(self, database: str, table: str) -> list[TableVersion]:
        key = (database, table)
        if key not in self._versions:
            self._versions[key] = self._glue.table_versions(database, table)
        return list(self._versions[key])

    def data_quality_rows(self, result_id: str) -> tuple[int, int] | None:
        return self._glue.data_quality_rows(result_id)

    def run_data_quality(self, job_name: str, run_id: str) -> tuple[DataQualityOutcome, ...]:
        key = (job_name, run_id)
        if key not in self._run_quality:
            self._run_quality[key] = self._glue.run_data_quality(job_name, run_id)
        return self._run_quality[key]
