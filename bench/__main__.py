"""``python -m bench ...`` (and ``torchrun --nproc-per-node N -m bench run ...``): the ``bench`` CLI."""
from __future__ import annotations

from bench.cli.app import main

if __name__ == "__main__":
    main()
