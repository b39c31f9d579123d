"""The run-comparison engine: protocol groups, mismatches, run table, ranks, reshaping and the verdict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import EvalProtocol
from recsys_core.evaluation.segments import compare_runs
from recsys_core.runs import compare as cmp

SPLIT = {"kind": "split", "split": {"method": "user_random", "test_fraction": 0.2, "seed": 42}}


def protocol(fp: str = "aaaa1111", evaluation: str = "ranking", **kw: Any) -> dict[str, Any]:
    d = EvalProtocol(ks=kw.pop("ks", (5, 10)), data_fingerprint=fp, split=SPLIT, **kw).to_dict()
    return {**d, "evaluation": evaluation}


def run(rid: str, metrics: dict | None, *, proto: dict | None = None, t: float = 0.0, **kw: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "name": kw.pop("name", f"run {rid}"),
        "model": kw.pop("model", "ials"),
        "dataset_name": kw.pop("dataset", "syn"),
        "status": kw.pop("status", "finished"),
        "tags": kw.pop("tags", []),
        "created_at": t,
        "params": kw.pop("params", {}),
        "protocol": proto,
        "metrics": metrics,
    }


@pytest.fixture
def runs() -> list[dict[str, Any]]:
    rank = {"ndcg@5": 0.2, "ndcg@10": 0.3, "coverage@10": 0.5, "gini@10": 0.4, "n_users": 100.0}
    return [
        run("a", rank, proto=protocol(), t=1, params={"factors": 8}, tags=["base"]),
        run("b", {**rank, "ndcg@10": 0.35, "gini@10": 0.6}, proto=protocol(), t=2, params={"factors": 32}),
        run("c", {**rank, "ndcg@10": 0.9}, proto=protocol(fp="bbbb2222"), t=3, model="ease"),
        run("d", {"rmse": 0.9, "mae": 0.7}, proto=protocol(evaluation="rating"), t=4, model="biased_mf"),
        run("e", {"rmse": 0.8, "mae": 0.75}, proto=protocol(evaluation="rating"), t=5, model="biased_mf"),
        run("q", None, t=6, status="queued"),
    ]


def test_groups_split_by_data_and_evaluation_and_keep_labels_stable(runs):
    groups = cmp.protocol_groups(runs)
    assert [(g.key, g.run_ids) for g in groups] == [("A", ("a", "b")), ("B", ("c",)), ("C", ("d", "e"))]
    assert "bbbb2222" in groups[1].description and groups[2].evaluation == "rating"
    # a newer run never relabels the older groups
    more = cmp.protocol_groups([*runs, run("z", {"ndcg@10": 0.1}, proto=protocol(fp="cccc"), t=9)])
    assert [g.key for g in more] == ["A", "B", "C", "D"] and more[0].run_ids == ("a", "b")


def test_mismatches_name_the_runs_and_the_difference(runs):
    assert cmp.mismatches(runs[:2]) == []
    text = " ".join(cmp.mismatches([runs[0], runs[2], runs[3]]))
    assert "'run a' vs 'run c'" in text and "different data (fingerprints differ)" in text
    assert "ranking vs rating evaluation" in text
    sampled = run("s", {"ndcg@10": 0.5}, proto=protocol(candidates="sampled"), t=7)
    assert "different candidates" in cmp.mismatches([runs[0], sampled])[0]


def test_run_table_ranks_only_inside_a_group(runs):
    table = cmp.run_table(runs)
    assert list(table["group"]) == ["A", "A", "B", "C", "C", cmp.NO_GROUP]
    assert pd.api.types.is_float_dtype(table["ndcg@10"]) and math.isnan(table.loc[3, "ndcg@10"])
    assert cmp.metric_columns(table)[-1] != "n_users" and "n_users" in cmp.metric_columns(table, rankable=False)
    ranked = cmp.sort_table(table, "ndcg@10")
    # c has the highest ndcg@10 but is alone in group B: it is rank 1 there, not above a and b
    assert list(ranked["id"][:3]) == ["b", "a", "c"] and list(ranked["rank"][:3]) == [1, 2, 1]
    by_rmse = cmp.sort_table(table, "rmse")  # lower is better
    assert list(by_rmse.loc[by_rmse["group"] == "C", "id"]) == ["e", "d"]


def test_best_mask_per_group_and_direction(runs):
    table = cmp.run_table(runs)
    mask = cmp.best_mask(table, ["ndcg@10", "gini@10", "rmse", "n_users"])
    assert "n_users" not in mask.columns
    assert list(table["id"][mask["ndcg@10"]]) == ["b", "c"]  # best of A and the only one of B
    assert list(table["id"][mask["gini@10"]]) == ["a", "c"]  # lower gini is better
    assert list(table["id"][mask["rmse"]]) == ["e"]
    assert not mask.loc[table["id"] == "q"].any(axis=None)


def test_filter_table(runs):
    table = cmp.run_table(runs)
    assert list(cmp.filter_table(table, models=["biased_mf"])["id"]) == ["d", "e"]
    assert list(cmp.filter_table(table, tags=["base"])["id"]) == ["a"]
    assert list(cmp.filter_table(table, statuses=["queued"])["id"]) == ["q"]
    assert len(cmp.filter_table(table, datasets=["nope"])) == 0
    assert len(cmp.filter_table(table)) == len(table)


def test_metrics_across_k_curves_and_params(runs):
    long = cmp.metrics_across_k(runs[:2])
    a = long[(long["id"] == "a") & (long["metric"] == "ndcg")]
    assert list(a["k"]) == [5, 10] and list(a["value"]) == [0.2, 0.3]
    history = [{"epoch": 1, "elapsed": 0.5, "losses": {"loss": 2.0}, "val": {}}, {"epoch": 2, "elapsed": 1.5,
               "losses": {"loss": 1.0}, "val": {"ndcg@10": 0.3}}]  # fmt: skip
    x, y = cmp.curve(history, "val", "ndcg@10", "elapsed")
    assert x.tolist() == [1.5] and y.tolist() == [0.3]
    assert cmp.curve_names({"a": history}) == (["loss"], ["ndcg@10"])
    with pytest.raises(ConfigError):
        cmp.curve(history, "grads", "loss")
    params = cmp.params_table(runs[:3])
    assert params.loc["b", "factors"] == 32 and math.isnan(params.loc["c", "factors"])


def test_segment_metrics_use_one_set_of_boundaries():
    rng = np.random.default_rng(0)
    n_train = rng.integers(1, 200, size=300)
    a = pd.DataFrame({"user": np.arange(300), "n_train": n_train, "ndcg@10": rng.random(300)})
    b = a.assign(**{"ndcg@10": rng.random(300)}).iloc[50:]  # b evaluated fewer users
    seg = cmp.segment_metrics({"a": a, "b": b}, "ndcg@10")
    assert seg["segment"].iloc[0].startswith("cold")
    assert set(seg.loc[seg["id"] == "a", "segment"]) >= set(seg.loc[seg["id"] == "b", "segment"])
    assert seg.loc[seg["id"] == "a", "users"].sum() == 300 and seg.loc[seg["id"] == "b", "users"].sum() == 250
    cold = a[a["n_train"] < 5]
    got = seg[(seg["id"] == "a") & seg["segment"].str.startswith("cold")]["value"].item()
    assert got == pytest.approx(cold["ndcg@10"].mean())
    with pytest.raises(ConfigError, match="n_train"):
        cmp.segment_metrics({"r": pd.DataFrame({"user": [1], "rmse": [0.5]})}, "rmse")


def test_significance_verdict_says_plainly():
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"user": np.arange(400), "ndcg@10": rng.random(400)})
    better = base.assign(**{"ndcg@10": base["ndcg@10"] + 0.1 + rng.normal(0, 0.01, 400)})
    noisy = base.assign(**{"ndcg@10": base["ndcg@10"] + rng.normal(0, 0.3, 400)})
    yes = cmp.significance_verdict(compare_runs(base, better, "ndcg@10"), "ndcg@10", "A", "B")
    assert "'B' is better than 'A'" in yes and "IS significant at 0.05" in yes
    shifted = noisy.assign(**{"ndcg@10": noisy["ndcg@10"] - noisy["ndcg@10"].mean() + base["ndcg@10"].mean() + 1e-3})
    no = cmp.significance_verdict(compare_runs(base, shifted, "ndcg@10"), "ndcg@10", "A", "B")
    assert "NOT significant at 0.05" in no
    errs = pd.DataFrame({"user": np.arange(400), "rmse": rng.random(400) + 1})
    lower = errs.assign(rmse=errs["rmse"] - 0.2)  # lower rmse is better: B wins
    assert "'B' is better than 'A'" in cmp.significance_verdict(compare_runs(errs, lower, "rmse"), "rmse", "A", "B")


def test_describe_protocol_and_helpers():
    assert cmp.split_metric("ndcg@10") == ("ndcg", 10) and cmp.split_metric("rmse") == ("rmse", None)
    assert cmp.lower_is_better("avg_popularity@10") and not cmp.lower_is_better("coverage@10")
    text = cmp.describe_protocol(protocol(relevance_threshold=4.0))
    assert "full ranking" in text and "K 5, 10" in text and "aaaa1111" in text and "rating ≥ 4.0" in text
    assert "not evaluated" in cmp.describe_protocol(None)
    assert cmp.evaluation_kind({"metrics": {"rmse": 1.0}}) == "rating"
    assert cmp.run_table([]).empty
