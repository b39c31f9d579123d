"""Paired significance tests on per-user metric values of two runs.

Both runs must have been evaluated on the same users in the same order (row ``u`` of ``a`` and ``b`` is
the same user), e.g. two ``ndcg@10`` arrays from :func:`recsys_core.evaluation.ranking_metrics`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from recsys_core.errors import ConfigError, DataError

# Bootstrap resamples are drawn in chunks of about this many indices, to bound memory (≈ 16 MB of int64).
_BOOT_CELLS = 2_000_000


@dataclass(frozen=True)
class PairedTestResult:
    """Outcome of :func:`paired_test` (all differences are ``b - a``).

    Attributes:
        n: number of users with a value in both runs (pairs with NaN are dropped).
        mean_a, mean_b: means of the two runs over those users.
        mean_diff: mean of ``b - a``.
        t_stat, t_pvalue: paired t-test (two-sided; ``scipy.stats.ttest_rel``).
        wilcoxon_stat, wilcoxon_pvalue: Wilcoxon signed-rank test (two-sided; zero differences dropped,
            ``scipy.stats.wilcoxon`` defaults).
        ci_low, ci_high: paired bootstrap percentile confidence interval of ``mean_diff``.
        ci_level: its level, e.g. 0.95.
        n_boot: number of bootstrap resamples; seed: their random seed.

    Statistics that cannot be computed (fewer than 2 pairs) are NaN. Identical runs give statistics 0,
    p-values 1 and a CI of [0, 0].
    """

    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    t_stat: float
    t_pvalue: float
    wilcoxon_stat: float
    wilcoxon_pvalue: float
    ci_low: float
    ci_high: float
    ci_level: float
    n_boot: int = 2000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_mean_ci(
    diff: np.ndarray, *, n_boot: int = 2000, ci_level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``diff`` (float64 1-D, no NaN).

    Resamples users with replacement ``n_boot`` times (vectorised, in chunks); the same seed gives the same
    interval. Returns ``(low, high)``; NaN, NaN for an empty input.
    """
    d = np.asarray(diff, dtype=np.float64).ravel()
    n = d.size
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, _BOOT_CELLS // n)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = d[idx].mean(axis=1)
    alpha = (1.0 - ci_level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_boot: int = 2000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> PairedTestResult:
    """Compare two runs user by user: paired t-test, Wilcoxon signed-rank test, bootstrap CI of the mean
    difference ``b - a``.

    Args:
        a, b: per-user values (float, same length, same user order); users with NaN in either are dropped.
        n_boot: bootstrap resamples (default 2000).
        ci_level: confidence level in (0, 1) (default 0.95).
        seed: bootstrap seed (default 0); the result is reproducible.

    Degenerate cases are handled without warnings: identical runs give t = W = 0, p = 1; a constant
    non-zero difference gives t = ±inf, p = 0 (t-test) and the usual Wilcoxon value.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise DataError(
            f"The two runs have {x.size:,} and {y.size:,} per-user values.",
            code="shape_mismatch",
            hint="Compare runs evaluated on the same users (same split and user order).",
        )
    if not 0.0 < ci_level < 1.0:
        raise ConfigError(f"ci_level must be between 0 and 1; got {ci_level}.", field="ci_level")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be an integer >= 1; got {n_boot!r}.", field="n_boot")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    d = y - x
    n = int(d.size)
    nan = float("nan")
    mean_a = float(x.mean()) if n else nan
    mean_b = float(y.mean()) if n else nan
    mean_diff = float(d.mean()) if n else nan

    t_stat = t_p = w_stat = w_p = nan
    if n >= 2:
        if not d.any():
            t_stat, t_p, w_stat, w_p = 0.0, 1.0, 0.0, 1.0
        else:
            if np.all(d == d[0]):
                # zero variance: scipy would warn about precision loss; the answer is known
                t_stat, t_p = math.copysign(math.inf, d[0]), 0.0
            else:
                res = stats.ttest_rel(y, x)
                t_stat, t_p = float(res.statistic), float(res.pvalue)
            with warnings.catch_warnings():
                # scipy warns when it switches from the exact to the normal approximation (zeros or ties
                # in the differences); that switch is the intended behaviour.
                warnings.simplefilter("ignore", UserWarning)
                res_w = stats.wilcoxon(d)
            w_stat, w_p = float(res_w.statistic), float(res_w.pvalue)

    ci_low, ci_high = bootstrap_mean_ci(d, n_boot=int(n_boot), ci_level=ci_level, seed=seed)
    return PairedTestResult(
        n=n,
        mean_a=mean_a,
        mean_b=mean_b,
        mean_diff=mean_diff,
        t_stat=t_stat,
        t_pvalue=t_p,
        wilcoxon_stat=w_stat,
        wilcoxon_pvalue=w_p,
        ci_low=ci_low,
        ci_high=ci_high,
        ci_level=ci_level,
        n_boot=int(n_boot),
        seed=seed,
    )
