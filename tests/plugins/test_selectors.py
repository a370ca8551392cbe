"""Selector parsing: method selectors, dataset+protocol selectors, quoting, errors, round trips."""
from __future__ import annotations

import re

import pytest

from bench.plugins.selectors import SelectorError, format_selector, parse_dataset_selector, parse_selector


@pytest.mark.parametrize("text, name, params", [
    ("negative", "negative", {}),
    ("negative[]", "negative", {}),
    ("p-asl[gamma_neg=4]", "p-asl", {"gamma_neg": "4"}),
    (" p-asl[ mode = selective , gamma_neg=3 ] ", "p-asl", {"mode": "selective", "gamma_neg": "3"}),
    ("files[path='/data/a,b].npz']", "files", {"path": "/data/a,b].npz"}),
    ('x[a="1+2",b=c=d]', "x", {"a": "1+2", "b": "c=d"}),
    ("ll-cp[official_compat=true]", "ll-cp", {"official_compat": "true"}),
])
def test_method_selectors(text, name, params):
    selector = parse_selector(text)
    assert selector.name == name and selector.params == params


@pytest.mark.parametrize("text, message", [
    ("p-asl[gamma_neg=4", "end with ']'"),
    ("p-asl[a=[1]", "unbalanced brackets"),
    ("p-asl[gamma_neg=4]x", "end with ']'"),
    ("p-asl[gamma_neg]", "not key=value"),
    ("p-asl[a=1,a=2]", "given twice"),
    ("[a=1]", "not a valid name"),
    ("bad name", "not a valid name"),
    ("x[a='1]", "unbalanced quote"),
])
def test_bad_method_selectors(text, message):
    with pytest.raises(SelectorError, match=message):
        parse_selector(text)


def test_dataset_selectors():
    plain = parse_dataset_selector("lvis")
    assert plain.dataset.name == "lvis" and plain.protocol is None
    both = parse_dataset_selector("coco[root=/data/coco]+fpc[n_s=1000]")
    assert both.dataset.params == {"root": "/data/coco"}
    assert both.protocol.name == "fpc" and both.protocol.params == {"n_s": "1000"}
    quoted = parse_dataset_selector("scene+files[path='a+b.npz']")
    assert quoted.protocol.params == {"path": "a+b.npz"}
    with pytest.raises(SelectorError, match="at most one"):
        parse_dataset_selector("scene+rpa[p=0.5]+fpc")


@pytest.mark.parametrize("text", ["negative", "p-asl[partial_loss_mode=selective,gamma_neg=3]", "files[path='a,b']",
                                  "scene+rpa[p=0.5]", "coco[root='/x+y']+fpc[n_s=10]"])
def test_round_trip(text):
    parse = parse_dataset_selector if "+" in text or text.startswith("scene") else parse_selector
    assert str(parse(text)) == text
    assert str(parse(str(parse(text)))) == str(parse(text))


def test_format_quotes_special_characters():
    assert format_selector("x", {}) == "x"
    assert format_selector("x", {"a": 1, "b": "c,d", "e": None}) == "x[a=1,b='c,d',e=None]"


@pytest.mark.parametrize("value, text", [
    ("'", "m[u='\\'']"),
    ('"', "m[u='\"']"),
    ("it's \"x\"", "m[u='it\\'s \"x\"']"),
    ("a\\b", "m[u=a\\b]"),  # a bare backslash is a plain character
    ("a\\'b", "m[u='a\\\\\\'b']"),
    (" padded ", "m[u=' padded ']"),
    ("", "m[u='']"),
    ("k=v,w[0]+1", "m[u='k=v,w[0]+1']"),
    ("naïve ü", "m[u=naïve ü]"),
    (1e-300, "m[u=1e-300]"),
    (-0.0, "m[u=-0.0]"),
    (True, "m[u=True]"),
    (None, "m[u=None]"),
])
def test_format_escapes_and_parse_gives_the_value_back(value, text):
    """Before: format_selector("m", {"u": "'"}) wrote m[u='''], which does not parse."""
    assert format_selector("m", {"u": value}) == text
    assert parse_selector(text).params == {"u": str(value)}
    assert str(parse_selector(text)) == text


def test_a_quoted_none_word_is_text():
    from bench.core.params import Literal

    assert parse_selector("files[key='none']").params["key"] == "none"
    assert isinstance(parse_selector("files[key='none']").params["key"], Literal)
    assert not isinstance(parse_selector("files[key=none]").params["key"], Literal)
    assert str(parse_selector("files[key='none']")) == "files[key='none']"
    assert str(parse_selector("files[key=none]")) == "files[key=none]"
    assert str(parse_selector("x[a=' none ']")) == "x[a=' none ']"
    assert format_selector("x", {"a": " none "}) == "x[a=none]"  # unquoted it means None, and still does


@pytest.mark.parametrize("text, message", [
    ("x[a=it's]", "unbalanced quote"),
    ("x[a='b'c]", "parameter 'a': text after the closing quote"),
    ("x[a=b'c'd]", "parameter 'a': a quote inside an unquoted value"),
    ("x[a='b\\']", "unbalanced quote"),
    ("x[a=1][b=2]", "unbalanced brackets"),
    ("x[a=1]]", "unbalanced brackets"),
    ("x['a'=1]", "is not a valid parameter name"),
    ("x[a b=1]", "'a b' is not a valid parameter name"),
    ("x[a=1\n", "expected it to end with ']'"),
    (7, "a selector is text, got int 7"),
])
def test_what_the_parser_cannot_read_is_one_line(text, message):
    with pytest.raises(SelectorError, match=re.escape(message)) as info:
        parse_selector(text)
    assert len(str(info.value).splitlines()) == 1


def test_format_refuses_what_parse_could_not_read_back():
    with pytest.raises(SelectorError, match="not a valid selector name"):
        format_selector("bad name", {})
    with pytest.raises(SelectorError, match="'a=b' is not a valid parameter name"):
        format_selector("x", {"a=b": 1})
