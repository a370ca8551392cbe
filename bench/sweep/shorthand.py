"""The ``bench sweep`` command-line shorthand, turned into the same ``SweepSpec`` a spec file gives.

``--method a,b --dataset x --seeds 0,1,2 --param k=1,5,10 --recipe lr=1e-3,3e-4 --epochs 5`` is the
spec ``{methods: [a, b], datasets: [x], seeds: [0, 1, 2], params: {k: [1, 5, 10]}, recipe: {lr:
[...], epochs: 5}}``. Lists are comma-separated; commas inside selector brackets or quotes are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.plugins.selectors import SelectorError, _split_top
from bench.sweep.spec import SpecError, SweepSpec, from_mapping


def split_list(text: str) -> list[str]:
    """Comma-separated items, commas inside brackets or quotes kept: "a[x=1,y=2],b" -> [a[...], b]."""
    try:
        return [item.strip() for item in _split_top(text, ",") if item.strip()]
    except SelectorError as exc:
        raise SpecError(f"command line: {exc}") from None


def parse_assignments(items: list[str], option: str) -> dict[str, list[str]]:
    """``["k=1,5,10", ...]`` -> ``{"k": ["1", "5", "10"]}``; ``SpecError`` naming the option."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not split_list(values):
            raise SpecError(f"command line, option {option}: expected name=value[,value...], got '{item}'")
        if key in out:
            raise SpecError(f"command line, option {option}: '{key}' given twice")
        out[key] = split_list(values)
    return out


@dataclass
class Shorthand:
    """The grid options of ``bench sweep`` as typed on the command line (strings)."""

    methods: str
    datasets: str
    seeds: str = "0"
    split_seeds: str = "0"
    params: list[str] = field(default_factory=list)
    recipe: list[str] = field(default_factory=list)
    epochs: int | None = None
    run: dict[str, Any] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0


def shorthand_spec(options: Shorthand) -> SweepSpec:
    """The ``SweepSpec`` of the shorthand options; errors name the option."""
    recipe: dict[str, list] = dict(parse_assignments(options.recipe, "--recipe"))
    if options.epochs is not None:
        if "epochs" in recipe:
            raise SpecError("command line: give epochs either as --epochs or in --recipe, not both")
        recipe["epochs"] = [options.epochs]
    mapping = {
        "methods": split_list(options.methods), "datasets": split_list(options.datasets),
        "seeds": split_list(options.seeds), "split_seeds": split_list(options.split_seeds),
        "params": parse_assignments(options.params, "--param"), "recipe": recipe,
        "run": {k: v for k, v in options.run.items() if v is not None},
        "resources": {"cpus": options.cpus, "gpus": options.gpus},
    }
    where = {"methods": "command line, option --method", "datasets": "command line, option --dataset",
             "seeds": "command line, option --seeds", "split_seeds": "command line, option --split-seeds"}
    where.update({f"params.{k}": f"command line, option --param {k}" for k in mapping["params"]})
    where.update({f"recipe.{k}": f"command line, option --recipe {k}" for k in recipe})
    where.update({f"methods[{i}]": f"command line, --method item {i + 1}" for i in range(len(mapping["methods"]))})
    where.update({f"datasets[{i}]": f"command line, --dataset item {i + 1}" for i in range(len(mapping["datasets"]))})
    return from_mapping(mapping, "command line", where)
