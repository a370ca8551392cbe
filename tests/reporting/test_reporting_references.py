"""reports/references.yaml: checked against ../shared/data/paper_results.yaml, and matched to bench selectors."""
from __future__ import annotations

import re

import pytest
import yaml

from bench.core.yamlfile import LOADER as YAML_LOADER
from bench.labels.protocols import PROTOCOLS
from bench.plugins.registry import DATASETS, METHODS
from bench.plugins.selectors import parse_selector
from bench.reporting.references import PublishedRowsError, load_references
from bench.reporting.schema import load_schema
from tests.helpers.shared import shared_path

COPIED = ("source", "table", "dataset", "protocol", "method", "metric", "value", "status", "reported_in")


def relevant(row: dict) -> bool:
    """The shipping rule stated in the file's SOURCE note."""
    table = row["table"]
    return row["status"] in ("verified_primary", "verified_secondary") and (
        table.startswith("CSL Table") or row["reported_in"] == "csl2022" or table in ("LL Table 1", "LL Table 2")
        or table == "EM+APL main table (poster copy)")


@pytest.fixture(scope="module")
def source() -> list[dict]:
    text = shared_path("data", "paper_results.yaml").read_text(encoding="utf-8")
    # The shared file has four unquoted `note:` values containing ": " (invalid YAML); quote them.
    text = re.sub(r"^(  note: )(README lists .*)$", lambda m: m.group(1) + '"' + m.group(2) + '"', text, flags=re.M)
    return yaml.load(text, Loader=YAML_LOADER)["results"]


@pytest.fixture(scope="module")
def refs():
    return load_references()


def test_every_shipped_row_is_a_verified_source_row_copied_unchanged(source, refs):
    shipped = refs.results
    keys = {}
    for row in source:
        keys.setdefault(tuple(row[k] for k in COPIED) + (row.get("protocol_param"),), []).append(row)
    for row in shipped:
        match = keys.get(tuple(row[k] for k in COPIED) + (row["protocol_param"],))
        assert match, f"shipped row not in the source: {row['table']} {row['method']} {row['metric']}"
        original = match[0]
        assert row["citation"] == original["paper"]
        assert row["backbone_as_published"] == original["backbone"]
        assert row["std"] == original.get("std") and row["note"] == (original.get("note") or None)
        assert row["training_mode"] == original.get("training_mode")
        for part in (row["backbone"], row["pretraining"], str(row["input_size"] or "")):
            assert part is None or part in original["backbone"]


def test_every_relevant_source_row_is_shipped_but_the_documented_duplicate(source, refs):
    shipped = {(r["table"], r["method"], r["metric"], r["value"], r["backbone_as_published"]) for r in refs.results}
    missing = [r for r in source if relevant(r)
               and (r["table"], r["method"], r["metric"], r["value"], r["backbone"]) not in shipped]
    assert [(r["table"], r["method"], r["value"], r["status"]) for r in missing] == [
        ("CSL Table 4", "csl_selective_pasl", 78.57, "verified_secondary")]
    assert len(shipped) == 272


def test_shipped_file_is_consistent_with_bench(refs):
    schema = load_schema()
    assert set(refs.metric_keys.values()) <= set(schema)
    assert {r["selection"] for r in refs.results} == {"test", "val", "not stated"}
    for row in refs.results:
        assert row["citation"] in refs.papers and row["reported_in"] in refs.papers
        if row["bench_method"]:
            METHODS.get(parse_selector(row["bench_method"]).name)  # raises for an unknown method
    for item in refs.datasets:
        DATASETS.get(item["bench"]["dataset"])
        protocol = item["bench"]["protocol"]
        if protocol is not None:
            declared = PROTOCOLS[protocol].parameters
            assert set(item["bench"].get("params", {})) | {item["bench"].get("param")} - {None} <= set(declared)


@pytest.mark.parametrize("dataset, protocol, params, tables, count", [
    ("coco", "fpc", {"n_s": 1000}, {"README 'Typical Training Results' (appendix-style COCO simulation)"}, 4),
    ("coco", "fpc", {"n_s": 100}, set(), 0),
    ("coco", "rpa", {"p": 0.5}, {"README 'Typical Training Results' (appendix-style COCO simulation)"}, 4),
    ("coco", "single-positive", {"draw": "cole"}, {"LL Table 1", "EM+APL main table (poster copy)"}, 29),
    ("coco", "single-positive", {"draw": "seeded"}, set(), 0),
    ("lvis", None, {}, {"CSL Table 4"}, 6),
    ("openimages-v3", None, {}, {"CSL Table 3", "LL Table 2"}, 14),
    ("scene", "rpa", {"p": 0.5}, set(), 0),
])
def test_rows_for_bench_selectors(refs, dataset, protocol, params, tables, count):
    rows = refs.rows_for(dataset, protocol, params)
    assert {r.table for r in rows} == tables and len(rows) == count


def test_display_rows_merge_metrics_and_keep_the_setting(refs):
    rows = refs.rows_for("lvis", None, {})
    ignore = next(r for r in rows if r.bench_method == "ignore")
    assert ignore.values == {"map_c": 74.49, "map_o": 95.7, "person_ap": 99.81}
    assert ignore.selection == "test" and ignore.backbone == "TResNet-M" and ignore.statuses == ["verified_primary"]
    assert "TResNet-M" in ignore.setting() and "input size not stated" in ignore.setting()
    v3 = refs.rows_for("openimages-v3", None, {})
    llr = next(r for r in v3 if r.bench_method == "ll-r")
    assert llr.values["map_c"] == 82.5 and llr.values["group_g1"] == 77.4 and llr.citation_text() == "ll2022"


def test_bad_reference_files(tmp_path):
    path = tmp_path / "refs.yaml"
    good = {"citation": "x", "reported_in": "x", "source": "s", "table": "T", "dataset": "d", "protocol": "p",
            "method": "m", "method_label": "M", "backbone": None, "input_size": None, "pretraining": None,
            "selection": "val", "metric": "mAP", "value": 1.0, "status": "verified_primary"}
    for change, message in (({"status": "aggregator"}, "status 'aggregator'"), ({"metric": "F1"}, "metric 'F1'"),
                            ({"value": "high"}, "value must be a number")):
        path.write_text(yaml.safe_dump({"metrics": {"mAP": "map_c"}, "results": [{**good, **change}]}))
        with pytest.raises(PublishedRowsError, match=r"refs\.yaml: results\[0\]") as info:
            load_references(path)
        assert message in str(info.value)
    path.write_text(yaml.safe_dump({"metrics": {"mAP": "map_c"}, "results": [{"value": 1}]}))
    with pytest.raises(PublishedRowsError, match="lacks field"):
        load_references(path)
