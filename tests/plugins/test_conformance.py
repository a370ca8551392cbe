"""The conformance suite over every registered method (a new method file is tested with no new
test), plus proof that each check catches a method that breaks the contract."""
from __future__ import annotations

import pytest
import torch

from bench.plugins.conformance import CHECKS, CheckSkipped, ConformanceError, run_checks
from bench.plugins.method import Method
from bench.plugins.registry import METHODS

METHOD_NAMES = sorted(METHODS.classes())
# selective variants whose code paths the presets' defaults do not reach
VARIANTS = {
    "p-asl[selective,sample]": dict(partial_loss_mode="selective", topk_scope="sample"),
    "p-asl[selective,soft]": dict(partial_loss_mode="selective", variant="soft", prior_threshold=None),
    "p-asl[wce,clip]": dict(partial_loss_mode="wce", clip=0.05),
    "ll-cp[compat]": dict(official_compat=True),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_registered_method_conforms(name, check):
    if check == "fp16_cuda" and not torch.cuda.is_available():
        pytest.skip("fp16 autocast is CUDA-only")
    try:
        CHECKS[check](METHODS.get(name))
    except CheckSkipped as skipped:  # a check that does not apply (e.g. no ignored_mask declared)
        pytest.skip(f"{name}: {skipped}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_method_variants_conform(variant):
    cls = METHODS.get(variant.split("[")[0])
    results = run_checks(lambda: cls(**VARIANTS[variant]))
    assert [r for r in results if r.status == "fail"] == []


class NaiveBCE(Method):
    """A deliberately broken method: unstable log, reads undeclared state, ignores nothing right."""

    name = "naive-bce"

    def loss(self, logits, labels, state=None):
        p = torch.sigmoid(logits)
        target = (labels == 1).float()
        loss = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).sum()
        if state is not None and "test_labels" in state.artifacts:
            loss = loss + 0.0 * state.artifacts["test_labels"].float().sum() + 1.0
        return loss

    def ignored_mask(self, logits, labels, state=None):
        return labels == 0


class SortsByIndex(Method):
    """Broken: weights entries by their class index, so it is not class-permutation equivariant."""

    name = "by-index"

    def loss(self, logits, labels, state=None):
        return (logits * torch.arange(logits.shape[1], dtype=logits.dtype)).sum()


@pytest.mark.parametrize("cls, failing", [
    (NaiveBCE, {"extreme_logits", "ignored_zero_grad", "undeclared_state"}),
    (SortsByIndex, {"class_permutation"}),
])
def test_checks_catch_broken_methods(cls, failing):
    results = {r.check: r for r in run_checks(cls)}
    assert {name for name, r in results.items() if r.status == "fail"} == failing
    for name in failing:
        with pytest.raises(ConformanceError):
            CHECKS[name](cls)


GOOD_PLUGIN = '''
import torch
import torch.nn.functional as F
from bench import Method, register_method

@register_method("tmp-conformant-bce")
class ConformantBCE(Method):
    def loss(self, logits, labels, state=None):
        return F.binary_cross_entropy_with_logits(logits, (labels == 1).float(), reduction="sum")
'''

BROKEN_PLUGIN = '''
import torch
from bench import Method, register_method

@register_method("tmp-broken-bce")
class BrokenBCE(Method):
    def loss(self, logits, labels, state=None):
        return -torch.log(1 - torch.sigmoid(logits)).sum()
'''


def cli():
    import typer

    from bench.cli.check_plugin import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


@pytest.mark.parametrize("source, code, text", [
    (GOOD_PLUGIN, 0, "tmp-conformant-bce"),
    (BROKEN_PLUGIN, 1, "fail"),
    ("import nothing_here_at_all\n", 2, "failed to import"),
])
def test_check_plugin_on_a_file(tmp_path, source, code, text):
    from typer.testing import CliRunner

    path = tmp_path / f"plugin_{code}.py"
    path.write_text(source)
    result = CliRunner().invoke(cli(), ["check-plugin", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert text in result.output


def test_check_plugin_on_a_selector_and_a_typo():
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli(), ["check-plugin", "selective[topk_scope=sample]"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "class_permutation" in result.output and "pass" in result.output
    typo = CliRunner().invoke(cli(), ["check-plugin", "selectiv"])
    assert typo.exit_code == 2 and "did you mean 'selective'" in typo.output
    bad = CliRunner().invoke(cli(), ["check-plugin", "selective[topk_scope=row]"])
    assert bad.exit_code == 2 and "topk_scope" in bad.output
