"""Ingest speed and memory of the OpenImages-V6 human-labels reader (issue 4).

A V6-shaped ``oidv6-train-annotations-human-imagelabels.csv`` is generated (fixed seed): a
``FRACTION`` of 9M images with 16-hex-digit ids, on average 6.67 label rows each (about 60M rows at
full size), 9,600 MIDs drawn with Zipf-like frequencies, 40% positives, sorted by ImageID, with the
duplicate listings a random draw produces. The full file does not fit this 2-core shared machine's
test budget, so ``BENCH_OI_FRACTION`` (default 5%) of it is ingested and the time is extrapolated
linearly. Peak memory at full size = the peak RSS at the fraction + the per-row slope of the
peak RSS (measured at the fraction and at a quarter of it) times the missing rows.

Each reader runs in its own process; peak memory = its VmHWM (peak RSS) minus the RSS after imports. The goal
is asserted on the extrapolated CPU time of the (single-threaded) reader, which other users of the
shared cores cannot inflate; wall time is reported beside it.
Baseline, in the same run: whole-file ``pandas.read_csv`` + ``groupby`` (same duplicate rule).
Goal for the full file: < 3 minutes and < 4 GB (``bench.io.openimages.read_human_labels``).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FULL_IMAGES = 9_000_000
ROWS_PER_IMAGE = 6.67
NUM_CLASSES = 9_600
FRACTION = float(os.environ.get("BENCH_OI_FRACTION", "0.05"))
GOAL_SECONDS, GOAL_MIB = 180.0, 4096.0
HERE = Path(__file__).resolve()


def generate(path: Path, num_images: int, seed: int = 4) -> int:
    """Write the CSV (numpy + pyarrow CSV writer, no quoting); return its number of label rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from bench.io.idseq import hex_text

    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, 2**63, num_images, dtype=np.int64).astype(np.uint64))
    per_image = rng.poisson(ROWS_PER_IMAGE - 1, keys.size) + 1
    image = np.repeat(np.arange(keys.size), per_image)
    weights = 1.0 / np.arange(1, NUM_CLASSES + 1) ** 0.8
    mid_index = rng.choice(NUM_CLASSES, image.size, p=weights / weights.sum())
    mids = pa.array([f"/m/0{c:06x}" for c in range(NUM_CLASSES)])
    table = pa.table({
        "ImageID": pa.array(hex_text(keys)).cast(pa.string()).take(pa.array(image)),
        "Source": pa.array(["verification", "crowdsource-verification"]).take(pa.array(rng.integers(0, 2, image.size))),
        "LabelName": mids.take(pa.array(mid_index)),
        "Confidence": pa.array((rng.random(image.size) < 0.4).astype(np.int8)),
    })
    path.write_text("ImageID,Source,LabelName,Confidence\n")
    with open(path, "ab") as handle:
        pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return int(image.size)


def _ours(path: str):
    from bench.io.openimages import read_human_labels

    out = read_human_labels(path, None)
    return out.labels, out.classes


def _pandas(path: str):
    import pandas as pd
    import scipy.sparse as sp

    frame = pd.read_csv(path, usecols=["ImageID", "LabelName", "Confidence"], dtype={"ImageID": str, "LabelName": str})
    frame["row"], _ = pd.factorize(frame["ImageID"], sort=True)
    frame["col"], classes = pd.factorize(frame["LabelName"], sort=True)
    best = frame.groupby(["row", "col"], sort=True)["Confidence"].max().reset_index()
    data = np.where(best["Confidence"].to_numpy() == 1, 1, -1).astype(np.int8)
    labels = sp.csr_array((data, (best["row"].to_numpy(), best["col"].to_numpy())),
                          shape=(int(frame["row"].max()) + 1, len(classes)))
    return labels, list(classes)


def _child(reader: str, path: str) -> None:
    """Run one reader and print JSON: seconds, CPU seconds, peak MiB above the post-import RSS,
    and a digest of the canonical CSR."""
    import time

    import pandas  # noqa: F401
    import scipy.sparse  # noqa: F401

    import bench.io.openimages  # noqa: F401 - imports before the memory baseline

    def status_mib(field: str) -> float:
        with open("/proc/self/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith(field)) / 1024

    before = status_mib("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    labels, classes = {"ours": _ours, "pandas": _pandas}[reader](path)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = status_mib("VmHWM") - before  # not ru_maxrss: after fork + exec it keeps the parent's peak
    labels.sort_indices()
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (
        labels.indptr.astype(np.int64), labels.indices.astype(np.int64), labels.data.astype(np.int8)))).hexdigest()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mib": peak, "nnz": int(labels.nnz),
                      "classes": len(classes), "digest": digest}))


def run_reader(reader: str, path: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(HERE), reader, str(path)], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openimages")
    files = {}
    for fraction in (FRACTION, FRACTION / 4):
        path = folder / f"human-labels-{fraction:g}.csv"
        files[fraction] = (path, generate(path, int(FULL_IMAGES * fraction)))
    yield files
    for path, _ in files.values():
        path.unlink(missing_ok=True)


def test_ingest_full_v6_file_in_3_minutes_and_4_gb(benchmark, csv_files, capsys):
    path, rows = csv_files[FRACTION]
    small_path, small_rows = csv_files[FRACTION / 4]
    ours = benchmark.pedantic(run_reader, args=("ours", path), rounds=1, iterations=1)
    small = run_reader("ours", small_path)
    baseline = run_reader("pandas", path)
    assert ours["digest"] == baseline["digest"] and ours["classes"] == NUM_CLASSES
    full_rows = FULL_IMAGES * ROWS_PER_IMAGE
    slope = (ours["peak_mib"] - small["peak_mib"]) / (rows - small_rows)
    figures = {
        "fraction": FRACTION, "rows": rows, "csv_mib": path.stat().st_size / 2**20,
        "ours_s": ours["seconds"], "ours_cpu_s": ours["cpu_seconds"], "ours_rows_per_s": rows / ours["seconds"],
        "ours_peak_mib": ours["peak_mib"], "ours_peak_mib_quarter": small["peak_mib"],
        "bytes_per_row": slope * 2**20,
        "pandas_s": baseline["seconds"], "pandas_cpu_s": baseline["cpu_seconds"],
        "pandas_peak_mib": baseline["peak_mib"],
        "speedup_vs_pandas": baseline["seconds"] / ours["seconds"],
        "cpu_speedup_vs_pandas": baseline["cpu_seconds"] / ours["cpu_seconds"],
        "memory_ratio_vs_pandas": ours["peak_mib"] / baseline["peak_mib"],
        "full_rows": full_rows, "full_s_extrapolated": ours["seconds"] * full_rows / rows,
        "full_cpu_s_extrapolated": ours["cpu_seconds"] * full_rows / rows,
        "full_peak_mib_extrapolated": ours["peak_mib"] + max(slope, 0.0) * (full_rows - rows),
    }
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print("\nopenimages ingest:", json.dumps(figures))
    assert figures["full_cpu_s_extrapolated"] < GOAL_SECONDS  # CPU time: robust to other users of the cores
    assert figures["full_peak_mib_extrapolated"] < GOAL_MIB


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
