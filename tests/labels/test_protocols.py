"""Partial-annotation protocols: exact counts, rates, alias, uniformity, determinism, sparse == dense."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from bench.labels.encoding import NEG, POS, UNANN, canonical_csr, from_01, label_counts, to_dense, to_sparse
from bench.labels.protocols import PROTOCOLS, ProtocolError, apply_protocol, protocol_seed
from bench.labels.sampling import COLE_SEED, drop_annotations, fixed_per_class, single_positive, smallest_keys

SEEDED = [("rpa", {"p": 0.3}), ("known", {"q": 0.4}), ("fpc", {"n_s": 25}), ("single-positive", {}),
          ("single-positive", {"draw": "cole"})]


def full_labels(num_rows: int = 600, num_classes: int = 12, seed: int = 0) -> np.ndarray:
    """Fully labelled +-1 matrix with class rates from 1% to 60%, some rows without a positive."""
    rng = np.random.default_rng(seed)
    rates = np.linspace(0.01, 0.6, num_classes)
    return from_01(rng.random((num_rows, num_classes)) < rates)


def digest(labels) -> str:
    csr = canonical_csr(labels)
    return hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in (csr.indptr, csr.indices, csr.data))).hexdigest()


def assert_subset_of_truth(partial, truth):
    partial, truth = to_dense(partial), to_dense(truth)
    annotated = partial != UNANN
    assert np.array_equal(partial[annotated], truth[annotated])


def test_table_declares_parameters_and_descriptions():
    assert set(PROTOCOLS) == {"rpa", "known", "fpc", "single-positive", "files", "manifest"}
    for name, spec in PROTOCOLS.items():
        assert spec.name == name and spec.description and callable(spec.function)
        assert set(spec.required) <= set(spec.parameters)


def applied(name, params, truth, split_seed, unchanged=False):
    """``apply_protocol`` expecting its "changes nothing" warning exactly when ``unchanged``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = apply_protocol(name, params, truth, split_seed)
    assert [str(w.message) for w in caught if "changes nothing" in str(w.message)] == (
        [f"protocol '{name}[{','.join(f'{k}={v}' for k, v in params.items())}]' on the {truth.shape[0]} x "
         f"{truth.shape[1]} training labels changes nothing: all {truth.size} annotated training entries are kept "
         "(the partial labels equal the full labels)"] if unchanged else [])
    return out


@pytest.mark.parametrize("p", [0.0, 0.3, 0.75])
def test_rpa_drop_rate_and_subset(p):
    truth = full_labels(2000, 30)
    out = applied("rpa", {"p": p}, truth, split_seed=7, unchanged=p == 0.0)
    kept = np.count_nonzero(out) / truth.size
    assert abs(kept - (1 - p)) < 0.01  # 4.4 standard deviations at p = 0.5 for 60,000 entries
    assert_subset_of_truth(out, truth)
    pos_kept = np.count_nonzero(out == POS) / np.count_nonzero(truth == POS)
    assert abs(pos_kept - (1 - p)) < 0.03  # positives and negatives dropped alike


@pytest.mark.parametrize("q", [0.1, 0.25, 0.4, 0.9])
def test_known_is_rpa_with_one_minus_q(q):
    truth = full_labels()
    assert np.array_equal(apply_protocol("known", {"q": q}, truth, 3), apply_protocol("rpa", {"p": 1 - q}, truth, 3))


@pytest.mark.parametrize("n_s", [1, 25, 100, 10_000])
def test_fpc_exact_counts(n_s):
    truth = full_labels()
    out = applied("fpc", {"n_s": n_s}, truth, 11, unchanged=n_s == 10_000)
    full, kept = label_counts(truth), label_counts(out)
    assert np.array_equal(kept.positives, np.minimum(n_s, full.positives))
    assert np.array_equal(kept.negatives, np.minimum(n_s, full.negatives))
    assert_subset_of_truth(out, truth)


def test_fpc_selection_is_uniform():
    """One class with 10 positives and 20 negatives, 3 kept of each, over 3,000 seeds: each
    positive is kept 900 times in expectation (sd about 25)."""
    column = from_01(np.arange(30)[:, None] < 10)
    hits = np.zeros(30)
    for seed in range(3000):
        out = fixed_per_class(column, 3, np.random.Generator(np.random.PCG64(seed)))
        hits += out[:, 0] != UNANN
    assert np.all(np.abs(hits[:10] - 900) < 110) and np.all(np.abs(hits[10:] - 450) < 90)


def test_smallest_keys_breaks_ties_by_position():
    assert list(smallest_keys(np.array([0.5, 0.1, 0.5, 0.5, 0.9]), 3)) == [1, 0, 2]
    assert list(smallest_keys(np.array([0.3, 0.2]), 5)) == [0, 1]


@pytest.mark.parametrize("draw", ["seeded", "cole"])
def test_single_positive_one_positive_per_image(draw):
    truth = full_labels()
    out = apply_protocol("single-positive", {"draw": draw}, truth, 5)
    has_pos = (truth == POS).any(axis=1)
    assert not has_pos.all()  # the fixture has images without a positive
    assert np.array_equal((out == POS).sum(axis=1), has_pos.astype(int))
    assert np.count_nonzero(out == NEG) == 0
    assert_subset_of_truth(out, truth)


def test_single_positive_seeded_is_uniform():
    """40,000 identical images with 4 positives: each picked 10,000 times (sd about 87)."""
    truth = from_01(np.tile(np.array([[1, 0, 1, 1, 0, 1]]), (40_000, 1)))
    picks = (single_positive(truth, np.random.Generator(np.random.PCG64(1))) == POS).sum(axis=0)
    assert picks[[1, 4]].sum() == 0 and np.all(np.abs(picks[[0, 2, 3, 5]] - 10_000) < 400)


def cole_reference(truth: np.ndarray) -> np.ndarray:
    """Cole et al.'s observation process as docs/methods.md §3.5 and their script describe it:
    per row, shuffle that row's positive indices and keep the first, then shuffle its negatives."""
    rng = np.random.RandomState(COLE_SEED)
    observed = np.zeros(truth.shape, dtype=np.int8)
    for i, row in enumerate(truth):
        positives = np.nonzero(row == 1)[0]
        rng.shuffle(positives)
        observed[i, positives[:1]] = 1
        negatives = np.nonzero(row == -1)[0]
        rng.shuffle(negatives)
    return observed


def test_single_positive_cole_draw_matches_the_reference_process():
    truth = full_labels(400, 20, seed=3)
    out = apply_protocol("single-positive", {"draw": "cole"}, truth, split_seed=99)
    assert np.array_equal(out, cole_reference(truth))
    assert np.array_equal(out, apply_protocol("single-positive", {"draw": "cole"}, truth, split_seed=0))


@pytest.mark.parametrize("name, params", SEEDED)
def test_sparse_and_dense_give_the_same_labels(name, params):
    truth = full_labels()
    dense = apply_protocol(name, params, truth, 2)
    sparse = apply_protocol(name, params, to_sparse(truth), 2)
    assert isinstance(dense, np.ndarray) and sp.issparse(sparse)
    assert np.array_equal(sparse.toarray(), dense)


@pytest.mark.parametrize("name, params", SEEDED[:4])
def test_split_seed_changes_the_draw(name, params):
    truth = full_labels()
    assert not np.array_equal(apply_protocol(name, params, truth, 1), apply_protocol(name, params, truth, 2))


def test_identical_bits_in_another_process():
    script = (
        "import hashlib, numpy as np\n"
        "from bench.labels.encoding import canonical_csr, from_01\n"
        "from bench.labels.protocols import apply_protocol\n"
        "rng = np.random.default_rng(0)\n"
        "truth = from_01(rng.random((600, 12)) < np.linspace(0.01, 0.6, 12))\n"
        f"for name, params in {SEEDED!r}:\n"
        "    c = canonical_csr(apply_protocol(name, params, truth, 2))\n"
        "    print(hashlib.sha256(b''.join(np.asarray(a).tobytes() for a in (c.indptr, c.indices, c.data)))"
        ".hexdigest())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    here = [digest(apply_protocol(name, params, full_labels(), 2)) for name, params in SEEDED]
    assert result.stdout.split() == here


def test_protocol_seed_is_pinned():
    """The seed derivation is part of the on-disk contract: changing it changes every split."""
    assert protocol_seed(0, "rpa") == int.from_bytes(hashlib.sha256(b"bench-protocol/rpa/0").digest()[:16], "little")
    assert protocol_seed(0, "rpa") != protocol_seed(1, "rpa") != protocol_seed(1, "fpc")


@pytest.mark.parametrize("name, params, message", [
    ("rpx", {"p": 0.5}, "unknown protocol 'rpx' \\(did you mean 'rpa'\\?\\)"),
    ("rpa", {}, "parameter\\(s\\) p required"),
    ("rpa", {"p": 1.5}, "protocol 'rpa': parameter 'p' must be in \\[0, 1\\]; got 1.5"),
    ("known", {"q": -0.1}, "protocol 'known': parameter 'q' must be in \\[0, 1\\]; got -0.1"),
    ("fpc", {"n_s": -1}, "protocol 'fpc': parameter 'n_s' must be in \\[0, inf\\); got -1"),
    ("fpc", {"ns": 3}, "unknown parameter 'ns' \\(did you mean 'n_s'\\?\\)"),
    ("fpc", {"n_s": "many"}, "'n_s' expects int"),
    ("single-positive", {"draw": "global"}, "must be one of seeded, cole"),
])
def test_parameter_rejections(name, params, message):
    with pytest.raises(ProtocolError, match=message):
        apply_protocol(name, params, full_labels(), 0)


@pytest.mark.parametrize("name, params", SEEDED)
def test_simulation_needs_fully_labelled_input(name, params):
    partial = full_labels()
    partial[3, 4] = UNANN
    with pytest.raises(ProtocolError, match="needs a fully labelled training matrix"):
        apply_protocol(name, params, to_sparse(partial), 0)


def test_split_seed_and_ids_checked():
    with pytest.raises(ProtocolError, match="split_seed must be an int"):
        apply_protocol("rpa", {"p": 0.5}, full_labels(), 1.5)
    with pytest.raises(ProtocolError, match="3 ids for 600 label rows"):
        apply_protocol("rpa", {"p": 0.5}, full_labels(), 0, ids=["a", "b", "c"])


def test_assessed_unannotated_entries_stay_unannotated_and_the_rest_is_drawn_as_usual():
    full = np.where(np.random.default_rng(5).random((300, 7)) < 0.3, POS, NEG).astype(np.int8)
    with_difficult = full.copy()
    with_difficult[::9, 2] = UNANN
    with pytest.raises(ProtocolError, match="fully labelled"):
        apply_protocol("rpa", {"p": 0.5}, with_difficult, split_seed=3)
    partial = apply_protocol("rpa", {"p": 0.5}, with_difficult, split_seed=3, assessed_unannotated=True)
    reference = apply_protocol("rpa", {"p": 0.5}, full, split_seed=3)
    assert np.all(partial[::9, 2] == UNANN)
    untouched = np.ones(full.shape, bool)
    untouched[::9, 2] = False
    assert np.array_equal(partial[untouched], reference[untouched])
    fpc = apply_protocol("fpc", {"n_s": 20}, with_difficult, split_seed=3, assessed_unannotated=True)
    assert np.all(fpc[::9, 2] == UNANN) and ((fpc == POS).sum(0) <= 20).all()


@pytest.mark.parametrize("name, params, shown", [
    ("rpa", {"p": 1.0}, "rpa[p=1.0]"), ("known", {"q": 0.0}, "known[q=0.0]"), ("fpc", {"n_s": 0}, "fpc[n_s=0]"),
])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_protocol_that_leaves_no_annotation_is_refused_when_applied(name, params, shown, sparse):
    """Before: the run trained on all-un-annotated labels and failed after training, indirectly."""
    truth = to_sparse(full_labels()) if sparse else full_labels()
    with pytest.raises(ProtocolError) as info:
        apply_protocol(name, params, truth, 0)
    assert str(info.value) == (f"protocol '{shown}' on the 600 x 12 training labels: no annotated entries remain "
                               "(every training label is un-annotated), so there is nothing to train on; choose "
                               "parameters that keep some annotations")
    with pytest.raises(ProtocolError, match=re.escape(f"protocol '{shown}' on dataset 'toy': no annotated")):
        apply_protocol(name, params, truth, 0, dataset="toy")


def test_samplers_themselves_still_draw_empty_matrices():
    truth = full_labels()
    rng = np.random.Generator(np.random.PCG64(0))
    assert not np.count_nonzero(drop_annotations(truth, 1.0, rng))
    assert not np.count_nonzero(fixed_per_class(truth, 0, rng))


def test_single_positive_on_labels_without_positives_is_refused():
    with pytest.raises(ProtocolError, match=re.escape("single-positive[draw=seeded]' on the 5 x 3 training labels")):
        apply_protocol("single-positive", {}, np.full((5, 3), NEG, dtype=np.int8), 0)


@pytest.mark.parametrize("sparse", [False, True])
def test_a_protocol_that_changes_nothing_warns_once(sparse):
    truth = to_sparse(full_labels()) if sparse else full_labels()
    with pytest.warns(UserWarning, match="protocol 'fpc\\[n_s=100000\\]' on dataset 'toy' changes nothing: all 7200 "
                                         "annotated training entries are kept") as caught:
        out = apply_protocol("fpc", {"n_s": 100_000}, truth, 0, dataset="toy")
    assert len([w for w in caught if "changes nothing" in str(w.message)]) == 1
    assert "\n" not in str(caught[0].message) and canonical_csr(out).nnz == 7200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_protocol("fpc", {"n_s": 25}, truth, 0)  # an ordinary draw does not warn


def test_protocol_parameters_declare_their_ranges():
    assert PROTOCOLS["rpa"].parameters["p"].bounds == "[0, 1]"
    assert PROTOCOLS["known"].parameters["q"].bounds == "[0, 1]"
    assert PROTOCOLS["fpc"].parameters["n_s"].bounds == "[0, inf)"


def test_through_get_dataset_and_the_cli(tmp_path):
    from typer.testing import CliRunner

    import bench
    from bench.cli.app import app

    with pytest.raises(ProtocolError, match="protocol 'rpa\\[p=1.0\\]' on .*no annotated entries remain"):
        bench.get_dataset("scene+rpa[p=1]")
    with pytest.raises(ProtocolError, match="protocol 'fpc\\[n_s=0\\]' on .*no annotated entries remain"):
        bench.get_dataset("scene+fpc[n_s=0]")
    with pytest.warns(UserWarning, match="protocol 'fpc\\[n_s=100000\\]' on .* changes nothing: all 7266 annotated"):
        same = bench.get_dataset("scene+fpc[n_s=100000]")
    assert np.array_equal(to_dense(same.manifest.labels), to_dense(bench.get_dataset("scene").manifest.labels))
    store = str(tmp_path / "runs.db")
    refused = CliRunner().invoke(app, ["run", "--dataset", "scene+rpa[p=1]", "--store", store, "--quiet"])
    assert refused.exit_code == 2
    assert [line for line in refused.output.splitlines() if line.startswith("error:")] == [
        "error: protocol 'rpa[p=1.0]' on dataset 'scene+rpa[p=1.0]': no annotated entries remain (every training "
        "label is un-annotated), so there is nothing to train on; choose parameters that keep some annotations"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the CLI prints each warning as one line (bench.cli.app)
        kept = CliRunner().invoke(app, ["run", "--dataset", "scene+fpc[n_s=100000]", "--epochs", "1", "--store", store,
                                        "--quiet"])
    assert kept.exit_code == 0, kept.output
    assert "warning: protocol 'fpc[n_s=100000]' on dataset 'scene+fpc[n_s=100000]' changes nothing: all 7266" in (
        kept.output)
