"""Selector parsing: method selectors, dataset+protocol selectors, quoting, errors, round trips."""
from __future__ import annotations

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
