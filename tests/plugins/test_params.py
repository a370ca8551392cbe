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
