import numpy as np
import pandas as pd
import pytest

from recsys_core.evaluation.segments import activity_segments, compare_runs, metrics_by_segment


def per_user(values, n_train):
    n = len(values)
    return pd.DataFrame(
        {"user": np.arange(n), "user_index": np.arange(n), "n_relevant": 1, "n_train": n_train, "ndcg@10": values}
    )


def test_activity_segments_separate_cold_users_and_quantiles():
    labels = activity_segments([1, 2, 5, 6, 7, 50, 60, 70, 100])
    assert list(labels[:2]) == ["cold (<5)", "cold (<5)"]
    assert labels[2].startswith("light") and labels[8].startswith("heavy")
    assert labels.nunique() == 4


def test_metrics_by_segment_gives_means_and_counts():
    frame = per_user([0.0, 1.0, 0.5, 0.5], [1, 1, 10, 20])
    out = metrics_by_segment(frame, activity_segments(frame["n_train"], bins=1)).set_index("segment")
    assert out.loc["cold (<5)", "users"] == 2
    assert out.loc["cold (<5)", "ndcg@10"] == pytest.approx(0.5)
    frame["country"] = ["de", "fr", "fr", "fr"]
    by_country = metrics_by_segment(frame, "country").set_index("segment")
    assert by_country.loc["fr", "ndcg@10"] == pytest.approx(2 / 3)


def test_compare_runs_matches_users_and_detects_a_shift():
    rng = np.random.default_rng(0)
    a = per_user(rng.random(300), 10)
    b = a.assign(**{"ndcg@10": a["ndcg@10"] + 0.1 + rng.normal(0, 0.05, 300)}).sample(frac=1.0, random_state=1)
    result = compare_runs(a, b, "ndcg@10", seed=0)
    assert result.n == 300
    assert result.mean_diff == pytest.approx(0.1, abs=0.02)
    assert result.t_pvalue < 1e-6 and result.ci_low > 0
