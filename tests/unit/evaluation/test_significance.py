"""Paired significance tests on per-user metric values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from recsys_core.errors import ConfigError, DataError
from recsys_core.evaluation.significance import PairedTestResult, bootstrap_mean_ci, paired_test


def test_identical_runs_give_p_one_without_warnings() -> None:
    a = np.random.default_rng(0).random(200)
    a[[3, 17]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = paired_test(a, a.copy())
    assert r.n == 198
    assert (r.t_stat, r.t_pvalue, r.wilcoxon_stat, r.wilcoxon_pvalue) == (0.0, 1.0, 0.0, 1.0)
    assert (r.mean_diff, r.ci_low, r.ci_high) == (0.0, 0.0, 0.0)
    assert r.mean_a == r.mean_b


def test_clear_shift_is_significant_and_ci_excludes_zero() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(500)
    b = a + 0.05 + rng.normal(0, 0.05, 500)
    r = paired_test(a, b)
    assert r.mean_diff == pytest.approx(np.mean(b - a))
    assert r.t_pvalue < 1e-6
    assert r.wilcoxon_pvalue < 1e-6
    assert 0 < r.ci_low < r.mean_diff < r.ci_high
    assert r.ci_level == 0.95
    # the reverse comparison mirrors the statistics
    back = paired_test(b, a)
    assert back.t_stat == pytest.approx(-r.t_stat)
    assert back.t_pvalue == pytest.approx(r.t_pvalue)


def test_statistics_agree_with_scipy_and_nan_pairs_are_dropped() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.random(80), rng.random(80)
    a[5], b[9] = np.nan, np.nan
    keep = ~(np.isnan(a) | np.isnan(b))
    r = paired_test(a, b)
    t = stats.ttest_rel(b[keep], a[keep])
    w = stats.wilcoxon(b[keep] - a[keep])
    assert r.n == 78
    assert r.t_stat == pytest.approx(t.statistic, abs=1e-12)
    assert r.t_pvalue == pytest.approx(t.pvalue, abs=1e-12)
    assert r.wilcoxon_stat == pytest.approx(w.statistic, abs=1e-12)
    assert r.wilcoxon_pvalue == pytest.approx(w.pvalue, abs=1e-12)
    assert r.mean_a == pytest.approx(a[keep].mean())
    assert r.ci_low <= r.mean_diff <= r.ci_high


def test_no_difference_is_not_significant() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(300)
    b = a + rng.normal(0, 0.1, 300)
    r = paired_test(a, b)
    assert r.t_pvalue > 0.01
    assert r.ci_low < 0 < r.ci_high


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.random(120), rng.random(120)
    r1, r2 = paired_test(a, b, seed=7), paired_test(a, b, seed=7)
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    r3 = paired_test(a, b, seed=8)
    assert (r1.ci_low, r1.ci_high) != (r3.ci_low, r3.ci_high)
    # chunked resampling draws the same numbers as one big draw
    d = b - a
    idx = np.random.default_rng(7).integers(0, d.size, size=(2000, d.size))
    low, high = np.quantile(d[idx].mean(axis=1), [0.025, 0.975])
    assert (r1.ci_low, r1.ci_high) == pytest.approx((low, high), abs=1e-12)
    narrow = paired_test(a, b, seed=7, ci_level=0.5)
    assert r1.ci_low < narrow.ci_low < narrow.ci_high < r1.ci_high


def test_large_input_bootstraps_in_chunks() -> None:
    d = np.random.default_rng(5).normal(0.1, 1.0, 20_000)
    low, high = bootstrap_mean_ci(d, n_boot=500, seed=0)
    se = d.std() / math.sqrt(d.size)
    assert low < d.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_degenerate_inputs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        const = paired_test(np.zeros(10), np.full(10, 0.5))
        assert const.t_stat == math.inf
        assert const.t_pvalue == 0.0
        assert const.wilcoxon_pvalue < 0.01
        assert (const.ci_low, const.ci_high) == (0.5, 0.5)
        one = paired_test(np.array([1.0, np.nan]), np.array([2.0, 3.0]))
        assert one.n == 1
        assert math.isnan(one.t_pvalue)
        assert math.isnan(one.wilcoxon_pvalue)
        none = paired_test(np.array([np.nan]), np.array([np.nan]))
        assert none.n == 0
        assert math.isnan(none.mean_diff)
        assert math.isnan(none.ci_low)
    assert isinstance(const, PairedTestResult)
    assert const.to_dict()["n"] == 10


def test_bad_arguments() -> None:
    with pytest.raises(DataError, match="per-user values"):
        paired_test(np.zeros(3), np.zeros(4))
    with pytest.raises(ConfigError):
        paired_test(np.zeros(3), np.zeros(3), ci_level=1.5)
    with pytest.raises(ConfigError):
        paired_test(np.zeros(3), np.zeros(3), n_boot=0)
