"""The metric schema (reports/metrics.yaml): loading, validation errors, value extraction and formatting."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.reporting.layouts import DEFAULT, LAYOUTS, layout_columns
from bench.reporting.schema import Metric, SchemaError, load_schema


def record(**fields):
    base = dict(metrics=None, cost=None, timings=None, extra=None, selection=None, class_names=None, per_class_ap=None)
    return SimpleNamespace(**{**base, **fields})


def test_shipped_schema_drives_every_layout_column():
    schema = load_schema()
    assert list(schema)[:2] == ["map_c", "map_o"]
    for layout in LAYOUTS + (DEFAULT,):
        assert [m.key for m, _ in layout_columns(layout, schema)] == [k for k, _ in layout.columns]
    assert schema["person_ap"].statistic == "class:person" and schema["device_hours"].direction == "min"


def test_values_from_every_source_kind():
    schema = load_schema()
    run = record(metrics={"map_c": 61.5, "group_map": {"G2": 40.0, "rare": None}, "ema": {"map_c": 62.0}},
                 cost={"device_hours": 0.5, "peak_host_mb": 2048.0},
                 extra={"artifacts": {"class_prior": {"spearman": 0.81}}},
                 class_names=["dog", "person"], per_class_ap=[0.5, 0.9731])
    assert schema["map_c"].value(run) == 61.5
    assert schema["ema_map_c"].value(run) == 62.0
    assert schema["group_g2"].value(run) == 40.0
    assert schema["lvis_rare"].value(run) is None  # stored as null (NaN)
    assert schema["group_g1"].value(run) is None  # absent
    assert schema["person_ap"].value(run) == pytest.approx(97.31)
    assert schema["peak_host_gb"].value(run) == 2.0
    assert schema["prior_spearman"].value(run) == 0.81
    assert schema["map_o"].value(record()) is None
    assert schema["person_ap"].value(record(class_names=["dog"], per_class_ap=[0.4])) is None
    assert schema["person_ap"].value(record(class_names=["person"], per_class_ap=[None])) is None


def test_format_and_direction():
    metric = Metric("x", "X", "min", ".1f", "cost", "cost.x", "d")
    assert metric.text(None) == "–" and metric.text(1.25) == "1.2"
    assert metric.oriented(3.0) == -3.0 and load_schema()["map_c"].oriented(3.0) == 3.0
    assert load_schema()["summary_tables"].text(3.0) == "3"
    assert load_schema()["win_rate"].text(0.625) == "62%"


@pytest.mark.parametrize("entry, message", [
    ("{key: a, name: A, direction: up, format: '.2f', group: accuracy, source: metrics.a, description: d}",
     "direction must be max or min"),
    ("{key: a, name: A, direction: max, format: '.2f', group: accuracy, description: d}", "lacks field(s) source"),
    ("{key: a, name: A, direction: max, format: '%q', group: accuracy, source: metrics.a, description: d}",
     "is not a format spec"),
    ("{key: a, name: A, direction: max, format: '.2f', group: accuracy, source: labels.a, description: d}",
     "source must be"),
    ("{key: a, name: A, direction: max, format: '.2f', group: misc, source: metrics.a, description: d}",
     "group must be one of"),
    ("{key: a, name: A, direction: max, format: '.2f', group: accuracy, source: metrics.a, description: d, "
     "statistic: median}", "statistic must be"),
    ("{key: a, name: A, direction: max, format: '.2f', group: accuracy, source: metrics.a, description: d, "
     "colour: red}", "unknown field(s) colour"),
])
def test_bad_entries_name_the_file_and_metric(tmp_path, entry, message):
    path = tmp_path / "metrics.yaml"
    path.write_text(f"metrics:\n  - {entry}\n")
    with pytest.raises(SchemaError, match="metrics.yaml") as info:
        load_schema(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_duplicate_key_and_bad_file(tmp_path):
    path = tmp_path / "m.yaml"
    entry = "{key: a, name: A, direction: max, format: '.2f', group: accuracy, source: metrics.a, description: d}"
    path.write_text(f"metrics:\n  - {entry}\n  - {entry}\n")
    with pytest.raises(SchemaError, match="'a' defined twice"):
        load_schema(path)
    path.write_text("metrics: [unclosed\n")
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_schema(path)
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "absent.yaml")
