"""Artifacts: values a method declares it needs (``Method.required_artifacts()``: name -> spec),
produced by the engine before training and handed to the method as ``state.artifacts[name]``.

An artifact registers once, with ``@register_artifact(name, configure=..., file_option=...)`` on its
producer ``fn(spec, request) -> (value, provenance dict)``: ``configure(spec, file) -> dict`` is the
artifact's part of the run's configuration hash, and ``file_option`` names the ``RunConfig`` field
through which a user gives the artifact as a file instead (``prior_path`` for the class prior). The
class prior is ``bench.runs.prior``. A producer that must train a model uses the run mode's way of
training one, ``ArtifactRequest.estimate_prior`` (the engine itself trains nothing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from bench.core.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from bench.plugins.method import Method
    from bench.runs.config import ResolvedRun
    from bench.runs.resolve import PreparedDataset
    from bench.store import Store


class ArtifactError(InputError):
    """An artifact nobody produces, or an artifact option that does not apply."""


@dataclass
class ArtifactRequest:
    """What a producer may use: the run, its dataset and store, the device the values go to, and
    ``estimate_prior(method, estimator)``: the mode trains a temporary model with ``method`` on the
    run's training rows (its own way: features or images, one process or many) and returns the
    class prior (float64, (C,))."""

    resolved: ResolvedRun
    prepared: PreparedDataset
    store: Store
    device: str
    estimate_prior: Callable[[Method, str], np.ndarray]


Producer = Callable[[Any, ArtifactRequest], tuple[Any, dict[str, Any]]]


@dataclass(frozen=True)
class RegisteredArtifact:
    """A registered artifact: its producer, its configuration, the run option giving it as a file,
    and ``check_file(path, prepared)``, which refuses a bad file before the run is recorded."""

    name: str
    produce: Producer
    configure: Callable[[Any, str | None], dict[str, Any]]
    file_option: str | None = None
    check_file: Callable[[str, PreparedDataset], None] | None = None


_ARTIFACTS: dict[str, RegisteredArtifact] = {}


def register_artifact(name: str, *, configure: Callable[[Any, str | None], dict[str, Any]],
                      file_option: str | None = None,
                      check_file: Callable[[str, PreparedDataset], None] | None = None,
                      ) -> Callable[[Producer], Producer]:
    """Register ``fn(spec, request) -> (value, provenance)`` as the producer of artifact ``name``."""

    def decorator(fn: Producer) -> Producer:
        _ARTIFACTS[name] = RegisteredArtifact(name, fn, configure, file_option, check_file)
        return fn

    return decorator


def _registered() -> dict[str, RegisteredArtifact]:
    import bench.runs.positive_rate  # noqa: F401 - registers class_positive_rate
    import bench.runs.prior  # noqa: F401 - registers the engine's class_prior artifact

    return _ARTIFACTS


def required_artifacts(method: Method) -> dict[str, Any]:
    """Artifact name -> spec that ``method`` reads; ``ArtifactError`` for one nothing produces."""
    needed = dict(method.required_artifacts())
    registered = _registered()
    unknown = [n for n in needed if n not in registered]
    if unknown:
        raise ArtifactError(f"method '{method.name}' requires artifact '{unknown[0]}', which nothing produces; "
                            f"known: {', '.join(sorted(registered))}")
    return needed


def artifact_config(method: Method, files: dict[str, str | None]) -> dict[str, Any]:
    """The part of a run's configuration that identifies its artifacts (hashed with the rest).
    ``files``: run option -> value (e.g. ``{"prior_path": path or None}``)."""
    needed = required_artifacts(method)
    for artifact in _registered().values():
        if artifact.file_option and files.get(artifact.file_option) is not None and artifact.name not in needed:
            raise ArtifactError(f"{artifact.file_option} given, but method '{method.name}' with these parameters "
                                f"uses no {artifact.name.replace('_', ' ')}")
    registered = _registered()
    out = {}
    for name, spec in needed.items():
        option = registered[name].file_option
        out[name] = registered[name].configure(spec, files.get(option) if option else None)
    return out


def check_artifact_files(resolved: ResolvedRun, prepared: PreparedDataset) -> None:
    """Check every artifact file the run was given (e.g. ``prior_path``) against the loaded data,
    before anything is stored; the artifact's ``check_file`` raises an input error."""
    registered = _registered()
    for name in required_artifacts(resolved.method):
        artifact = registered[name]
        path = getattr(resolved.run, artifact.file_option) if artifact.file_option else None
        if path is not None and artifact.check_file is not None:
            artifact.check_file(path, prepared)


def resolve_artifacts(method: Method, request: ArtifactRequest) -> tuple[dict[str, Any], dict[str, dict]]:
    """Produce every artifact ``method`` requires: (name -> value, name -> provenance)."""
    values, provenance = {}, {}
    registered = _registered()
    for name, spec in required_artifacts(method).items():
        values[name], provenance[name] = registered[name].produce(spec, request)
    return values, provenance
