"""How the ``bench`` process ends: without the interpreter's teardown of torch.

A process that imported torch spends 0.4-0.6 s on 2 cores after its last line, tearing down
~2,500 modules and collecting their objects (``python -c "import torch"``: 1.6 s; with
``os._exit`` after the import: 1.2 s). Nothing of bench's state needs that teardown: the store
commits every write on a connection it closes, trackers are closed by the run, reports are written
by ``with`` blocks. So ``exit_process`` runs the ``atexit`` handlers (torch's, logging's,
multiprocessing's, the finalizers of temporary folders), flushes the standard streams (what the
handlers printed included) and leaves with ``os._exit``. It falls back to the ordinary exit when
torch was never imported (then the teardown is fast), when a non-daemon thread is still alive (the
ordinary exit joins it), and for a ``SystemExit`` whose code is a message rather than a number.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def _fast_exit_allowed(code: object) -> bool:
    if "torch" not in sys.modules or not (code is None or isinstance(code, int)):
        return False
    main = threading.main_thread()
    return all(thread.daemon for thread in threading.enumerate() if thread is not main)


def exit_process(code: object = 0) -> NoReturn:
    """End the process with exit status ``code`` (a ``SystemExit`` code: None, an int or a message);
    see the module docstring for when the interpreter's teardown is skipped."""
    if not _fast_exit_allowed(code):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (bench ... | head) or a closed stream
            pass
    os._exit(code or 0)
