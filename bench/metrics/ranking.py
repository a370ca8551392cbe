"""Non-interpolated average precision of many rankings at once, with sklearn's tie grouping.

For one ranking with scores ``s`` and binary targets ``y`` (``n_pos = sum(y) > 0``), sklearn's
``average_precision_score`` computes

    AP = sum_k (R_k - R_{k-1}) * P_k

over the *distinct* score values ``t_1 > t_2 > ...``, where ``P_k`` and ``R_k`` are precision and
recall of the prediction ``s >= t_k``. Tied scores therefore form one step: every positive of a tie
group is credited with the precision reached at the end of the group. Equivalently

    AP = (1 / n_pos) * sum_{tie groups g} pos(g) * TP(<= g) / N(<= g).

The CSL/ASL reference ``average_precision`` instead ranks by an unstable ``argsort`` and credits
each positive with the precision at its own position, divided by ``n_pos + 1e-8``: it equals the
formula above (up to that epsilon) only when there are no ties; with ties its value depends on the
sort's arbitrary order among tied entries.

``grouped_average_precision`` evaluates one such ranking per group (per class) in a single pass:
group id, score rank and target are packed into one uint64 key per entry, one ``np.sort`` orders all
entries by (group ascending, score descending), and the sorted positions of the positives give every
group's AP without a Python loop. Memory is a few 8-byte arrays per entry (proportional to the
number of entries, never to groups x samples).
"""
from __future__ import annotations

import numpy as np

_KEY_BITS = 64


def _float32_exact(scores: np.ndarray) -> bool:
    """True when ``scores`` converts to float32 without changing any value (so ties are unchanged)."""
    if scores.dtype.kind == "b" or scores.dtype in (np.float16, np.int8, np.uint8, np.int16, np.uint16):
        return True
    if scores.dtype.kind != "f" or scores.dtype.itemsize < 4:
        return False
    if scores.dtype == np.float32:
        return True
    with np.errstate(over="ignore"):
        return bool((scores.astype(np.float32) == scores).all())


def descending_score_key(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Map scores to unsigned integers ordered by *descending* score, ties mapping to equal keys.

    Returns ``(key, bits)`` with ``key < 2**bits``. Scores that float32 holds exactly use the
    IEEE-754 order-preserving bit map (32 bits, ``-0.0`` tied with ``0.0``); others use the dense
    rank among the distinct values, compared in the input's own dtype (slower: one more sort), so
    ties are always exact equality, as in sklearn.
    """
    if _float32_exact(scores):
        bits = (scores.astype(np.float32) + np.float32(0.0)).view(np.int32)  # + 0.0: -0.0 -> +0.0
        sign_fill = (bits >> 31).view(np.uint32)  # all ones for negative scores, else zero
        ascending = bits.view(np.uint32) ^ (sign_fill | np.uint32(1 << 31))
        return (~ascending).astype(np.uint64), 32
    if scores.dtype.kind == "f":
        scores = scores + scores.dtype.type(0.0)
    distinct = np.unique(scores)
    rank = np.searchsorted(distinct, scores).astype(np.uint64)
    return np.uint64(distinct.size - 1) - rank, max(1, int(distinct.size - 1).bit_length())


def grouped_average_precision(
    groups: np.ndarray, scores: np.ndarray, positive: np.ndarray, num_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average precision of each group's ranking, tie-grouped as sklearn's ``average_precision_score``.

    ``groups`` (int, in ``[0, num_groups)``), ``scores`` (real, finite) and ``positive`` (bool) are
    1-D and aligned: entry ``i`` belongs to the ranking of group ``groups[i]``. Returns ``(ap, n_pos,
    n_entries)`` per group: ``ap`` is float64 and NaN for a group without positives (AP is undefined
    there; callers apply their evaluator's rule), ``n_pos`` and ``n_entries`` are int64 counts.

    After sorting the packed keys (group, descending score, target), the positives of a tie group
    are the group's last entries, so the last positive of each run of equal keys marks where the tie
    group ends: its sorted position + 1 minus the group's start is ``N(<= g)``, and the number of
    positives up to it minus those of earlier groups is ``TP(<= g)``.
    """
    n_entries = np.bincount(groups, minlength=num_groups).astype(np.int64)
    ap = np.full(num_groups, np.nan)
    if groups.size == 0:
        return ap, np.zeros(num_groups, np.int64), n_entries
    score_key, score_bits = descending_score_key(scores)
    shift = np.uint64(score_bits + 1)
    group_bits = max(1, int(num_groups - 1).bit_length())
    if group_bits + score_bits + 1 > _KEY_BITS:
        raise ValueError(f"{num_groups} groups x {score_bits}-bit scores do not fit one 64-bit sort key")
    key = groups.astype(np.uint64)
    key <<= shift
    score_key <<= np.uint64(1)
    key |= score_key
    del score_key
    key |= positive.astype(np.uint64)
    key.sort()

    positive_at = np.flatnonzero(key & np.uint64(1))
    positive_keys = key[positive_at]
    del key
    if positive_keys.size == 0:
        return ap, np.zeros(num_groups, np.int64), n_entries
    run_last = np.append(np.flatnonzero(positive_keys[1:] != positive_keys[:-1]), positive_keys.size - 1)
    run_group = (positive_keys[run_last] >> shift).astype(np.int64)
    positives_in_run = np.diff(run_last, prepend=-1)
    n_pos = np.bincount(run_group, weights=positives_in_run, minlength=num_groups).astype(np.int64)

    starts = np.cumsum(n_entries) - n_entries
    positives_before = np.cumsum(n_pos) - n_pos
    seen = positive_at[run_last] + 1 - starts[run_group]
    true_positives = run_last + 1 - positives_before[run_group]
    precision_sum = np.bincount(
        run_group, weights=positives_in_run * (true_positives / seen), minlength=num_groups
    )
    has_pos = n_pos > 0
    ap[has_pos] = precision_sum[has_pos] / n_pos[has_pos]
    return ap, n_pos, n_entries


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Non-interpolated AP of one ranking (sklearn tie grouping); NaN when there is no positive.

    Equals ``sklearn.metrics.average_precision_score(positive, scores)`` up to float rounding
    whenever ``positive`` holds at least one positive.
    """
    scores = np.asarray(scores).ravel()
    positive = np.asarray(positive, dtype=bool).ravel()
    if scores.shape != positive.shape:
        raise ValueError(f"scores: {scores.size} values but {positive.size} targets")
    if scores.dtype.kind not in "biuf" or (scores.dtype.kind == "f" and not np.isfinite(scores).all()):
        raise ValueError("scores: expected finite real numbers (found NaN, inf or a non-numeric dtype)")
    ap, _, _ = grouped_average_precision(np.zeros(scores.size, np.int64), scores, positive, 1)
    return float(ap[0])
