"""Every model's GPU path against the CPU of the same machine: fit time, evaluation time, quality, GPU memory.

    python bench/gpu.py [--sizes ml1m ml10m] [--devices cpu cuda] [--json OUT.json]   # on a machine with CUDA
    python bench/gpu.py --from-json bench/out/gpu.json                          # write the README table

Data: a synthetic ML-1M-shaped log made by :func:`recsys_core.data.synthetic.generate_synthetic` (6,040 users ×
3,706 items, 1,000,000 ratings, seeded; ``--size small`` is a 1,000 × 500 × 30,000 smoke size), split per user
80/20 with the data layer's ``user_random`` split. Ranking models train on the interactions (implicit) and are
scored with full-ranking NDCG@10 (training items excluded); ``biased_mf`` and ``mlp`` with MSE train on the
ratings and are scored by RMSE. Each model runs through :func:`recsys_core.experiment.run_experiment` — the same
call as the CLI and the dashboard's jobs — on each device: ``cpu`` (every core, torch's default threads),
``cuda`` in fp32, and ``cuda`` with bf16 autocast for the models whose scoring uses it. Epoch counts are cut
for the slow iterative models (``EPOCHS`` below) so that the CPU rows finish in minutes; the per-epoch column
makes them comparable to any epoch count.

Timing: ``fit_seconds`` (training only, as in every run record) and the evaluation's wall time. Before the
timed runs, each model fits once on a tiny slice on each device (not timed), so CUDA context creation, kernel
loading and lazy imports are left out. GPU memory: ``torch.cuda.max_memory_allocated`` over fit + evaluation.

Writes the section between ``<!-- gpu:start -->`` / ``<!-- gpu:end -->`` in bench/README.md (with
``--from-json``, or directly when run with ``--write``) and the raw numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _readme import write_section  # noqa: E402 - bench/ is on sys.path when a script here runs

EPOCHS = {"bpr": 20, "mlp": 5}  # cut from the defaults (100 and 20) to keep the CPU rows short
SIZES = {"ml1m": (6040, 3706, 1_000_000), "ml10m": (69_878, 10_677, 10_000_000), "small": (1000, 500, 30_000)}
# Sizes at which only the GPU runs (the CPU rows would take tens of minutes) and the MLP is left out.
GPU_ONLY = {"ml10m"}
# (label, model, params, data kind); data kind "implicit" drops the ratings.
JOBS: list[tuple[str, str, dict[str, Any], str]] = [
    ("popularity", "popularity", {}, "implicit"),
    ("itemknn", "itemknn", {}, "implicit"),
    ("ease", "ease", {}, "implicit"),
    ("ials", "ials", {}, "implicit"),
    ("bpr", "bpr", {"epochs": EPOCHS["bpr"]}, "implicit"),
    ("mlp (BCE, implicit)", "mlp", {"epochs": EPOCHS["mlp"]}, "implicit"),
    ("biased_mf", "biased_mf", {}, "ratings"),
    ("mlp (MSE, ratings)", "mlp", {"epochs": EPOCHS["mlp"]}, "ratings"),
]
NO_BF16 = {"popularity", "itemknn"}  # nothing of theirs runs in bf16: counting and sparse products


def _data(size: str) -> dict[str, Any]:
    from recsys_core.data.schema import SplitConfig
    from recsys_core.data.synthetic import generate_synthetic
    from recsys_core.experiment import prepare_from_frame

    n_users, n_items, n = SIZES[size]
    frame = generate_synthetic(n_users, n_items, n, seed=42).interactions
    split = SplitConfig(method="user_random", test_fraction=0.2, seed=42)
    return {
        "ratings": prepare_from_frame(frame, split_config=split),
        "implicit": prepare_from_frame(frame.drop(columns=["rating"]), split_config=split),
        "shape": (n_users, n_items, n),
    }


def _tiny(data: Any) -> Any:
    """A small slice of a prepared dataset for the untimed warm-up fit."""
    from dataclasses import replace

    from recsys_core.data.interactions import Interactions

    frame = data.train.to_frame()
    small = Interactions.from_frame(frame[frame["user"].isin(frame["user"].unique()[:50])])
    test = data.test.to_frame()
    return replace(data, train=small, test=Interactions.from_frame(test[test["user"].isin(small.users.ids)]))


def _env(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),  # noqa: UP017 - runs on 3.10 too
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "sizes": {size: SIZES[size] for size in args.sizes},
    }


def _one(name: str, params: dict[str, Any], dev: str, precision: str, prepared: Any, kind: str) -> dict[str, Any]:
    """Fit + evaluate one model on one device through run_experiment; returns the measured row."""
    import torch

    from recsys_core.experiment import ExperimentSpec, run_experiment

    row: dict[str, Any] = {}
    warm = {**params, **({"epochs": 1} if name in EPOCHS else {})}
    run_experiment(ExperimentSpec(model=name, params=warm, device=dev, precision=precision), _tiny(prepared))
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    res = run_experiment(ExperimentSpec(model=name, params=params, device=dev, precision=precision), prepared)
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
        row["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    epochs = max(1, len(res.fit.history))
    metric = "rmse" if kind == "ratings" and "rmse" in res.metrics else "ndcg@10"
    row.update(
        fit_s=res.fit.fit_seconds,
        epochs=epochs,
        s_per_epoch=res.fit.fit_seconds / epochs,
        eval_s=res.eval_seconds,
        metric=metric,
        value=float(res.metrics[metric]),
    )
    return row


def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Every job on every device and size; the results file is rewritten after each row, so a run cut short
    (a time limit on a lent machine) still leaves every finished row behind."""
    results: dict[str, Any] = {"env": _env(args), "rows": []}
    for size in args.sizes:
        t0 = time.perf_counter()
        data = _data(size)
        results["env"].setdefault("data_seconds", {})[size] = time.perf_counter() - t0
        variants = []
        for dev in args.devices:
            if dev == "cpu" and size in GPU_ONLY:
                continue
            variants.append((dev, "fp32"))
            if dev.startswith("cuda"):
                variants.append((dev, "bf16"))
        for label, name, params, kind in JOBS:
            if size in GPU_ONLY and name == "mlp":
                continue
            for dev, precision in variants:
                if precision == "bf16" and name in NO_BF16:
                    continue
                row: dict[str, Any] = {"size": size, "label": label, "model": name, "device": dev}
                row["precision"] = precision
                try:
                    row.update(_one(name, params, dev, precision, data[kind], kind))
                except Exception as exc:  # a failing variant is a result to report, not a crash
                    row["error"] = f"{type(exc).__name__}: {exc}"
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
                path.write_text(json.dumps(results, indent=1))
        del data
    return results


def render(results: dict[str, Any]) -> str:
    env, rows = results["env"], results["rows"]
    sizes = " ".join(env["sizes"])
    lines = [
        f"Measured {env['date']} UTC with `python bench/gpu.py --sizes {sizes}` on a lent machine: "
        f"{env['gpu'] or 'no GPU'} and {env['cpus']} CPU cores (torch uses {env['cpu_threads']} threads), "
        f"Python {env['python']}, torch {env['torch']} (CUDA {env['cuda']}). That machine's own image supplied "
        "torch, numpy and pandas, so its versions differ from requirements.txt.",
        "",
        "Data: synthetic logs from `generate_synthetic` (seed 42), 80/20 per-user random split. Ranking rows: "
        "NDCG@10, full ranking, training items excluded. Rating rows: RMSE on the test ratings. Epochs cut for the "
        f"iterative models: {', '.join(f'{k} {v}' for k, v in EPOCHS.items())}. Speed-up = CPU fit time / this "
        "row's fit time, same machine and run. Fit time is training only; eval is the full-ranking evaluation of "
        "every test user.",
    ]
    for size, (n_users, n_items, n) in env["sizes"].items():
        lines += [
            "",
            f"### {size}: {n_users:,} users × {n_items:,} items × {n:,} ratings"
            + (" (GPU only; no MLP)" if size in GPU_ONLY else ""),
            "",
            "| model | device | precision | fit s | epochs | s / epoch | speed-up vs CPU | eval s | quality | "
            "GPU peak MB |",
            "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        here = [r for r in rows if r["size"] == size]
        cpu_fit = {r["label"]: r.get("fit_s") for r in here if r["device"] == "cpu"}
        for r in here:
            if "error" in r:
                lines.append(f"| {r['label']} | {r['device']} | {r['precision']} | failed: {r['error'][:120]} |||||||")
                continue
            base = cpu_fit.get(r["label"])
            speedup = f"{base / r['fit_s']:.1f}×" if base and r["fit_s"] > 0 and r["device"] != "cpu" else ""
            mem = f"{r['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in r else ""
            lines.append(
                f"| {r['label']} | {r['device']} | {r['precision']} | {r['fit_s']:.3f} | {r['epochs']} | "
                f"{r['s_per_epoch']:.4f} | {speedup} | {r['eval_s']:.3f} | {r['metric']} {r['value']:.4f} | {mem} |"
            )
    return "\n".join(lines)


def main() -> None:
    import recsys_core  # noqa: F401 - first: its OMP_WAIT_POLICY must be set before torch loads OpenMP

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["ml1m"])
    ap.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    ap.add_argument("--json", help="where to write the raw results (default bench/out/gpu.json)")
    ap.add_argument("--from-json", help="render a results file made earlier (elsewhere) into bench/README.md")
    ap.add_argument("--write", action="store_true", help="also write the table into bench/README.md")
    ap.add_argument("--out", default=str(Path(__file__).with_name("README.md")))
    args = ap.parse_args()
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        write_section(Path(args.out), "gpu", "GPU", render(results))
        print(render(results))
        return
    path = Path(args.json) if args.json else ROOT / "bench" / "out" / "gpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    results = run(args, path)
    print(render(results))
    if args.write:
        write_section(Path(args.out), "gpu", "GPU", render(results))


if __name__ == "__main__":
    main()
