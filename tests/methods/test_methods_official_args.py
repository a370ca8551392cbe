"""p-asl's translation of the official CSL train.py arguments: the commands of its README, quirks and errors."""
from __future__ import annotations

import pytest

from bench import OfficialArgsError
from bench.plugins.registry import METHODS


def translate_official_args(argv: str) -> dict:
    translated = METHODS.get("p-asl").from_official_args(argv)
    return {"method": translated.method, "protocol": translated.protocol, "prior_path": translated.prior_path,
            "notes": list(translated.notes)}

SELECTIVE = "--partial_loss_mode selective --likelihood_topk 5 --prior_threshold 0.5 --prior_path x.csv"


def test_readme_fpc_command_is_the_fpc_preset():
    out = translate_official_args(f"{SELECTIVE} --gamma_neg 3 --gamma_unann 4 --simulate_partial_type fpc "
                                  "--simulate_partial_param 1000 --lr 1e-4 --data /coco")
    assert out["method"] == "selective-coco-fpc"
    assert out["protocol"] == "fpc[n_s=1000]" and out["prior_path"] == "x.csv"
    assert any("--lr 1e-4 --data /coco" in note for note in out["notes"])
    assert any("topk_scope=batch" in note for note in out["notes"])


def test_readme_rps_command_is_the_rpa_preset():
    out = translate_official_args(f"{SELECTIVE} --gamma_neg=1 --gamma_unann=4 --simulate_partial_type rps "
                                  "--simulate_partial_param 0.5")
    assert (out["method"], out["protocol"]) == ("selective-coco-rpa", "rpa[p=0.5]")


def test_defaults_and_other_modes():
    assert translate_official_args("")["method"] == "p-asl"  # official default: negative, g 0/1/2
    assert translate_official_args("")["protocol"] is None
    assert translate_official_args("--partial_loss_mode ignore --gamma_neg 0 --gamma_unann 0")["method"] == "ignore"
    wce = translate_official_args("--partial_loss_mode ignore_normalize_classes --gamma_neg 0 --gamma_unann 0 "
                                  "--prior_path x.csv --prior_threshold 0")
    assert wce["method"] == "wce" and wce["prior_path"] is None
    assert translate_official_args("--gamma_neg 4 --clip 0.05")["method"] == "p-asl[gamma_neg=4.0,clip=0.05]"


def test_prior_rule_off_at_zero_or_without_a_file():
    zero = translate_official_args("--partial_loss_mode selective --prior_threshold 0 --prior_path x.csv")
    assert zero["method"] == "p-asl[partial_loss_mode=selective,prior_threshold=None]" and zero["prior_path"] is None
    assert any("--prior_threshold 0" in note for note in zero["notes"])
    no_file = translate_official_args("--partial_loss_mode selective")
    assert no_file["method"] == "p-asl[partial_loss_mode=selective,prior_threshold=None]"
    assert any("no --prior_path" in note for note in no_file["notes"])


@pytest.mark.parametrize("argv, message", [
    ("--partial_loss_mode selectiv", "--partial_loss_mode 'selectiv'"),
    ("--simulate_partial_type fpc --simulate_partial_param 0.5", "whole number"),
    ("--simulate_partial_type rpa --simulate_partial_param 0.5", "expected fpc or rps"),
])
def test_errors(argv, message):
    with pytest.raises(OfficialArgsError, match=message):
        translate_official_args(argv)
