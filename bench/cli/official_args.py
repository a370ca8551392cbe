"""Translate the official CSL ``train.py`` arguments (Alibaba-MIIL/PartialLabelingCSL) into bench
selectors, so a published command can be reproduced: ``bench run --from-official-args "..."``.

Loss arguments (docs/methods.md §1.2-§1.4, official defaults) become ``p-asl`` parameters;
``--simulate_partial_type fpc|rps`` with ``--simulate_partial_param`` becomes the ``fpc[n_s=N]`` or
``rpa[p=P]`` protocol. The official quirks are translated, each with a note: the prior rule is off
when no prior file is given or when ``--prior_threshold`` is 0 (our ``prior_threshold=None``), the
top-K is per batch (``topk_scope=batch``). Arguments that belong to the training recipe or to paths
(``--lr``, ``--batch-size``, ``--data``, ...) are listed in the notes as not translated.
When the translated parameters equal a registered preset's defaults, the preset's name is used.
"""
from __future__ import annotations

import argparse
import shlex
from typing import Any

from bench.core.errors import InputError
from bench.plugins.registry import METHODS
from bench.plugins.selectors import format_selector

MODES = {"none": "negative", "negative": "negative", "ignore": "ignore",
         "ignore_normalize_classes": "wce", "selective": "selective"}
BASE_METHOD = "p-asl"


class OfficialArgsError(InputError):
    """An official argument this translation cannot represent."""


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
    mode = MODES.get(str(args.partial_loss_mode).lower())
    if mode is None:
        raise OfficialArgsError(f"--partial_loss_mode {args.partial_loss_mode!r}: expected one of {', '.join(MODES)}")
    params = {key: getattr(args, key) for key in ("gamma_pos", "gamma_neg", "gamma_unann", "alpha_pos", "alpha_neg",
                                                  "alpha_unann", "clip", "likelihood_topk", "prior_threshold")}
    params.update(partial_loss_mode=mode, topk_scope="batch", variant="union", reduction="sum")
    if mode != "selective":
        defaults = METHODS.get(BASE_METHOD)().params
        params.update(likelihood_topk=defaults["likelihood_topk"], prior_threshold=defaults["prior_threshold"])
    else:
        notes.append("selective: the official top-K budget is K*B over the flattened batch (topk_scope=batch)")
        if args.prior_path is None or not args.prior_threshold:
            why = "no --prior_path" if args.prior_path is None else "--prior_threshold 0"
            notes.append(f"{why}: the official code skips the prior rule, translated to prior_threshold=None")
            params["prior_threshold"] = None
    return params


def _selector(params: dict[str, Any]) -> str:
    """A preset whose defaults equal ``params``, else ``p-asl[...]`` with the non-default values."""
    base = METHODS.get(BASE_METHOD)
    resolved = base(**params).params
    for name, cls in METHODS.classes().items():
        if name != BASE_METHOD and issubclass(cls, base) and cls().params == resolved:
            return name
    defaults = base().params
    return format_selector(BASE_METHOD, {k: v for k, v in resolved.items() if v != defaults[k]})


def translate_official_args(argv: str) -> dict[str, Any]:
    """``{"method": selector, "protocol": selector or None, "prior_path": str or None, "notes": [...]}``
    for an official CSL ``train.py`` argument string."""
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
    return {"method": _selector(params), "protocol": protocol, "prior_path": prior_path, "notes": notes}
