"""Fit time of RecLab's models against their peers, measured in the same run on the same data.

    python bench/speed.py [--repeats 3] [--datasets ml-100k ml-latest-small synth-ml1m] [--threads 1 0]

Peers: ``implicit`` 0.7.3 (ALS, BPR, item-item cosine), ``scikit-surprise`` (SVD) and a plain numpy EASE
(``G = XᵀX + λI``, ``np.linalg.inv``, ``B = -P / diag(P)``), run in their own venv ``bench/.venv-peers``, which
this script creates once (never the project's requirements). RecLab's models run in the project's
interpreter (``sys.executable``). Each side runs in a fresh worker process per round, reading the same encoded
arrays; the order of the two sides alternates between rounds so that a busy spell on a shared machine hits
both alike. Threads are pinned equally: ``--threads 1`` sets OMP/MKL/OpenBLAS to one thread,
``torch.set_num_threads(1)`` and implicit's ``num_threads=1``; ``--threads 0`` leaves every library at its
default (all cores). Both workers get ``OMP_WAIT_POLICY=PASSIVE`` (what ``recsys_core`` sets on import).
RecLab's side runs as :func:`recsys_core.training.fit` runs it for every user: SGD epochs (and small iALS
problems) on one thread whatever the setting, and glibc's allocator tuned by ``fit`` (``RECLAB_TUNE_MALLOC``).

Timing: wall (``time.perf_counter``) and CPU time of the whole process (``time.process_time``, all threads)
around the fit call alone: ``recsys_core.training.fit(model, train)`` for ours (prepare + every epoch, which is
also what ``FitResult.fit_seconds`` counts), ``model.fit(...)`` / ``algo.fit(trainset)`` for the peers, the
Gram matrix plus the inverse for numpy EASE. Each worker first fits every job once on a small slice of the
data (not timed) so that one-time costs (lazy imports, thread pools) are left out of both sides. The table
gives the median of ``--repeats`` rounds; a job whose first run exceeds ``--slow-s`` seconds runs only once.

Data: ``../shared/data/splits/<name>/topn_train.csv`` (every rating is an interaction: implicit data) and
``rating_train.csv`` (explicit ratings); a dataset whose folder is absent is skipped with a message.
``synth-ml1m`` is an ML-1M-shaped problem generated here with numpy (6,040 users × 3,706 items, 1.25M pairs
drawn, ≈0.82M distinct after de-duplication, seeded), used for training only. Quality side by side (ml-100k,
single-threaded round): NDCG@10
on ``topn_test.csv`` (full ranking, training items excluded, RecLab's evaluator for both sides) and RMSE on
``rating_test.csv`` (all test pairs, each library's own fallback for pairs unseen in training).

Writes the section between ``<!-- speed:start -->`` / ``<!-- speed:end -->`` in bench/README.md and the raw
numbers to bench/out/speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from _readme import write_section  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ROOT / ".." / "shared" / "data" / "splits"
PEERS_VENV = ROOT / "bench" / ".venv-peers"
# What installs here (Python 3.11, numpy 2.4): both have wheels or build against numpy 2.
PEER_PACKAGES = ["implicit==0.7.3", "scikit-surprise==1.1.5"]
SYNTH = "synth-ml1m"

# Shared hyperparameters of each comparison. ALS: implicit weighs an observed entry by alpha·r and ours by
# 1 + alpha·r, so on 0/1 data ours at alpha=1 equals implicit at alpha=2 (confidence 2, unobserved weight 1).
EASE_L2 = 500.0
ALS = {"factors": 64, "iterations": 15, "reg": 0.01, "alpha": 1.0, "solver": "cg", "cg_steps": 3}
BPR = {"factors": 64, "lr": 0.01, "reg": 0.01}
SURPRISE_MF = {"factors": 100, "epochs": 20, "lr": 0.005, "reg": 0.02}  # Surprise SVD's defaults
KNN_K = 20  # implicit's K counts the item itself: ours k = K - 1


def bpr_epochs(dataset: str) -> int:
    """Epochs for both BPR implementations: 100 (the quality setting) on the real sets, 10 at ML-1M shape."""
    return 10 if dataset == SYNTH else 100


# (comparison, our job, peer job, goal on the wall-time ratio ours/peer, per-epoch divisor or None)
COMPARISONS: list[tuple[str, str, str, float | None]] = [
    ("ease", "ours_ease", "numpy_ease", 0.8),
    ("ials", "ours_ials", "implicit_als", 1.0),
    ("bpr (per epoch)", "ours_bpr", "implicit_bpr", 2.0),
    ("biased_mf at its defaults", "ours_mf_default", "surprise_svd", 1.0),
    ("biased_mf at Surprise's settings", "ours_mf_surprise", "surprise_svd", 1.0),
    ("itemknn (cosine)", "ours_itemknn", "implicit_cosine", 2.0),
]
OUR_JOBS = ["ours_ease", "ours_ials", "ours_bpr", "ours_itemknn", "ours_mf_default", "ours_mf_surprise"]
PEER_JOBS = ["numpy_ease", "implicit_als", "implicit_bpr", "implicit_cosine", "surprise_svd"]
SETTINGS = {
    "ease": f"ours: ease l2={EASE_L2:g} (fp32 Cholesky) · peer: numpy fp64 `inv`, λ={EASE_L2:g}",
    "ials": "ours: ials 64 f, 15 it, reg 0.01, alpha 1 (conf. 1+1·r), CG 3 steps · peer: implicit ALS 64 f, "
    "15 it, reg 0.01, alpha 2 (conf. 2·r), CG",
    "bpr (per epoch)": "ours: bpr 64 f, lr 0.01 (Adam, batch 16384), reg 0.01 · peer: implicit BPR 64 f, "
    "lr 0.01 (SGD), reg 0.01; same epochs",
    "biased_mf at its defaults": "ours: biased_mf defaults (64 f, 20 ep, lr 0.02, reg 0.1, batch 4096) · "
    "peer: Surprise SVD defaults (100 f, 20 ep, lr 0.005, reg 0.02)",
    "biased_mf at Surprise's settings": "ours: biased_mf 100 f, 20 ep, lr 0.005, reg 0.02 (batch 4096) · "
    "peer: Surprise SVD defaults",
    "itemknn (cosine)": "ours: itemknn cosine k=19, shrinkage 0 · peer: implicit CosineRecommender K=20",
}


# ---------------------------------------------------------------------------------------------- data
def synth_ml1m(seed: int = 42) -> dict[str, np.ndarray]:
    """An ML-1M-shaped problem: 6,040 users × 3,706 items, ≈0.82M distinct (user, item) pairs, ratings 1-5.

    Users' activity is log-normal and items' popularity Zipf-like (both long-tailed like MovieLens); pairs are
    drawn independently from the two and de-duplicated. Ratings come from user and item offsets plus noise,
    rounded to 1..5. Returns int32 ``user``/``item`` indices and float32 ``rating``, sorted by user.
    """
    rng = np.random.default_rng(seed)
    n_users, n_items, target = 6040, 3706, 1_000_000
    activity = rng.lognormal(0.0, 1.0, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    u = rng.choice(n_users, size=int(target * 1.25), p=activity / activity.sum())
    i = rng.choice(n_items, size=len(u), p=popularity / popularity.sum())
    keys = np.unique(u.astype(np.int64) * n_items + i)
    keys = np.sort(rng.choice(keys, size=min(target, len(keys)), replace=False))
    user, item = (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)
    raw = 3.6 + rng.normal(0, 0.4, n_users)[user] + rng.normal(0, 0.5, n_items)[item] + rng.normal(0, 0.9, len(keys))
    rating = np.clip(np.rint(raw), 1, 5).astype(np.float32)
    return {"user": user, "item": item, "rating": rating}


def prepare_dataset(name: str, folder: Path) -> dict[str, Any]:
    """Encode one dataset into ``folder/<name>.npz`` (indices in one id space per task) and a ratings CSV for
    Surprise. Returns a description (sizes). Runs in the project's interpreter."""
    out: dict[str, np.ndarray] = {}
    if name == SYNTH:
        s = synth_ml1m()
        nu, ni = 6040, 3706
        out.update(topn_n=np.array([nu, ni]), topn_train_u=s["user"], topn_train_i=s["item"])
        out.update(rating_n=np.array([nu, ni]), rating_train_u=s["user"], rating_train_i=s["item"])
        out["rating_train_r"] = s["rating"]
    else:
        sys.path.insert(0, str(ROOT))
        from recsys_core.data.load import load_interactions
        from recsys_core.experiment import prepare_from_parts

        for task in ("topn", "rating"):
            frames = [load_interactions(SPLITS / name / f"{task}_{part}.csv").frame for part in ("train", "test")]
            if task == "topn":  # implicit data: every rating is an interaction
                frames = [f.drop(columns=["rating"]) for f in frames]
            data = prepare_from_parts(frames[0], frames[1])
            out[f"{task}_n"] = np.array([data.train.n_users, data.train.n_items])
            for part, inter in (("train", data.train), ("test", data.test)):
                out[f"{task}_{part}_u"] = np.asarray(inter.user_idx, dtype=np.int32)
                out[f"{task}_{part}_i"] = np.asarray(inter.item_idx, dtype=np.int32)
                if task == "rating":
                    out[f"{task}_{part}_r"] = np.asarray(inter.rating, dtype=np.float32)
    np.savez(folder / f"{name}.npz", **out)
    # Surprise reads ratings from a file; the raw ids are our indices, so both sides share one id space.
    tri = np.column_stack([out["rating_train_u"], out["rating_train_i"], out["rating_train_r"]])
    np.savetxt(folder / f"{name}.ratings.csv", tri, fmt=["%d", "%d", "%g"], delimiter=",")
    return {
        "topn": f"{out['topn_n'][0]:,} users × {out['topn_n'][1]:,} items, {len(out['topn_train_u']):,} train",
        "rating": f"{len(out['rating_train_u']):,} train ratings",
        "has_test": "topn_test_u" in out,
    }


def _csr(d: Any, task: str) -> sp.csr_matrix:
    nu, ni = (int(x) for x in d[f"{task}_n"])
    u, i = d[f"{task}_train_u"], d[f"{task}_train_i"]
    return sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(nu, ni))


# ---------------------------------------------------------------------------------------------- workers
def _timed(fn: Any) -> tuple[float, float, Any]:
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w, time.process_time() - c, result


def _our_interactions(d: Any, task: str, part: str, limit: int | None = None) -> Any:
    """RecLab's container for one part, in the dataset's id space (id = index); with ``limit``, only the first
    ``limit`` rows of the users and items below 200, in their own small id space (for the warm-up)."""
    import pandas as pd

    from recsys_core.data.interactions import IdIndex, Interactions

    cols = {"user": d[f"{task}_{part}_u"].astype(np.int64), "item": d[f"{task}_{part}_i"].astype(np.int64)}
    if task == "rating":
        cols["rating"] = d[f"{task}_{part}_r"].astype(np.float32)
    frame = pd.DataFrame(cols)
    if limit is not None:
        frame = frame[(frame["user"] < 200) & (frame["item"] < 200)].head(limit)
        return Interactions.from_frame(frame)
    nu, ni = (int(x) for x in d[f"{task}_n"])
    users, _ = IdIndex.from_values(np.arange(nu, dtype=np.int64))
    items, _ = IdIndex.from_values(np.arange(ni, dtype=np.int64))
    return Interactions.from_frame(frame, users=users, items=items)


def ours_worker(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit RecLab's models (jobs in ``spec``) once each; returns timings (and quality when asked)."""
    import torch

    if spec["threads"] == 1:
        torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from recsys_core.evaluation.protocol import evaluate
    from recsys_core.models import create
    from recsys_core.training import fit

    d = np.load(spec["npz"])
    epochs = bpr_epochs(spec["dataset"])
    params = {
        "ours_ease": ("ease", "topn", {"l2": EASE_L2}),
        "ours_ials": ("ials", "topn", ALS),
        "ours_bpr": ("bpr", "topn", {**BPR, "epochs": epochs}),
        "ours_itemknn": ("itemknn", "topn", {"k": KNN_K - 1, "shrinkage": 0.0, "weighting": "cosine"}),
        "ours_mf_default": ("biased_mf", "rating", {}),
        "ours_mf_surprise": ("biased_mf", "rating", SURPRISE_MF),
    }
    train = {t: _our_interactions(d, t, "train") for t in ("topn", "rating")}
    small = {t: _our_interactions(d, t, "train", limit=2000) for t in ("topn", "rating")}
    for job in spec["jobs"]:  # warm-up, not timed
        name, task, p = params[job]
        fit(create(name, device="cpu", seed=42, **{**p, **({"epochs": 1} if "epochs" in p else {})}), small[task])
    rows = []
    for job in spec["jobs"]:
        name, task, p = params[job]
        model = create(name, device="cpu", seed=42, **p)
        wall, cpu, res = _timed(lambda m=model, t=task: fit(m, train[t]))
        row = {"job": job, "wall": wall, "cpu": cpu, "fit_seconds": res.fit_seconds, "epochs": len(res.history)}
        if spec.get("quality") and f"{task}_test_u" in d.files:
            test = _our_interactions(d, task, "test")
            if task == "topn":
                row["ndcg@10"] = float(evaluate(model, train[task], test).metrics["ndcg@10"])
            else:
                pred = np.asarray(model.predict(test.user_idx, test.item_idx), dtype=np.float64)
                row["rmse"] = float(np.sqrt(np.mean((pred - test.rating.astype(np.float64)) ** 2)))
        rows.append(row)
    return rows


def numpy_ease(X: sp.csr_matrix, l2: float) -> np.ndarray:
    """Plain EASE (Steck 2019) with a general fp64 inverse: ``B = -P / diag(P)``, ``P = (XᵀX + λI)⁻¹``."""
    G = (X.T @ X).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += l2
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    B[np.diag_indices_from(B)] = 0.0
    return B


def peers_worker(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit the peers (jobs in ``spec``) once each, in the peers venv; saves quality artefacts when asked."""
    nt = 1 if spec["threads"] == 1 else 0
    d = np.load(spec["npz"])
    X = _csr(d, "topn")
    epochs = bpr_epochs(spec["dataset"])
    out = Path(spec["artefacts"])

    def make(job: str, Xs: sp.csr_matrix, ratings: str, n_epochs: int) -> Any:
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.nearest_neighbours import CosineRecommender

        if job == "numpy_ease":
            return lambda: numpy_ease(Xs, EASE_L2)
        if job == "implicit_als":
            m = AlternatingLeastSquares(
                factors=ALS["factors"], regularization=ALS["reg"], alpha=1.0 + ALS["alpha"],
                iterations=ALS["iterations"], use_cg=True, use_gpu=False, num_threads=nt, random_state=42,
            )  # fmt: skip
            return lambda: (m.fit(Xs, show_progress=False), m)[1]
        if job == "implicit_bpr":
            m = BayesianPersonalizedRanking(
                factors=BPR["factors"], learning_rate=BPR["lr"], regularization=BPR["reg"], iterations=n_epochs,
                use_gpu=False, num_threads=nt, random_state=42,
            )  # fmt: skip
            return lambda: (m.fit(Xs, show_progress=False), m)[1]
        if job == "implicit_cosine":
            m = CosineRecommender(K=KNN_K, num_threads=nt)
            return lambda: (m.fit(Xs, show_progress=False), m)[1]
        if job == "surprise_svd":
            from surprise import SVD, Dataset, Reader

            reader = Reader(line_format="user item rating", sep=",", rating_scale=(0.5, 5.0))
            trainset = Dataset.load_from_file(ratings, reader).build_full_trainset()  # not timed
            algo = SVD(random_state=42)  # defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02
            return lambda: (algo.fit(trainset), algo)[1]
        raise ValueError(job)

    # Warm-up on a slice (not timed): loads the extension modules and starts the thread pools.
    ratings = spec["ratings_csv"]
    small_csv = out / "warmup.ratings.csv"
    with open(ratings) as src, open(small_csv, "w") as dst:
        dst.writelines(line for _, line in zip(range(2000), src))
    small = X[:200, :200].tocsr()
    for job in spec["jobs"]:
        make(job, small, str(small_csv), 1)()
    rows = []
    for job in spec["jobs"]:
        wall, cpu, model = _timed(make(job, X, ratings, epochs))
        rows.append({"job": job, "wall": wall, "cpu": cpu, "epochs": epochs if job == "implicit_bpr" else None})
        if spec.get("quality"):
            if job == "numpy_ease":
                np.save(out / f"{job}.B.npy", model.astype(np.float32))
            elif job in ("implicit_als", "implicit_bpr"):
                np.save(out / f"{job}.U.npy", np.asarray(model.user_factors, dtype=np.float32))
                np.save(out / f"{job}.V.npy", np.asarray(model.item_factors, dtype=np.float32))
            elif job == "implicit_cosine":
                sp.save_npz(out / f"{job}.S.npz", model.similarity.tocsr())
            elif job == "surprise_svd" and "rating_test_u" in d.files:
                pred = [model.predict(str(u), str(i)).est for u, i in zip(d["rating_test_u"], d["rating_test_i"])]
                np.save(out / f"{job}.pred.npy", np.asarray(pred, dtype=np.float64))
    return rows


# ---------------------------------------------------------------------------------------------- driver
def ensure_peers_venv() -> Path:
    """Create ``bench/.venv-peers`` with the peer libraries once; returns its interpreter."""
    py = PEERS_VENV / "bin" / "python"
    check = [str(py), "-c", "import implicit, surprise, numpy, scipy"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"creating {PEERS_VENV} with {' '.join(PEER_PACKAGES)} (once) ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return py


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(var, None)
        if threads == 1:
            env[var] = "1"
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def run_worker(python: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [python, __file__, "--worker", json.dumps(spec)],
        env=thread_env(spec["threads"]),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec['side']} on {spec['dataset']} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peer_quality(name: str, folder: Path, artefacts: Path) -> dict[str, float]:
    """NDCG@10 / RMSE of the peers' saved models on the test part, through RecLab's evaluator."""
    import torch

    sys.path.insert(0, str(ROOT))
    from recsys_core.evaluation.protocol import evaluate

    d = np.load(folder / f"{name}.npz")
    train, test = _our_interactions(d, "topn", "train"), _our_interactions(d, "topn", "test")
    X = _csr(d, "topn")
    out: dict[str, float] = {}

    def score(fn: Any) -> float:
        return float(evaluate(lambda users: torch.from_numpy(np.asarray(fn(users), np.float32)), train, test)
                     .metrics["ndcg@10"])  # fmt: skip

    if (artefacts / "numpy_ease.B.npy").exists():
        B = np.load(artefacts / "numpy_ease.B.npy")
        out["numpy_ease"] = score(lambda u: X[u] @ B)
    for job in ("implicit_als", "implicit_bpr"):
        if (artefacts / f"{job}.U.npy").exists():
            U, V = np.load(artefacts / f"{job}.U.npy"), np.load(artefacts / f"{job}.V.npy")
            out[job] = score(lambda u, U=U, V=V: U[u] @ V.T)
    if (artefacts / "implicit_cosine.S.npz").exists():
        S = sp.load_npz(artefacts / "implicit_cosine.S.npz")
        out["implicit_cosine"] = score(lambda u: (X[u] @ S).toarray())
    if (artefacts / "surprise_svd.pred.npy").exists():
        pred = np.load(artefacts / "surprise_svd.pred.npy")
        out["surprise_svd"] = float(np.sqrt(np.mean((pred - d["rating_test_r"].astype(np.float64)) ** 2)))
    return out


def loadavg() -> str:
    try:
        return ", ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def measure(args: argparse.Namespace, peers_py: Path, folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"datasets": {}, "runs": [], "quality": {}}
    for name in args.datasets:
        if name != SYNTH and not (SPLITS / name).is_dir():
            print(f"skipping {name}: {(SPLITS / name).resolve()} is absent")
            continue
        t = time.perf_counter()
        results["datasets"][name] = prepare_dataset(name, folder)
        print(f"{name}: {results['datasets'][name]} (prepared in {time.perf_counter() - t:.1f}s)", flush=True)
        for threads in args.threads:
            first: dict[str, float] = {}
            for rnd in range(args.repeats):
                quality = name == "ml-100k" and threads == 1 and rnd == args.repeats - 1
                artefacts = folder / f"{name}-art"
                artefacts.mkdir(exist_ok=True)
                sides = [("ours", sys.executable, OUR_JOBS), ("peers", str(peers_py), PEER_JOBS)]
                for side, py, jobs in sides if rnd % 2 == 0 else sides[::-1]:
                    todo = [j for j in jobs if rnd == 0 or first.get(j, 0.0) <= args.slow_s]
                    if not todo:
                        continue
                    spec = {
                        "side": side, "dataset": name, "threads": threads, "jobs": todo, "quality": quality,
                        "npz": str(folder / f"{name}.npz"), "ratings_csv": str(folder / f"{name}.ratings.csv"),
                        "artefacts": str(artefacts),
                    }  # fmt: skip
                    for row in run_worker(py, spec):
                        first.setdefault(row["job"], row["wall"])
                        q = {k: row[k] for k in ("ndcg@10", "rmse") if k in row}
                        if q:
                            results["quality"].setdefault(name, {})[row["job"]] = next(iter(q.values()))
                        results["runs"].append({"dataset": name, "threads": threads, "round": rnd, **row})
                        print(f"  {name} threads={threads or 'default'} round {rnd + 1} {row['job']}: "
                              f"wall {row['wall']:.3f}s cpu {row['cpu']:.3f}s", flush=True)  # fmt: skip
                if quality:
                    results["quality"].setdefault(name, {}).update(peer_quality(name, folder, artefacts))
    return results


def summarise(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in results["datasets"]:
        for threads in sorted({r["threads"] for r in results["runs"] if r["dataset"] == name}, reverse=True):
            runs = [r for r in results["runs"] if r["dataset"] == name and r["threads"] == threads]

            def med(job: str, key: str, runs: list = runs) -> tuple[float, int]:
                vals = [r[key] for r in runs if r["job"] == job]
                return (statistics.median(vals), len(vals)) if vals else (float("nan"), 0)

            for label, ours, peer, goal in COMPARISONS:
                (ow, n_o), (oc, _) = med(ours, "wall"), med(ours, "cpu")
                (pw, n_p), (pc, _) = med(peer, "wall"), med(peer, "cpu")
                div = bpr_epochs(name) if ours == "ours_bpr" else 1
                rows.append({
                    "dataset": name, "threads": threads, "comparison": label, "ours_wall": ow / div,
                    "ours_cpu": oc / div, "peer_wall": pw / div, "peer_cpu": pc / div, "ratio_wall": ow / pw,
                    "ratio_cpu": oc / pc, "goal": goal, "n": min(n_o, n_p), "per_epoch": div > 1,
                })  # fmt: skip
    return rows


def render(results: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    import torch

    env = results["env"]
    lines = [
        f"Measured {env['start']} UTC with `python bench/speed.py --repeats {args.repeats} --datasets "
        f"{' '.join(args.datasets)} --threads {' '.join(map(str, args.threads))}` on {os.cpu_count()} CPUs "
        f"({env['cpu']}), Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}; "
        f"peers venv: {env['peers']}. Load average (1, 5, 15 min) at start: {env['load_start']}; at end: "
        f"{env['load_end']}. The machine was shared with other work, so wall times are upper bounds; CPU time "
        "(whole process, all threads) is steadier.",
        "",
        "Data: " + "; ".join(f"{k}: {v['topn']}, {v['rating']}" for k, v in results["datasets"].items()) + ".",
        "",
        "Fit time, median of the rounds (n = rounds timed; a job whose first fit took more than "
        f"{args.slow_s:g} s ran once). Ratio = ours / peer; the goal applies to the wall-time ratio. "
        "bpr rows are seconds per epoch "
        f"({bpr_epochs('ml-100k')} epochs on the real sets, {bpr_epochs(SYNTH)} on {SYNTH}). "
        "threads 1 = OMP/MKL/OpenBLAS/torch/implicit pinned to one thread; default = every library's default "
        "(RecLab's own default: the epochs of bpr and biased_mf, and iALS sweeps below 200k interactions, run on "
        "one thread; `fit` also sets glibc's allocator thresholds, see the README's Settings).",
        "",
        "| dataset | threads | comparison | ours wall s | ours CPU s | peer wall s | peer CPU s | ratio wall |"
        " ratio CPU | goal | met | n |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        met = "" if r["goal"] is None else ("yes" if r["ratio_wall"] <= r["goal"] else "NO")
        unit = "/ep" if r["per_epoch"] else ""
        lines.append(
            f"| {r['dataset']} | {r['threads'] or 'default'} | {r['comparison']} | {r['ours_wall']:.3f}{unit} | "
            f"{r['ours_cpu']:.3f} | {r['peer_wall']:.3f}{unit} | {r['peer_cpu']:.3f} | {r['ratio_wall']:.2f}× | "
            f"{r['ratio_cpu']:.2f}× | ≤ {r['goal']:g}× | {met} | {r['n']} |"
        )
    lines += ["", "Settings of each comparison:", ""]
    lines += [f"- **{k}**: {v}" for k, v in SETTINGS.items()]
    q = results["quality"].get("ml-100k")
    if q:
        pairs = [
            ("ease", "ours_ease", "numpy_ease", "NDCG@10"),
            ("ials / implicit ALS", "ours_ials", "implicit_als", "NDCG@10"),
            ("bpr / implicit BPR", "ours_bpr", "implicit_bpr", "NDCG@10"),
            ("itemknn / implicit cosine", "ours_itemknn", "implicit_cosine", "NDCG@10"),
            ("biased_mf defaults / Surprise SVD", "ours_mf_default", "surprise_svd", "RMSE"),
            ("biased_mf at Surprise's settings / Surprise SVD", "ours_mf_surprise", "surprise_svd", "RMSE"),
        ]
        lines += [
            "",
            "Quality of the same fits on ml-100k (single-threaded round; NDCG@10 on `topn_test.csv`, full "
            "ranking, training items excluded, RecLab's evaluator for both; RMSE over all `rating_test.csv` "
            "pairs, each library's own fallback for unseen users/items):",
            "",
            "| comparison | metric | ours | peer |",
            "|---|---|---:|---:|",
        ]
        for label, ours, peer, metric in pairs:
            o, p = q.get(ours), q.get(peer)
            if o is not None and p is not None:
                lines.append(f"| {label} | {metric} | {o:.4f} | {p:.4f} |")
    met = [r for r in rows if r["goal"] is not None]
    ls = [r for r in rows if r["dataset"] == "ml-latest-small" and r["comparison"] == "ease"]
    lines += ["", f"Goals met: {sum(r['ratio_wall'] <= r['goal'] for r in met)} of {len(met)} rows."]
    if ls:
        lines.append(
            "ease on ml-latest-small: "
            + ", ".join(f"{r['ours_wall']:.1f} s ({r['threads'] or 'default'} threads)" for r in ls)
            + " (goal ≤ 15 s)."
        )
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-latest-small", SYNTH])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 0], help="1 = single thread, 0 = defaults")
    ap.add_argument("--slow-s", type=float, default=60.0, help="jobs slower than this on round 1 run once")
    ap.add_argument("--out", default=str(Path(__file__).with_name("README.md")))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        rows = ours_worker(spec) if spec["side"] == "ours" else peers_worker(spec)
        print(json.dumps(rows))
        return
    if not SPLITS.is_dir():
        print(f"note: {SPLITS.resolve()} is absent; only {SYNTH} can run")
    peers_py = ensure_peers_venv()
    probe = (
        "import implicit, surprise, numpy; print(f'implicit {implicit.__version__}, "
        "scikit-surprise {surprise.__version__}, numpy {numpy.__version__}')"
    )
    versions = subprocess.run([str(peers_py), "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    env = {
        "start": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),  # noqa: UP017 - datetime.UTC is 3.11+; this runs on 3.10 too
        "load_start": loadavg(),
        "cpu": cpu_name(),
        "peers": versions,
    }
    with tempfile.TemporaryDirectory(prefix="reclab-speed-") as tmp:
        results = measure(args, peers_py, Path(tmp))
    env["load_end"] = loadavg()
    results["env"] = env
    if not results["datasets"]:
        print("no dataset available: nothing measured")
        return
    rows = summarise(results)
    text = render(results, rows, args)
    print(text)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "speed.json").write_text(json.dumps({**results, "summary": rows}, indent=1))
    write_section(Path(args.out), "speed", "Fit speed", text)


if __name__ == "__main__":
    main()
