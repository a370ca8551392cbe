"""Entropy maximisation (Zhou et al., ECCV 2022, "Acknowledging the Unknown for Multi-label Learning
with Single Positive Labels"): ``em`` (EM loss) and ``em-apl`` (EM loss + asymmetric pseudo-labelling),
with the per-dataset presets of the official ``main.py``. docs/methods.md, "EM and EM + APL".

Official code: Correr-Zhou/SPML-AckTheUnknown @ ae1ccafe0b0328d199b09860d394f321e6279201,
``losses.py`` (``loss_EM``, ``loss_EM_APL``, ``compute_batch_loss``, ``neg_log``) and ``main.py``
(``aysmmetric_pseudo_labeling`` (sic), the hyper-parameters per dataset). Paper eq. 5 (EM), eq. 7-8 (APL).

Loss (p = sigmoid(z), neg_log(x) = -log(x + 1e-5), reduction: each entry divided by B*C, then summed):

    P (y == 1):                   neg_log(p)
    U (y == 0), not pseudo-labelled:  -alpha * (p neg_log(p) + (1 - p) neg_log(1 - p))   (= -alpha H(p), eq. 5)
    U, pseudo-labelled with soft label s (em-apl):  beta * (s neg_log(p) + (1 - s) neg_log(1 - p))
    N (y == -1):                  neg_log(1 - p)       (ours; see below)

Nothing is detached: the entropy term differentiates through both p and log p, as the official code.

APL (em-apl): after every epoch e >= ``warmup_epoch`` (1-based, as the official ``P['epoch'] >=
P['warmup_epoch']``) and for every class c, the n_c un-annotated, not yet pseudo-labelled training
entries with the smallest predictions become pseudo-negatives whose soft label s is that prediction:
n_c = int(neg_proportion * U_c / (num_epochs - warmup_epoch)), U_c the number of un-annotated entries
of class c in the initial training labels. The pseudo-labels of epoch e are used from epoch e + 1 on
(those after the last epoch are never used, so they are not computed). Ties among equal
predictions are taken in row order (the official ``np.argsort`` quicksort leaves them unspecified).

Differences from the official code, each forced by the engine (none changes the formula):

* Predictions used for APL: the official code scores every training image with the model after the
  epoch, in eval mode, in a separate pass. A method gets no such pass, so ``em-apl`` records each
  row's prediction when its batch's loss is computed during epoch e (one prediction per row per
  epoch: each row is in exactly one batch), i.e. with the weights of that step, in train mode.
  Rows that were not seen in the epoch (unreadable images) are not pseudo-labelled that round.
* Soft labels are floats and the run's label store holds int8 labels, so the method keeps them
  (``soft_labels``: N x C, NaN where not pseudo-labelled; ``state_dict``). Tests pass them for a batch as
  ``state.extra["apl_soft_labels"]`` (B x C), which ``loss`` then uses as given. They are not in
  the finetune checkpoint, so a ``--resume`` past the warm-up refuses with a clear error.
* Annotated negatives: the official code never sees one (single-positive labels only; ``loss_EM``
  asserts there are none, and ``loss_EM_APL`` would read an observed -1 as a soft label of 1). We
  train them as negatives, neg_log(1 - p) with weight 1, like the annotated positives.
  ``official_compat=True`` reproduces the released code: ``em`` refuses them (the assert),
  ``em-apl`` trains them as ``beta * neg_log(p)`` (soft label 1); it also reproduces that a
  training epoch of a single batch never pseudo-labels (the labelling runs in the ``else`` branch of
  the first batch) and that a pseudo-label whose soft value is exactly 0 (-0.0 in their matrix)
  still counts as un-annotated and can be picked again.
"""
from __future__ import annotations

from typing import Any

import torch

from bench import NEG, POS, UNANN, Method, Param, TrainState, register_method, with_defaults

LOG_EPSILON = 1e-5  # the official neg_log epsilon
SOFT_LABELS_KEY = "apl_soft_labels"


def neg_log(x: torch.Tensor) -> torch.Tensor:
    """-log(x + 1e-5), the official ``neg_log``."""
    return -torch.log(x + LOG_EPSILON)


def entropy_loss_matrix(p: torch.Tensor, labels: torch.Tensor, alpha: float,
                        unknown: torch.Tensor | None = None) -> torch.Tensor:
    """The per-entry EM loss: neg_log(p) on positives, -alpha H(p) on the ``unknown`` entries
    (default: the un-annotated ones), neg_log(1 - p) on annotated negatives, 0 elsewhere. Entries are
    filled by masked assignment, as the official code, so the gradients match it bit for bit."""
    unknown = labels == UNANN if unknown is None else unknown
    matrix = torch.zeros_like(p)
    positive, negative = labels == POS, labels == NEG
    matrix[positive] = neg_log(p[positive])
    # one gather per use, as the official expression: the gradient's summation order follows it
    matrix[unknown] = -alpha * (p[unknown] * neg_log(p[unknown]) + (1 - p[unknown]) * neg_log(1 - p[unknown]))
    matrix[negative] = neg_log(1 - p[negative])
    return matrix


def official_reduction(loss_matrix: torch.Tensor) -> torch.Tensor:
    """The official ``compute_batch_loss``: every entry divided by B*C, then summed."""
    return (loss_matrix / loss_matrix.numel()).sum()


class EntropyLoss(Method):
    """What ``em`` and ``em-apl`` share: alpha, the refusal of annotated negatives, the EM loss."""

    parameters = {
        "alpha": Param(0.2, min=0.0, help="weight of the entropy term on un-annotated entries, >= 0 (VOC 0.2)"),
        "official_compat": Param(False, help="refuse annotated negatives, as the official loss_EM's assert"),
    }

    def _check_negatives(self, labels: torch.Tensor) -> None:
        if self.official_compat and bool((labels == NEG).any()):
            raise ValueError(f"method '{self.name}' with official_compat=True: the official loss_EM asserts "
                             "that no label is an annotated negative; this batch has some")

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        self._check_negatives(labels)
        return official_reduction(entropy_loss_matrix(torch.sigmoid(logits), labels, self.alpha))


@register_method("em")
class EntropyMaximisation(EntropyLoss):
    """EM loss (Zhou et al. ECCV 2022): positives neg_log(p), un-annotated -alpha * entropy (VOC alpha 0.2)."""

    description = "Entropy-maximisation loss on un-annotated labels (Zhou et al. 2022), VOC alpha 0.2"


@register_method("em-coco")
class EntropyMaximisationCoco(EntropyMaximisation):
    """EM loss with the official COCO and NUS-WIDE alpha 0.1."""

    description = "EM loss, official COCO / NUS-WIDE alpha 0.1"
    parameters = with_defaults(EntropyMaximisation.parameters, alpha=0.1)


@register_method("em-cub")
class EntropyMaximisationCub(EntropyMaximisation):
    """EM loss with the official CUB alpha 0.01."""

    description = "EM loss, official CUB alpha 0.01"
    parameters = with_defaults(EntropyMaximisation.parameters, alpha=0.01)


@register_method("em-apl")
class EntropyMaximisationAPL(EntropyLoss):
    """EM loss + asymmetric pseudo-labelling (Zhou et al. ECCV 2022), official VOC values."""

    description = "EM loss + asymmetric pseudo-labelling (Zhou et al. 2022), VOC alpha 0.2 beta 0.02"
    parameters = {
        **EntropyLoss.parameters,
        "beta": Param(0.02, min=0.0, help="weight of the pseudo-negative term, >= 0 (VOC 0.02)"),
        "neg_proportion": Param(0.9, min=0.0, max=1.0,
                                help="fraction of each class's un-annotated entries pseudo-labelled in all"),
        "warmup_epoch": Param(5, min=1, help="first epoch (1-based) after which pseudo-labels are made"),
        "official_compat": Param(False, help="released code: -1 read as soft label 1, no labelling in a "
                                             "single-batch epoch, soft label 0 stays un-annotated"),
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._reset()

    def _reset(self) -> None:
        """Forget every pseudo-label: a new run starts (``start_run``, or epoch 1 begins)."""
        self._rounds: list[tuple[int, int]] = []  # (epoch labelled from, pseudo-labels made)
        self._planned: tuple[int, int] | None = None  # (num_epochs, warmup_epoch) of the run
        self.soft_labels: torch.Tensor | None = None  # N x C, NaN where not pseudo-labelled
        self._predictions: torch.Tensor | None = None  # N x C, predictions of the current epoch
        self._initial_unannotated: torch.Tensor | None = None  # N x C, y == 0 in epoch 1's labels
        self._unannotated_count: torch.Tensor | None = None  # U_c of the initial training labels
        self._recorded_epoch = 0  # the last epoch whose predictions were recorded
        self._labelled_epoch = 0  # the last epoch whose predictions were pseudo-labelled from

    def start_run(self) -> None:
        self._reset()

    def run_diagnostics(self) -> dict[str, dict[str, Any]]:
        """``apl``: the pseudo-labelling rounds of the run and the pseudo-negatives they made."""
        if self._initial_unannotated is None:
            return {}
        made, pool = sum(n for _, n in self._rounds), int(self._initial_unannotated.sum())
        share = 100.0 * made / pool if pool else 0.0
        first = f", the first from epoch {self._rounds[0][0]}'s predictions" if self._rounds else ""
        return {"apl": {"rounds": len(self._rounds), "pseudo_negatives": made, "unannotated": pool,
                        "summary": f"{len(self._rounds)} round{'' if len(self._rounds) == 1 else 's'} made {made} "
                                   "pseudo-negatives "
                                   f"({share:.1f}% of {pool} un-annotated training entries){first}"}}

    def run_notes(self) -> list[str]:
        """A note when the run was too short for APL's schedule: no pseudo-label at all (plain EM), or
        training stopped before ``num_epochs``, for which n_c is planned, so APL made fewer."""
        if self._planned is None:
            return []
        planned, warmup = self._planned
        if planned <= warmup:
            return [f"{self.name}: {planned} epochs <= warmup_epoch {warmup}, so no pseudo-label was made: "
                    "the run is plain EM"]
        if 0 < self._recorded_epoch < planned:
            summary = self.run_diagnostics().get("apl", {}).get("summary", "no pseudo-labelling round")
            return [f"{self.name}: training stopped after epoch {self._recorded_epoch} of the {planned} that APL's "
                    f"per-round counts assume (APL: {summary}); use a fixed number of epochs"]
        return []

    def compatible(self, mode: str, dataset: type, processes: int = 1) -> str | None:
        if processes > 1:
            return "its pseudo-labels need every training row's prediction in one process"
        return super().compatible(mode, dataset, processes)

    def _check_negatives(self, labels: torch.Tensor) -> None:
        """Annotated negatives are allowed: under official_compat they are read as soft label 1."""

    def _batch_soft_labels(self, labels: torch.Tensor, state: TrainState | None) -> torch.Tensor:
        given = None if state is None else state.extra.get(SOFT_LABELS_KEY)
        if given is not None:
            return torch.as_tensor(given, dtype=torch.float32, device=labels.device)
        if self.soft_labels is None or state is None or state.indices is None:
            return torch.full(labels.shape, float("nan"), device=labels.device)
        return self.soft_labels[state.indices.to(self.soft_labels.device)].to(labels.device)

    def _pseudo_labelled(self, soft: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labelled = (labels == UNANN) & ~torch.isnan(soft)
        return labelled & (soft != 0) if self.official_compat else labelled

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        self._record(p.detach(), labels, state)
        soft = self._batch_soft_labels(labels, state)
        pseudo = self._pseudo_labelled(soft, labels)
        if self.official_compat:
            soft = torch.where(labels == NEG, 1.0, soft)
            pseudo = pseudo | (labels == NEG)
        unknown = (labels == UNANN) & ~pseudo
        matrix = entropy_loss_matrix(p, torch.where(pseudo, UNANN, labels), self.alpha, unknown)
        s = soft[pseudo]
        matrix[pseudo] = self.beta * (s * neg_log(p[pseudo]) + (1 - s) * neg_log(1 - p[pseudo]))
        return official_reduction(matrix)

    def _record(self, p: torch.Tensor, labels: torch.Tensor, state: TrainState | None) -> None:
        """Keep this batch's predictions (and, in epoch 1, its un-annotated entries) per training row."""
        if state is None or state.indices is None or state.label_store is None:
            return
        shape = (state.label_store.num_rows, labels.shape[1])
        if self._predictions is None or self._predictions.shape != shape:
            self._predictions = torch.full(shape, float("nan"), device=p.device)
            self._initial_unannotated = torch.zeros(shape, dtype=torch.bool, device=p.device)
        rows = state.indices.to(p.device)
        self._predictions[rows] = p
        if state.epoch == 1:
            self._initial_unannotated[rows] = labels == UNANN
        self._recorded_epoch = state.epoch

    def on_epoch_start(self, state: TrainState) -> None:
        """Pseudo-label with the predictions of the epoch that just ended (module docstring)."""
        if state.epoch == 1:
            self._reset()
            self._planned = None if state.num_epochs is None else (state.num_epochs, self.warmup_epoch)
        finished = state.epoch - 1
        if finished < self.warmup_epoch or state.num_epochs is None or finished >= state.num_epochs:
            return
        if finished <= self._labelled_epoch:  # already done for this epoch
            return
        if self._predictions is None or self._recorded_epoch != finished:
            raise RuntimeError(f"method '{self.name}': no predictions of epoch {finished} to pseudo-label from; "
                               "its pseudo-labels are kept by the method and are not in checkpoints, so a run "
                               "cannot resume past the warm-up")
        if self.official_compat and state.steps_per_epoch == 1:
            return
        if self._unannotated_count is None:
            self._unannotated_count = self._initial_unannotated.sum(dim=0)
        self._pseudo_label(state, state.num_epochs - self.warmup_epoch)
        self._predictions.fill_(float("nan"))
        self._labelled_epoch = finished

    @torch.no_grad()
    def _pseudo_label(self, state: TrainState, rounds: int) -> None:
        predictions = self._predictions
        if self.soft_labels is None or self.soft_labels.shape != predictions.shape:
            self.soft_labels = torch.full_like(predictions, float("nan"))
        rows = torch.arange(predictions.shape[0], device=predictions.device)
        current = state.label_store.batch(rows).to(predictions.device)
        taken = self._pseudo_labelled(self.soft_labels, current)
        pool = (current == UNANN) & ~taken & ~torch.isnan(predictions)
        for c in range(predictions.shape[1]):
            count = int(self.neg_proportion * int(self._unannotated_count[c]) / rounds)
            candidates = pool[:, c].nonzero().squeeze(1)
            if count <= 0 or candidates.numel() == 0:
                continue
            order = torch.sort(predictions[candidates, c], stable=True).indices[:count]
            chosen = candidates[order]
            self.soft_labels[chosen, c] = predictions[chosen, c]
        self._rounds.append((state.epoch - 1, int(self._pseudo_labelled(self.soft_labels, current).sum()
                                                  - taken.sum())))

    def state_dict(self) -> dict[str, Any]:
        """The pseudo-labels and the APL bookkeeping, for a checkpoint."""
        return {"soft_labels": self.soft_labels, "unannotated_count": self._unannotated_count, "rounds": self._rounds,
                "recorded_epoch": self._recorded_epoch, "labelled_epoch": self._labelled_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict``."""
        self.soft_labels, self._unannotated_count = state["soft_labels"], state["unannotated_count"]
        self._rounds = [tuple(r) for r in state["rounds"]]
        self._recorded_epoch = int(state["recorded_epoch"])
        self._labelled_epoch = int(state["labelled_epoch"])


def _apl_preset(**defaults: Any) -> dict[str, Param]:
    return with_defaults(EntropyMaximisationAPL.parameters, **defaults)


@register_method("em-apl-coco")
class EntropyMaximisationAPLCoco(EntropyMaximisationAPL):
    """EM + APL with the official COCO values: alpha 0.1, beta 0.9, warm-up 5."""

    description = "EM + APL, official COCO values (alpha 0.1, beta 0.9, warm-up 5)"
    parameters = _apl_preset(alpha=0.1, beta=0.9, warmup_epoch=5)


@register_method("em-apl-nuswide")
class EntropyMaximisationAPLNusWide(EntropyMaximisationAPL):
    """EM + APL with the official NUS-WIDE values: alpha 0.1, beta 0.2, warm-up 4."""

    description = "EM + APL, official NUS-WIDE values (alpha 0.1, beta 0.2, warm-up 4)"
    parameters = _apl_preset(alpha=0.1, beta=0.2, warmup_epoch=4)


@register_method("em-apl-cub")
class EntropyMaximisationAPLCub(EntropyMaximisationAPL):
    """EM + APL with the official CUB values: alpha 0.01, beta 0.4, warm-up 3."""

    description = "EM + APL, official CUB values (alpha 0.01, beta 0.4, warm-up 3)"
    parameters = _apl_preset(alpha=0.01, beta=0.4, warmup_epoch=3)
