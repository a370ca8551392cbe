"""Property-based fuzzing of every shipped dataset loader on corrupted copies of the files it reads.

The trees are the vendored scene and coco-mini and the small fixtures of ``loader_fixtures`` (coco,
lvis, voc2007, folder, openimages-v6 in both layouts, openimages-v3, features as .npz in both
layouts and as .parquet). Each example copies one tree (hard links, each corrupted file replaced,
never edited in place), applies one drawn corruption -- truncation, zero bytes, flipped or
random bytes, non-UTF-8 bytes, a byte-order mark, a deleted file, wrong JSON types, missing keys,
duplicate ids, out-of-list category ids, a train row copied into the test split, NaN / Inf /
out-of-range features, empty splits, damaged or zero-byte images, symlinks out of the root -- and
loads it. Every example ends in one of two ways:

* refused: a ``DataError`` whose message is one line naming a file of the tree (or the image at
  fault) and the field or line (or saying the whole file is unusable);
* loaded: the corruption left valid data, and the result passes validation (labels in {1,-1,0},
  consistent rows, unique ids, no train/test overlap, finite features, images inside the root).

A traceback, any other exception or an invalid accepted load fails the test (hypothesis shrinks it).
The runs are derandomized (the same cases on every run; ``BENCH_FUZZ_RANDOM=1`` draws new ones) and
bounded by ``max_examples`` (``BENCH_FUZZ_EXAMPLES``, default 200 per loader case); the counts
of cases and outcomes per loader are printed at the end of the module (``pytest -s``) and written to
``$BENCH_FUZZ_COUNTS`` (JSON) when that is set.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.core.errors import BenchError
from bench.io.errors import DataError
from bench.io.roots import outside_root
from bench.labels.encoding import validate_labels
from bench.plugins.registry import DATASETS
from tests.datasets.loader_fixtures import WRITERS

EXAMPLES = int(os.environ.get("BENCH_FUZZ_EXAMPLES", "200"))  # per loader case; more for a longer hunt
RANDOM = bool(os.environ.get("BENCH_FUZZ_RANDOM"))  # set: new random cases on each run instead of the fixed ones
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTS: dict[str, Counter] = defaultdict(Counter)  # loader case -> {"refused": n, "loaded": n}
DETAIL: dict[str, Counter] = defaultdict(Counter)  # loader case -> {"<corruption> -> <outcome>": n}
BOM = b"\xef\xbb\xbf"
# Errors about a file as a whole name no field or line.
WHOLE_FILE = re.compile(r"empty file|not a readable|split is empty|empty split|lists no|image list differs|"
                        r"images missing or unreadable|not found|cannot read|nested too deeply|class list|"
                        r"classes, but|differs from the given|the top level")
JSON_VALUES = st.one_of(
    st.booleans(), st.none(), st.integers(-3, 2**70), st.floats(), st.text(max_size=8),
    st.sampled_from(["../../../../../../etc/hostname", "/etc/hostname", "", "1", "train2014/x.jpg"]),
    st.lists(st.one_of(st.integers(-2, 2000), st.booleans(), st.text(max_size=2)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
CELL_VALUES = st.one_of(
    st.sampled_from(["", "2", "-1", "0", "1", "1.0", "nan", "inf", "1e400", "x", "true", "/etc/hostname",
                     "../../../../../../etc/hostname", "0000000000001000", "/m/01g317", "person", '"', " 1", "train",
                     "test", "val", "[]", "['/m/0k4j']", "a/1.jpg"]),
    st.text(max_size=6))
NUMBERS = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e39, 2.0, -1.0, 0.5, 7.0, 0.0, 1.0])


# --- the trees, written once per module; each example works on a hard-linked copy ---------------

def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def bases():
    work = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    trees = {}
    for case, (name, writer) in WRITERS.items():
        root = work / "base" / case
        trees[case] = (name, root, writer(root))
    yield work, trees
    shutil.rmtree(work, ignore_errors=True)
    report = {case: {**dict(counts), "detail": dict(sorted(DETAIL[case].items()))}
              for case, counts in sorted(COUNTS.items())}
    lines = [f"{case:20s} cases {sum(c.values()):4d}  " + "  ".join(f"{k} {v}" for k, v in sorted(c.items()))
             for case, c in sorted(COUNTS.items())]
    sys.stdout.write("\nfuzz cases per loader:\n" + "\n".join(lines) + "\n")
    if os.environ.get("BENCH_FUZZ_COUNTS"):
        Path(os.environ["BENCH_FUZZ_COUNTS"]).write_text(json.dumps(report, indent=1))


def files_of(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def replace(path: Path, data: bytes) -> None:
    """Give ``path`` new content without touching the hard-linked original."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)


# --- corruptions ----------------------------------------------------------------------------------

def byte_corruption(data, path: Path) -> str:
    raw = path.read_bytes()
    op = data.draw(st.sampled_from(["truncate", "zero", "flip", "not-utf8", "bom", "random", "splice", "delete"]))
    at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
    if op == "truncate":
        replace(path, raw[:at])
    elif op == "zero":
        replace(path, b"")
    elif op == "flip":
        replace(path, raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at + 1:])
    elif op == "not-utf8":
        replace(path, raw[:at] + data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe9", b"\xed\xa0\x80", b"\x80"]))
                + raw[at:])
    elif op == "bom":
        replace(path, BOM + raw)
    elif op == "random":
        replace(path, data.draw(st.binary(max_size=256)))
    elif op == "splice":
        replace(path, raw[:at] + data.draw(st.binary(min_size=1, max_size=16)) + raw[at + 16:])
    else:
        path.unlink()
    return op


def json_corruption(data, path: Path) -> str:
    doc = json.loads(path.read_text())
    lists = [k for k in ("images", "annotations", "categories") if doc.get(k)]
    op = data.draw(st.sampled_from(["set", "delete-field", "duplicate-entry", "duplicate-id", "delete-key", "top",
                                    "empty-list", "unknown-category", "path", "entry-type"]))
    key = data.draw(st.sampled_from(lists))
    items = doc[key]
    i = data.draw(st.integers(0, len(items) - 1))
    entry = items[i]
    if op == "set":
        field = data.draw(st.sampled_from(sorted(entry) + ["id", "image_id", "category_id", "file_name"]))
        entry[field] = data.draw(JSON_VALUES)
    elif op == "delete-field":
        entry.pop(data.draw(st.sampled_from(sorted(entry))), None)
    elif op == "duplicate-entry":
        items.insert(data.draw(st.integers(0, len(items))), dict(entry))
    elif op == "duplicate-id":
        entry["id"] = items[data.draw(st.integers(0, len(items) - 1))]["id"]
    elif op == "delete-key":
        del doc[key]
    elif op == "top":
        doc = data.draw(st.sampled_from([[], [doc], "images", 3, None, True]))
    elif op == "empty-list":
        doc[key] = []
    elif op == "unknown-category":
        cats = doc.get("annotations") or [{}]
        cats[0]["category_id"] = data.draw(st.sampled_from([10**6, -1, 0, 2**63]))
        for image in doc.get("images", [])[:1]:
            for field in ("neg_category_ids", "not_exhaustive_category_ids"):
                if field in image and data.draw(st.booleans()):
                    image[field] = [*image[field], data.draw(st.sampled_from([10**6, 4242]))]
    elif op == "path":
        images = doc.get("images") or [{}]
        target = images[data.draw(st.integers(0, len(images) - 1))]
        value = data.draw(st.sampled_from(["/etc/hostname", "../../../../../../../etc/hostname", "a/../../x.jpg",
                                           "http://x/../../etc/hostname", "http://x/train2017/..", "x.jpg",
                                           "http://x/a/b/../../../../etc/passwd", "."]))
        target["coco_url" if "coco_url" in target else "file_name"] = value
    else:
        items[i] = data.draw(st.sampled_from([None, 1, "x", [entry]]))
    replace(path, json.dumps(doc).encode())
    return f"json-{op}"


def text_corruption(data, path: Path) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    op = data.draw(st.sampled_from(["duplicate-line", "delete-line", "header-only", "blank-lines", "cell",
                                    "add-field", "drop-field", "duplicate-header"]))
    i = data.draw(st.integers(0, max(len(lines) - 2, 0)))
    sep = "," if "," in lines[0] else " "
    if op == "duplicate-line":
        lines.insert(data.draw(st.integers(1, len(lines))), lines[i])
    elif op == "delete-line":
        del lines[i]
    elif op == "header-only":
        lines = lines[:1] + [""]
    elif op == "blank-lines":
        lines.insert(i, data.draw(st.sampled_from(["", " ", ",,,", "\r"])))
    elif op in ("cell", "add-field", "drop-field"):
        cells = lines[i].split(sep)
        j = data.draw(st.integers(0, max(len(cells) - 1, 0)))
        if op == "cell":
            cells[j] = data.draw(CELL_VALUES)
        elif op == "add-field":
            cells.insert(j, data.draw(CELL_VALUES))
        else:
            del cells[j]
        lines[i] = sep.join(cells)
    else:
        cells = lines[0].split(sep)
        if len(cells) > 1:
            j, k = data.draw(st.integers(0, len(cells) - 1)), data.draw(st.integers(0, len(cells) - 1))
            cells[j] = cells[k]
            lines[0] = sep.join(cells)
    replace(path, "\n".join(lines).encode("utf-8"))
    return f"text-{op}"


def npz_corruption(data, path: Path) -> str:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    op = data.draw(st.sampled_from(["drop-key", "poke", "retype", "reshape", "rows", "duplicate-names", "ids"]))
    key = data.draw(st.sampled_from(sorted(arrays)))
    value = arrays[key]
    if op == "drop-key":
        del arrays[key]
    elif op == "poke" and value.size and value.dtype.kind in "biuf":
        number = data.draw(NUMBERS)
        poked = value.astype(np.float64)
        poked.flat[data.draw(st.integers(0, value.size - 1))] = number
        keep_dtype = value.dtype.kind == "f" and data.draw(st.booleans())
        arrays[key] = poked.astype(value.dtype) if keep_dtype and np.isfinite(number) and abs(number) < 1e30 else poked
    elif op == "retype":
        kind = data.draw(st.sampled_from(["str", "bool", "complex", "object", "int8", "float16"]))
        try:
            arrays[key] = np.array(value.tolist(), dtype=object) if kind == "object" else value.astype(kind)
        except (ValueError, TypeError, OverflowError):  # e.g. strings that are no numbers: store them as text
            arrays[key] = value.astype(str)
    elif op == "reshape":
        arrays[key] = data.draw(st.sampled_from([value.ravel(), value[None], value.T, value.reshape(-1, 1)]))
    elif op == "rows":
        arrays[key] = value[: data.draw(st.integers(0, max(len(value) - 1, 0)))] if value.ndim else value
    elif op == "duplicate-names":
        names = next((k for k in ("class_names", "label_names") if k in arrays), None)
        if names is not None and arrays[names].size > 1:
            arrays[names] = arrays[names].copy()
            arrays[names][1] = arrays[names][0]
    else:
        for ids in [k for k in arrays if k.startswith("ids")]:
            arrays[ids] = arrays[ids].copy()
            arrays[ids][-1] = arrays["ids_train" if "ids_train" in arrays else ids][0]
    buffer = io.BytesIO()
    (np.savez_compressed if data.draw(st.booleans()) else np.savez)(buffer, **arrays)
    replace(path, buffer.getvalue())
    return f"npz-{op}"


def parquet_corruption(data, path: Path) -> str:
    table = pq.read_table(path)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    meta = dict(table.schema.metadata or {})
    op = data.draw(st.sampled_from(["drop-column", "null", "poke", "ragged", "label", "split", "names", "ids",
                                    "empty"]))
    row = data.draw(st.integers(0, len(columns["X"]) - 1))
    if op == "drop-column":
        del columns[data.draw(st.sampled_from(sorted(columns)))]
    elif op == "null":
        columns[data.draw(st.sampled_from(sorted(columns)))][row] = None
    elif op == "poke":
        columns["X"][row][data.draw(st.integers(0, 3))] = data.draw(st.one_of(NUMBERS, st.none()))
    elif op == "ragged":
        columns[data.draw(st.sampled_from(["X", "Y"]))][row] = [1.0]
    elif op == "label":
        columns["Y"][row][0] = data.draw(st.sampled_from([2, -1, 5]))
    elif op == "split":
        columns["split"][row] = data.draw(CELL_VALUES)
    elif op == "names":
        meta[b"class_names"] = data.draw(st.sampled_from([b'["x", "x", "z"]', b"not json", b'{"a": 1}', b'[1, 2, 3]',
                                                          b'["x", "y"]', b'["", "y", "z"]']))
    elif op == "ids":
        columns["id"][row] = columns["id"][0 if row else 1]
    else:
        columns = {k: v[:0] if k != "split" else ["test"] * 0 for k, v in columns.items()}
    try:
        out = pa.table(columns).replace_schema_metadata(meta)
    except (pa.ArrowException, ValueError, TypeError):  # a combination pyarrow cannot even write: nothing to test
        return f"parquet-{op}-unwritable"
    path.unlink()
    pq.write_table(out, path)
    return f"parquet-{op}"


def image_corruption(data, path: Path, root: Path) -> str:
    op = data.draw(st.sampled_from(["zero", "delete", "text", "link-outside", "link-inside"]))
    path.unlink()
    if op == "zero":
        path.write_bytes(b"")
    elif op == "text":
        path.write_text("not an image")
    elif op == "link-outside":
        path.symlink_to("/etc/hostname")
    elif op == "link-inside":
        target = root / "inside.jpg"
        target.write_bytes(b"\xff\xd8\xff\xe0" + bytes(16))
        path.symlink_to(target)
    return f"image-{op}"


def leak_corruption(data, root: Path, case: str) -> str:
    """Copy a training row into the test split (or repeat a row), the test-leakage corruption."""
    if case in ("coco", "coco-mini", "lvis"):
        names = {"coco": ("annotations/instances_train2014.json", "annotations/instances_val2014.json"),
                 "coco-mini": ("annotations/instances_train.json", "annotations/instances_test.json"),
                 "lvis": ("annotations/lvis_v1_train.json", "annotations/lvis_v1_val.json")}[case]
        train, test = (json.loads((root / n).read_text()) for n in names)
        image = train["images"][data.draw(st.integers(0, len(train["images"]) - 1))]
        test["images"].append(image)
        test["annotations"] += [dict(a, id=10**9 + k) for k, a in enumerate(train["annotations"])
                                if a["image_id"] == image["id"]]
        replace(root / names[1], json.dumps(test).encode())
    elif case == "voc2007":
        main = root / "VOC2007" / "ImageSets" / "Main"
        k = data.draw(st.integers(0, 5))
        for train in sorted(main.glob("*_trainval.txt")):
            test = main / train.name.replace("_trainval", "_test")
            replace(test, test.read_bytes() + train.read_bytes().splitlines(keepends=True)[k])
    elif case in ("folder", "openimages-v6-miil"):
        path = root / ("labels.csv" if case == "folder" else "data.csv")
        lines = path.read_text().splitlines()
        row = lines[data.draw(st.integers(1, len(lines) - 1))]
        if data.draw(st.booleans()):
            row = row.replace(",train", ",test" if case == "folder" else ",val")
        replace(path, ("\n".join(lines + [row]) + "\n").encode())
    elif case in ("openimages-v6", "openimages-v3"):
        train, test = (("oidv6-train-annotations-human-imagelabels.csv", "test-annotations-human-imagelabels.csv")
                       if case == "openimages-v6" else ("2017_11/train/annotations-human.csv",
                                                        "2017_11/test/annotations-human.csv"))
        rows = (root / train).read_bytes().splitlines(keepends=True)
        replace(root / test, (root / test).read_bytes() + rows[data.draw(st.integers(1, len(rows) - 1))])
    else:
        return "leak-none"
    return "leak"


def corrupt(data, root: Path, case: str) -> str:
    files = files_of(root)
    images = [f for f in files if f.endswith(".jpg")]
    others = [f for f in files if Path(f).suffix in (".json", ".csv", ".txt", ".npz", ".parquet")]
    target = root / data.draw(st.sampled_from(others if not images or data.draw(st.integers(0, 4)) else images))
    kind = data.draw(st.integers(0, 9))
    if target.suffix == ".jpg":
        return image_corruption(data, target, root)
    if kind == 0:
        return leak_corruption(data, root, case)
    if kind <= 3:
        return byte_corruption(data, target)
    if target.suffix == ".json":
        return json_corruption(data, target)
    if target.suffix == ".npz":
        return npz_corruption(data, target)
    if target.suffix == ".parquet":
        return parquet_corruption(data, target)
    if target.suffix in (".csv", ".txt"):
        return text_corruption(data, target)
    return byte_corruption(data, target)


# --- outcomes -------------------------------------------------------------------------------------

def validate(data, root: Path) -> None:
    """What an accepted load must satisfy (the dataset conformance suite's load checks)."""
    names = list(data.class_names)
    assert names and all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names), names[:5]
    parts = {"train": data.train, "test": data.test}
    for split, part in parts.items():
        labels = validate_labels(part.labels, f"{split} labels", len(names))
        rows = labels.shape[0]
        assert rows > 0, f"{split} split is empty"
        for what in ("ids", "images", "features"):
            value = getattr(part, what)
            assert value is None or len(value) == rows, (split, what)
        if part.ids is not None:
            assert len(set(part.ids)) == rows, f"{split}: duplicate ids"
        if part.features is not None:
            assert part.features.ndim == 2 and part.features.dtype == np.float32
            assert np.isfinite(part.features).all(), f"{split}: non-finite features"
        if part.images is not None:
            assert outside_root(part.images, root) is None, f"{split}: an image outside the root"
            assert len(set(part.images)) == rows, f"{split}: an image listed twice"
            assert all(os.path.getsize(p) > 0 for p in part.images), f"{split}: an empty image kept"
    if data.train.features is not None:
        assert data.train.features.shape[1] == data.test.features.shape[1]
    for what in ("ids", "images"):
        train, test = getattr(data.train, what), getattr(data.test, what)
        if train is not None and test is not None:
            assert not set(train) & set(test), f"{what} in both splits"


def outcome(name: str, params: dict, root: Path) -> str:
    try:
        data = DATASETS.get(name)(**params).load()
    except BenchError as error:
        message = str(error)
        assert isinstance(error, DataError), f"{type(error).__name__}: {message}"
        assert len(message.splitlines()) == 1, message
        assert error.file is not None and error.file in message, message
        assert str(root) in message, f"names no file of the tree: {message}"
        assert error.field is not None or error.line is not None or WHOLE_FILE.search(error.message), message
        return "refused"
    validate(data, root)
    return "loaded"


def fuzz_case(bases, data, case: str) -> None:
    work, trees = bases
    name, base, params = trees[case]
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder) / "root"
        shutil.copytree(base, root, copy_function=_link_or_copy)
        corruption = corrupt(data, root, case)
        given_params = {k: v.replace(str(base), str(root)) if isinstance(v, str) else v for k, v in params.items()}
        if "check_images" in given_params:
            given_params["missing_list_dir"] = str(Path(folder) / "lists")
        result = outcome(name, given_params, root)
        COUNTS[case][result] += 1
        DETAIL[case][f"{corruption} -> {result}"] += 1


@pytest.mark.parametrize("case", sorted(WRITERS))
@FUZZ
@given(data=st.data())
def test_corrupted_input_is_refused_in_one_line_or_loads_valid(bases, case, data):
    fuzz_case(bases, data, case)


def test_every_loader_was_fuzzed_and_refused_something():
    ran = {case: c for case, c in COUNTS.items() if sum(c.values())}
    for case, counts in ran.items():
        assert counts["refused"] > 0, (case, dict(counts))
