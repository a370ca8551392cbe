"""Typed plugin parameters: coercion from strings and Python values, choices, None, unknown names."""
from __future__ import annotations

import pytest

from bench.core.params import Param, ParamError, resolve_params, suggest

DECLARED = {
    "gamma": Param(1.0, help="a float"),
    "k": Param(5),
    "flag": Param(False),
    "mode": Param("a", choices=("a", "b")),
    "eta": Param(0.05, type=float, nullable=True),
    "path": Param(None, type=str),
}


def test_defaults_fill_in_and_strings_are_typed():
    out = resolve_params(DECLARED, {"gamma": "4", "k": "7", "flag": "yes", "mode": "b", "eta": "none"}, "m")
    assert out == {"gamma": 4.0, "k": 7, "flag": True, "mode": "b", "eta": None, "path": None}
    assert type(out["gamma"]) is float and type(out["k"]) is int


@pytest.mark.parametrize("word, value", [("true", True), ("1", True), ("on", True), ("False", False),
                                         ("no", False), ("0", False), (0, False), (True, True)])
def test_bool_words(word, value):
    assert resolve_params(DECLARED, {"flag": word}, "m")["flag"] is value


@pytest.mark.parametrize("given, message", [
    ({"gamma": "abc"}, "parameter 'gamma' expects float, got 'abc'"),
    ({"k": "2.5"}, "parameter 'k' expects int"),
    ({"k": 2.5}, "parameter 'k' expects int"),
    ({"k": True}, "parameter 'k' expects int"),
    ({"flag": "maybe"}, "parameter 'flag' expects bool"),
    ({"mode": "c"}, "must be one of a, b"),
    ({"gamma": None}, "may not be None"),
    ({"gamm": 1}, "unknown parameter 'gamm' \\(did you mean 'gamma'\\?\\)"),
])
def test_bad_values_name_the_owner_and_parameter(given, message):
    with pytest.raises(ParamError, match=message) as info:
        resolve_params(DECLARED, given, "method 'x'")
    assert str(info.value).startswith("method 'x': ")


def test_integral_float_is_an_int_and_suggestions():
    assert resolve_params(DECLARED, {"k": 3.0}, "m")["k"] == 3
    assert suggest("negatve", ["negative", "ignore"]) == " (did you mean 'negative'?)"
    assert suggest("zzz", ["negative"]) == ""


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(ParamError, match="known: eta, flag, gamma, k, mode, path"):
        resolve_params(DECLARED, {"zzz": 1}, "m")


@pytest.mark.parametrize("param, value, ok", [
    (Param(0.5, min=0.0, max=1.0), 1.0, True),
    (Param(0.5, min=0.0, max=1.0), 1.5, False),
    (Param(0.5, min=0.0, max=1.0, max_open=True), 1.0, False),
    (Param(0.5, min=0.0, min_open=True), 0.0, False),
    (Param(0.5, min=0.0), 1e300, True),
    (Param(0.5, min=0.0), float("inf"), False),
    (Param(0.5), float("nan"), False),
    (Param(3, min=0), -3, False),
    (Param(3, min=0), "7", True),
    (Param(None, type=float, nullable=True, min=0.0), None, True),
])
def test_declared_bounds_are_checked_when_a_value_is_resolved(param, value, ok):
    if ok:
        expected = None if value is None else param.value_type(value)
        assert resolve_params({"x": param}, {"x": value}, "method 'm'")["x"] == expected
    else:
        with pytest.raises(ParamError, match=r"method 'm': parameter 'x' must be (in [\[(]|finite)"):
            resolve_params({"x": param}, {"x": value}, "method 'm'")


def test_bounds_read_as_intervals():
    assert Param(0.5, min=0.0, max=1.0, max_open=True).bounds == "[0, 1)"
    assert Param(1.0, min=0.0, min_open=True).bounds == "(0, inf)"
    assert Param(1.0).bounds == ""


# Parameters of shipped methods and protocols whose type is int or float but which declare no
# range, each with the reason. None at present: every one has a range its formula allows.
UNBOUNDED: dict[tuple[str, str], str] = {}


def _declared_numbers():
    from bench.labels.protocols import PROTOCOLS
    from bench.plugins.registry import METHODS

    owners = [(f"method '{name}'", cls.parameters) for name, cls in sorted(METHODS.classes().items())]
    owners += [(f"protocol '{name}'", spec.parameters) for name, spec in sorted(PROTOCOLS.items())]
    return [(owner, key, param) for owner, params in owners for key, param in params.items()
            if param.value_type in (int, float)]


def test_every_numeric_method_and_protocol_parameter_declares_a_range_holding_its_default():
    found = _declared_numbers()
    assert len(found) >= 8 * 10 + 3 + 3  # 8 P-ASL classes x 10 numbers, 3 Large Loss x 1, rpa / known / fpc
    missing = [(o, k) for o, k, p in found if p.min is None and p.max is None and (o, k) not in UNBOUNDED]
    assert missing == []
    for owner, key, param in found:
        if param.default is not None or not param.accepts_none:
            assert param.coerce(param.default, key, owner) == param.default  # the default is in range
        assert not (param.min is not None and param.max is not None and param.min > param.max), (owner, key)
    assert {k for _, k, _ in found} >= {"gamma_pos", "gamma_neg", "gamma_unann", "alpha_pos", "alpha_neg",
                                        "alpha_unann", "clip", "likelihood_topk", "prior_threshold", "soft_alpha",
                                        "delta_rel", "p", "q", "n_s"}


def test_quoted_none_words_are_text_only_for_text_parameters():
    from bench.core.params import Literal

    declared = {"path": Param(None, type=str), "eta": Param(0.05, type=float, nullable=True)}
    out = resolve_params(declared, {"path": Literal("none"), "eta": Literal("none")}, "m")
    assert out == {"path": "none", "eta": None}
    assert resolve_params(declared, {"path": "none"}, "m")["path"] is None


def _odd_values():
    import numpy as np

    return [
        ({"gamma": 10**400}, "parameter 'gamma' expects float, got 1000"),  # float() overflows: not a crash
        ({"k": "1" * 5000}, "parameter 'k' expects int, got '1111"),  # over Python's digit limit
        ({"gamma": np.array([[1, 2], [3, 4]])}, "parameter 'gamma' expects float, got array([[1, 2], [3, 4]])"),
        ({"mode": "a\nb"}, "must be one of a, b; got 'a\\nb'"),
        ({"gamm\nx": 1}, "unknown parameter 'gamm\\nx'"),
        ({7: 1}, "unknown parameter '7'"),
    ]


@pytest.mark.parametrize("given, message", _odd_values())
def test_odd_values_give_one_param_error_line(given, message):
    with pytest.raises(ParamError) as info:
        resolve_params(DECLARED, given, "m")
    assert message in str(info.value) and len(str(info.value).splitlines()) == 1
    assert len(str(info.value)) < 400
