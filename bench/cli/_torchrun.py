"""``torchrun --nproc-per-node N -m bench run ...``: one configuration trained by every process (DDP).

Rank 0 decides whether the configuration is already done (and tells the others), resolves, records
and finishes the one store record; the other ranks train their shard through the same mode and
take part in its collective evaluation. Only ``--mode finetune`` trains across processes.
"""
from __future__ import annotations

from dataclasses import replace

from bench.runs.config import RunConfig, resolve_config
from bench.runs.execute import RunOutcome, execute
from bench.runs.modes import ConfigError, get_mode
from bench.runs.resolve import prepare
from bench.store import Store
from bench.training.distributed import broadcast_from_main, init_from_env, world


def execute_distributed(config: RunConfig, store: Store, *, force: bool = False,
                        progress: bool | None = None) -> RunOutcome | None:
    """Run ``config`` on every process of the group (see the module docstring).

    Returns the outcome on rank 0 and None on the other ranks."""
    if config.mode != "finetune":
        raise ConfigError(f"mode '{config.mode}' runs in one process; torchrun applies to --mode finetune")
    config = replace(config, device=init_from_env(config.device))
    here = world()
    resolved = resolve_config(config)
    done = store.latest_done(resolved.config_hash) if here.is_main and not force else None
    skip = broadcast_from_main(done is not None)
    if skip:
        return RunOutcome("skipped", done) if here.is_main else None
    if here.is_main:
        return execute(resolved, store, force=True, progress=progress)
    prepared = prepare(resolved.dataset, config.split_seed, config.val_fraction, resolved.run.val_labels)
    get_mode(config.mode).run(resolved, prepared, store, False)
    return None
