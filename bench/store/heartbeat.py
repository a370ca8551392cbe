"""A background thread that keeps a running run's heartbeat fresh in the store."""
from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from bench.store import Store, StoreError

HEARTBEAT_SECONDS = 10.0


class Heartbeat:
    """Context manager: ``Store(path).heartbeat(run_id)`` every ``interval`` seconds until exit.

    The thread opens its own ``Store`` (one connection per operation), so it never shares a SQLite
    connection with the training thread. A store that is briefly busy only delays a beat; the
    last error is kept in ``error`` for the caller to report.
    """

    def __init__(self, store_path: str | Path, run_id: str, interval: float = HEARTBEAT_SECONDS):
        self.store_path = Path(store_path)
        self.run_id = run_id
        self.interval = float(interval)
        self.beats = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"bench-heartbeat-{run_id[:8]}", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                Store(self.store_path).heartbeat(self.run_id)
                self.beats += 1
            except StoreError as exc:
                self.error = str(exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
