"""The run-comparison engine: protocol groups, mismatches, run table, ranks, reshaping and the verdict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.fingerprint import data_fingerprint
from recsys_core.data.schema import PreprocessConfig, SplitConfig
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
    problems = cmp.mismatches([runs[0], runs[2], runs[3]])
    assert len(problems) == 2  # one sentence per differing aspect, not one per pair of runs
    assert "different evaluation: ranking for 'run a', 'run c' vs rating for 'run d'" in problems
    # a and c are on different data; d (rating) is on a's data
    assert any(p.startswith("different data: ") and "'run a', 'run d'" in p and "'run c'" in p for p in problems)
    sampled = run("s", {"ndcg@10": 0.5}, proto=protocol(candidates="sampled"), t=7)
    assert cmp.mismatches([runs[0], sampled]) == [
        "different candidates: full ranking for 'run a' vs sampled (100 negatives per test item) for 'run s'"
    ]


def real_protocol(raw: str = "raw00001", evaluation: str = "ranking", *, val: float = 0.1, kcore: int = 0,
                  seed: int = 42, ks: tuple[int, ...] = (10, 20), **kw: Any) -> dict[str, Any]:  # fmt: skip
    """A protocol as the worker records it for a finished run (prepared from one frame, then split)."""
    pre, spl = PreprocessConfig(min_user_interactions=kcore), SplitConfig(val_fraction=val, seed=seed)
    split = {"kind": "split", "raw_fingerprint": raw, "preprocess": pre.to_dict(), "split": spl.to_dict()}
    p = EvalProtocol(ks=ks, data_fingerprint=data_fingerprint(raw, pre, spl), split=split, **kw)
    return {**p.to_dict(), "label": p.label, "evaluation": evaluation}


def submitted_protocol(ks: tuple[int, ...] = (10, 20)) -> dict[str, Any]:
    """The protocol ``JobRunner.submit`` records before training: no fingerprint, no evaluation kind."""
    split = {"kind": "dataset", "preprocess": None, "split": SplitConfig(val_fraction=0.1).to_dict()}
    return {"ks": list(ks), "candidates": "full", "n_negatives": 100, "relevance_threshold": None, "seed": 42,
            "split": split}  # fmt: skip


def test_runs_without_metrics_are_in_no_group():
    # QA #14: a failed rating run on one dataset and a cancelled ranking run on another formed a group
    # "C · 2 runs · ranking evaluation · … · data ?"
    finished = run("a", {"ndcg@10": 0.3}, proto=real_protocol(), t=1, dataset="qa_good")
    failed = run("f", None, proto=submitted_protocol(), t=2, status="failed", model="biased_mf", dataset="qa_implicit")
    cancelled = run("x", None, proto=submitted_protocol(), t=3, status="cancelled", model="bpr", dataset="qa_good")
    interrupted = run("i", {}, proto=submitted_protocol(), t=4, status="interrupted")
    every = [finished, failed, cancelled, interrupted]
    groups = cmp.protocol_groups(every)
    assert [g.run_ids for g in groups] == [("a",)]
    assert all("?" not in g.description for g in groups)
    assert [cmp.evaluation_kind(r) for r in every] == ["ranking", "none", "none", "none"]
    table = cmp.run_table(every)
    assert list(table["group"]) == ["A", cmp.NO_GROUP, cmp.NO_GROUP, cmp.NO_GROUP]
    assert cmp.mismatches(every) == []  # nothing to rank against: the note below says why they are left out
    note = cmp.not_evaluated_note(every)
    assert note is not None and "'run f' (failed), 'run x' (cancelled), 'run i' (interrupted)" in note
    assert "no metrics" in note and cmp.not_evaluated_note([finished]) is None
    assert "not evaluated" in cmp.describe_protocol(failed["protocol"], cmp.evaluation_kind(failed))


def test_group_labels_say_the_evaluation_data_and_validation_share():
    rating = run("r", {"rmse": 0.9, "mae": 0.7}, proto=real_protocol(evaluation="rating"), model="biased_mf",
                 dataset="qa_good")  # fmt: skip
    ranking = run("k", {"ndcg@10": 0.3}, proto=real_protocol(ks=(5, 10)), t=1, dataset="qa_good")
    ranking2 = run("k2", {"ndcg@20": 0.3}, proto=real_protocol(ks=(10, 20)), t=2, dataset="qa_good")
    no_val = run("n", {"ndcg@10": 0.3}, proto=real_protocol(val=0.0, kcore=5), t=3, dataset="qa_good")
    groups = {g.run_ids: g for g in cmp.protocol_groups([rating, ranking, ranking2, no_val])}
    r = groups[("r",)].description
    assert r.startswith("rating evaluation") and "ranking" not in r and "K " not in r
    assert "data 'qa_good' (" in r and "validation 10%" in r and "test 20%" in r and "seed 42" in r
    both = groups[("k", "k2")].description
    assert both.startswith("ranking evaluation · full ranking · K 5, 10, 20")  # every K of the group
    assert "no validation" in groups[("n",)].description and "k-core users ≥ 5" in groups[("n",)].description


def test_mismatches_summarise_six_runs_by_aspect():
    # QA #14: six runs gave 15 sentences, one per pair, with "different split" wherever the data differed
    good, implicit = real_protocol("raw_good"), real_protocol("raw_impl")
    six = [
        run("p", {"ndcg@10": 0.1}, proto=good, name="qa popularity", dataset="qa_good"),
        run("i", {"ndcg@10": 0.2}, proto=good, name="qa itemknn", dataset="qa_good"),
        run("a", {"ndcg@10": 0.2}, proto=good, name="qa ials", dataset="qa_good"),
        run("e", {"ndcg@10": 0.2}, proto=implicit, name="qa ease implicit", dataset="qa_implicit"),
        run(
            "s", {"ndcg@10": 0.2}, proto=real_protocol("raw_good", seed=7), name="qa popularity str", dataset="qa_good"
        ),
        run("m", {"rmse": 0.9}, proto=real_protocol("raw_good", "rating"), name="qa biased_mf", dataset="qa_good"),
    ]
    problems = cmp.mismatches(six)
    assert problems == [
        "different evaluation: ranking for 'qa popularity', 'qa itemknn', 'qa ials', 'qa ease implicit',"
        " 'qa popularity str' vs rating for 'qa biased_mf'",
        "different data: qa_good for 'qa popularity', 'qa itemknn', 'qa ials', 'qa popularity str', 'qa biased_mf'"
        " vs qa_implicit for 'qa ease implicit'",
        "different split: user_random (test 20%, validation 10%, seed 42) for 'qa popularity', 'qa itemknn',"
        " 'qa ials', 'qa ease implicit', 'qa biased_mf' vs user_random (test 20%, validation 10%, seed 7) for"
        " 'qa popularity str'",
    ]
    many = [run(str(i), {"ndcg@10": 0.1}, proto=good, name=f"r{i}") for i in range(7)]
    assert cmp.mismatches([*many, six[5]]) == [
        "different evaluation: ranking for 'r0', 'r1', 'r2', 'r3' and 3 more vs rating for 'qa biased_mf'"
    ]
    # the same split settings on different data: "different data" only
    assert cmp.mismatches(six[2:4]) == ["different data: qa_good for 'qa ials' vs qa_implicit for 'qa ease implicit'"]
    # a dataset replaced under the same name: the fingerprints tell the sides apart
    replaced = run("z", {"ndcg@10": 0.2}, proto=real_protocol("raw_new0"), name="new", dataset="qa_good")
    assert cmp.mismatches([six[0], replaced]) == [
        "different data: qa_good, fingerprint raw_good for 'qa popularity' vs qa_good, fingerprint raw_new0 for 'new'"
    ]


def test_groups_agree_with_the_protocol_mismatches():
    """Ranking runs share a group exactly when EvalProtocol.mismatches finds nothing (and the same evaluation)."""
    variants = [
        real_protocol(),
        real_protocol("raw_b"),
        real_protocol(seed=1),
        real_protocol(kcore=3),
        real_protocol(candidates="sampled"),
        real_protocol(candidates="sampled", n_negatives=50),
        real_protocol(relevance_threshold=4.0),
        real_protocol(exclude_val=False),
        real_protocol(map_normaliser="n_rel"),
        real_protocol(ks=(5,)),  # K alone does not separate runs
        protocol(),
    ]
    runs_ = [run(str(i), {"ndcg@10": 0.1}, proto=p, t=i) for i, p in enumerate(variants)]
    where = cmp.group_index(cmp.protocol_groups(runs_))
    for a in runs_:
        for b in runs_:
            same = not EvalProtocol.from_dict(a["protocol"]).mismatches(EvalProtocol.from_dict(b["protocol"]))
            assert (where[a["id"]] == where[b["id"]]) == same, (a["id"], b["id"])
            assert (cmp.mismatches([a, b]) == []) == same
    # rating runs ignore the ranking settings (RMSE/MAE do not depend on them)
    r1 = run("r1", {"rmse": 1.0}, proto=real_protocol(evaluation="rating"))
    r2 = run("r2", {"rmse": 1.1}, proto=real_protocol(evaluation="rating", relevance_threshold=4.0))
    assert len(cmp.protocol_groups([r1, r2])) == 1 and cmp.mismatches([r1, r2]) == []


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
    assert "('B' − 'A' = +0.0994; higher is better)" in yes
    shifted = noisy.assign(**{"ndcg@10": noisy["ndcg@10"] - noisy["ndcg@10"].mean() + base["ndcg@10"].mean() + 1e-3})
    no = cmp.significance_verdict(compare_runs(base, shifted, "ndcg@10"), "ndcg@10", "A", "B")
    assert "NOT significant at 0.05" in no
    errs = pd.DataFrame({"user": np.arange(400), "rmse": rng.random(400) + 1})
    lower = errs.assign(rmse=errs["rmse"] - 0.2)  # lower rmse is better: B wins
    assert "'B' is better than 'A'" in cmp.significance_verdict(compare_runs(errs, lower, "rmse"), "rmse", "A", "B")


def test_significance_verdict_states_the_difference_as_winner_minus_loser():
    # QA #16: "'qa popularity' does better than 'qa itemknn' on ndcg@10 (difference -0.0193 …)"
    rng = np.random.default_rng(2)
    itemknn = pd.DataFrame({"user": np.arange(300), "ndcg@10": rng.random(300)})
    popularity = itemknn.assign(**{"ndcg@10": itemknn["ndcg@10"] + 0.05 + rng.normal(0, 0.01, 300)})
    res = compare_runs(popularity, itemknn, "ndcg@10")  # the test is of B − A = itemknn − popularity < 0
    assert res.mean_diff < 0
    text = cmp.significance_verdict(res, "ndcg@10", "qa popularity", "qa itemknn")
    assert text.startswith("'qa popularity' is better than 'qa itemknn' on ndcg@10")
    assert f"'qa popularity' − 'qa itemknn' = +{-res.mean_diff:.4f}" in text and "higher is better" in text
    assert f"mean {res.mean_a:.4f} vs {res.mean_b:.4f}" in text
    ci = f"CI of 'qa popularity' − 'qa itemknn': [{-res.ci_high:+.4f}, {-res.ci_low:+.4f}]"
    assert ci in text and "-0.0" not in text
    # errors: the winner has the lower rmse, so winner − loser is negative, and the sentence says why
    errs = pd.DataFrame({"user": np.arange(300), "rmse": rng.random(300) + 1})
    worse = errs.assign(rmse=errs["rmse"] + 0.2 + rng.normal(0, 0.01, 300))
    res = compare_runs(errs, worse, "rmse")
    text = cmp.significance_verdict(res, "rmse", "A", "B")
    assert text.startswith("'A' is better than 'B'") and "lower is better" in text
    assert f"'A' − 'B' = {-res.mean_diff:+.4f}" in text and -res.mean_diff < 0


def test_describe_protocol_and_helpers():
    assert cmp.split_metric("ndcg@10") == ("ndcg", 10) and cmp.split_metric("rmse") == ("rmse", None)
    assert cmp.lower_is_better("avg_popularity@10") and not cmp.lower_is_better("coverage@10")
    text = cmp.describe_protocol(protocol(relevance_threshold=4.0))
    assert "full ranking" in text and "K 5, 10" in text and "aaaa1111" in text and "rating ≥ 4.0" in text
    assert "no validation" in text and "test 20%" in text
    assert "not evaluated" in cmp.describe_protocol(None)
    assert cmp.evaluation_kind({"metrics": {"rmse": 1.0}}) == "rating"
    assert cmp.run_table([]).empty


def test_metric_help_defines_result_columns_from_the_registry():
    from recsys_core.runs.compare import metric_help

    assert "Higher is better" in metric_help("ndcg@10") and "(top-10 lists)" in metric_help("ndcg@10")
    assert "Lower is better" in metric_help("rmse")
    assert metric_help("coverage@10") and metric_help("gini@10")  # result names shorter than the registry's
    assert metric_help("n_users").startswith("Test users evaluated")
    assert metric_help("no_such_metric") is None and metric_help(None) is None


def test_cleaning_recorded_before_an_option_existed_compares_equal_to_its_default():
    old = {"duplicates": "last", "implicit_threshold": None, "min_user_interactions": 0,
           "min_item_interactions": 0, "normalisation": "none"}  # fmt: skip
    new = {**old, "pseudonymise_users": False}

    def described(pre: dict) -> dict:
        return {**protocol(), "split": {**SPLIT, "preprocess": pre}}

    before, after = run("a", {"ndcg@10": 0.1}, proto=described(old)), run("b", {"ndcg@10": 0.2}, proto=described(new))
    assert len(cmp.protocol_groups([before, after])) == 1
    private = run("c", {"ndcg@10": 0.3}, proto=described({**new, "pseudonymise_users": True}))
    assert len(cmp.protocol_groups([before, private])) == 2
