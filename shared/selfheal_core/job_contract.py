"""The contract between selfheal and the Glue jobs it heals: the names both sides read.

A job declares ``--selfheal-tables`` (default argument) and the tag ``selfheal:quarantine``; every run
selfheal starts carries ``--selfheal-attempt`` and ``--selfheal-action``, and a quarantine run also
``--selfheal-quarantine-path``. docs/operations.md describes the contract for job owners.
"""

TABLES_ARGUMENT = "--selfheal-tables"
ATTEMPT_ARGUMENT = "--selfheal-attempt"
ACTION_ARGUMENT = "--selfheal-action"
QUARANTINE_ARGUMENT = "--selfheal-quarantine-path"
QUARANTINE_TAG = "selfheal:quarantine"
