"""Dataset I/O helpers shared by dataset plugins: errors that name the file, line and field
(``errors``), integrity checks against known releases (``integrity``), image presence checks
(``images``), streaming OpenImages label readers (``openimages``, ``miil``) and compact id
sequences (``idseq``)."""
