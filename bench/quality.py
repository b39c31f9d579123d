"""Quality of every model on the fixed reference splits, beside the peers' numbers (same protocol).

Reads ../shared/data/splits/<dataset>/ (never committed: MovieLens licences forbid redistribution); skips a
dataset that is absent. Top-N task: every interaction counts (ratings dropped, so the data is implicit),
full ranking over all items with each user's training items excluded, ties by lower item id, @10. Rating
task: RMSE/MAE on the global random 80/20 rating split. ``lastfm-2k`` (HetRec 2011 Last.fm, listening counts)
has no reference split: its (user, artist) pairs, as implicit data, are split here per user 80/20 at random
(seed 42, the data layer's ``user_random``), top-N task only; it is the check that settings tuned on
MovieLens carry over to another domain. Writes a table into bench/README.md.

    python bench/quality.py [--datasets ml-100k ml-latest-small lastfm-2k] [--out bench/README.md]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _readme import write_section  # bench/ is on sys.path when a script here runs

from recsys_core.data.load import load_interactions
from recsys_core.data.schema import SplitConfig
from recsys_core.experiment import ExperimentSpec, prepare_from_frame, prepare_from_parts, run_experiment

SPLITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "splits"
LASTFM = SPLITS.parent / "hetrec2011-lastfm-2k" / "user_artists.dat"

# (label, model, params, task). "tuned" rows record the settings found by tuning on ml-100k.
RUNS = [
    ("popularity", "popularity", {}, "topn"),
    ("itemknn (defaults)", "itemknn", {}, "topn"),
    ("itemknn tuned: bm25, k=400, b=0.5", "itemknn", {"weighting": "bm25", "k": 400, "bm25_b": 0.5}, "topn"),
    ("ease (l2=500)", "ease", {"l2": 500.0}, "topn"),
    ("ials (defaults: alpha=5, reg=40, found by tuning)", "ials", {}, "topn"),
    ("ials before tuning: alpha=1, reg=0.01", "ials", {"alpha": 1.0, "reg": 0.01}, "topn"),
    ("bpr (defaults: lr=0.005, factors=128, found by tuning)", "bpr", {}, "topn"),
    ("bpr before tuning: lr=0.01, factors=64", "bpr", {"lr": 0.01, "factors": 64}, "topn"),
    ("mlp (defaults, BCE on implicit)", "mlp", {}, "topn"),
    ("biased_mf (defaults)", "biased_mf", {}, "rating"),
    ("mlp (defaults, MSE on ratings)", "mlp", {}, "rating"),
]

# Peer and reference numbers on the same splits and protocol (../shared/data/README.md).
PEERS_ML100K = [
    ("reference MostPopular", "0.1881", "0.1120", "0.2142", "0.1129", "0.7582", "0.0279", ""),
    ("reference EASE l2=500", "0.3670", "0.2362", "0.4381", "0.2985", "0.9364", "0.1849", ""),
    ("implicit ALS (64 f, 15 it)", "", "", "0.3488", "", "", "", ""),
    ("implicit BPR", "", "", "0.2797", "", "", "", ""),
    ("implicit item-item cosine K=20", "", "", "0.3564", "", "", "", ""),
    ("LightFM WARP", "", "", "0.3624", "", "", "", ""),
    ("Surprise SVD (defaults)", "", "", "", "", "", "", "0.9389"),
    ("Surprise SVD++", "", "", "", "", "", "", "0.9218"),
    ("LensKit BiasedMF", "", "", "", "", "", "", "0.9184"),
]


def load(path: Path, *, implicit: bool) -> pd.DataFrame:
    frame = load_interactions(path).frame
    return frame.drop(columns=["rating"]) if implicit and "rating" in frame.columns else frame


def available(name: str) -> bool:
    return LASTFM.is_file() if name == "lastfm-2k" else (SPLITS / name).is_dir()


def prepared(name: str) -> tuple[Any, Any]:
    """(top-N data, rating data or None) of one dataset."""
    if name == "lastfm-2k":
        plays = pd.read_csv(LASTFM, sep="\t")
        pairs = pd.DataFrame({"user": plays["userID"].astype("int64"), "item": plays["artistID"].astype("int64")})
        return prepare_from_frame(pairs, split_config=SplitConfig("user_random", test_fraction=0.2, seed=42)), None
    folder = SPLITS / name
    topn = prepare_from_parts(
        load(folder / "topn_train.csv", implicit=True), load(folder / "topn_test.csv", implicit=True)
    )
    rating = prepare_from_parts(
        load(folder / "rating_train.csv", implicit=False), load(folder / "rating_test.csv", implicit=False)
    )
    return topn, rating


def run_dataset(name: str) -> list[dict]:
    topn, rating = prepared(name)
    rows = []
    for label, model, params, task in RUNS:
        data = topn if task == "topn" else rating
        if data is None:
            continue
        start = time.perf_counter()
        res = run_experiment(ExperimentSpec(model=model, params=params, device="cpu", seed=42), data)
        losses = [r.losses.get("loss") for r in res.fit.history if "loss" in r.losses]
        falls = all(b < a for a, b in itertools.pairwise(losses)) if len(losses) > 1 else None
        m = res.metrics
        rows.append(
            {
                "dataset": name,
                "model": label,
                "task": task,
                "precision@10": m.get("precision@10"),
                "recall@10": m.get("recall@10"),
                "ndcg@10": m.get("ndcg@10"),
                "map@10": m.get("map@10"),
                "hit_rate@10": m.get("hit_rate@10"),
                "coverage@10": m.get("coverage@10"),
                "rmse": m.get("rmse"),
                "mae": m.get("mae"),
                "fit_s": res.fit.fit_seconds,
                "epochs": len(res.fit.history),
                "loss_falls_every_epoch": falls,
            }
        )
        print(f"{name} {label}: ndcg@10={m.get('ndcg@10')} rmse={m.get('rmse')} "
              f"fit {res.fit.fit_seconds:.2f}s total {time.perf_counter() - start:.1f}s")  # fmt: skip
    return rows


def fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def table(rows: list[dict]) -> str:
    cols = ["model", "precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10", "coverage@10", "rmse", "mae"]
    lines = [
        "| " + " | ".join([*cols, "fit s", "epochs", "loss falls every epoch"]) + " |",
        "|" + "---|" * (len(cols) + 3),
    ]
    for r in rows:
        cells = [fmt(r[c]) for c in cols] + [f"{r['fit_s']:.2f}", str(r["epochs"]), fmt(r["loss_falls_every_epoch"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    import torch  # after recsys_core, whose OMP_WAIT_POLICY must be set before torch loads OpenMP

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-latest-small", "lastfm-2k"])
    ap.add_argument("--out", default=str(Path(__file__).with_name("README.md")))
    args = ap.parse_args()
    parts = [
        f"Measured {date.today()} with `python bench/quality.py` on {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}, seed 42. Top-N rows: implicit data (every "
        "rating is an interaction), full ranking over all items, training items excluded, ties by lower item "
        "id, averaged over users with a test item. Rating rows: RMSE/MAE on the global random 80/20 split. "
        "lastfm-2k: (user, artist) pairs split per user 80/20 at random (seed 42), top-N rows only.",
    ]
    for name in args.datasets:
        if not available(name):
            print(f"skipping {name}: its files under {SPLITS.parent} are absent")
            continue
        parts += [f"\n### {name}\n", table(run_dataset(name))]
        if name == "ml-100k":
            header = "peer / reference | precision@10 | recall@10 | ndcg@10 | map@10 | hit_rate@10 | coverage@10 | rmse"
            peers = [f"| {header} |", "|---|---|---|---|---|---|---|---|"]
            peers += ["| " + " | ".join(p) + " |" for p in PEERS_ML100K]
            parts += ["\nPeers on the same split and protocol (from `../shared/data/README.md`):\n", "\n".join(peers)]
    write_section(Path(args.out), "quality", "Model quality", "\n".join(parts))


if __name__ == "__main__":
    main()
