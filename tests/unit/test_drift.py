from __future__ import annotations

from datetime import UTC, datetime, timedelta

from selfheal_core.domain.drift import Column, TableVersion, compare, detect_drift, pick_baseline

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def version(vid: str, cols, parts=(), at: datetime | None = None) -> TableVersion:
    return TableVersion(vid, tuple(Column(n, t) for n, t in cols), tuple(Column(n, t) for n, t in parts), at)


BASE = version("1", [("id", "bigint"), ("name", "string"), ("amount", "double")], [("dt", "string")])


def test_identical_versions_do_not_drift():
    report = compare(
        "db.t", BASE, version("2", [c.__dict__.values() for c in BASE.columns], [("dt", "string")])
    )
    assert not report.drifted and not report.breaking and report.kinds == ()


def test_removed_column():
    report = compare("db.t", BASE, version("2", [("id", "bigint"), ("amount", "double")], [("dt", "string")]))
    assert report.removed == ("name",)
    assert report.kinds == ("column_removed",) and report.breaking


def test_added_column_drifts_but_does_not_break():
    cur = version(
        "2", [("id", "bigint"), ("name", "string"), ("amount", "double"), ("x", "int")], [("dt", "string")]
    )
    report = compare("db.t", BASE, cur)
    assert report.added == ("x",)
    assert report.drifted and not report.breaking
    assert report.kinds == ("column_added",)


def test_renamed_column_is_a_removal_plus_addition_of_the_same_type():
    cur = version("2", [("id", "bigint"), ("full_name", "string"), ("amount", "double")], [("dt", "string")])
    report = compare("db.t", BASE, cur)
    assert report.renamed == (("name", "full_name"),)
    assert report.removed == () and report.added == ()
    assert report.kinds == ("column_renamed",)


def test_removal_and_addition_of_different_types_are_not_a_rename():
    cur = version("2", [("id", "bigint"), ("score", "int"), ("amount", "double")], [("dt", "string")])
    report = compare("db.t", BASE, cur)
    assert report.renamed == ()
    assert report.removed == ("name",) and report.added == ("score",)


def test_type_changed():
    cur = version("2", [("id", "string"), ("name", "string"), ("amount", "double")], [("dt", "string")])
    report = compare("db.t", BASE, cur)
    assert report.type_changed == (("id", "bigint", "string"),)
    assert report.kinds == ("type_changed",) and report.breaking


def test_partition_key_change():
    cur = version("2", [(c.name, c.type) for c in BASE.columns], [("dt", "date")])
    report = compare("db.t", BASE, cur)
    assert report.partition_keys_changed and report.breaking
    assert report.kinds == ("partition_keys_changed",)


def test_to_dict_carries_versions_and_kinds():
    cur = version("3", [("id", "bigint"), ("amount", "double")], [("dt", "string")])
    data = compare("db.t", BASE, cur).to_dict()
    assert data["baseline_version"] == "1" and data["current_version"] == "3"
    assert data["kinds"] == ["column_removed"] and data["removed"] == ["name"]


def test_baseline_is_the_version_current_at_the_last_success():
    v1 = version("1", [("a", "int")], at=T0)
    v2 = version("2", [("a", "int"), ("b", "int")], at=T0 + timedelta(hours=1))
    v3 = version("3", [("a", "string"), ("b", "int")], at=T0 + timedelta(hours=3))
    baseline, current = pick_baseline([v3, v1, v2], last_success=T0 + timedelta(hours=2))
    assert baseline is v2 and current is v3
    report = detect_drift("db.t", [v1, v2, v3], last_success=T0 + timedelta(hours=2))
    assert report.baseline_version == "2" and report.type_changed == (("a", "int", "string"),)


def test_without_a_known_success_the_baseline_is_the_previous_version():
    v1 = version("1", [("a", "int")], at=T0)
    v2 = version("2", [("a", "int")], at=T0 + timedelta(hours=1))
    v3 = version("3", [("b", "int")], at=T0 + timedelta(hours=2))
    assert pick_baseline([v1, v2, v3], None) == (v2, v3)
    # a success older than every version also falls back to the previous version
    assert pick_baseline([v1, v2, v3], T0 - timedelta(days=1)) == (v2, v3)


def test_versions_are_ordered_numerically_not_lexically():
    v2 = version("2", [("a", "int")])
    v10 = version("10", [("a", "string")])
    assert pick_baseline([v10, v2], None) == (v2, v10)


def test_no_change_since_last_success_is_no_drift():
    v1 = version("1", [("a", "int")], at=T0)
    v2 = version("2", [("a", "string")], at=T0 + timedelta(hours=1))
    report = detect_drift("db.t", [v1, v2], last_success=T0 + timedelta(hours=5))
    assert report.baseline_version == report.current_version == "2"
    assert not report.drifted


def test_single_version_and_no_versions_are_notes():
    assert detect_drift("db.t", [BASE]).notes == ("no earlier version to compare with",)
    empty = detect_drift("db.t", [])
    assert empty.notes == ("table has no versions",) and empty.current_version is None


def test_from_glue_parses_a_get_table_versions_item():
    updated = datetime(2026, 11, 2, 3, 4, tzinfo=UTC)
    item = {
        "VersionId": "7",
        "Table": {
            "Name": "orders",
            "DatabaseName": "sales",
            "CreateTime": datetime(2026, 1, 1, tzinfo=UTC),
            "UpdateTime": updated,
            "StorageDescriptor": {"Columns": [{"Name": "ID", "Type": "BIGINT"}, {"Name": "note"}]},
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "VersionId": "6",
        },
    }
    parsed = TableVersion.from_glue(item)
    assert parsed.version_id == "7"
    assert parsed.columns == (Column("id", "bigint"), Column("note", ""))
    assert parsed.partition_keys == (Column("dt", "string"),)
    assert parsed.updated_at == updated


def test_from_glue_tolerates_missing_parts():
    parsed = TableVersion.from_glue({"Table": {"VersionId": "3", "CreateTime": "not a datetime"}})
    assert parsed.version_id == "3"
    assert parsed.columns == () and parsed.partition_keys == ()
    assert parsed.updated_at is None
