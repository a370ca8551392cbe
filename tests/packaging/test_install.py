"""A plain (non-editable) install of a wheel of the project gives a working ``bench``.

The wheel is built from a copy of the working tree (so no ``build/`` or ``*.egg-info`` lands in the
repository, and concurrent edits elsewhere cannot race with the build), installed with ``--no-deps``
into a fresh venv, and the dependencies (torch & co.) are borrowed from the project's venv through
a ``.pth`` line instead of being installed again. Every command runs from a temporary folder outside
the repository, and the test asserts that the installed copy, not the checkout, is what runs:
``bench`` itself, its package data (``bench.shipped``: plugins, embedded datasets, recipes, report
templates) and its entry points (``bench.modes``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The interpreter of the project's venv (the one running this test under `.venv/bin/python -m pytest`).
PROJECT_PY = Path(sys.executable)

# Not copied into the build tree: the venv, VCS data, caches, old build outputs, the results store.
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache",
    ".benchmarks", ".cache", "results", ".ci",
)

# Printed by the probe below, run by the new venv's interpreter.
_PROBE = r"""
import importlib.metadata as md, json, sys
import bench
from bench.core import resources
from bench.runs import modes

def describe(obj):
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"

dist = md.distribution("bench")
print(json.dumps({
    "bench_file": bench.__file__,
    "shipped": {name: str(resources.shipped(name)) for name in resources.SHIPPED_FOLDERS},
    "dist_location": str(dist.locate_file("")),
    "dist_files": [str(f) for f in (dist.files or [])],
    "modes": {ep.name: str(ep.dist.locate_file("")) if ep.dist else None
              for ep in md.entry_points(group=modes.MODE_GROUP)},
    "mode_names": modes.mode_names(),
    "meta_path": [describe(f) for f in sys.meta_path],
    "path_hooks": [repr(h) for h in sys.path_hooks],
    "editable_modules": sorted(m for m in sys.modules if m.startswith("__editable__")),
    "sys_path": sys.path,
}))
"""


def _purelib(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def _has_modules(python: Path, *modules: str) -> list[str]:
    """The modules of ``modules`` that ``python`` cannot import."""
    code = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    out = subprocess.run([str(python), "-c", code, *modules], check=True, capture_output=True, text=True)
    return out.stdout.split()


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _build_wheel(src: Path, out: Path) -> Path:
    """Build the wheel offline: first with the project venv's setuptools (no build isolation), then
    with build isolation from the configured (local) index; skip, naming what is missing, if neither
    works."""
    base = [str(PROJECT_PY), "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    attempts: list[tuple[str, list[str]]] = []
    missing = _has_modules(PROJECT_PY, "setuptools", "wheel")
    if not missing:
        attempts.append(("--no-build-isolation", base[:4] + ["--no-build-isolation", "--no-index"] + base[4:]))
    # Build isolation installs setuptools/wheel into a temporary environment, from the index that pip
    # is configured with (on this machine: local wheel folders); nothing is fetched from the network
    # unless pip is configured so.
    attempts.append(("build isolation", base[:4] + ["--retries", "0", "--timeout", "15"] + base[4:]))
    failures = []
    if missing:
        failures.append(f"the project venv lacks {', '.join(missing)} (needed for --no-build-isolation)")
    for label, cmd in attempts:
        try:
            proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            failures.append(f"pip wheel with {label} did not finish in 300 s (no offline index?)")
            continue
        wheels = sorted(out.glob("bench-*.whl"))
        if proc.returncode == 0 and wheels:
            return wheels[-1]
        failures.append(f"pip wheel with {label} failed (rc {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")
    pytest.skip("cannot build a wheel of bench offline on this machine:\n" + "\n".join(failures))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, its bin folder, a work folder outside the repo, the wheel, the environment)."""
    root = tmp_path_factory.mktemp("install")
    src, dist, venv, work = root / "src", root / "dist", root / "venv", root / "work"
    dist.mkdir()
    work.mkdir()
    # symlinks=True keeps bench/shipped/* as the relative links they are in the checkout (they point
    # into the copy); the build follows them and puts copies of the files into the wheel.
    shutil.copytree(REPO, src, symlinks=True, ignore=_NOT_COPIED)
    wheel = _build_wheel(src, dist)

    # A venv without pip (ensurepip takes seconds); the project venv's pip installs into it.
    subprocess.run([str(PROJECT_PY), "-m", "venv", "--without-pip", str(venv)], check=True, cwd=work)
    bindir = venv / "bin"
    python = bindir / "python"
    proc = subprocess.run([str(PROJECT_PY), "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", "--no-compile", str(wheel)], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 0, f"pip install of {wheel.name} failed:\n{proc.stdout}\n{proc.stderr}"

    # The dependencies come from the project venv: one plain path line in a .pth file. A directory
    # added by a .pth line is NOT scanned for .pth files itself (only site dirs are), so the project
    # venv's `__editable__.bench-*.pth`, which would install the editable finder mapping `bench` to
    # the checkout, is never executed; the probe in test_installed_copy_is_imported checks this.
    site = _purelib(python)
    project_site = _purelib(PROJECT_PY)
    assert site != project_site
    (site / "zz_bench_test_deps.pth").write_text(f"{project_site}\n")

    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "BENCH_PLUGIN_PATH",
                        "BENCH_STORE", "PYTHONSAFEPATH"}}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PYTHONNOUSERSITE="1", BENCH_STORE=str(work / "default.db"), COLUMNS="200")
    return {"venv": venv, "bin": bindir, "python": python, "work": work, "wheel": wheel, "env": env,
            "site": site, "project_site": project_site}


def _bench(installed, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(installed["bin"] / "bench"), *args], cwd=installed["work"], env=installed["env"],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"bench {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_contents(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"bench"}, f"the wheel installs top-level names other than bench: {sorted(top)}"
    shipped = [n for n in names if n.startswith("bench/shipped/")]
    for expected in ("methods/p_asl.py", "methods/large_loss.py", "datasets/scene.py", "datasets/coco_mini.py",
                     "datasets/data/scene/scene.npz", "datasets/data/coco_mini/annotations/instances_train.json",
                     "recipes/linear.yaml", "recipes/csl.yaml", "reports/report.md.j2", "reports/metrics.yaml"):
        assert f"bench/shipped/{expected}" in shipped, f"{expected} is missing from the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    entry_points = zipfile.ZipFile(installed["wheel"]).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[bench.modes]" in entry_points and "linear = " in entry_points and "finetune = " in entry_points
    assert "bench = bench.cli.app:main" in entry_points


def test_installed_copy_is_imported(installed):
    proc = subprocess.run([str(installed["python"]), "-c", _PROBE], cwd=installed["work"], env=installed["env"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stdout)
    venv = installed["venv"].resolve()

    def inside(path: str | None) -> bool:
        return path is not None and Path(path).resolve().is_relative_to(venv)

    assert inside(probe["bench_file"]), f"bench imported from {probe['bench_file']}, not from {venv}"
    for name, path in probe["shipped"].items():
        assert inside(path), f"shipped {name} resolves to {path}, outside the installed copy"
        assert Path(path).is_dir() and not Path(path).is_symlink()
    assert inside(probe["dist_location"])
    # The wheel's own entry points, not the editable install's dist-info in the project venv: in
    # importlib.metadata the first distribution named bench on sys.path (the new venv's) wins.
    assert {"linear", "finetune"} <= set(probe["modes"]), probe["modes"]
    assert all(inside(loc) for loc in probe["modes"].values()), probe["modes"]
    assert {"linear", "finetune"} <= set(probe["mode_names"])
    # The editable finder of the project venv must not be active (see the fixture's comment).
    assert not any("editable" in f.lower() for f in probe["meta_path"]), probe["meta_path"]
    assert not any("__editable__" in h for h in probe["path_hooks"]), probe["path_hooks"]
    assert not probe["editable_modules"], probe["editable_modules"]
    repo = REPO.resolve()
    assert not [p for p in probe["sys_path"] if p and Path(p).resolve() == repo], probe["sys_path"]
    assert str(installed["project_site"]) in probe["sys_path"]
    # The installed package data are real files in the new venv.
    shipped = installed["site"] / "bench" / "shipped"
    assert {p.name for p in (shipped / "recipes").glob("*.yaml")} >= {"asl.yaml", "csl.yaml", "linear.yaml"}
    assert list((shipped / "reports").glob("*.j2"))
    assert not any(p.is_symlink() for p in shipped.iterdir())


def test_cli_lists(installed):
    assert "Usage: bench" in _bench(installed, "--help").stdout
    methods = _bench(installed, "list", "methods").stdout
    for name in ("p-asl", "negative", "ignore", "selective", "ll-r"):
        assert f" {name} " in methods, f"bench list methods lacks {name}:\n{methods}"
    datasets = _bench(installed, "list", "datasets").stdout
    for name in ("scene", "coco-mini"):
        assert f" {name} " in datasets, f"bench list datasets lacks {name}:\n{datasets}"


def test_run_recipe_and_report(installed):
    store = str(installed["work"] / "x.db")
    out = _bench(installed, "run", "--dataset", "scene", "--epochs", "2", "-q", "--store", store).stdout
    assert "done: negative on scene" in out, out
    out = _bench(installed, "run", "--recipe", "linear", "--dataset", "scene", "--epochs", "1", "-q",
                 "--store", store, "--force").stdout
    assert "done: negative on scene" in out or "skipped: negative on scene" in out, out
    report = _bench(installed, "report", "--store", store).stdout
    assert "negative" in report and "scene" in report, report
    assert any(ch in report for ch in "|┃│"), f"bench report printed no table:\n{report}"
