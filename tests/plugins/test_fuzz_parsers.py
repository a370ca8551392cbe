"""Fuzzing the selector and parameter parsers (hypothesis, bounded).

* random text: ``parse_selector`` / ``parse_dataset_selector`` either parse (and the canonical text
  parses back to the same selector) or raise one ``SelectorError`` whose message is one line;
* random values: ``format_selector`` -> ``parse_selector`` gives every value back (text exactly,
  quoted text as a ``Literal``; ints, floats such as 1e-300 and -0.0, bools and None typed back
  to the same value by a declared ``Param``);
* random declared ``Param``s and random given values: ``resolve_params`` either returns typed values
  that satisfy the declaration (type, None, choices, bounds) or raises one ``ParamError`` line;
* random selector text resolved against p-asl's declared parameters: typed values, or one
  ``SelectorError`` / ``ParamError`` line, never another exception.

Each property counts its outcomes (``COUNTS``; also hypothesis events) and the last test checks
that every property saw both outcomes.
"""
from __future__ import annotations

import collections
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bench.core.errors import BenchError
from bench.core.params import NONE_WORDS, Literal, Param, ParamError, resolve_params
from bench.plugins.registry import METHODS
from bench.plugins.selectors import (
    _KEY,
    _NAME,
    SelectorError,
    format_selector,
    parse_dataset_selector,
    parse_selector,
)

# Derandomized (the same examples every run) and without an example database.
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
COUNTS: collections.Counter = collections.Counter()
SPECIAL = list("ab_-.=,[]+'\"\\ \t\n0129eé\u2028")

names = st.from_regex(_NAME, fullmatch=True).filter(lambda n: len(n) < 30)
keys = st.from_regex(_KEY, fullmatch=True).filter(lambda k: len(k) < 30)
texts = st.one_of(st.text(alphabet=st.sampled_from(SPECIAL), max_size=30), st.text(max_size=30))


bare = st.text(alphabet=st.sampled_from(list("abz09_.-/:é ")), max_size=12)
quoted = st.text(max_size=12).map(lambda t: "'" + t.replace("\\", "\\\\").replace("'", "\\'") + "'")


@st.composite
def selector_texts(draw, protocol: bool = False) -> str:
    """Random text, or text shaped like a selector from valid and random pieces (and, with
    ``protocol``, often a ``+protocol[...]`` part)."""
    if draw(st.integers(0, 2)) == 0:
        return draw(texts)
    name = draw(names if draw(st.integers(0, 9)) else texts)
    items = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(keys if draw(st.integers(0, 9)) else texts)
        value = draw([bare, quoted, st.integers().map(str), texts][draw(st.integers(0, 3)) if draw(st.integers(0, 3))
                                                                   else draw(st.integers(0, 2))])
        items.append(f"{key}={value}" if draw(st.integers(0, 9)) else key)
    body = ",".join(items)
    text = f"{name}[{body}]" if items or draw(st.booleans()) else name
    if protocol and draw(st.integers(0, 2)):
        text += "+" + draw(st.one_of(names, texts)) + (f"[{draw(st.one_of(bare, texts))}]" if draw(st.booleans())
                                                       else "")
    return text


def _count(prop: str, outcome: str) -> None:
    COUNTS[prop, outcome] += 1
    event(outcome)


def _one_line(err: BenchError) -> None:
    message = str(err)
    assert message and len(message.splitlines()) == 1, repr(message)


def _same(a, b) -> bool:
    """Same name and values; a quoted none word stays quoted (the only case where quoting changes the
    typed value)."""
    return a.name == b.name and a.params == b.params and all(
        isinstance(a.params[k], Literal) == isinstance(b.params[k], Literal)
        for k in a.params if a.params[k].strip().lower() in NONE_WORDS)


@FUZZ
@given(selector_texts())
def test_selector_text_parses_or_is_one_selector_error(text):
    try:
        parsed = parse_selector(text)
    except SelectorError as err:
        _one_line(err)
        _count("parse_selector", "refused")
        return
    assert _NAME.fullmatch(parsed.name)
    assert all(_KEY.fullmatch(k) and isinstance(v, str) for k, v in parsed.params.items())
    assert _same(parse_selector(str(parsed)), parsed)
    _count("parse_selector", "accepted")


@FUZZ
@given(selector_texts(protocol=True))
def test_dataset_selector_text_parses_or_is_one_selector_error(text):
    try:
        parsed = parse_dataset_selector(text)
    except SelectorError as err:
        _one_line(err)
        _count("parse_dataset_selector", "refused")
        return
    again = parse_dataset_selector(str(parsed))
    assert _same(again.dataset, parsed.dataset)
    assert (again.protocol is None) == (parsed.protocol is None)
    if parsed.protocol is not None:
        assert _same(again.protocol, parsed.protocol)
    _count("parse_dataset_selector", "accepted")


values = st.one_of(
    texts, st.text(max_size=20).map(Literal), st.sampled_from(["none", "None", "NULL", " none", "true", "", "'", '"']),
    st.sampled_from([Literal("none"), Literal("null"), Literal("")]),
    st.integers(), st.integers(-(10**60), 10**60), st.floats(), st.sampled_from([1e-300, -0.0, 5e-324, 1e308]),
    st.booleans(), st.none(),
)


def _param_for(value) -> Param:
    """The declaration that types ``value`` (and its text) to a typed value."""
    if value is None or isinstance(value, str):
        return Param("", nullable=True)
    if isinstance(value, bool):
        return Param(False)
    if isinstance(value, int):
        return Param(0)
    return Param(0.0, min=-math.inf)  # an infinite bound lets the property cover inf and nan too


def _typed_equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    return type(a) is type(b) and a == b


@FUZZ
@given(names, st.dictionaries(keys, values, max_size=5))
def test_format_then_parse_is_a_round_trip(name, params):
    text = format_selector(name, params)
    parsed = parse_selector(text)
    assert parsed.name == name and list(parsed.params) == list(params)
    for key, value in params.items():
        back = parsed.params[key]
        none_word = isinstance(value, str) and value.strip().lower() in NONE_WORDS
        if none_word and not isinstance(value, Literal):
            assert back == value.strip()  # an unquoted none word is written bare: it means None
        else:
            assert back == str(value), (text, key)
        if none_word and isinstance(value, Literal):
            assert isinstance(back, Literal), text  # quoted: the text "none", never None
        param = _param_for(value)
        assert _typed_equal(param.coerce(back, key, "fuzz"), param.coerce(value, key, "fuzz")), (text, key)
    assert format_selector(name, parsed.params) == text  # canonical: formatting the parse changes nothing
    _count("format -> parse", "accepted")


@FUZZ
@given(st.one_of(names, st.text(max_size=8), st.integers(), st.none()),
       st.dictionaries(st.one_of(keys, keys, st.text(max_size=8)), values, max_size=3))
def test_format_refuses_names_and_keys_it_cannot_write(name, params):
    try:
        text = format_selector(name, params)
    except SelectorError as err:
        _one_line(err)
        _count("format_selector", "refused")
        return
    assert isinstance(name, str) and _NAME.fullmatch(name) and all(_KEY.fullmatch(k) for k in params)
    assert parse_selector(text).name == name
    _count("format_selector", "accepted")


bounds = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, -math.inf, math.inf]))


@st.composite
def declared(draw) -> Param:
    """A random declaration: type, default (in range or not), choices, None, bounds."""
    kind = draw(st.sampled_from([int, float, bool, str]))
    default = draw({int: st.integers(-5, 5), float: st.floats(allow_nan=True), bool: st.booleans(),
                    str: st.text(max_size=5)}[kind] | st.none())
    choices = None
    if draw(st.integers(0, 4)) == 0:
        choices = tuple(draw(st.lists({int: st.integers(-3, 3), float: st.floats(-3, 3), bool: st.booleans(),
                                       str: st.sampled_from(["a", "b", "none"])}[kind], min_size=1, max_size=3)))
    low, high = draw(bounds), draw(bounds)
    return Param(default, type=kind if draw(st.booleans()) or default is None else None, choices=choices,
                 nullable=draw(st.booleans()), min=low, max=high, min_open=draw(st.booleans()),
                 max_open=draw(st.booleans()))


given_values = st.one_of(
    values, st.text(alphabet=st.sampled_from(list("0123456789.-+eEinfa_ ")), max_size=12),
    st.sampled_from(["yes", "off", "1e400", "-1e400", "nan", "1" * 5000, "١٢", "0x1f", " 7 "]),
    st.integers(10**300, 10**400), st.lists(st.integers(), max_size=2), st.just(object()),
)


def _satisfies(param: Param, value) -> bool:
    if value is None:
        return param.accepts_none
    kind = param.value_type
    if type(value) is not kind and not (kind is str and isinstance(value, str)):
        return False
    if param.choices is not None and value not in param.choices:
        return False
    if kind in (int, float):
        if param.min is not None and (value < param.min or (param.min_open and value == param.min)):
            return False
        if param.max is not None and (value > param.max or (param.max_open and value == param.max)):
            return False
    return True


@FUZZ
@given(st.dictionaries(keys, declared(), max_size=3), st.dictionaries(st.one_of(keys, st.text(max_size=6)),
                                                                       given_values, max_size=3))
def test_resolve_params_types_or_is_one_param_error(declaration, given_params):
    try:
        resolved = resolve_params(declaration, given_params, "method 'fuzz'")
    except ParamError as err:
        _one_line(err)
        assert str(err).startswith("method 'fuzz': ")
        _count("resolve_params", "refused")
        return
    assert set(resolved) == set(declaration) and set(given_params) <= set(declaration)
    for key, param in declaration.items():
        assert _satisfies(param, resolved[key]), (key, param, resolved[key])
    _count("resolve_params", "accepted")


P_ASL = METHODS.get("p-asl")
GOOD = {"partial_loss_mode": ["selective", "ignore"], "topk_scope": ["sample"], "variant": ["soft", "prior"],
        "prior_estimator": ["running"], "reduction": ["mean"], "likelihood_topk": ["0", "7", "+3"],
        "prior_threshold": ["none", "0", "1", "0.5"], "clip": ["0", "0.05", "0.999"]}


@st.composite
def p_asl_params(draw) -> dict[str, str]:
    """Up to 4 p-asl parameters, each mostly given a value in range, sometimes anything."""
    chosen = draw(st.lists(st.sampled_from(sorted(P_ASL.parameters) + ["mode", "gamma"]), max_size=4, unique=True))
    params = {}
    for key in chosen:
        good = st.sampled_from(GOOD.get(key, ["0", "1.5", "4", "1e-300", "-0.0", "2"]))
        params[key] = draw(st.one_of(good, good, good, texts, st.floats().map(str), st.integers(-10, 10).map(str)))
    return params


@FUZZ
@given(p_asl_params())
def test_a_method_selector_resolves_or_is_one_error(params):
    text = "p-asl[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]"
    try:
        resolved = resolve_params(P_ASL.parameters, parse_selector(text).params, "method 'p-asl'",
                                  P_ASL.renamed_parameters)
    except (SelectorError, ParamError) as err:
        _one_line(err)
        _count("p-asl selector", "refused")
        return
    for key, param in P_ASL.parameters.items():
        assert _satisfies(param, resolved[key]), (key, resolved[key])
    _count("p-asl selector", "accepted")


def test_every_property_saw_both_outcomes():
    properties = {prop for prop, _ in COUNTS}
    if not properties:
        pytest.skip("no fuzz property ran in this session")
    always_accepted = {"format -> parse"}  # a round trip has no refusals by design
    one_sided = sorted(p for p in properties - always_accepted if not (COUNTS[p, "accepted"] and COUNTS[p, "refused"]))
    assert not one_sided, dict(COUNTS)
    print("\nparser fuzz outcomes:", {p: (COUNTS[p, "accepted"], COUNTS[p, "refused"]) for p in sorted(properties)})
