"""The data-health profile: counts and density."""

import pandas as pd
import pytest

from recsys_core.data.profile import profile


def _frame(rows: list[tuple[object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item"])


def test_density_counts_distinct_pairs_not_rows() -> None:
    # 2 users x 2 items; pair (1, a) appears three times: 3 distinct pairs of 4 cells, 5 rows
    prof = profile(_frame([(1, "a"), (1, "a"), (1, "a"), (1, "b"), (2, "a")]))
    assert prof.counts.interactions == 5
    assert prof.pairs == 3
    assert prof.density == pytest.approx(3 / 4)


def test_density_never_exceeds_one_however_often_pairs_repeat() -> None:
    # one user and one item repeated 10 times: the only cell is full, not 1000% full
    prof = profile(_frame([("u", "i")] * 10))
    assert prof.pairs == 1
    assert prof.density == pytest.approx(1.0)


def test_density_is_the_same_with_and_without_repeated_rows() -> None:
    pairs = [(u, i) for u in range(7) for i in range(5) if (u + i) % 3]
    clean = profile(_frame(pairs))
    repeated = profile(_frame(pairs + pairs[:9]))
    assert repeated.counts.interactions == clean.counts.interactions + 9
    assert repeated.pairs == clean.pairs == len(pairs)
    assert repeated.density == pytest.approx(clean.density)


def test_empty_frame_has_zero_density() -> None:
    prof = profile(_frame([]))
    assert prof.pairs == 0
    assert prof.density == 0.0
