"""The report's statistics without ``scipy.stats``: Student's t tail and average ranks equal
scipy.stats bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from scipy.stats import t as student_t

from bench.reporting.significance import student_t_sf2
from bench.reporting.summary import average_ranks


@pytest.mark.parametrize("df", [1, 2, 3.7, 10, 1e6, np.inf])
@pytest.mark.parametrize("t", [0.0, 0.3, 1.9, 5.0, -2.5, 40.0])
def test_student_tail_is_scipy_stats(t, df):
    assert student_t_sf2(t, df) == float(2.0 * student_t.sf(abs(t), df=df))


def test_average_ranks_are_rankdata():
    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 5, 17):
        for _ in range(20):
            values = rng.integers(0, 4, size=size).astype(float)  # many ties
            assert np.array_equal(average_ranks(values), rankdata(values, method="average"))
    assert np.array_equal(average_ranks(np.array([3.0, 1, 2, 2, 5, 1])), [5.0, 1.5, 3.5, 3.5, 6.0, 1.5])
