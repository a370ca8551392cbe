"""The convergence rule of the ``plateau`` schedule (``bench.training.trainer``).

Two signals end a candidate (one (lr, weight_decay) of the recipe's grids):

* the optimisation has converged: after every epoch ``Plateau.update`` gets the epoch's mean training
  loss; an epoch improves when it is below the best so far by more than ``LOSS_TOLERANCE`` (1%)
  relative. After ``patience`` epochs without improvement the learning rate is multiplied by
  ``LR_DROP_FACTOR`` (0.1); once it has dropped ``lr_drops`` times, the next plateau ends the
  candidate (Keras's ReduceLROnPlateau, then a stop);
* early stopping (only when a split selects the model): ``early_stopping`` epochs after the best
  monitored mAP(C) without a better one.

``epochs`` caps the budget either way. Why the loss drives the learning rate and not the monitored
mAP(C): on scene's 242 validation rows the mAP(C) of a head at a constant lr peaks early by noise; a
rule that drops the lr (and restores weights) at such a peak stops short of the regularised optimum
(measured: 1.3-1.8 mAP(C) below scikit-learn's tuned LogisticRegression, against 0.9 or better with
this rule; benchmarks/test_linear_convergence.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LR_DROP_FACTOR = 0.1
LOSS_TOLERANCE = 1e-2
IMPROVED, WAIT, DROP, STOP = "improved", "wait", "drop", "stop"


@dataclass
class Plateau:
    """State of the loss rule for one candidate: ``update(loss)`` -> improved / wait / drop / stop."""

    patience: int
    lr_drops: int
    best: float = math.inf
    waited: int = 0
    dropped: int = 0

    def improves(self, loss: float) -> bool:
        """``loss`` is below the best so far by more than ``LOSS_TOLERANCE`` relative (NaN never is)."""
        if math.isnan(loss):
            return False
        return math.isinf(self.best) or loss < self.best - LOSS_TOLERANCE * abs(self.best)

    def update(self, loss: float) -> str:
        """Record one epoch's mean training loss; what the trainer does next."""
        if self.improves(loss):
            self.best, self.waited = loss, 0
            return IMPROVED
        self.waited += 1
        if self.waited < self.patience:
            return WAIT
        self.waited = 0
        if self.dropped < self.lr_drops:
            self.dropped += 1
            return DROP
        return STOP
