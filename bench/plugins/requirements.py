"""What a method may declare it needs before training: artifacts the engine produces for it.

A method lists them in ``requires`` (a class attribute) or, per instance, ``required_artifacts()``:
a mapping from the artifact's name to its spec. The trainer hands each value to the method as
``state.artifacts[name]``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from bench.core.errors import InputError

PRIOR_ESTIMATORS = ("posthoc", "running")


@dataclass(frozen=True)
class PriorSpec:
    """A class prior (CSL, Ben-Baruch et al. CVPR 2022, §4): C probabilities in class order, from a
    temporary model trained with the registered method ``method`` on the run's own training rows,
    model, recipe and seed, estimated by ``estimator``:

    * ``posthoc`` (CSL eq. 10): prior_c = mean over the training rows of sigmoid(z_c), one inference
      pass after training;
    * ``running`` (the official ``ComputePrior``): the running mean of sigmoid(z_c) over every
      training step's predictions since step 0.

    A run's ``--prior-path`` (the official ``Classes,avg_pred`` CSV) replaces the estimate.
    See docs/methods.md §4.
    """

    artifact: ClassVar[str] = "class_prior"
    method: str
    estimator: str = "posthoc"

    def __post_init__(self) -> None:
        if self.estimator not in PRIOR_ESTIMATORS:
            raise InputError(f"PriorSpec: estimator must be one of {', '.join(PRIOR_ESTIMATORS)}; "
                             f"got '{self.estimator}'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
