"""Missing and unreadable images: counted, listed, refused above a threshold.

``check_images(paths, mode)`` returns the indices of bad images:

* ``exists``: the file is missing or empty (one ``stat`` per image);
* ``header``: additionally its first bytes are not a JPEG, PNG, GIF, BMP, WebP or TIFF signature;
* ``off``: nothing is checked.

``drop_bad_images(split, ...)`` applies the check to a split: when any image is bad the list
(one path per line) is written into ``list_dir``; above ``max_missing`` (a fraction of the split)
a ``DataError`` refuses the dataset, otherwise the bad rows are dropped and reported.

The lists go to ``missing-images/`` beside the results store (``$BENCH_STORE``'s folder, else
``results/``) unless ``missing_list_dir`` says otherwise, and are written safely
(``write_missing_list``): a folder or file that is a symlink is never followed, each list is a new
file (``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600) under a unique name, so a second list never
overwrites the first and nobody else's link can redirect the write.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.core.params import Param
from bench.core.paths import default_store_path
from bench.io.errors import DataError
from bench.labels.splits import DatasetData, Split

CHECK_MODES = ("exists", "header", "off")
IMAGE_CHECK_PARAMS: dict[str, Param] = {
    "check_images": Param("exists", choices=CHECK_MODES,
                          help="image check before training: exists (missing/empty), header (+ file signature), off"),
    "max_missing": Param(0.0, min=0.0, max=1.0,
                         help="largest tolerated fraction of missing/unreadable images per split (rows dropped)"),
    "missing_list_dir": Param(None, type=str,
                              help="folder for the missing-image lists (default: missing-images/ beside the store)"),
}
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _readable_header(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _SIGNATURES)


def _is_bad(path: str, mode: str) -> bool:
    try:
        if os.stat(path).st_size == 0:
            return True
        return mode == "header" and not _readable_header(path)
    except (OSError, ValueError):  # ValueError: a path with a NUL byte
        return True


def check_images(paths: Sequence[str], mode: str = "exists") -> np.ndarray:
    """Indices (int64, ascending) of the images in ``paths`` that fail the ``mode`` check."""
    if mode not in CHECK_MODES:
        raise DataError(f"unknown image check '{mode}' (use one of {', '.join(CHECK_MODES)})", field="check_images")
    if mode == "off":
        return np.zeros(0, dtype=np.int64)
    return np.fromiter((i for i, p in enumerate(paths) if _is_bad(str(p), mode)), dtype=np.int64)


@dataclass(frozen=True)
class ImageCheck:
    """Outcome of ``drop_bad_images``: the kept split, the dropped row indices and the list file."""

    split: Split
    dropped: np.ndarray
    list_path: Path | None


def _subset(values: Sequence[str] | None, keep: np.ndarray) -> Sequence[str] | None:
    """Rows ``keep`` of a list (a new list) or of a compact id sequence (the same compact type)."""
    if values is None:
        return None
    return [values[i] for i in keep] if isinstance(values, list) else values[keep]


def _take_rows(split: Split, keep: np.ndarray) -> Split:
    features = split.features[keep] if split.features is not None else None
    return replace(split, labels=split.labels[keep], features=features, images=_subset(split.images, keep),
                   ids=_subset(split.ids, keep))


def default_list_dir() -> Path:
    """``missing-images/`` beside the results store."""
    return default_store_path().parent / "missing-images"


def _list_folder(folder: Path) -> int:
    """An open descriptor of ``folder`` (created 0700 when absent); ``DataError`` when it or the
    path to it cannot be used, or when it is a symlink."""
    try:
        if folder.is_symlink():
            raise DataError("the missing-image list folder is a symlink; refusing to follow it "
                            "(remove it or pass missing_list_dir=...)", folder, field="missing_list_dir")
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except DataError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DataError("the missing-image list folder is a symlink; refusing to follow it", folder,
                            field="missing_list_dir") from None
        raise DataError(f"cannot use the missing-image list folder: {err.strerror or err}", folder,
                        field="missing_list_dir") from None
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError("the missing-image list folder is not a folder", folder, field="missing_list_dir")
    return fd


def write_missing_list(folder: str | Path, stem: str, lines: Sequence[str]) -> Path:
    """Write ``lines`` (one per line) to a new file ``<stem>-<time>[-k].txt`` in ``folder``.

    The folder is created when absent and refused when it is a symlink; the file is created with
    ``O_CREAT | O_EXCL | O_NOFOLLOW`` (mode 0600) relative to the opened folder, so an existing
    file or a planted symlink of that name is never written through: the next free name is used."""
    folder = Path(folder).expanduser()
    dir_fd = _list_folder(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    names = [f"{base}.txt", *(f"{base}-{k}.txt" for k in range(2, 100))]
    try:
        for name in names + [f"{base}-{secrets.token_hex(6)}.txt" for _ in range(8)]:
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            except FileExistsError:
                continue
            except OSError as err:
                if err.errno == errno.ELOOP:  # a symlink of that name: never followed, try the next name
                    continue
                raise DataError(f"cannot write a missing-image list: {err.strerror or err}", folder / name,
                                field="missing_list_dir") from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("".join(f"{line}\n" for line in lines))
            return folder / name
    finally:
        os.close(dir_fd)
    raise DataError("no free name for a missing-image list", folder, field="missing_list_dir")


def drop_bad_images(split: Split, mode: str, max_missing: float, list_dir: str | Path, stem: str,
                    where: str) -> ImageCheck:
    """Check ``split.images``; write the bad paths to a new list in ``list_dir`` (file name
    ``<stem>-<time>.txt``, see ``write_missing_list``); refuse above ``max_missing``.

    ``max_missing`` is the largest tolerated fraction of bad images (0 refuses any). Returns the
    split without the bad rows (the same object when none is bad).
    """
    if split.images is None or mode == "off":
        return ImageCheck(split, np.zeros(0, dtype=np.int64), None)
    bad = check_images(split.images, mode)
    if bad.size == 0:
        return ImageCheck(split, bad, None)
    list_path = write_missing_list(list_dir, stem, [split.images[i] for i in bad])
    fraction = bad.size / max(len(split), 1)
    if fraction > max_missing:
        raise DataError(
            f"{bad.size:,} of {len(split):,} images missing or unreadable ({fraction:.2%} > "
            f"max_missing={max_missing:g}); first: {split.images[bad[0]]}; full list in {list_path}", where)
    keep = np.setdiff1d(np.arange(len(split)), bad)
    if keep.size == 0:
        raise DataError(f"all {len(split):,} images missing or unreadable; first: {split.images[bad[0]]}; "
                        f"full list in {list_path}", where)
    return ImageCheck(_take_rows(split, keep), bad, list_path)


def check_dataset_images(data: DatasetData, mode: str, max_missing: float, list_dir: str | None) -> DatasetData:
    """Apply ``drop_bad_images`` to both splits of ``data``; record counts and lists in
    ``data.meta["missing_images"]``. A reference ``val_index`` cannot survive dropped training
    rows, so that case is refused."""
    folder = Path(list_dir) if list_dir else default_list_dir()
    report: dict[str, dict] = {}
    for split_name in ("train", "test"):
        split = getattr(data, split_name)
        check = drop_bad_images(split, mode, max_missing, folder, f"{data.name}-{split_name}",
                                f"dataset '{data.name}' {split_name} images")
        if check.dropped.size and split_name == "train" and data.val_index is not None:
            raise DataError(f"{check.dropped.size} training images missing: the reference validation "
                            f"split cannot be reproduced; list in {check.list_path}", f"dataset '{data.name}'")
        setattr(data, split_name, check.split)
        report[split_name] = {"count": int(check.dropped.size),
                              "list": str(check.list_path) if check.list_path else None}
    data.meta["missing_images"] = report
    return data
