"""Sweep specifications: a YAML file or the ``bench sweep`` shorthand, parsed into a ``SweepSpec``.

A spec file (every key but ``methods`` and ``datasets`` optional; a scalar where a list is expected
is a one-value list)::

    methods:                       # selectors, or {selector: ..., params: {name: [values]}}
      - negative
      - {selector: selective, params: {gamma_unann: [2, 4]}}
    datasets: ["scene+rpa[p=0.5]"]
    seeds: [0, 1, 2]               # training seeds (default [0]); seeds are integers in [0, 2**63 - 1]
    split_seeds: [0]               # protocol / validation-carve seeds (default [0])
    params: {gamma_neg: [1, 2]}    # method-parameter grid, applied to every method declaring it
    recipe_file: csl               # the recipe the cells start from (default: the mode's), recipes/ or a path
    recipe: {epochs: 5, lr: [1e-3, 3e-4]}   # recipe fields; lists are grid axes (a list-valued field
                                   # such as a learning-rate grid takes a list of lists to be an axis)
    run: {select_on: val, evaluator: partial, device: cpu, val_fraction: 0.2, mode: linear}
                                   # (val_labels: partial | clean; default: the protocol's;
                                   # log: [tensorboard, mlflow], every cell's live curves, as bench run --log)
    variants:                      # named sets of run options, an axis of the grid (default: one, unnamed)
      paper: {val_fraction: 0.0, select_on: test}   # as the official code: flagged as test-selected
      honest: {}                                    # the run options above: what we rank
      # a variant may also fix recipe fields: {select_on: val, recipe: {backbone: resnet50}}
    resources: {cpus: 1, gpus: 0}  # per cell (the ray executor schedules with them)
    estimate: {images_per_s: 400, device: one A100}   # --dry-run's GPU-hour estimate assumes it
    paper: {key: csl2022, table: Table 1}             # the published table a reproduction spec runs

Errors are one line naming the file, the line and the field (``SpecError``).
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.core.errors import InputError
from bench.core.params import suggest
from bench.runs.config import MAX_SEED
from bench.runs.recipe import RecipeError
from bench.runs.recipe_files import FIELD_TYPES, coerce_field, is_list_field
from bench.runs.tracking import BACKENDS

TOP_LEVEL = ("methods", "datasets", "seeds", "split_seeds", "params", "recipe_file", "recipe", "run", "variants",
             "resources", "estimate", "paper")
ESTIMATE_TYPES = {"images_per_s": float, "device": str}
TRACKERS = "trackers"  # the kind of ``run.log``: tracker names (``tracker_names``)
RUN_TYPES: dict[str, type | str] = {"val_fraction": float, "val_labels": str, "mode": str, "select_on": str,
                                    "evaluator": str, "device": str, "log": TRACKERS}
RESOURCE_TYPES = {"cpus": float, "gpus": float}
_INTEGER = re.compile(r"[+-]?[0-9]+")


class SpecError(InputError):
    """A sweep specification that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class MethodEntry:
    """One ``methods`` item: a selector and its own parameter grid (name -> values)."""

    selector: str
    params: dict[str, list] = field(default_factory=dict)
    where: str = ""


@dataclass
class SweepSpec:
    """A parsed sweep: the axes of the grid, the fixed run options and per-cell resources.

    ``where`` maps a field path ("methods[1]", "params.gamma_neg") to the text that locates it in
    the source (file and line), for error messages.
    """

    methods: list[MethodEntry]
    datasets: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    split_seeds: list[int] = field(default_factory=lambda: [0])
    params: dict[str, list] = field(default_factory=dict)
    recipe: dict[str, list] = field(default_factory=dict)
    recipe_file: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0
    estimate: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, str] = field(default_factory=dict)
    source: str = "command line"
    where: dict[str, str] = field(default_factory=dict)

    def locate(self, path: str) -> str:
        """Where ``path`` is in the source: "FILE, line N, field 'path'" (or "SOURCE, field 'path'")."""
        return self.where.get(path, f"{self.source}, field '{path}'")


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def tracker_names(value: Any, where: str) -> tuple[str, ...]:
    """A tracker name or a list of them (``bench.runs.tracking.BACKENDS``, each installed) as the
    ``RunConfig.log`` tuple, in order, each once; ``SpecError`` naming ``where`` otherwise."""
    names = _as_list(value)
    for name in names:
        if not isinstance(name, str) or name not in BACKENDS:
            raise SpecError(f"{where}: unknown tracker {name!r}{suggest(str(name), tuple(BACKENDS))}; "
                            f"known: {', '.join(BACKENDS)}")
        package = BACKENDS[name][0]
        if importlib.util.find_spec(package) is None:
            raise SpecError(f"{where}: tracker '{name}' needs the {package} package: pip install 'bench[tracking]'")
    return tuple(dict.fromkeys(names))


def _typed(value: Any, kind: type | str, where: str) -> Any:
    """``value`` as ``kind`` (strings from the command line are converted; an int is an integer
    literal: ``1e12``, ``3.0`` or ``true`` is not one; ``TRACKERS``: ``tracker_names``)."""
    if kind == TRACKERS:
        return tracker_names(value, where)
    try:
        if kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if not isinstance(value, str) or not _INTEGER.fullmatch(value.strip()):
                raise ValueError(value)
            return int(value.strip())
        return kind(value)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise SpecError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}") from None


def _typed_section(section: Any, types: dict[str, type | str], name: str, spec: SweepSpec) -> dict[str, Any]:
    """A mapping section with known keys, each value typed (the recipe grid is ``_recipe_axes``)."""
    if not isinstance(section, dict):
        raise SpecError(f"{spec.locate(name)}: expected a mapping of {', '.join(types)}")
    out: dict[str, Any] = {}
    for key, value in section.items():
        where = spec.locate(f"{name}.{key}")
        if key not in types:
            raise SpecError(f"{where}: unknown field '{key}'{suggest(str(key), tuple(types))}; "
                            f"known: {', '.join(types)}")
        out[key] = _typed(value, types[key], where)
    return out


def _recipe_axes(section: Any, spec: SweepSpec, name: str = "recipe") -> dict[str, list]:
    """The ``recipe`` section: field -> the values it takes, each typed as the field declares. A
    list is an axis, except for a list-valued field, where a list is one value and a list of lists
    the axis."""
    if not isinstance(section, dict):
        raise SpecError(f"{spec.locate(name)}: expected a mapping of recipe fields")
    out: dict[str, list] = {}
    for key, value in section.items():
        where = spec.locate(f"{name}.{key}")
        if key not in FIELD_TYPES:
            raise SpecError(f"{where}: unknown field '{key}'{suggest(str(key), tuple(FIELD_TYPES))}; "
                            f"known: {', '.join(sorted(FIELD_TYPES))}")
        nested = isinstance(value, list) and all(isinstance(v, list) for v in value) and value
        values = value if (not is_list_field(key) or nested) else [value]
        try:
            out[key] = [coerce_field(key, v, where) for v in _as_list(values)]
        except RecipeError as exc:
            raise SpecError(" ".join(str(exc).split())) from None
        if not out[key]:
            raise SpecError(f"{where}: needs at least one value")
    return out


def _variant(options: Any, name: str, spec: SweepSpec) -> dict[str, Any]:
    """One ``variants`` entry: run options, and under ``recipe`` recipe fields it fixes (one value each)."""
    options = dict(options or {}) if isinstance(options, dict) or options is None else options
    if not isinstance(options, dict):
        raise SpecError(f"{spec.locate(f'variants.{name}')}: expected a mapping of run options (and recipe)")
    recipe = options.pop("recipe", {}) or {}
    if "log" in options:
        raise SpecError(f"{spec.locate(f'variants.{name}.log')}: trackers observe the whole sweep, they are not a "
                        "variant: set log in 'run' (or give bench sweep --log)")
    typed = _typed_section(options, RUN_TYPES, f"variants.{name}", spec)
    if recipe:
        axes = _recipe_axes(recipe, spec, f"variants.{name}.recipe")
        many = [k for k, v in axes.items() if len(v) != 1]
        if many:
            raise SpecError(f"{spec.locate(f'variants.{name}.recipe.{many[0]}')}: a variant fixes one value")
        typed["recipe"] = {k: v[0] for k, v in axes.items()}
    return typed


def _grid(section: Any, name: str, spec: SweepSpec) -> dict[str, list]:
    """A ``{parameter: [values]}`` grid (values stay as given; plugins type them)."""
    if not isinstance(section, dict):
        raise SpecError(f"{spec.locate(name)}: expected a mapping of parameter names to value lists")
    out = {str(k): _as_list(v) for k, v in section.items()}
    for key, values in out.items():
        if not values:
            raise SpecError(f"{spec.locate(f'{name}.{key}')}: needs at least one value")
    return out


def _method_entry(item: Any, index: int, spec: SweepSpec) -> MethodEntry:
    path = f"methods[{index}]"
    if isinstance(item, str):
        return MethodEntry(item, {}, spec.locate(path))
    if isinstance(item, dict) and isinstance(item.get("selector"), str) and set(item) <= {"selector", "params"}:
        return MethodEntry(item["selector"], _grid(item.get("params", {}), f"{path}.params", spec), spec.locate(path))
    raise SpecError(f"{spec.locate(path)}: expected a method selector or {{selector: ..., params: {{...}}}}")


def _field_lines(node: yaml.Node, path: str, source: str, out: dict[str, str]) -> None:
    """Record "file, line N, field 'path'" for every mapping key and sequence item under ``node``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            out[child] = f"{source}, line {key.start_mark.line + 1}, field '{child}'"
            _field_lines(value, child, source, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            child = f"{path}[{i}]"
            out[child] = f"{source}, line {value.start_mark.line + 1}, field '{child}'"
            _field_lines(value, child, source, out)


def from_mapping(data: Any, source: str = "command line", where: dict[str, str] | None = None) -> SweepSpec:
    """A ``SweepSpec`` from the parsed spec mapping (see the module docstring)."""
    spec = SweepSpec(methods=[], datasets=[], source=source, where=dict(where or {}))
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with at least 'methods' and 'datasets'")
    for key in data:
        if key not in TOP_LEVEL:
            raise SpecError(f"{spec.locate(str(key))}: unknown field '{key}'{suggest(str(key), TOP_LEVEL)}; "
                            f"known: {', '.join(TOP_LEVEL)}")
    for key in ("methods", "datasets"):
        if not _as_list(data.get(key) or []):
            raise SpecError(f"{spec.locate(key)}: give at least one entry in '{key}'")
    spec.methods = [_method_entry(item, i, spec) for i, item in enumerate(_as_list(data["methods"]))]
    spec.datasets = [_typed(d, str, spec.locate(f"datasets[{i}]")) for i, d in enumerate(_as_list(data["datasets"]))]
    for key in ("seeds", "split_seeds"):
        if key in data:
            values = [_typed(v, int, spec.locate(key)) for v in _as_list(data[key])]
            if not values:
                raise SpecError(f"{spec.locate(key)}: needs at least one seed")
            bad = [v for v in values if not 0 <= v <= MAX_SEED]
            if bad:
                raise SpecError(f"{spec.locate(key)}: a seed must be in [0, 2**63 - 1 = {MAX_SEED}]; got {bad[0]}")
            setattr(spec, key, values)
    spec.params = _grid(data.get("params", {}), "params", spec)
    spec.recipe = _recipe_axes(data.get("recipe", {}), spec)
    if data.get("recipe_file") is not None:
        spec.recipe_file = _typed(data["recipe_file"], str, spec.locate("recipe_file"))
    spec.run = _typed_section(data.get("run", {}), RUN_TYPES, "run", spec)
    variants = data.get("variants", {}) or {}
    if not isinstance(variants, dict):
        raise SpecError(f"{spec.locate('variants')}: expected a mapping of names to run options")
    spec.variants = {str(name): _variant(options, str(name), spec) for name, options in variants.items()}
    spec.estimate = _typed_section(data.get("estimate", {}), ESTIMATE_TYPES, "estimate", spec)
    if spec.estimate.get("images_per_s", 1.0) <= 0:
        raise SpecError(f"{spec.locate('estimate.images_per_s')}: must be > 0")
    paper = data.get("paper", {}) or {}
    if not isinstance(paper, dict):
        raise SpecError(f"{spec.locate('paper')}: expected a mapping (key, table, ...)")
    spec.paper = {str(k): str(v) for k, v in paper.items()}
    resources = _typed_section(data.get("resources", {}), RESOURCE_TYPES, "resources", spec)
    spec.cpus, spec.gpus = resources.get("cpus", 1.0), resources.get("gpus", 0.0)
    if spec.cpus <= 0 or spec.gpus < 0:
        raise SpecError(f"{spec.locate('resources')}: cpus must be > 0 and gpus >= 0")
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Parse a YAML spec file; ``SpecError`` naming the file and line for anything wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the sweep spec: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    where: dict[str, str] = {}
    if node is not None:
        _field_lines(node, "", str(path), where)
    return from_mapping(data, str(path), where)

