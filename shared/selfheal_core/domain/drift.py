"""Schema drift: compare a Glue Data Catalog table's current version with a baseline version.

The baseline is the version that was current when the job last succeeded (the caller picks it with
``baseline_version``); without a known success, it is the version just before the current one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    type: str


# Tables whose current state is a pointer to a snapshot (Parameters.metadata_location and friends):
# writing an old definition back would rewind the data, not just the schema.
OPEN_TABLE_FORMATS = frozenset({"iceberg", "delta", "hudi"})


@dataclass(frozen=True)
class TableVersion:
    version_id: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...] = ()
    updated_at: datetime | None = None
    table_format: str = ""
    location: str = ""  # StorageDescriptor.Location

    @classmethod
    def from_glue(cls, version: Mapping[str, Any]) -> TableVersion:
        """From one item of ``GetTableVersions`` (``{"VersionId", "Table": {...}}``)."""
        table = version.get("Table", {})
        descriptor = table.get("StorageDescriptor", {}) or {}

        def columns(items: Sequence[Mapping[str, Any]] | None) -> tuple[Column, ...]:
            return tuple(Column(str(c["Name"]).lower(), str(c.get("Type", "")).lower()) for c in items or ())

        updated = table.get("UpdateTime") or table.get("CreateTime")
        parameters = table.get("Parameters") or {}
        table_format = str(
            parameters.get("table_type") or parameters.get("spark.sql.sources.provider") or ""
        ).lower()
        return cls(
            version_id=str(version.get("VersionId", table.get("VersionId", "?"))),
            columns=columns(descriptor.get("Columns")),
            partition_keys=columns(table.get("PartitionKeys")),
            updated_at=updated if isinstance(updated, datetime) else None,
            table_format=table_format,
            location=str(descriptor.get("Location") or ""),
        )


@dataclass(frozen=True)
class DriftReport:
    table: str
    baseline_version: str | None
    current_version: str | None
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    type_changed: tuple[tuple[str, str, str], ...] = ()
    partition_keys_changed: bool = False
    open_table_format: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def drifted(self) -> bool:
        return bool(
            self.removed or self.renamed or self.type_changed or self.partition_keys_changed or self.added
        )

    @property
    def breaking(self) -> bool:
        """Additions alone rarely break a reader; everything else does."""
        return bool(self.removed or self.renamed or self.type_changed or self.partition_keys_changed)

    @property
    def rollback_safe(self) -> bool:
        """Rule: roll back only a breaking change, to a known baseline, of a table that is not a snapshot
        pointer (Iceberg, Delta, Hudi)."""
        return self.breaking and self.baseline_version is not None and not self.open_table_format

    @property
    def kinds(self) -> tuple[str, ...]:
        kinds = []
        if self.removed:
            kinds.append("column_removed")
        if self.renamed:
            kinds.append("column_renamed")
        if self.type_changed:
            kinds.append("type_changed")
        if self.added:
            kinds.append("column_added")
        if self.partition_keys_changed:
            kinds.append("partition_keys_changed")
        return tuple(kinds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "baseline_version": self.baseline_version,
            "current_version": self.current_version,
            "kinds": list(self.kinds),
            "removed": list(self.removed),
            "added": list(self.added),
            "renamed": [list(pair) for pair in self.renamed],
            "type_changed": [list(change) for change in self.type_changed],
            "partition_keys_changed": self.partition_keys_changed,
            "open_table_format": self.open_table_format,
            "rollback_safe": self.rollback_safe,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """The inverse of ``to_dict`` (derived keys such as ``kinds`` are recomputed, not read)."""
        return cls(
            table=str(data["table"]),
            baseline_version=_optional_str(data.get("baseline_version")),
            current_version=_optional_str(data.get("current_version")),
            removed=tuple(str(c) for c in data.get("removed", ())),
            added=tuple(str(c) for c in data.get("added", ())),
            renamed=tuple((str(a), str(b)) for a, b in data.get("renamed", ())),
            type_changed=tuple((str(n), str(a), str(b)) for n, a, b in data.get("type_changed", ())),
            partition_keys_changed=bool(data.get("partition_keys_changed", False)),
            open_table_format=bool(data.get("open_table_format", False)),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def compare(table: str, baseline: TableVersion, current: TableVersion) -> DriftReport:
    """Columns removed, added, renamed (a removal and an addition of the same type), retyped."""
    before = {c.name: c.type for c in baseline.columns}
    after = {c.name: c.type for c in current.columns}
    removed = [n for n in before if n not in after]
    added = [n for n in after if n not in before]
    type_changed = tuple((n, before[n], after[n]) for n in before if n in after and before[n] != after[n])

    renamed: list[tuple[str, str]] = []
    for old in list(removed):
        # Pair each removed column with the first unpaired added column of the same type, in order.
        match = next((new for new in added if after[new] == before[old]), None)
        if match is not None:
            renamed.append((old, match))
            removed.remove(old)
            added.remove(match)

    return DriftReport(
        table=table,
        baseline_version=baseline.version_id,
        current_version=current.version_id,
        removed=tuple(removed),
        added=tuple(added),
        renamed=tuple(renamed),
        type_changed=type_changed,
        partition_keys_changed=baseline.partition_keys != current.partition_keys,
        open_table_format=current.table_format in OPEN_TABLE_FORMATS,
    )


def _version_number(version: TableVersion) -> int:
    try:
        return int(version.version_id)
    except ValueError:
        return -1


def pick_baseline(
    versions: Sequence[TableVersion], last_success: datetime | None
) -> tuple[TableVersion | None, TableVersion | None]:
    """(baseline, current): the newest version not newer than the last success, and the newest version."""
    ordered = sorted(versions, key=_version_number)
    if not ordered:
        return None, None
    current = ordered[-1]
    if last_success is not None:
        eligible = [v for v in ordered if v.updated_at is not None and v.updated_at <= last_success]
        if eligible:
            return eligible[-1], current
    return (ordered[-2] if len(ordered) > 1 else None), current


def detect_drift(
    table: str, versions: Sequence[TableVersion], last_success: datetime | None = None
) -> DriftReport:
    baseline, current = pick_baseline(versions, last_success)
    if current is None:
        return DriftReport(table, None, None, notes=("table has no versions",))
    if baseline is None:
        return DriftReport(table, None, current.version_id, notes=("no earlier version to compare with",))
    if baseline.version_id == current.version_id:
        return DriftReport(table, baseline.version_id, current.version_id)
    return compare(table, baseline, current)
