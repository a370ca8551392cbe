"""SQL of the store's run listings."""
from __future__ import annotations

REPORTED_STATUSES = ("running", "done", "failed", "stale")
UNFINISHED = ("running", "stale")


def runs_query(status: str | None, method: str | None, dataset: str | None,
               latest_done_per_config: bool) -> tuple[str, list]:
    """(SQL, parameters) listing runs ordered by (created_at, id).

    A reported "running" or "stale" status is decided per record after reading (heartbeat age,
    pid), so both select the stored unfinished rows. ``latest_done_per_config`` keeps the latest
    done attempt of each config hash (``ROW_NUMBER`` over attempts newest first).
    """
    if status not in (None, *REPORTED_STATUSES):
        raise ValueError(f"unknown run status {status!r}; use one of {', '.join(REPORTED_STATUSES)}")
    if latest_done_per_config and status not in (None, "done"):
        raise ValueError(f"latest_done_per_config lists done runs; status={status!r} contradicts it")
    clauses, params = [], []
    for column, value in (("method", method), ("dataset", dataset)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if latest_done_per_config or status in ("done", "failed"):
        clauses.append("status = ?")
        params.append(status or "done")
    elif status is not None:
        clauses.append("status IN (?, ?)")
        params.extend(UNFINISHED)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    if not latest_done_per_config:
        return f"SELECT * FROM runs {where} ORDER BY created_at, id", params
    return (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY config_hash "
            f"ORDER BY created_at DESC, id DESC) AS attempt FROM runs {where}) "
            f"WHERE attempt = 1 ORDER BY created_at, id"), params
