"""Grid expansion: spec files and the shorthand give the same cells, in a fixed order, deduplicated,
and bad specs fail with one line naming the file, line and field."""
from __future__ import annotations

import textwrap

import pytest

from bench.runs.config import RunConfig, resolve_config
from bench.runs.recipe_files import recipe_for_run
from bench.sweep.grid import expand
from bench.sweep.shorthand import Shorthand, parse_assignments, shorthand_spec, split_list
from bench.sweep.spec import SpecError, load_spec


def _write(tmp_path, text: str):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shorthand_grid_order_and_configs():
    cells = expand(shorthand_spec(Shorthand(methods="negative,selective", datasets="scene+rpa[p=0.5]",
                                            seeds="0,1,2", params=["gamma_neg=1,5,10"], epochs=2)))
    assert len(cells) == 2 * 3 * 3
    expected = [(m, g, s) for m in ("negative", "selective") for g in (1, 5, 10) for s in (0, 1, 2)]
    assert [(c.method, c.run.seed) for c in cells] == [(f"{m}[gamma_neg={g}]", s) for m, g, s in expected]
    assert [c.index for c in cells] == list(range(18))
    assert len({c.config_hash for c in cells}) == 18
    # each cell is exactly the configuration `bench run` would hash
    _, recipe = recipe_for_run(None, False, None, {"epochs": 2})  # the recipe `bench run --epochs 2` uses
    direct = resolve_config(RunConfig(method="selective[gamma_neg=5]", dataset="scene+rpa[p=0.5]", seed=2,
                                      recipe=recipe))
    assert cells[14].config_hash == direct.config_hash
    assert cells[14].config["method"]["params"]["gamma_neg"] == 5.0


def test_spec_file_matches_shorthand_and_is_deterministic(tmp_path):
    path = _write(tmp_path, """\
        methods: [negative, selective]
        datasets: ["scene+rpa[p=0.5]"]
        seeds: [0, 1, 2]
        params: {gamma_neg: [1, 5, 10]}
        recipe: {epochs: 2}
    """)
    from_file = [c.config_hash for c in expand(load_spec(path))]
    again = [c.config_hash for c in expand(load_spec(path))]
    short = expand(shorthand_spec(Shorthand(methods="negative,selective", datasets="scene+rpa[p=0.5]",
                                            seeds="0,1,2", params=["gamma_neg=1,5,10"], recipe=["epochs=2"])))
    assert from_file == again == [c.config_hash for c in short]


def test_method_grids_recipe_axes_and_deduplication(tmp_path):
    path = _write(tmp_path, """\
        methods:
          - {selector: selective, params: {gamma_unann: [2, 4]}}
          - ll-r
        datasets: [scene]
        split_seeds: [0, 1]
        params: {gamma_neg: [1, 2]}     # ll-r does not declare it: its cells are not repeated
        recipe: {lr: [0.001, 0.0003], epochs: 1}
        run: {select_on: last}
        resources: {cpus: 2}
    """)
    spec = load_spec(path)
    cells = expand(spec)
    selective = [c for c in cells if c.method.startswith("selective")]
    llr = [c for c in cells if c.method == "ll-r"]
    assert len(selective) == 2 * 2 * 2 * 2 and len(llr) == 2 * 2
    assert selective[0].method == "selective[gamma_unann=2,gamma_neg=1]"
    assert [c.run.recipe.lr for c in llr] == [0.001, 0.001, 0.0003, 0.0003]
    assert [c.run.split_seed for c in llr] == [0, 1, 0, 1]
    assert all(c.run.select_on == "last" and c.run.recipe.epochs == 1 for c in cells)
    assert spec.cpus == 2.0 and spec.gpus == 0.0
    assert "lr=0.0003" in llr[-1].label


@pytest.mark.parametrize("text, message", [
    ("methods: [negative]\ndatasets: [scene]\nseed: [1]\n",
     "line 3, field 'seed': unknown field 'seed' (did you mean 'seeds'?)"),
    ("methods: [negative, negtive]\ndatasets: [scene]\n", "line 1, field 'methods[1]': unknown method 'negtive'"),
    ("methods:\n  - negative\ndatasets: [scene]\nparams: {gama_neg: [1]}\n",
     "line 4, field 'params.gama_neg': no method of the sweep declares parameter 'gama_neg' "
     "(did you mean 'gamma_neg'?)"),
    ("methods: [negative]\ndatasets: [scene]\nrecipe: {epoch: 3}\n",
     "line 3, field 'recipe.epoch': unknown field 'epoch'"),
    ("methods: [negative]\ndatasets: [scene]\nseeds: [0, x]\n", "line 3, field 'seeds': expected int, got 'x'"),
    ("methods: [negative]\ndatasets: [scene]\nrecipe: {epochs: 0}\n", "epochs must be >= 1"),
    ("methods: [negative]\ndatasets: [nosuch]\n", "line 2, field 'datasets[0]'"),
    ("methods: [negative]\n", "field 'datasets': give at least one entry"),
    ("methods: [negative\ndatasets: [scene]\n", "not valid YAML"),
])
def test_bad_spec_files_name_file_line_and_field(tmp_path, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        expand(load_spec(path))
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_shorthand_lists_keep_bracketed_commas_and_name_the_option():
    assert split_list("p-asl[gamma_neg=4,clip=0.05], negative") == ["p-asl[gamma_neg=4,clip=0.05]", "negative"]
    assert parse_assignments(["k=1,5,10"], "--param") == {"k": ["1", "5", "10"]}
    with pytest.raises(SpecError, match="option --param: expected name=value"):
        parse_assignments(["k"], "--param")
    with pytest.raises(SpecError, match="option --param gamma_neg: expected float, got 'x'|parameter 'gamma_neg'"):
        expand(shorthand_spec(Shorthand(methods="negative", datasets="scene", params=["gamma_neg=x"])))
    with pytest.raises(SpecError, match="--epochs or in --recipe"):
        shorthand_spec(Shorthand(methods="negative", datasets="scene", recipe=["epochs=2"], epochs=3))


@pytest.mark.parametrize("text, message", [
    ("seeds: [0, 1180591620717411303424]\n", "line 3, field 'seeds': a seed must be in [0, 2**63 - 1 = "
                                             "9223372036854775807]; got 1180591620717411303424"),
    ("split_seeds: [-1]\n", "line 3, field 'split_seeds': a seed must be in [0, 2**63 - 1"),
    ("seeds: [1.0]\n", "line 3, field 'seeds': expected int, got 1.0"),
    ("seeds: [true]\n", "line 3, field 'seeds': expected int, got True"),
    ("recipe: {epochs: 1.0e+12}\n", "line 3, field 'recipe.epochs': field 'epochs' must be int; got 1000000000000.0"),
    ("recipe: {epochs: '1e12'}\n", "line 3, field 'recipe.epochs': field 'epochs' must be int; got '1e12'"),
    ("recipe: {epochs: 1000000000000}\n", "epochs must be <= 100000"),
])
def test_seeds_and_integer_recipe_fields_are_checked(tmp_path, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text("methods: [negative]\ndatasets: [scene]\n" + text)
    with pytest.raises(SpecError) as info:
        expand(load_spec(path))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_shorthand_seeds_out_of_range_name_the_option():
    with pytest.raises(SpecError, match="command line, option --seeds: a seed must be in"):
        shorthand_spec(Shorthand(methods="negative", datasets="scene", seeds=f"0,{2**64}"))
    assert shorthand_spec(Shorthand(methods="negative", datasets="scene", seeds=f"+3,{2**63 - 1}")).seeds == [
        3, 2**63 - 1]
