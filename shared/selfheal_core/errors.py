"""selfheal's errors. The class names are the ASL vocabulary: Retry and Catch match on them.

SelfhealError
├── RetryableError              (the state machine retries the Task)
│   ├── TransientDependencyError   AWS throttled us or was briefly unavailable
│   ├── ConcurrentUpdateError      an optimistic-concurrency write kept losing the race
│   └── JobRunsBusyError           the job already runs MaxConcurrentRuns runs: wait, do not escalate
└── TerminalError               (the state machine escalates at once)
    ├── InvalidInputError          the event or payload does not match its schema
    ├── ConfigurationError         an environment variable is missing or malformed (a deployment mistake)
    ├── IncidentNotFoundError      no event log for this incident id
    ├── ReadError                  a read the step needs failed (missing job, run or table; access denied)
    ├── RemediationError           Glue refused the remediation (missing job, table, version)
    └── RunInProgressError         the run an event names is still going after Diagnose's last look
"""

from __future__ import annotations


class SelfhealError(Exception):
    """Base of every error selfheal raises on purpose."""


class RetryableError(SelfhealError):
    pass


class TerminalError(SelfhealError):
    pass


class TransientDependencyError(RetryableError):
    pass


class ConcurrentUpdateError(RetryableError):
    pass


class JobRunsBusyError(RetryableError):
    """StartJobRun refused with ConcurrentRunsExceededException: the job runs as many runs as its
    MaxConcurrentRuns allows. The state machine waits (a long Retry on Execute) and starts it later."""


class InvalidInputError(TerminalError):
    pass


class ConfigurationError(TerminalError):
    pass


class ReadError(TerminalError):
    pass


class IncidentNotFoundError(TerminalError):
    pass


class RemediationError(TerminalError):
    pass


class RunInProgressError(TerminalError):
    """selfheal never acts on a run that is still going: a human decides once Diagnose stops waiting."""
