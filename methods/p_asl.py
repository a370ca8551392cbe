"""P-ASL (Ben-Baruch et al., CVPR 2022, "Multi-label Classification with Partial Annotations using
Class-aware Selective Loss") and its presets: ``p-asl``, ``ignore``, ``negative``, ``wce``, ``asl``,
``asl-optimized``, ``selective``, ``selective-coco-fpc``, ``selective-coco-rpa``.

Exactly the official ``PartialSelectiveLoss`` (docs/methods.md §1.2-§1.4), in our encoding
(P = labels == 1, N = labels == -1, U = labels == 0):

    p = sigmoid(z),  q = 1 - p,  q = min(q + clip, 1) if clip > 0   (shared by the N and U terms)
    L = -sum_ij w_ij (a+ P log max(p,1e-8) + a- N log max(q,1e-8) + au U log max(q,1e-8))
                     * (1 - p P - q (N + U)) ^ (g+ P + g- N + gu U)

with the focusing factor and w computed without gradient (``focusing_grad=True``: the gradient flows
through the focusing factor, as ASL's ``AsymmetricLossOptimized``; w stays detached); reduction
``sum`` (official) or ``mean`` over all B*C entries. ``partial_loss_mode`` sets w: ``negative`` 1;
``ignore`` 0 on U; ``wce`` (CSL's ``ignore_normalize_classes``, Durand et al.) 0 on U and
1/(1 + n_known_i) + 1 on row i; ``selective`` 0 on U entries in Omega_P (classes whose prior >
``prior_threshold``; None = rule off; unlike the official code, 0 means a threshold of 0) or Omega_L
(the K*B un-annotated entries of the flattened batch with the smallest clipped q, ``topk_scope=batch``
as the official code, or the K smallest of each row, ``topk_scope=sample`` as the paper words it),
per ``variant``: ``union`` (both), ``likelihood``, ``prior``, or ``soft`` (CSL appendix B: 0 on
Omega_L, exp(-soft_alpha * prior_c) on the other U entries; soft_alpha's default of 1 is ours: the
appendix's value was not verified).
K = 0 with the prior rule off is Negative mode.

Declared ranges, checked when a selector is resolved (one-line ``ParamError``): the focusing
exponents and term weights >= 0 and finite (a negative exponent makes (1 - pt)^g infinite at
pt = 1, a negative weight turns a loss term into a gain), ``clip`` in [0, 1) (a shift of 1 or more
sets every q to 1), ``likelihood_topk`` >= 0, ``prior_threshold`` in [0, 1] (a prior is a
probability) or None, ``soft_alpha`` >= 0 (a down-weighting rate).

Top-K ties are broken exactly like the official stable ascending sort: equal q's are taken in
row-major (flat) order. ``bench.stable_smallest_mask`` finds the K-th smallest value with
``torch.topk`` (on a long flattened batch, only over the candidates below a bound taken from a
sample) and takes the entries below it plus the first equal ones in flat order: no full argsort of
the B*C entries.

Batch scope under DDP: in training (``loss``) the K*B budget is over the global batch, B its size,
ties in its row-major order (``bench.global_smallest_mask``: each process sends its K*B smallest
candidates), as the single-process official code; ``weights`` / ``ignored_mask`` see their batch alone.

Coverage (``run_diagnostics`` / ``run_notes``, reset by ``start_run``): a selective run records the
fractions of the un-annotated training entries in Omega_P, Omega_L and their union over its steps,
the classes above eta, and a note when it degenerates (``SelectiveCoverage``; docs/methods.md §1.4).

Engine contract: ``required_artifacts()`` declares the artifacts of this instance (``class_prior``,
a ``PriorSpec`` naming the temporary ``ignore`` model, only when the prior rule or the soft variant
is active); the prior is ``state.artifacts
["class_prior"]``, C floats in class order, estimated per ``prior_estimator`` (bench/runs/prior.py).
``ignored_mask(logits, labels, state)`` marks the entries whose gradient is exactly zero.

The ASL repository's class ``AsymmetricLoss`` defaults to g+ = 1; the ``asl`` preset follows the
ASL paper and its train.py (g+ 0, g- 4, clip 0.05), applying g- to un-annotated entries as well.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
from typing import Any

import torch

from bench import (
    Method,
    OfficialArgsError,
    OfficialRun,
    Param,
    PriorSpec,
    TrainState,
    batch_world,
    format_selector,
    global_smallest_mask,
    global_sum,
    register_method,
    stable_smallest_mask,
)

EPS = 1e-8
MODES = ("negative", "ignore", "wce", "selective")


def _power(base: torch.Tensor, exponent: float) -> torch.Tensor | float:
    """base ** exponent, as the scalar 1 for exponent 0 (torch.pow gives 1 for 0 ** 0 too)."""
    if exponent == 0:
        return 1.0
    return base if exponent == 1 else base.pow(exponent)


def _with_defaults(base: dict[str, Param], **defaults) -> dict[str, Param]:
    out = dict(base)
    for key, value in defaults.items():
        choices = (value,) if key == "partial_loss_mode" else out[key].choices
        out[key] = dataclasses.replace(out[key], default=value, choices=choices)
    return out


@register_method("p-asl")
class PartialASL(Method):
    """P-ASL with all four partial-label modes (see the module docstring)."""

    version = "1"
    description = "Partial asymmetric loss (CSL official): negative / ignore / wce / selective"
    renamed_parameters = {"mode": "partial_loss_mode"}  # bench 0.1's name, which the training mode also used
    parameters = {
        "partial_loss_mode": Param("negative", choices=MODES,
                                   help="treatment of un-annotated entries (CSL's --partial_loss_mode)"),
        "gamma_pos": Param(0.0, min=0.0, help="focusing exponent of positives, >= 0"),
        "gamma_neg": Param(1.0, min=0.0, help="focusing exponent of annotated negatives, >= 0"),
        "gamma_unann": Param(2.0, min=0.0, help="focusing exponent of un-annotated entries, >= 0"),
        "alpha_pos": Param(1.0, min=0.0, help="weight of the positive term, >= 0"),
        "alpha_neg": Param(1.0, min=0.0, help="weight of the annotated-negative term, >= 0"),
        "alpha_unann": Param(1.0, min=0.0, help="weight of the un-annotated term, >= 0"),
        "clip": Param(0.0, min=0.0, max=1.0, max_open=True,
                      help="probability shift in [0, 1): q = min(1 - p + clip, 1) if clip > 0"),
        "likelihood_topk": Param(5, min=0, help="K >= 0: un-annotated entries ignored per image (selective)"),
        "prior_threshold": Param(0.05, type=float, nullable=True, min=0.0, max=1.0,
                                 help="eta in [0, 1]: ignore U entries of classes with prior > eta; None = off"),
        "topk_scope": Param("batch", choices=("batch", "sample"), help="K*B over the batch (official) or K per row"),
        "variant": Param("union", choices=("union", "likelihood", "prior", "soft"), help="selective rule set"),
        "soft_alpha": Param(1.0, min=0.0,
                            help="soft variant, >= 0: U weight exp(-soft_alpha * prior_c) outside Omega_L"),
        "prior_estimator": Param("posthoc", choices=("posthoc", "running"),
                                 help="class prior: mean sigmoid after training (CSL eq. 10) "
                                      "or running mean (official)"),
        "reduction": Param("sum", choices=("sum", "mean"), help="sum (official) or mean over B*C"),
        "focusing_grad": Param(False, help="differentiate through the focusing factor (ASL's "
                                           "AsymmetricLossOptimized); False: detached, as CSL"),
    }

    official_script = "CSL train.py"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._run = RunCoverage()

    @classmethod
    def from_official_args(cls, argv: str) -> OfficialRun:
        """The bench run of an official CSL ``train.py`` argument string (``translate_official_args``)."""
        return translate_official_args(argv)

    def _uses_prior_rule(self) -> bool:
        return self.variant in ("union", "prior") and self.prior_threshold is not None

    def _uses_likelihood_rule(self) -> bool:
        return self.variant in ("union", "likelihood", "soft") and self.likelihood_topk > 0

    def required_artifacts(self) -> dict[str, PriorSpec]:
        """Artifacts this instance reads: the class prior when the prior rule or soft variant is on,
        from a temporary ``ignore`` model (CSL §4) estimated per ``prior_estimator``."""
        if self.partial_loss_mode == "selective" and (self._uses_prior_rule() or self.variant == "soft"):
            return {"class_prior": PriorSpec(method="ignore", estimator=self.prior_estimator)}
        return {}

    def _prior(self, state: TrainState | None, logits: torch.Tensor) -> torch.Tensor:
        prior = None if state is None else state.artifacts.get("class_prior")
        if prior is None:
            raise ValueError(f"method '{self.name}' needs the artifact 'class_prior' in state.artifacts")
        prior = torch.as_tensor(prior, dtype=torch.float32, device=logits.device).reshape(-1)
        if prior.numel() != logits.shape[1]:
            raise ValueError(f"method '{self.name}': class_prior has {prior.numel()} values, "
                             f"logits {logits.shape[1]} classes")
        return prior

    def _clipped_q(self, p: torch.Tensor) -> torch.Tensor:
        q = 1 - p
        return (q + self.clip).clamp(max=1) if self.clip > 0 else q

    def gathers_global_batch(self) -> bool:
        """Selective mode is a collective under DDP: the K*B top-K and the coverage figures span the
        global batch."""
        return self.partial_loss_mode == "selective"

    @torch.no_grad()
    def _weights(self, q: torch.Tensor, labels: torch.Tensor, state: TrainState | None,
                 in_training: bool = False) -> torch.Tensor:
        """w of the module docstring from the clipped q (float32, no gradient). ``in_training``: the
        trainer's step (the top-K over the global batch under DDP, the coverage figures recorded)."""
        unann = labels == 0
        if self.partial_loss_mode == "negative":
            return torch.ones_like(q)
        if self.partial_loss_mode in ("ignore", "wce"):  # a bool-to-float conversion, not a (slower) where
            known = (~unann).to(q.dtype)
            if self.partial_loss_mode == "ignore":
                return known
            return known * (1.0 / (1.0 + known.sum(dim=1, keepdim=True)) + 1.0)
        omega_p = omega_l = None
        if self.variant != "soft" and self._uses_prior_rule():
            above = self._prior(state, q) > self.prior_threshold
            omega_p = unann & above
        if self._uses_likelihood_rule():
            omega_l = self._likelihood_set(q, unann, in_training)
        ignored = omega_l if omega_p is None else omega_p if omega_l is None else omega_p | omega_l
        if self.variant == "soft":
            weight = torch.where(unann, torch.exp(-self.soft_alpha * self._prior(state, q)), 1.0)
            if ignored is not None:
                weight.masked_fill_(ignored, 0.0)
        else:  # a bool-to-float conversion: a third of the time of a masked fill at 64 x 9,600
            weight = torch.ones_like(q) if ignored is None else (~ignored).to(q.dtype)
        if in_training:
            if self._run.coverage is None:
                self._run.coverage = SelectiveCoverage(q.shape[1], int(above.sum()) if omega_p is not None else None)
            self._run.coverage.add(unann, omega_p, omega_l, ignored)
        return weight

    def _likelihood_set(self, q: torch.Tensor, unann: torch.Tensor, in_training: bool = False) -> torch.Tensor:
        """Omega_L: the un-annotated entries with the smallest clipped q (K*B per batch, over the
        global batch in training under DDP, or K per row)."""
        ranked = torch.where(unann, q, math.inf)  # one op, not a negation and a fill (a 9,600-class batch)
        if self.topk_scope == "sample":
            return stable_smallest_mask(ranked, self.likelihood_topk)
        if not in_training:
            return stable_smallest_mask(ranked.reshape(-1), self.likelihood_topk * q.shape[0]).view_as(q)
        world = batch_world(q.shape[0], q.device)
        return global_smallest_mask(ranked, self.likelihood_topk * world.total_rows, world)

    def weights(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        """The partial-label weights w (mode / selective rules) of every entry of this batch alone
        (no collective, nothing recorded), no gradient."""
        with torch.no_grad():
            return self._weights(self._clipped_q(torch.sigmoid(logits.float())), labels, state)

    def ignored_mask(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        """Entries this method ignores: their gradient is exactly zero."""
        return self.weights(logits, labels, state) == 0

    def _focusing(self, base: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """(1 - pt) ^ (g+ P + g- N + gu U) with scalar powers (cheaper than a tensor exponent)."""
        focus = _power(base, self.gamma_unann)
        if self.gamma_neg != self.gamma_unann:
            focus = torch.where(neg, _power(base, self.gamma_neg), focus)
        if self.gamma_pos != self.gamma_unann:
            focus = torch.where(pos, _power(base, self.gamma_pos), focus)
        return focus

    def _exponents(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """g+ P + g- N + gu U as a float32 tensor (ASL's ``one_sided_gamma``)."""
        unann = torch.tensor(self.gamma_unann, dtype=torch.float32, device=pos.device)
        return torch.where(pos, self.gamma_pos, torch.where(neg, self.gamma_neg, unann))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, state: TrainState | None = None) -> torch.Tensor:
        pos, neg = labels == 1, labels == -1
        p = torch.sigmoid(logits)
        q = self._clipped_q(p)
        pt = torch.where(pos, p, q)
        coef = self._weights(q.detach(), labels, state, in_training=True)
        focusing = bool(self.gamma_pos or self.gamma_neg or self.gamma_unann)
        with torch.no_grad():
            if (self.alpha_pos, self.alpha_neg, self.alpha_unann) != (1.0, 1.0, 1.0):
                coef *= torch.where(pos, self.alpha_pos, torch.where(neg, self.alpha_neg, self.alpha_unann))
            if focusing and not self.focusing_grad:
                coef *= self._focusing(1 - pt, pos, neg)
        if focusing and self.focusing_grad:  # ASL's AsymmetricLossOptimized: the gradient flows through it
            coef = coef * torch.pow(1 - pt, self._exponents(pos, neg))
        total = -(pt.clamp(min=EPS).log() * coef).sum()
        return total / logits.numel() if self.reduction == "mean" else total

    def start_run(self) -> None:
        """Forget the coverage figures of an earlier run of this instance (and of its copies)."""
        self._run = RunCoverage()

    def run_diagnostics(self) -> dict[str, dict[str, Any]]:
        """Selective mode: ``{"selective": coverage figures}`` over the run's training steps."""
        if self.partial_loss_mode != "selective" or self._run.coverage is None:
            return {}
        return {"selective": self._run.coverage.figures(self)}

    def run_notes(self) -> list[str]:
        """Selective mode: a note for each way the run degenerated (``SelectiveCoverage.notes``)."""
        if self.partial_loss_mode != "selective" or self._run.coverage is None:
            return []
        return self._run.coverage.notes(self)


class RunCoverage:
    """The run's ``SelectiveCoverage``, shared by every copy of the method: ``copy.deepcopy`` returns
    this holder itself, so when the trainer trains copies of the method (one per lr / weight-decay
    candidate of the recipe) their steps all count, and the figures cover every training step of
    the run."""

    def __init__(self):
        self.coverage: SelectiveCoverage | None = None

    def __deepcopy__(self, memo: dict) -> RunCoverage:
        return self


class SelectiveCoverage:
    """What a selective run ignored, summed over its training steps (over the global batch under DDP):
    un-annotated entries seen, in Omega_P, in Omega_L and in their union; and the number of classes
    whose prior is above eta. Fractions are of all un-annotated entries the steps saw (for Omega_L,
    the average over steps weighted by each step's un-annotated entries). The counts stay on the
    loss's device (no host synchronisation per step)."""

    def __init__(self, num_classes: int, classes_above_eta: int | None):
        self.num_classes, self.classes_above_eta = num_classes, classes_above_eta
        self.counts: torch.Tensor | None = None  # unannotated, omega_p, omega_l, union
        self.steps = 0

    def add(self, unann: torch.Tensor, omega_p: torch.Tensor | None, omega_l: torch.Tensor | None,
            union: torch.Tensor | None) -> None:
        """Count one step's sets, None for an empty one (a collective under DDP: every process gets
        the global counts)."""
        none = torch.zeros((), dtype=torch.int64, device=unann.device)
        step = torch.stack([none if mask is None else torch.count_nonzero(mask)
                            for mask in (unann, omega_p, omega_l, union)])
        step = global_sum(step)
        self.counts = step if self.counts is None else self.counts + step
        self.steps += 1

    def figures(self, method: PartialASL) -> dict[str, Any]:
        """The fractions (None where a rule is off or nothing was un-annotated), C, eta, K and a summary."""
        unann, in_p, in_l, union = (int(v) for v in self.counts.tolist()) if self.counts is not None else (0,) * 4

        def share(count: int, on: bool) -> float | None:
            return count / unann if on and unann else None

        prior_on, likelihood_on = method._uses_prior_rule(), method._uses_likelihood_rule()
        out = {"omega_p": share(in_p, prior_on), "omega_l": share(in_l, likelihood_on),
               "union": share(union, True), "classes_above_eta": self.classes_above_eta,
               "num_classes": self.num_classes, "eta": method.prior_threshold, "k": method.likelihood_topk,
               "topk_scope": method.topk_scope, "variant": method.variant, "steps": self.steps,
               "unannotated_entries": unann}

        def text(value: float | None, on: bool) -> str:
            return "off" if not on else "n/a" if value is None else f"{100 * value:.1f}%"

        above = ("" if self.classes_above_eta is None else
                 f"; {self.classes_above_eta}/{self.num_classes} classes above eta {method.prior_threshold:g}")
        if not unann:
            out["summary"] = f"selective: no un-annotated training entry, nothing to ignore{above}"
            return out
        out["summary"] = (f"selective: Omega_P {text(out['omega_p'], prior_on)}, Omega_L "
                          f"{text(out['omega_l'], likelihood_on)} (K {method.likelihood_topk}, "
                          f"{method.topk_scope}), union {text(out['union'], True)} of un-annotated training "
                          f"entries{above}")
        return out

    def notes(self, method: PartialASL) -> list[str]:
        """One line per degeneration: Omega_P covers every class (= ignore with focusing); otherwise the
        union covers >= 99% of the un-annotated entries; no rule ever fired (= negative mode). Without
        un-annotated entries (full labels) one line says that every mode is the same."""
        figures, notes = self.figures(method), []
        if not figures["unannotated_entries"]:
            return ["selective degenerated: no training entry is un-annotated, so it equals negative and ignore "
                    "mode with the same focusing"]
        if self.classes_above_eta is not None and self.classes_above_eta == self.num_classes:
            notes.append(f"selective degenerated: Omega_P covers every class (all {self.num_classes} class priors "
                         f"above eta {method.prior_threshold:g}), so it equals ignore with focusing")
        elif figures["union"] is not None and figures["union"] >= 0.99:
            notes.append(f"selective degenerated: Omega_P and Omega_L together cover {100 * figures['union']:.1f}% "
                         "(>= 99%) of the un-annotated training entries, so it is close to ignore with focusing")
        if method.variant != "soft" and figures["union"] is not None and figures["union"] == 0:
            notes.append("selective degenerated: neither rule ever fired (no un-annotated entry in Omega_P or "
                         "Omega_L), so it equals negative mode with the same focusing")
        return notes


CE = dict(gamma_pos=0.0, gamma_neg=0.0, gamma_unann=0.0)


@register_method("ignore")
class IgnoreCE(PartialASL):
    """Ignore CE: BCE on annotated entries only, summed (CSL Table 1 "Ignore CE")."""

    description = "BCE on annotated entries only (un-annotated ignored), summed"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="ignore", **CE)


@register_method("negative")
class NegativeCE(PartialASL):
    """Negative CE: un-annotated entries treated as negatives, summed (CSL Table 1 "Negative CE")."""

    description = "BCE with un-annotated entries as negatives, summed"
    is_default = True  # the baseline ``bench run`` trains without --method
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="negative", **CE)


@register_method("wce")
class WeightedCE(PartialASL):
    """wCE (Durand et al. 2019) as the CSL code implements it: row weight 1/(1 + n_known) + 1."""

    description = "BCE on annotated entries, row-weighted 1/(1+n_known)+1 (CSL's ignore_normalize_classes)"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="wce", **CE)


@register_method("asl")
class NegativeASL(PartialASL):
    """ASL (Ridnik et al. ICCV 2021) with un-annotated as negatives: g+ 0, g- = gu = 4, clip 0.05
    (the paper and its train.py; the repository class AsymmetricLoss defaults g+ to 1)."""

    description = "Asymmetric loss, un-annotated as negatives (g+ 0, g- 4, clip 0.05)"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="negative", gamma_pos=0.0, gamma_neg=4.0,
                                gamma_unann=4.0, clip=0.05)


@register_method("asl-optimized")
class NegativeASLOptimized(PartialASL):
    """ASL as the repository's ``AsymmetricLossOptimized`` (and ``AsymmetricLoss(...,
    disable_torch_grad_focal_loss=False)``) computes it: the ``asl`` values (g+ 0, g- = gu = 4, clip
    0.05, un-annotated as negatives) with the gradient through the focusing factor."""

    description = "Asymmetric loss with the gradient through the focusing factor (ASL's AsymmetricLossOptimized)"
    parameters = _with_defaults(NegativeASL.parameters, focusing_grad=True)


@register_method("selective")
class SelectiveASL(PartialASL):
    """CSL: P-ASL with the selective mode (official train.py defaults: g- 1, gu 2, K 5, eta 0.05)."""

    description = "Class-aware selective loss (CSL), official defaults"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="selective")


@register_method("selective-coco-fpc")
class SelectiveCocoFPC(PartialASL):
    """The official README's COCO FPC-1000 run "P-ASL(4,3,1)": g- 3, gu 4, K 5, eta 0.5."""

    description = "CSL, official README COCO FPC settings (g- 3, gu 4, K 5, eta 0.5)"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="selective", gamma_neg=3.0, gamma_unann=4.0,
                                likelihood_topk=5, prior_threshold=0.5)


@register_method("selective-coco-rpa")
class SelectiveCocoRPA(PartialASL):
    """The official README's COCO RPS-0.5 run "P-ASL(4,1,1)": g- 1, gu 4, K 5, eta 0.5."""

    description = "CSL, official README COCO RPA settings (g- 1, gu 4, K 5, eta 0.5)"
    parameters = _with_defaults(PartialASL.parameters, partial_loss_mode="selective", gamma_neg=1.0, gamma_unann=4.0,
                                likelihood_topk=5, prior_threshold=0.5)


# Translation of the official CSL ``train.py`` arguments (Alibaba-MIIL/PartialLabelingCSL) into bench
# selectors, so a published command can be reproduced: ``bench run --from-official-args "..."``.
#
# Loss arguments (docs/methods.md §1.2-§1.4, official defaults) become ``p-asl`` parameters;
# ``--simulate_partial_type fpc|rps`` with ``--simulate_partial_param`` becomes the ``fpc[n_s=N]`` or
# ``rpa[p=P]`` protocol. The official quirks are translated, each with a note: the prior rule is off
# when no prior file is given or when ``--prior_threshold`` is 0 (our ``prior_threshold=None``), the
# top-K is per batch (``topk_scope=batch``). Arguments that belong to the training recipe or to paths
# (``--lr``, ``--batch-size``, ``--data``, ...) are listed in the notes as not translated.
# When the translated parameters equal a registered preset's defaults, the preset's name is used.

OFFICIAL_MODES = {"none": "negative", "negative": "negative", "ignore": "ignore",
                  "ignore_normalize_classes": "wce", "selective": "selective"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train.py", add_help=False, allow_abbrev=False)
    parser.add_argument("--partial_loss_mode", default="negative")
    for name, default in (("clip", 0.0), ("gamma_pos", 0.0), ("gamma_neg", 1.0), ("gamma_unann", 2.0),
                          ("alpha_pos", 1.0), ("alpha_neg", 1.0), ("alpha_unann", 1.0), ("prior_threshold", 0.05)):
        parser.add_argument(f"--{name}", type=float, default=default)
    parser.add_argument("--likelihood_topk", type=int, default=5)
    parser.add_argument("--prior_path", default=None)
    parser.add_argument("--simulate_partial_type", default=None)
    parser.add_argument("--simulate_partial_param", type=float, default=1000.0)
    return parser


def _protocol(kind: str | None, param: float, notes: list[str]) -> str | None:
    if kind is None:
        notes.append("no --simulate_partial_type: the protocol is left to the dataset selector")
        return None
    notes.append("the official simulation is unseeded; bench's protocols are seeded by split_seed")
    if kind == "fpc":
        if not float(param).is_integer():
            raise OfficialArgsError(f"--simulate_partial_param {param}: fpc needs a whole number of samples per class")
        return format_selector("fpc", {"n_s": int(param)})
    if kind == "rps":
        return format_selector("rpa", {"p": param})
    raise OfficialArgsError(f"--simulate_partial_type {kind!r}: expected fpc or rps")


def _method_params(args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    mode = OFFICIAL_MODES.get(str(args.partial_loss_mode).lower())
    if mode is None:
        raise OfficialArgsError(f"--partial_loss_mode {args.partial_loss_mode!r}: "
                                f"expected one of {', '.join(OFFICIAL_MODES)}")
    params = {key: getattr(args, key) for key in ("gamma_pos", "gamma_neg", "gamma_unann", "alpha_pos", "alpha_neg",
                                                  "alpha_unann", "clip", "likelihood_topk", "prior_threshold")}
    params.update(partial_loss_mode=mode, topk_scope="batch", variant="union", reduction="sum")
    if mode != "selective":
        defaults = PartialASL().params
        params.update(likelihood_topk=defaults["likelihood_topk"], prior_threshold=defaults["prior_threshold"])
    else:
        notes.append("selective: the official top-K budget is K*B over the flattened batch (topk_scope=batch)")
        if args.prior_path is None or not args.prior_threshold:
            why = "no --prior_path" if args.prior_path is None else "--prior_threshold 0"
            notes.append(f"{why}: the official code skips the prior rule, translated to prior_threshold=None")
            params["prior_threshold"] = None
    return params


def _presets(cls: type) -> list[type]:
    """Every registered subclass of ``cls`` (the presets), in name order."""
    found = [sub for sub in cls.__subclasses__() if "name" in sub.__dict__]
    return sorted({*found, *(p for sub in cls.__subclasses__() for p in _presets(sub))}, key=lambda c: c.name)


def _selector(params: dict[str, Any]) -> str:
    """A preset whose defaults equal ``params``, else ``p-asl[...]`` with the non-default values."""
    resolved = PartialASL(**params).params
    for preset in _presets(PartialASL):
        if preset().params == resolved:
            return preset.name
    defaults = PartialASL().params
    return format_selector(PartialASL.name, {k: v for k, v in resolved.items() if v != defaults[k]})


def translate_official_args(argv: str) -> OfficialRun:
    """The bench run of an official CSL ``train.py`` argument string (see ``OFFICIAL_ARGS_DOC``)."""
    args, rest = _parser().parse_known_args(shlex.split(argv))
    notes: list[str] = []
    params = _method_params(args, notes)
    prior_path = args.prior_path
    if prior_path is not None and (params["partial_loss_mode"] != "selective" or params["prior_threshold"] is None):
        notes.append(f"--prior_path {prior_path} is not used by this configuration: dropped")
        prior_path = None
    protocol = _protocol(args.simulate_partial_type, args.simulate_partial_param, notes)
    if rest:
        notes.append(f"not translated (recipe, model or paths; set them with bench's options): {' '.join(rest)}")
    return OfficialRun(_selector(params), protocol, prior_path, tuple(notes))
