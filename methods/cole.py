"""Cole et al., "Multi-Label Learning from Single Positive Labels", CVPR 2021: ``an``, ``an-ls``,
``wan``, ``epr`` (presets ``epr-voc``, ``epr-coco``, ``epr-nus``, ``epr-cub``) and ``role``.

Official code: elijahcole/single-positive-multi-label, ``losses.py`` and ``models.py`` at commit
89152d52ba59a65d75b19cbe32254a037b557a57 (functions ``loss_an``, ``loss_an_ls``, ``loss_wan``,
``loss_epr``, ``loss_role``, ``compute_batch_loss``, ``LabelEstimator``). Our encoding is theirs:
1 observed positive, 0 unobserved, -1 observed negative. With p = sigmoid(z) and
``neg_log(x) = -log(x + 1e-5)`` (theirs, not ``binary_cross_entropy``), each loss fills a (B, C)
matrix M and returns ``sum(M / (B*C)) + R`` (each entry divided by B*C, then summed, as
``compute_batch_loss``; R the regulariser, if any):

    an     M = neg_log(p) on 1;  neg_log(1-p) on 0
    an-ls  M = (1-e) neg_log(p) + e neg_log(1-p) on 1;  (1-e) neg_log(1-p) + e neg_log(p) on 0;  e = ls_coef
    wan    M = neg_log(p) on 1;  neg_log(1-p) / (C-1) on 0
    epr    M = neg_log(p) on 1;  R = (mean_b sum_c p_bc - k)^2 / C^2,  k = expected_num_pos
    role   f = p, g = sigmoid(estimator logits), each term half of the official ``loss_role``:
           M = 1/2 [neg_log(p) + neg_log(g)] on 1
             + 1/2 [g' neg_log(p) + (1-g') neg_log(1-p) + p' neg_log(g) + (1-p') neg_log(1-g)]
           R = 1/2 [(mean_b sum_c p - k)^2 + (mean_b sum_c g - k)^2] / C^2
           (g' = g detached in f's cross term, p' = p detached in g's; see ``RoleLoss``)

Annotated negatives (-1). The official AN family asserts ``min(label) >= 0`` (single positive: no
observed negative). We give an annotated negative the negative term with weight 1: neg_log(1-p)
(an, wan, epr: Cole's ``iu`` term), smoothed like an unobserved entry in an-ls (as their
``bce_ls``). Single-positive data has none, so there the losses equal the official ones.
``official_compat=True`` gives them what the official loss matrix holds there instead (0: no
direct term; the official code would stop at its assertion), and ``ignored_mask`` then marks them.

``expected_num_pos`` (k, epr and role): the official ``train.py`` values are the presets (VOC 1.5,
COCO 2.9, NUS-WIDE 1.9, CUB 31.4). Left None, the method declares the artifact
``class_positive_rate``: C floats, the fraction of the run's training rows positive for each class
in the dataset's full labels (refused when those are not fully annotated), and k is its sum, the
training split's mean number of positives per image.
"""
from __future__ import annotations

import math
from typing import ClassVar

import torch

from bench import NEG, POS, Method, Param, TrainState, register_method, with_defaults

LOG_EPSILON = 1e-5
POSITIVE_RATE = "class_positive_rate"
POSITIVE_RATE_SPEC = {"rows": "train", "labels": "full"}
COMPAT_HELP = "reproduce the official loss matrix: annotated negatives get no direct term"


def neg_log(x: torch.Tensor) -> torch.Tensor:
    """-log(x + 1e-5): Cole et al.'s ``neg_log`` (losses.py)."""
    return -torch.log(x + LOG_EPSILON)


def batch_mean(loss_matrix: torch.Tensor) -> torch.Tensor:
    """sum(M / (B*C)): ``compute_batch_loss``'s main loss, each entry divided before the sum."""
    denominator = loss_matrix.shape[0] * loss_matrix.shape[1] * torch.ones_like(loss_matrix)
    return (loss_matrix / denominator).sum()


def expected_positive_regularizer(preds: torch.Tensor, expected_num_pos: float) -> torch.Tensor:
    """(mean_b sum_c preds - k)^2 / C^2: the official ``expected_positive_regularizer`` (norm '2')
    divided by ``num_classes ** 2`` as ``loss_epr`` and ``loss_role`` do."""
    return (preds.sum(1).mean(0) - expected_num_pos) ** 2 / (preds.shape[1] ** 2)


def expected_num_pos(method: Method, state: TrainState | None) -> float:
    """k: the method's ``expected_num_pos`` or, when it is None, the sum of the declared artifact
    ``class_positive_rate`` (the mean number of positives per training image)."""
    if method.expected_num_pos is not None:
        return method.expected_num_pos
    rate = None if state is None else state.artifacts.get(POSITIVE_RATE)
    if rate is None:
        raise ValueError(f"method '{method.name}' needs expected_num_pos or the artifact "
                         f"'{POSITIVE_RATE}' in state.artifacts")
    return float(torch.as_tensor(rate, dtype=torch.float64).sum())


EXPECTED_NUM_POS_PARAM = Param(None, type=float, nullable=True, min=0.0,
                               help="k, expected positives per image (>= 0); None: the training split's mean "
                                    "from full labels (artifact class_positive_rate)")


class ColeLoss(Method):
    """Shared parts of Cole et al.'s losses: the encoding, official_compat, the artifact."""

    parameters = {"official_compat": Param(False, help=COMPAT_HELP)}

    def required_artifacts(self) -> dict:
        """``class_positive_rate`` when the method has a regulariser and k is not given."""
        if "expected_num_pos" in self.params and self.expected_num_pos is None:
            return {POSITIVE_RATE: dict(POSITIVE_RATE_SPEC)}
        return {}

    def compatible(self, mode: str, dataset: type, processes: int = 1) -> str | None:
        """epr and role train in one process: R is a function of the whole batch's mean."""
        if "expected_num_pos" in self.params and processes > 1:
            return "its regulariser uses the mean over the whole batch, which process shards do not reproduce"
        return super().compatible(mode, dataset, processes)

    def negative_mask(self, labels: torch.Tensor) -> torch.Tensor:
        """Annotated negatives that get the negative term (none under ``official_compat``)."""
        return torch.zeros_like(labels, dtype=torch.bool) if self.official_compat else labels == NEG

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        """Under ``official_compat`` the annotated negatives (no term at all); otherwise none."""
        return (labels == NEG) if self.official_compat else torch.zeros_like(labels, dtype=torch.bool)


class AssumeNegativeFamily(ColeLoss):
    """an / an-ls / wan: positives and assumed negatives, optionally smoothed or down-weighted."""

    def loss_matrix(self, p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        matrix = self.loss_matrix(torch.sigmoid(logits), labels)
        return batch_mean(matrix) if self.reduction == "mean" else matrix.sum()


REDUCTION = Param("mean", choices=("mean", "sum"), help="sum(M / (B*C)) (official) or sum(M)")


@register_method("an")
class AssumeNegative(AssumeNegativeFamily):
    """AN, "assume negative" (Cole et al. CVPR 2021, official ``loss_an``): unobserved = negative."""

    description = "Cole et al.: assume negative (AN), neg_log with eps 1e-5, mean over B*C"
    parameters = {**ColeLoss.parameters, "reduction": REDUCTION}

    def loss_matrix(self, p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        negative = (labels == 0) | self.negative_mask(labels)
        return torch.where(labels == POS, neg_log(p), torch.where(negative, neg_log(1.0 - p), 0.0))


@register_method("an-ls")
class AssumeNegativeSmoothed(AssumeNegativeFamily):
    """AN-LS: AN with label smoothing ``ls_coef`` (official ``loss_an_ls``, ``P['ls_coef'] = 0.1``)."""

    description = "Cole et al.: assume negative with label smoothing (AN-LS, ls_coef 0.1)"
    parameters = {**ColeLoss.parameters, "reduction": REDUCTION,
                  "ls_coef": Param(0.1, min=0.0, max=1.0, help="label smoothing coefficient e in [0, 1]")}

    def loss_matrix(self, p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = self.ls_coef
        positive = (1.0 - e) * neg_log(p) + e * neg_log(1.0 - p)
        negative = (1.0 - e) * neg_log(1.0 - p) + e * neg_log(p)
        as_negative = (labels == 0) | self.negative_mask(labels)
        return torch.where(labels == POS, positive, torch.where(as_negative, negative, 0.0))


@register_method("wan")
class WeakAssumeNegative(AssumeNegativeFamily):
    """WAN, "weak assume negative" (official ``loss_wan``): the unobserved term divided by C - 1;
    annotated negatives keep weight 1 (they are observed, not assumed)."""

    description = "Cole et al.: weak assume negative (WAN), unobserved term / (C - 1)"
    parameters = {**ColeLoss.parameters, "reduction": REDUCTION}

    def loss_matrix(self, p: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        classes = p.shape[1]
        if classes < 2:
            raise ValueError(f"method '{self.name}' divides by C - 1 and needs at least 2 classes; got {classes}")
        unobserved = neg_log(1.0 - p) / float(classes - 1)
        matrix = torch.where(labels == 0, unobserved, torch.where(self.negative_mask(labels), neg_log(1.0 - p), 0.0))
        return torch.where(labels == POS, neg_log(p), matrix)


@register_method("epr")
class ExpectedPositiveRegularised(ColeLoss):
    """EPR (official ``loss_epr``): neg_log(p) on observed positives plus the expected-positive
    regulariser (mean_b sum_c p - k)^2 / C^2; unobserved entries get no direct term."""

    description = "Cole et al.: expected positive regularisation (EPR), k from a preset or the training split"
    parameters = {**ColeLoss.parameters, "expected_num_pos": EXPECTED_NUM_POS_PARAM,
                  "reduction": Param("mean", choices=("mean",), help="sum(M / (B*C)) + R (official)")}

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        matrix = torch.where(labels == POS, neg_log(p), torch.where(self.negative_mask(labels), neg_log(1.0 - p), 0.0))
        return batch_mean(matrix) + expected_positive_regularizer(p, expected_num_pos(self, state))

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> None:
        """None: the regulariser reaches every entry."""
        return None


def _with_k(k: float) -> dict[str, Param]:
    return with_defaults(ExpectedPositiveRegularised.parameters, expected_num_pos=k)


@register_method("epr-voc")
class ExpectedPositiveVOC(ExpectedPositiveRegularised):
    """EPR with the official PASCAL VOC value k = 1.5 (train.py ``expected_num_pos['pascal']``)."""

    description = "Cole et al.: EPR with the official VOC k = 1.5"
    parameters = _with_k(1.5)


@register_method("epr-coco")
class ExpectedPositiveCOCO(ExpectedPositiveRegularised):
    """EPR with COCO k = 2.9, the value our issue gives for Cole et al.; their train.py
    ``expected_num_pos['coco']`` reads 2.5 at commit 22dc5730 (docs/methods.md)."""

    description = "Cole et al.: EPR with COCO k = 2.9 (their train.py @22dc5730: 2.5)"
    parameters = _with_k(2.9)


@register_method("epr-nus")
class ExpectedPositiveNUS(ExpectedPositiveRegularised):
    """EPR with the official NUS-WIDE value k = 1.9 (train.py ``expected_num_pos['nuswide']``)."""

    description = "Cole et al.: EPR with the official NUS-WIDE k = 1.9"
    parameters = _with_k(1.9)


@register_method("epr-cub")
class ExpectedPositiveCUB(ExpectedPositiveRegularised):
    """EPR with the official CUB value k = 31.4 (train.py ``expected_num_pos['cub']``)."""

    description = "Cole et al.: EPR with the official CUB k = 31.4"
    parameters = _with_k(31.4)


def inverse_sigmoid(p: float) -> float:
    """logit(p) with p clamped to [1e-5, 1 - 1e-5], in float64: the official ``inverse_sigmoid``."""
    p = max(min(p, 1 - 1e-5), 1e-5)
    return math.log(p / (1 - p))


@register_method("role")
class RoleLoss(ColeLoss):
    """ROLE, regularised online label estimation (official ``loss_role`` and ``LabelEstimator``).

    g is a per-(training image, class) table of logits that the trainer owns and optimises with
    the classifier (Adam, lr ``lr_mult`` x the run's lr, no weight decay; the official ``lr_mult``
    is 10). Contract with the trainer:

    * ``trainable_state(train_labels, generator)`` builds the table, N x C float32, with Cole's
      initialisation: unobserved uniform in +-logit(0.6) (``torch.rand``), observed positives
      logit(0.995), observed negatives logit(0.005);
    * before each ``loss`` call the trainer puts the batch rows of the table (B x C, requiring
      grad) in ``state.extra[trainable_state_key]``; ``loss`` uses what it finds there, so it is a pure
      function of (logits, labels, state);
    * the table is checkpointed with the model (and its Adam moments) so ``--resume`` continues it.

    Annotated negatives get neg_log(1-p) and neg_log(1-g) in the direct terms (our extension, the
    mirror of the positives; the official code asserts there are none); ``official_compat=True``
    gives them only the cross terms, as the official loss matrix would.
    """

    description = "Cole et al.: ROLE, a trained label estimator g (lr x lr_mult) with cross terms and EPR"
    trainable_state_key: ClassVar[str] = "label_estimator_logits"
    parameters = {**ColeLoss.parameters, "expected_num_pos": EXPECTED_NUM_POS_PARAM,
                  "lr_mult": Param(10.0, min=0.0, min_open=True,
                                   help="learning-rate multiplier of the label estimator (> 0; official 10)"),
                  "reduction": Param("mean", choices=("mean",), help="sum(M / (B*C)) + R (official)")}

    def trainable_state(self, train_labels: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.nn.Parameter:
        """The label estimator's logit table for ``train_labels`` (N x C, our encoding), initialised
        as ``LabelEstimator.__init__`` (w = 0.1: unobserved in +-logit(0.5 + w))."""
        labels = torch.as_tensor(train_labels)
        bound = inverse_sigmoid(0.5 + 0.1)
        table = bound * (2 * torch.rand(labels.shape, generator=generator) - 1)
        table[(labels == POS).cpu()] = inverse_sigmoid(0.995)
        table[(labels == NEG).cpu()] = inverse_sigmoid(0.005)
        return torch.nn.Parameter(table.to(labels.device))

    def estimator_logits(self, logits: torch.Tensor, state: TrainState | None) -> torch.Tensor:
        """The batch rows of g's logits from ``state.extra[trainable_state_key]``, checked."""
        rows = None if state is None else state.extra.get(self.trainable_state_key)
        if rows is None:
            raise ValueError(f"method '{self.name}' needs state.extra['{self.trainable_state_key}']: the batch rows of "
                             "its label estimator (the trainer builds the table with trainable_state)")
        if tuple(rows.shape) != tuple(logits.shape):
            raise ValueError(f"method '{self.name}': {self.trainable_state_key} has shape {tuple(rows.shape)}, "
                             f"logits {tuple(logits.shape)}")
        return rows.float()

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        g = torch.sigmoid(self.estimator_logits(logits, state))
        k = expected_num_pos(self, state)
        pos, neg = labels == POS, self.negative_mask(labels)
        direct_f = torch.where(pos, neg_log(p), torch.where(neg, neg_log(1.0 - p), 0.0))
        g_detached = g.detach()
        cross_f = g_detached * neg_log(p) + (1.0 - g_detached) * neg_log(1.0 - p)
        reg_f = expected_positive_regularizer(p, k)
        direct_g = torch.where(pos, neg_log(g), torch.where(neg, neg_log(1.0 - g), 0.0))
        p_detached = p.detach()
        cross_g = p_detached * neg_log(g) + (1.0 - p_detached) * neg_log(1.0 - g)
        reg_g = expected_positive_regularizer(g, k)
        matrix = 0.5 * (direct_f + direct_g) + 0.5 * (cross_f + cross_g)
        return batch_mean(matrix) + 0.5 * (reg_f + reg_g)

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> None:
        """None: the cross terms and the regulariser reach every entry."""
        return None
