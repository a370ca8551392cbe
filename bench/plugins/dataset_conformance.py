"""Conformance checks every dataset plugin must pass (run over the registry by
tests/plugins/test_dataset_conformance.py and by ``bench check-plugin datasets/x.py``).

Each check takes a factory ``make() -> DatasetPlugin`` (a plugin class will do) and raises
``ConformanceError`` on failure or ``CheckSkipped`` when it does not apply. Declaration checks need
no data. Load checks call ``make().load()``; when that raises a ``BenchError`` (a required root
missing) they are skipped with its one-line reason, never failed. ``run_checks`` loads once for all.
"""
from __future__ import annotations

import keyword
from typing import Any, Callable

import numpy as np

from bench.core.errors import BenchError
from bench.core.params import Param, ParamError
from bench.labels.encoding import LabelError, is_sparse, validate_labels
from bench.plugins.conformance import CheckResult, CheckSkipped, ConformanceError, run_check
from bench.plugins.dataset import MODALITIES, DatasetData, DatasetPlugin, ImageDataset
from bench.plugins.registry import DATASETS

DatasetFactory = Callable[[], DatasetPlugin]
IMAGE_PARAMS = ("check_images", "max_missing", "missing_list_dir")
MAX_UNANNOTATED = 0.05  # a fully labelled dataset may leave this fraction un-annotated (VOC "difficult")
SPLITS = ("train", "test")
_cache: dict[Any, Any] | None = None  # factory -> load() outcome, only while run_checks runs


def _class(make: DatasetFactory) -> type:
    return make if isinstance(make, type) else type(make())


def _image_class(make: DatasetFactory) -> type:
    if not issubclass(cls := _class(make), ImageDataset):
        raise CheckSkipped("not an ImageDataset")
    return cls


def _attempt(make: DatasetFactory) -> Any:
    """What ``make().load()`` returned or raised (a BenchError as a CheckSkipped), cached in run_checks."""
    if _cache is not None and make in _cache:
        return _cache[make]
    try:
        outcome = make().load()
    except BenchError as error:
        outcome = CheckSkipped(f"cannot load: {error.one_line()}")
    except Exception as error:  # noqa: BLE001 - reported by check_load
        outcome = error
    if _cache is not None:
        _cache[make] = outcome
    return outcome


def _data(make: DatasetFactory) -> DatasetData:
    """The loaded data for a load check; CheckSkipped when there is none (check_load reports why)."""
    outcome = _attempt(make)
    if isinstance(outcome, CheckSkipped):
        raise outcome
    if not isinstance(outcome, DatasetData):
        raise CheckSkipped("load() failed or did not return a DatasetData (see check 'load')")
    return outcome


def check_registered(make: DatasetFactory) -> None:
    """The class is a DatasetPlugin registered under its declared ``name``."""
    cls = _class(make)
    if not issubclass(cls, DatasetPlugin) or DATASETS.classes().get(cls.name) is not cls:
        raise ConformanceError(f"{cls.__qualname__} is not a DatasetPlugin registered as '{cls.name}'")


def check_version(make: DatasetFactory) -> None:
    """``version`` is a non-empty str."""
    if not isinstance(version := _class(make).version, str) or not version:
        raise ConformanceError(f"version must be a non-empty str, got {version!r}")


def check_description(make: DatasetFactory) -> None:
    """A non-empty ``description`` (or docstring) of the plugin's own, not the engine base class's."""
    cls = _class(make)
    owner = next((k for k in cls.__mro__ if "description" in k.__dict__), None)  # the base's docstring: none
    if owner in (None, DatasetPlugin, ImageDataset) or not isinstance(text := cls.description, str) or not text.strip():
        raise ConformanceError("no description (set description = '...' or give the class a docstring)")


def check_parameters(make: DatasetFactory) -> None:
    """Parameter names are identifiers, each default coerces under its own Param, defaults construct."""
    cls = _class(make)
    for name, param in cls.parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConformanceError(f"parameter name {name!r} is not an identifier")
        if not isinstance(param, Param):
            raise ConformanceError(f"parameter '{name}' is a {type(param).__name__}, not a Param")
    try:
        for name, param in cls.parameters.items():
            param.coerce(param.default, name, f"dataset '{cls.name}'")
        cls()
    except ParamError as error:
        raise ConformanceError(f"the declared defaults do not coerce: {error}") from None


def check_modality(make: DatasetFactory) -> None:
    """``modality`` is features or images, images exactly for ImageDataset subclasses."""
    cls = _class(make)
    if cls.modality not in MODALITIES or (cls.modality == "images") != issubclass(cls, ImageDataset):
        raise ConformanceError(f"modality {cls.modality!r} on a class that "
                               f"{'subclasses' if issubclass(cls, ImageDataset) else 'is not'} ImageDataset")


def check_image_read(make: DatasetFactory) -> None:
    """An ImageDataset implements ``read`` and keeps the base ``load`` (which runs the image checks)."""
    cls = _image_class(make)
    if cls.load is not ImageDataset.load or cls.read is ImageDataset.read:
        raise ConformanceError("implement read(), not load(): the base load() runs the image checks")


def check_image_size(make: DatasetFactory) -> None:
    """An ImageDataset's ``image_size`` is None or an int >= 8."""
    size = _image_class(make).image_size
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise ConformanceError(f"image_size must be None or an int >= 8, got {size!r}")


def check_image_params(make: DatasetFactory) -> None:
    """An ImageDataset declares the image-check parameters (check_images, max_missing, missing_list_dir)."""
    if missing := [k for k in IMAGE_PARAMS if k not in _image_class(make).parameters]:
        raise ConformanceError(f"image-check parameter(s) missing: {', '.join(missing)} (declare a "
                               "parameters dict on the class, even an empty one, so ImageDataset adds them)")


def check_load(make: DatasetFactory) -> None:
    """``load()`` returns a DatasetData."""
    if isinstance(outcome := _attempt(make), CheckSkipped):
        raise outcome
    if isinstance(outcome, BaseException):
        raise ConformanceError(f"load() raised {type(outcome).__name__}: {outcome}") from outcome
    if not isinstance(outcome, DatasetData):
        raise ConformanceError(f"load() returned {type(outcome).__name__}, not a DatasetData")


def check_class_names(make: DatasetFactory) -> None:
    """``class_names`` are unique non-empty strings."""
    names = list(_data(make).class_names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConformanceError(f"class names must be non-empty strings: {names[:5]!r}")
    seen: set[str] = set()
    if dup := next((n for n in names if n in seen or seen.add(n)), None):
        raise ConformanceError(f"{len(names) - len(set(names))} duplicate class name(s), first: {dup!r}")


def check_labels(make: DatasetFactory) -> None:
    """Train and test labels are valid {1,-1,0} matrices (dense or CSR) with one column per class."""
    data = _data(make)
    for split in SPLITS:
        try:
            validate_labels(getattr(data, split).labels, f"{split} labels", data.num_classes)
        except LabelError as error:
            raise ConformanceError(str(error)) from None


def check_row_counts(make: DatasetFactory) -> None:
    """Each split has as many ids, images and feature rows (when given) as label rows."""
    data = _data(make)
    for split in SPLITS:
        part = getattr(data, split)
        for what in ("ids", "images", "features"):
            if (value := getattr(part, what)) is not None and len(value) != part.labels.shape[0]:
                raise ConformanceError(f"{split}: {len(value)} {what} for {part.labels.shape[0]} label rows")


def check_features(make: DatasetFactory) -> None:
    """A features dataset has 2-D finite float features of the same width in train and test."""
    if _class(make).modality != "features":
        raise CheckSkipped("not a features dataset")
    data = _data(make)
    x = {s: getattr(data, s).features for s in SPLITS}
    for split, f in x.items():
        if not isinstance(f, np.ndarray) or f.ndim != 2 or f.dtype.kind != "f":
            raise ConformanceError(f"{split} features must be a 2-D float array, got {type(f).__name__} "
                                   f"{getattr(f, 'dtype', '')} {getattr(f, 'shape', '')}")
        if not np.isfinite(f).all():
            raise ConformanceError(f"{split} features: {int((~np.isfinite(f)).sum())} non-finite value(s)")
    if x["train"].shape[1] != x["test"].shape[1]:
        raise ConformanceError(f"feature width {x['train'].shape[1]} (train) != {x['test'].shape[1]} (test)")


def check_images(make: DatasetFactory) -> None:
    """An images dataset gives a non-empty path string for every row of each split."""
    if _class(make).modality != "images":
        raise CheckSkipped("not an images dataset")
    data = _data(make)
    for split in SPLITS:
        if (images := getattr(data, split).images) is None:
            raise ConformanceError(f"{split} split has no image paths")
        if (bad := next((i for i, p in enumerate(images) if not isinstance(p, str) or not p), None)) is not None:
            raise ConformanceError(f"{split} image {bad} is {images[bad]!r}, not a path string")


def check_ids(make: DatasetFactory) -> None:
    """Row ids, when given, are unique within each split and disjoint between train and test."""
    data = _data(make)
    ids = {s: list(getattr(data, s).ids) for s in SPLITS if getattr(data, s).ids is not None}
    if not ids:
        raise CheckSkipped("no row ids")
    for split, values in ids.items():
        if len(set(values)) != len(values):
            raise ConformanceError(f"{split}: {len(values) - len(set(values))} duplicate id(s)")
    if shared := set(ids.get("train", ())) & set(ids.get("test", ())):
        raise ConformanceError(f"{len(shared)} id(s) in both train and test, e.g. {next(iter(shared))!r}")


def check_fully_labelled(make: DatasetFactory) -> None:
    """``fully_labelled`` is a bool matching the train labels: <= 5% un-annotated if True, some if False."""
    data = _data(make)
    if not isinstance(data.fully_labelled, bool):
        raise ConformanceError(f"fully_labelled must be a bool, got {data.fully_labelled!r}")
    labels, total = data.train.labels, data.train.labels.shape[0] * data.train.labels.shape[1]
    if is_sparse(labels):
        import scipy.sparse as sp  # ~0.15 s to import: only for sparse labels, which imported it already

        annotated = np.count_nonzero(sp.csr_array(labels).data)
    else:
        annotated = np.count_nonzero(np.asarray(labels))
    if data.fully_labelled and total - annotated > MAX_UNANNOTATED * total:
        raise ConformanceError(f"fully_labelled=True but {(total - annotated) / total:.1%} of training entries "
                               f"are un-annotated (at most {MAX_UNANNOTATED:.0%} allowed)")
    if not data.fully_labelled and annotated == total:
        raise ConformanceError("fully_labelled=False but every training entry is annotated")


def check_class_groups(make: DatasetFactory) -> None:
    """``class_groups`` map names to lists of distinct valid class indices."""
    data = _data(make)
    for group, members in data.class_groups.items():
        idx = list(members)
        if bad := [i for i in idx if isinstance(i, bool) or not isinstance(i, (int, np.integer))
                   or not 0 <= i < data.num_classes]:
            raise ConformanceError(f"group {group!r}: {bad[0]!r} is not a class index (0..{data.num_classes - 1})")
        if len(set(map(int, idx))) != len(idx):
            raise ConformanceError(f"group {group!r} repeats a class index")


def check_val_index(make: DatasetFactory) -> None:
    """``val_index``, when given, holds unique in-range integer train row indices."""
    if (data := _data(make)).val_index is None:
        raise CheckSkipped("no reference val_index")
    index, rows = np.asarray(data.val_index), len(data.train)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ConformanceError(f"val_index must be a 1-D integer array, got {index.dtype} {index.shape}")
    if index.size and (index.min() < 0 or index.max() >= rows):
        raise ConformanceError(f"val_index outside the {rows} training rows")
    if np.unique(index).size != index.size:
        raise ConformanceError(f"val_index repeats {index.size - np.unique(index).size} row(s)")


def check_determinism(make: DatasetFactory) -> None:
    """Loading twice gives the same class names and identical train and test labels."""
    import scipy.sparse as sp  # ~0.15 s to import: only when this check runs
    first, second = _data(make), make().load()
    if list(first.class_names) != list(second.class_names):
        raise ConformanceError("class names differ between two loads")
    for split in SPLITS:
        a, b = (sp.csr_array(getattr(d, split).labels) for d in (first, second))
        if a.shape != b.shape or (a != b).count_nonzero():
            raise ConformanceError(f"{split} labels differ between two loads")


CHECKS: dict[str, Callable[[DatasetFactory], None]] = {  # in definition order: declaration, then load checks
    name[len("check_"):]: check for name, check in list(globals().items()) if name.startswith("check_")}
LOAD_CHECKS = ("load", "class_names", "labels", "row_counts", "features", "images", "ids", "fully_labelled",
               "class_groups", "val_index", "determinism")  # skipped when the plugin cannot load
DECLARATION_CHECKS = tuple(name for name in CHECKS if name not in LOAD_CHECKS)


def run_checks(make: DatasetFactory) -> list[CheckResult]:
    """Every check on one dataset factory (one shared load); failures and errors become ``fail`` rows."""
    global _cache
    _cache = {}
    try:
        results = [run_check(name, check, make) for name, check in CHECKS.items()]
    finally:
        _cache = None
    return results
