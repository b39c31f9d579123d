"""The command line, run in-process through ``recsys_core.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main


def run(capsys, *argv: str) -> tuple[int, dict | list | None, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    payload = json.loads(captured.out) if "--json" in argv and captured.out.strip() else None
    return code, payload, captured.err


def write_split(tmp_path, n_users: int = 60, n_items: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=12, replace=False)
        rows += [(u, int(i), float(rng.integers(1, 6)), 1_600_000_000 + 100 * k) for k, i in enumerate(items)]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    test_mask = frame.groupby("user").cumcount() >= 9
    paths = {name: tmp_path / f"{name}.csv" for name in ("all", "train", "test")}
    frame.to_csv(paths["all"], index=False)
    frame[~test_mask].to_csv(paths["train"], index=False)
    frame[test_mask].to_csv(paths["test"], index=False)
    return paths


def test_train_prints_the_documented_json(tmp_path, capsys):
    p = write_split(tmp_path)
    recs = tmp_path / "recs.csv"
    code, out, _ = run(
        capsys, "train", "--train", str(p["train"]), "--test", str(p["test"]), "--model", "ease",
        "--param", "l2=50", "--k", "5", "10", "--json", "--save-recs", str(recs),
    )  # fmt: skip
    assert code == 0
    assert {"model", "params", "device", "metrics", "history", "fit_seconds", "n_users", "n_items"} <= out.keys()
    assert out["model"] == "ease" and out["params"] == {"l2": 50.0} and out["device"] == "cpu"
    assert {"ndcg@10", "precision@5", "recall@10", "map@10", "mrr@10", "hit_rate@10", "coverage@10"} <= out[
        "metrics"
    ].keys()
    assert out["n_users"] == 60 and out["history"][0]["epoch"] == 1
    saved = pd.read_csv(recs)
    assert list(saved.columns) == ["user", "item", "score", "rank"] and saved.groupby("user").size().max() == 10


def test_rating_models_report_rmse_and_mae(tmp_path, capsys):
    p = write_split(tmp_path)
    code, out, _ = run(
        capsys, "train", "--train", str(p["train"]), "--test", str(p["test"]), "--model", "biased_mf",
        "--param", "epochs=3", "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    assert {"rmse", "mae"} <= out["metrics"].keys()
    assert len(out["history"]) == 3


def test_train_from_one_file_with_split_options_and_validation(tmp_path, capsys):
    p = write_split(tmp_path)
    code, out, _ = run(
        capsys, "train", "--data", str(p["all"]), "--split", "user_temporal", "--leave-last", "2", "--val-last", "1",
        "--model", "ials", "--param", "iterations=4", "--early-stopping", "ndcg@10", "--patience", "2", "--json",
    )  # fmt: skip
    assert code == 0
    assert out["protocol"]["split"]["split"]["method"] == "user_temporal"
    assert all("ndcg@10" in epoch["val"] for epoch in out["history"])


def test_bad_hyperparameter_exits_2_naming_the_field(tmp_path, capsys):
    p = write_split(tmp_path)
    code, _, err = run(capsys, "train", "--train", str(p["train"]), "--test", str(p["test"]), "--model", "ials",
                       "--param", "factors=0")  # fmt: skip
    assert code == 2
    assert "factors" in err and "[1," in err


def test_models_lists_every_model_with_its_schema(capsys):
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    by_name = {m["name"]: m for m in out}
    assert {"popularity", "itemknn", "ease", "ials", "bpr", "biased_mf", "mlp"} <= by_name.keys()
    l2 = next(p for p in by_name["ease"]["params"] if p["name"] == "l2")
    assert l2["default"] == 500.0 and l2["log"] is True and l2["help"]


def test_evaluate_reports_metrics_and_removes_seen_items(tmp_path, capsys):
    truth = pd.DataFrame({"user": [1, 1, 2, 2], "item": [10, 11, 12, 13]})
    train = pd.DataFrame({"user": [1, 2, 3], "item": [12, 10, 10]})
    recs = pd.DataFrame({"user": [1, 1, 1, 2, 2], "item": [12, 10, 13, 12, 11], "score": [9, 8, 7, 9, 8]})
    for name, frame in (("truth", truth), ("train", train), ("recs", recs)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    code, out, _ = run(capsys, "evaluate", "-r", str(tmp_path / "recs.csv"), "-t", str(tmp_path / "truth.csv"),
                       "--train", str(tmp_path / "train.csv"), "--k", "1", "2", "--json")  # fmt: skip
    assert code == 0
    # user 1: 12 was seen in training → list becomes [10, 13]: hit at rank 1; user 2: [12 (hit), 11]
    assert out["precision@1"] == pytest.approx(1.0)
    assert out["hit_rate@2"] == pytest.approx(1.0)
    assert out["n_users"] == 2
    assert any("removed 1" in note for note in out["notes"])


def test_evaluate_predictions_gives_rmse_and_mae(tmp_path, capsys):
    pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [4.0, 2.0, 5.0]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "prediction": [3.0, 2.0, 5.0]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    code, out, _ = run(capsys, "evaluate", "-p", str(tmp_path / "p.csv"), "-t", str(tmp_path / "t.csv"), "--json")
    assert code == 0
    assert out["rmse"] == pytest.approx(np.sqrt(1 / 3)) and out["mae"] == pytest.approx(1 / 3)


def test_evaluate_with_a_bad_file_exits_2_with_a_located_message(tmp_path, capsys):
    pd.DataFrame({"user": [1, 2], "item": [1, 2]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"user": [1, 2], "item": [1, 2], "score": [1.0, "high"]}).to_csv(tmp_path / "r.csv", index=False)
    code, _, err = run(capsys, "evaluate", "-r", str(tmp_path / "r.csv"), "-t", str(tmp_path / "t.csv"))
    assert code == 2
    assert "score" in err and "row 2" in err


@pytest.mark.shared_data
def test_evaluate_reproduces_the_reference_table_on_ml100k(shared_data, tmp_path, capsys):
    """MostPopular and EASE(λ=500) lists computed here in plain numpy; the CLI must give the published numbers."""
    split = shared_data / "splits" / "ml-100k"
    train = pd.read_csv(split / "topn_train.csv")
    test = pd.read_csv(split / "topn_test.csv")
    users = np.sort(pd.concat([train.user, test.user]).unique())
    items = np.sort(pd.concat([train.item, test.item]).unique())
    u = np.searchsorted(users, train.user)
    i = np.searchsorted(items, train.item)
    x = np.zeros((len(users), len(items)))
    x[u, i] = 1.0
    g = x.T @ x + 500.0 * np.eye(len(items))
    p = np.linalg.inv(g)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    tables = {"pop": np.tile(x.sum(0), (len(users), 1)), "ease": x @ b}
    expected = {
        "pop": {"precision@10": 0.1881, "recall@10": 0.1120, "ndcg@10": 0.2142, "map@10": 0.1129,
                "hit_rate@10": 0.7582, "coverage@10": 0.0279},
        "ease": {"precision@10": 0.3670, "recall@10": 0.2362, "ndcg@10": 0.4381, "map@10": 0.2985,
                 "hit_rate@10": 0.9364, "coverage@10": 0.1849},
    }  # fmt: skip
    for name, scores in tables.items():
        scores = np.where(x > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]  # ties → lower item id
        recs = pd.DataFrame(
            {"user": np.repeat(users, 10), "item": items[top.ravel()], "rank": np.tile(np.arange(1, 11), len(users))}
        )
        recs.to_csv(tmp_path / f"{name}.csv", index=False)
        code, out, _ = run(capsys, "evaluate", "-r", str(tmp_path / f"{name}.csv"), "-t", str(split / "topn_test.csv"),
                           "--train", str(split / "topn_train.csv"), "--json")  # fmt: skip
        assert code == 0
        for key, value in expected[name].items():
            assert round(out[key], 4) == pytest.approx(value, abs=1e-9), (name, key, out[key])


def test_models_prints_ranges_as_people_write_them(capsys):
    # QA round 2: "[64, 1.04858e+06]"
    from recsys_core.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "[64, 1,048,576]" in out and "[0.01, 1,000,000]" in out and "e+06" not in out
