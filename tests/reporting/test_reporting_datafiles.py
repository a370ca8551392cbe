"""The report's data files parsed once (bench.reporting.datafiles): the cached content equals the
YAML, an edited file is parsed afresh, and errors still name the file and line."""
from __future__ import annotations

import pytest

from bench.core.yamlfile import read_yaml
from bench.reporting.datafiles import CACHE_FOLDER, read_data_file, template_cache
from bench.reporting.references import DEFAULT_REFERENCES, PublishedRowsError
from bench.reporting.schema import DEFAULT_SCHEMA, SchemaError


def test_cached_content_equals_the_yaml(tmp_path):
    for path, error in ((DEFAULT_REFERENCES, PublishedRowsError), (DEFAULT_SCHEMA, SchemaError)):
        expected = read_yaml(path, error)
        assert read_data_file(path, error) == expected  # parsed, then cached
        assert read_data_file(path, error) == expected  # from the cache
    assert len(list((tmp_path / "cache" / CACHE_FOLDER).glob("*.json"))) == 2


def test_an_edited_file_is_parsed_afresh(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("a: 1\n")
    assert read_data_file(path, ValueError) == {"a": 1}
    path.write_text("a: 2\n")
    assert read_data_file(path, ValueError) == {"a": 2}


def test_content_json_cannot_hold_is_not_cached(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("1: one\nwhen: 2024-01-02\n")
    assert read_data_file(path, ValueError) == read_yaml(path, ValueError)
    assert not list((tmp_path / "cache" / CACHE_FOLDER).glob("*.json"))


def test_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(ValueError, match=r"bad.yaml line \d+: not valid YAML"):
        read_data_file(path, ValueError)
    with pytest.raises(ValueError, match="cannot read"):
        read_data_file(tmp_path / "missing.yaml", ValueError)


def test_template_cache_lives_in_the_cache_folder(tmp_path):
    assert template_cache().directory == str(tmp_path / "cache" / "report-templates")
