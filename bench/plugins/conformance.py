"""Conformance checks every method plugin must pass (run by tests/test_conformance.py over the whole
registry and by ``bench check-plugin``).

Each check builds fresh instances from a factory (``lambda: cls(**params)``) on small random batches
(labels in our encoding, a synthetic class prior for methods that declare one) and raises
``ConformanceError`` on failure:

* ``float32``: a scalar float32 loss with a finite gradient, under plain float32 and under CPU bf16
  autocast (CUDA fp16 autocast when CUDA is present);
* ``all_unannotated`` / ``no_positives`` / ``extreme_logits``: finite loss and gradients on
  all-un-annotated rows, rows without positives, logits of +-30;
* ``ignored_zero_grad``: the gradient is exactly zero where the method's optional
  ``ignored_mask(logits, labels, state)`` says it ignores entries (skipped when not declared);
* ``class_permutation``: permuting classes (prior permuted alike) permutes gradients, same loss;
* ``determinism``: two fresh instances, same seed and inputs: bitwise-identical loss and gradients;
* ``undeclared_state``: changing what the state holds but the method did not declare (the label
  store's rows unless ``mutates_labels``, artifacts outside ``required_artifacts()``, ``extra``)
  leaves loss and gradients bitwise identical, and the labels passed in are not modified;
* ``hooks``: ``on_epoch_start`` / ``on_step_end`` run with a full state.

Declared artifacts are the keys of ``method.required_artifacts()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from bench.core.errors import BenchError
from bench.plugins.method import LabelStore, Method, TrainState

ROWS, CLASSES, EPOCH = 8, 12, 3
MethodFactory = Callable[[], Method]


class ConformanceError(BenchError, AssertionError):
    """A method that breaks the method contract."""


class CheckSkipped(Exception):
    """A check that does not apply here (e.g. CUDA-only)."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""


def required_artifacts(method: Method) -> tuple[str, ...]:
    """The names of the artifacts this instance reads."""
    return tuple(method.required_artifacts())


def synthetic_artifacts(num_classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Stand-ins for the artifacts a method may declare: a class prior in (0.01, 0.7)."""
    generator = torch.Generator().manual_seed(seed)
    prior = 0.01 + 0.69 * torch.rand(num_classes, generator=generator)
    return {"class_prior": prior, "class_positive_rate": 0.05 + 0.2 * torch.rand(num_classes, generator=generator)}


def random_batch(seed: int = 0, rows: int = ROWS, classes: int = CLASSES) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=generator) * 3
    labels = torch.randint(-1, 2, (rows, classes), generator=generator).to(torch.int8)
    return logits, labels


def make_state(method: Method, labels: torch.Tensor, artifacts: dict | None = None) -> TrainState:
    """A full state: epoch past the first, dataset indices, declared artifacts, a label store."""
    artifacts = synthetic_artifacts(labels.shape[1]) if artifacts is None else artifacts
    return TrainState(epoch=EPOCH, step=10, indices=torch.arange(labels.shape[0]),
                      artifacts={k: artifacts[k] for k in required_artifacts(method) if k in artifacts},
                      label_store=LabelStore(labels.clone()), num_classes=labels.shape[1], num_epochs=5,
                      steps_per_epoch=4, extra=synthetic_extra(method, labels))


def synthetic_extra(method: Method, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """A stand-in for the batch rows of a method's trainable table (``trainable_state_key``): a
    function of the labels (2 / -2 / 0.5 on positives / negatives / un-annotated), so a class
    permutation permutes it; it requires grad like the trainer's rows."""
    if method.trainable_state_key is None:
        return {}
    rows = torch.where(labels == 1, 2.0, torch.where(labels == -1, -2.0, 0.5)).to(torch.float32)
    return {method.trainable_state_key: rows.requires_grad_(True)}


def evaluate(method: Method, logits: torch.Tensor, labels: torch.Tensor,
             state: TrainState) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, d loss / d logits) in float32; checks the contract's scalar float32 output."""
    z = logits.detach().clone().requires_grad_(True)
    loss = method.loss(z, labels, state)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or loss.dtype != torch.float32:
        raise ConformanceError(f"loss must be a float32 scalar tensor, got {getattr(loss, 'dtype', type(loss))} "
                               f"of shape {tuple(getattr(loss, 'shape', ()))}")
    loss.backward()
    if z.grad is None:
        raise ConformanceError("loss is not differentiable with respect to the logits")
    return loss.detach(), z.grad


def _assert_finite(loss: torch.Tensor, grad: torch.Tensor, case: str) -> None:
    if not torch.isfinite(loss):
        raise ConformanceError(f"{case}: loss is {loss.item()}")
    if not torch.isfinite(grad).all():
        raise ConformanceError(f"{case}: {int((~torch.isfinite(grad)).sum())} non-finite gradient entries")


def check_float32(make: MethodFactory) -> None:
    logits, labels = random_batch(1)
    method = make()
    _assert_finite(*evaluate(method, logits, labels, make_state(method, labels)), "float32")
    _check_autocast(make, "cpu", torch.bfloat16)


def check_fp16_cuda(make: MethodFactory) -> None:
    if not torch.cuda.is_available():
        raise CheckSkipped("CUDA not available (fp16 autocast is CUDA-only)")
    _check_autocast(make, "cuda", torch.float16)


def _check_autocast(make: MethodFactory, device: str, dtype: torch.dtype) -> None:
    features, labels = random_batch(2)
    weight = torch.eye(CLASSES, device=device).requires_grad_(True)
    method = make()
    state = make_state(method, labels.to(device))
    state.indices = state.indices.to(device)
    with torch.autocast(device_type=device, dtype=dtype):
        logits = features.to(device) @ weight
        loss = method.loss(logits, labels.to(device), state)
    if logits.dtype != dtype:
        raise ConformanceError(f"test setup: autocast produced {logits.dtype} logits")
    if loss.dtype != torch.float32:
        raise ConformanceError(f"{dtype} autocast: loss is {loss.dtype}, expected float32")
    loss.backward()
    _assert_finite(loss.detach(), weight.grad, f"{dtype} autocast")


def check_all_unannotated(make: MethodFactory) -> None:
    logits, _ = random_batch(3)
    labels = torch.zeros_like(logits, dtype=torch.int8)
    method = make()
    _assert_finite(*evaluate(method, logits, labels, make_state(method, labels)), "all-un-annotated rows")


def check_no_positives(make: MethodFactory) -> None:
    logits, labels = random_batch(4)
    labels = labels.clamp(max=0)
    method = make()
    _assert_finite(*evaluate(method, logits, labels, make_state(method, labels)), "rows without positives")


def check_extreme_logits(make: MethodFactory) -> None:
    logits, labels = random_batch(5)
    logits = torch.where(logits > 0, 30.0, -30.0)
    method = make()
    _assert_finite(*evaluate(method, logits, labels, make_state(method, labels)), "logits of +-30")


def check_ignored_zero_grad(make: MethodFactory) -> None:
    method = make()
    logits, labels = random_batch(6)
    state = make_state(method, labels)
    mask = method.ignored_mask(logits, labels, state)
    if mask is None:
        raise CheckSkipped("method declares no ignored_mask")
    _, grad = evaluate(make(), logits, labels, make_state(method, labels))
    leaking = int((grad[mask] != 0).sum())
    if leaking:
        raise ConformanceError(f"{leaking} of {int(mask.sum())} ignored entries have a non-zero gradient")


def check_class_permutation(make: MethodFactory) -> None:
    logits, labels = random_batch(7)
    perm = torch.randperm(CLASSES, generator=torch.Generator().manual_seed(7))
    artifacts = synthetic_artifacts(CLASSES)
    permuted = {k: v[perm] for k, v in artifacts.items()}
    method_a, method_b = make(), make()
    loss_a, grad_a = evaluate(method_a, logits, labels, make_state(method_a, labels, artifacts))
    loss_b, grad_b = evaluate(method_b, logits[:, perm], labels[:, perm],
                              make_state(method_b, labels[:, perm], permuted))
    if not torch.allclose(loss_a, loss_b, rtol=1e-5, atol=1e-6):
        raise ConformanceError(f"loss changes under a class permutation: {loss_a.item()} vs {loss_b.item()}")
    if not torch.allclose(grad_a[:, perm], grad_b, rtol=1e-5, atol=1e-7):
        raise ConformanceError("gradients are not permuted with the classes")


def check_determinism(make: MethodFactory) -> None:
    logits, labels = random_batch(8)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        method = make()
        results.append(evaluate(method, logits, labels, make_state(method, labels)))
    if not (torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])):
        raise ConformanceError("two identical runs give different loss or gradients")


def check_undeclared_state(make: MethodFactory) -> None:
    logits, labels = random_batch(9)
    method_a, method_b = make(), make()
    state_a, state_b = make_state(method_a, labels), make_state(method_b, labels)
    poison = torch.randint(-1, 2, labels.shape, generator=torch.Generator().manual_seed(99)).to(torch.int8)
    if not method_b.mutates_labels:
        state_b.label_store = LabelStore(poison)
    declared = required_artifacts(method_b)
    state_b.artifacts.update({k: v.flip(0) for k, v in synthetic_artifacts(CLASSES, seed=5).items()
                              if k not in declared})
    state_b.artifacts["test_labels"] = poison
    state_b.extra["test_labels"] = poison
    labels_b = labels.clone()
    loss_a, grad_a = evaluate(method_a, logits, labels, state_a)
    loss_b, grad_b = evaluate(method_b, logits, labels_b, state_b)
    if not torch.equal(labels_b, labels):
        raise ConformanceError("loss modified the labels it was given")
    if not (torch.equal(loss_a, loss_b) and torch.equal(grad_a, grad_b)):
        raise ConformanceError("loss or gradients depend on state the method did not declare")


def check_hooks(make: MethodFactory) -> None:
    logits, labels = random_batch(10)
    method = make()
    state = make_state(method, labels)
    method.on_epoch_start(state)
    evaluate(method, logits, labels, state)
    method.on_step_end(state)
    if not method.mutates_labels and state.label_store.changes:
        raise ConformanceError("a method that does not declare mutates_labels changed the label store")


CHECKS: dict[str, Callable[[MethodFactory], None]] = {
    "float32": check_float32,
    "fp16_cuda": check_fp16_cuda,
    "all_unannotated": check_all_unannotated,
    "no_positives": check_no_positives,
    "extreme_logits": check_extreme_logits,
    "ignored_zero_grad": check_ignored_zero_grad,
    "class_permutation": check_class_permutation,
    "determinism": check_determinism,
    "undeclared_state": check_undeclared_state,
    "hooks": check_hooks,
}


def run_check(name: str, check: Callable[[Callable[[], Any]], None], make: Callable[[], Any]) -> CheckResult:
    """One check on one plugin factory: ``pass``, ``skip`` (``CheckSkipped``) or ``fail`` (any
    other error, reported with its type, never raised)."""
    try:
        check(make)
    except CheckSkipped as skipped:
        return CheckResult(name, "skip", str(skipped))
    except Exception as error:  # noqa: BLE001 - a broken plugin must be reported, not crash the run
        return CheckResult(name, "fail", f"{type(error).__name__}: {error}")
    return CheckResult(name, "pass")


def run_checks(make: MethodFactory) -> list[CheckResult]:
    """Every check on one method factory; failures and unexpected errors become ``fail`` results."""
    return [run_check(name, check, make) for name, check in CHECKS.items()]
