"""Dataset I/O helpers shared by dataset plugins: errors that name the file, line and field
(``errors``), integrity checks against known releases (``integrity``), image presence checks and
the safe missing-image lists (``images``), streaming OpenImages label readers (``openimages``,
``miil``, ``csvblocks``) and compact id sequences (``idseq``); the shared readers of untrusted
input -- UTF-8 text with a BOM accepted (``text``), type-checked annotation JSON (``jsonfields``),
``.npz`` archives (``npz``) -- and the checks every loader runs on what it read: unique ids, no
train/test overlap, non-empty splits, finite features (``checks``), image paths inside the dataset
root (``roots``)."""
