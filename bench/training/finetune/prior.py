"""The class prior of a finetune run without ``--prior-path`` (CSL §4, docs/methods.md §4).

As the CSL README prescribes, a temporary model is trained with the ``ignore`` method -- here with
the run's own backbone, recipe, training rows, augmentation and seed -- and its predictions give
the prior: ``posthoc`` (CSL eq. 10) scores every training image once after training (evaluation
transform, raw weights) and averages sigmoid(z_c); ``running`` (the official ``ComputePrior``)
averages sigmoid(z_c) over every training step's predictions since step 0. Under DDP the shards'
sums are gathered on rank 0 and the estimate is broadcast to every process. The engine caches the
result in the store (``bench.runs.artifacts``), so a resumed or repeated run does not train it again.
"""
from __future__ import annotations

import numpy as np

from bench.runs.prior import PriorAccumulator, posthoc_prior
from bench.training.distributed import broadcast_from_main, gather_to_main
from bench.training.finetune.loop import fit
from bench.training.finetune.setup import FitSetup
from bench.training.images import BadImages, ImageRows
from bench.training.images.inference import infer


def estimate_prior(setup: FitSetup, estimator: str, train_images: ImageRows) -> np.ndarray:
    """Train ``setup`` (an ignore-method model, no monitor, no checkpoints) and return the prior
    (float64, (C,)) on every process; ``train_images`` are the training rows with the evaluation
    transform (posthoc)."""
    accumulator = PriorAccumulator(setup.label_store.num_classes)
    if estimator == "running":
        setup.step_observers = (lambda logits, state: accumulator.update(logits),)
    fit(setup, select_best=False)
    if estimator == "running":
        parts = gather_to_main((accumulator.total, accumulator.count))
        value = None if parts is None else sum(p[0] for p in parts) / sum(p[1] for p in parts)
    else:
        logits = infer(setup.model, train_images, BadImages("prior", train_images.paths),
                       batch_size=setup.recipe.batch_size, workers=setup.workers, device=setup.device,
                       precision=setup.precision)
        value = None if logits is None else posthoc_prior(logits)
    return broadcast_from_main(value)
