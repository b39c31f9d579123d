"""Ingest benchmark: RecLab's read + validate + encode against a bare pandas read of the same file.

    python bench/ingest.py [--rows 5000000] [--repeat 3] [--out bench/README.md | --no-write]

Generates a CSV ``user,item,rating,timestamp`` of ``--rows`` rows (from the synthetic generator) and its
Parquet twin in a temporary folder, then runs each case ``--repeat`` times, every run in a *fresh*
subprocess, so its peak memory is its own: the resident high-water mark during the case minus what the
interpreter and the same imports already use (on Linux the kernel's mark is reset after the imports, see
``_reset_peak``; elsewhere ``ru_maxrss`` after the imports is the baseline). Cases:

1. ``pandas.read_csv(path)``: bare, untyped (the baseline);
2. RecLab CSV ingest: ``load_interactions(path)`` + ``Interactions.from_frame(frame)``;
3. RecLab Parquet ingest: the same from the Parquet file;
4. ``pandas.read_parquet(path)``;
5. RecLab's ingest step by step (read / detect columns / validate / encode), CSV and Parquet, to show
   where the time and memory go;
6. the same CSV with its rows in random order, bare and through RecLab (an export not grouped by user),
   each against the bare read of that file.

The runs go in rounds (every case once per round), so a busy spell on the machine hits all cases alike.
Wall time is the best of the runs (with that run's CPU time), peak memory the smallest. Goals (from the
issue): RecLab ingest ≤ 1.5× the baseline's time and ≤ 0.8× its peak memory. The tables are written into
``--out`` between ``<!-- ingest:start -->`` and ``<!-- ingest:end -->``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _readme import write_section  # bench/ is on sys.path when a script here runs

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- ingest:start -->", "<!-- ingest:end -->"
TIME_GOAL, MEMORY_GOAL = 1.5, 0.8
CASES = {
    "pandas_csv": "pandas.read_csv(path), untyped (baseline)",
    "reclab_csv": "RecLab CSV: load_interactions + Interactions.from_frame",
    "reclab_parquet": "RecLab Parquet: load_interactions + Interactions.from_frame",
    "pandas_parquet": "pandas.read_parquet(path)",
    "pandas_csv_shuffled": "pandas.read_csv(path), untyped, rows in random order",
    "reclab_csv_shuffled": "RecLab CSV, rows in random order",
}


# --------------------------------------------------------------------------------------------- child side
def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> float:
    """Start peak tracking now; return the baseline (MB).

    On Linux the kernel's high-water mark is reset (``/proc/self/clear_refs``) and the baseline is the
    current RSS. Elsewhere the baseline is ``ru_maxrss`` so far (the interpreter + imports).
    Note: ``ru_maxrss`` alone would be wrong for a subprocess: Linux carries the parent's high-water mark
    over ``exec`` when the child is spawned with vfork, as ``subprocess`` does.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        rss = _proc_status_mb("VmRSS")
        if rss is not None and _proc_status_mb("VmHWM") is not None:
            return rss
    except OSError:
        pass
    return _max_rss_mb()


def _peak_mb() -> float:
    """The peak RSS (MB) since :func:`_reset_peak` (absolute; subtract the baseline)."""
    hwm = _proc_status_mb("VmHWM")
    return hwm if hwm is not None else _max_rss_mb()


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(case: str, path: str) -> dict[str, Any]:
    """Run one case in this (fresh) process; return wall seconds, peak MB above the import baseline."""
    import gc

    import numpy  # noqa: F401  (same imports in every case, so the baseline is comparable)
    import pandas as pd
    import pyarrow.parquet  # noqa: F401

    sys.path.insert(0, str(REPO))
    from recsys_core.data.columns import detect_columns
    from recsys_core.data.interactions import Interactions
    from recsys_core.data.load import load_interactions
    from recsys_core.data.readers import read_table
    from recsys_core.data.validate import to_canonical

    gc.collect()
    base = _reset_peak()
    steps: dict[str, float] = {}
    peaks: dict[str, float] = {}
    t0, c0 = time.perf_counter(), _cpu_s()
    if case in ("pandas_csv", "pandas_csv_shuffled"):
        result = pd.read_csv(path)
        n = len(result)
    elif case == "pandas_parquet":
        result = pd.read_parquet(path)
        n = len(result)
    elif case in ("reclab_csv", "reclab_parquet", "reclab_csv_shuffled"):
        loaded = load_interactions(path)
        data = Interactions.from_frame(loaded.frame)
        n = data.n_interactions
    elif case in ("steps_csv", "steps_parquet"):
        t = time.perf_counter()

        def done(step: str) -> None:
            nonlocal t
            steps[step], peaks[step], t = time.perf_counter() - t, _peak_mb() - base, time.perf_counter()

        df, info = read_table(path)
        done("read")
        detection = detect_columns(df, file=info.source)
        done("detect columns")
        frame, _ = to_canonical(df, detection.mapping, file=info.source)
        del df
        done("validate")
        data = Interactions.from_frame(frame)
        done("encode")
        n = data.n_interactions
    else:
        raise SystemExit(f"unknown case {case}")
    return {
        "case": case,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": _cpu_s() - c0,
        "peak_mb": _peak_mb() - base,
        "base_mb": base,
        "rows": n,
        "steps": steps,
        "step_peaks_mb": peaks,
    }


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -------------------------------------------------------------------------------------------- parent side
def _make_files(rows: int, folder: Path) -> tuple[Path, Path, float]:
    """Write ``ratings.csv`` and ``ratings.parquet`` with ``rows`` synthetic rows; return paths, seconds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO))
    from recsys_core.data.synthetic import generate_synthetic

    t = time.perf_counter()
    n_users = max(20, rows // 50)
    n_items = max(100, min(5_000, rows // n_users * 40))  # 2,000 items for 5M rows
    data = generate_synthetic(n_users=n_users, n_items=n_items, n_interactions=rows, seed=1)
    gen_s = time.perf_counter() - t
    table = pa.Table.from_pandas(data.interactions, preserve_index=False)
    csv_path, parquet_path = folder / "ratings.csv", folder / "ratings.parquet"
    pacsv.write_csv(table, csv_path, write_options=pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, parquet_path)
    # the same rows in random order (an export that is not grouped by user): the duplicate check and the id
    # encoding cannot use runs of one user's rows there
    order = np.random.default_rng(0).permutation(table.num_rows)
    pacsv.write_csv(table.take(order), _shuffled(csv_path), write_options=pacsv.WriteOptions(quoting_style="none"))
    return csv_path, parquet_path, gen_s


def _shuffled(csv_path: Path) -> Path:
    return csv_path.with_name("ratings_shuffled.csv")


def _run_case(case: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", case, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best wall time (and that run's CPU time), smallest peak; for step runs the fastest time per step."""
    best = min(runs, key=lambda r: r["wall_s"])
    steps = {step: min(r["steps"][step] for r in runs) for step in best["steps"]}
    return {**best, "peak_mb": min(r["peak_mb"] for r in runs), "steps": steps, "repeat": len(runs)}


def _machine() -> str:
    import numpy
    import pandas
    import pyarrow

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, pandas {pandas.__version__}, "
        f"numpy {numpy.__version__}, pyarrow {pyarrow.__version__}; load average before the runs: {load}"
    )


def _table(results: dict[str, dict[str, Any]], rows: int, csv_mb: float, pq_mb: float, machine: str) -> str:
    base = results["pandas_csv"]
    bt, bm = base["wall_s"], max(base["peak_mb"], 1.0)
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine}.",
        f"Input: {rows:,} rows `user,item,rating,timestamp` (CSV {csv_mb:.0f} MB, Parquet {pq_mb:.0f} MB). "
        "Each run in a fresh process; best wall time (with that run's CPU time, all threads) and smallest "
        f"peak memory (above the interpreter + imports) of {base['repeat']} runs.",
        "",
        "| case | wall time | × baseline | CPU time | peak memory | × baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case, label in CASES.items():
        r = results[case]
        own = results["pandas_csv_shuffled"] if case.endswith("shuffled") else base  # its own file's bare read
        ot, om = own["wall_s"], max(own["peak_mb"], 1.0)
        lines.append(
            f"| {label} | {r['wall_s']:.2f} s | {r['wall_s'] / ot:.2f} | {r['cpu_s']:.2f} s | "
            f"{r['peak_mb']:.0f} MB | {r['peak_mb'] / om:.2f} |"
        )
    lines += ["", "Goals (whole ingest = read + validate + encode, against the bare untyped CSV read):"]
    for case in ("reclab_csv", "reclab_parquet", "reclab_csv_shuffled"):
        r = results[case]
        # rows in random order are measured against the bare read of that same file
        own = results["pandas_csv_shuffled"] if case.endswith("shuffled") else base
        bt, bm = own["wall_s"], max(own["peak_mb"], 1.0)
        t_ratio, m_ratio = r["wall_s"] / bt, r["peak_mb"] / bm
        against = " (against the bare read of that file)" if own is not base else ""
        lines.append(
            f"- {CASES[case].split(':')[0]}{against}: time {t_ratio:.2f}× (goal ≤ {TIME_GOAL}×: "
            f"{'met' if t_ratio <= TIME_GOAL else '**NOT met**'}), peak memory {m_ratio:.2f}× (goal ≤ "
            f"{MEMORY_GOAL}×: {'met' if m_ratio <= MEMORY_GOAL else '**NOT met**'})."
        )
    for case in ("steps_csv", "steps_parquet"):
        r = results.get(case)
        if not r:
            continue
        total = sum(r["steps"].values())
        lines += [
            "",
            f"RecLab's {case.split('_')[1].upper()} ingest step by step (fastest of {r['repeat']} runs per step; "
            "memory: the running peak after the step, one run):",
            "",
            "| step | time | share | peak memory so far |",
            "|---|---:|---:|---:|",
        ]
        for step, secs in r["steps"].items():
            lines.append(f"| {step} | {secs:.2f} s | {secs / total:.0%} | {r['step_peaks_mb'][step]:.0f} MB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "README.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--make", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    if args.make:
        csv_path, parquet_path, gen_s = _make_files(args.rows, Path(args.make))
        print(json.dumps({"csv": str(csv_path), "parquet": str(parquet_path), "gen_s": gen_s}))
        return 0

    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="reclab-bench-") as tmp:
        # generated in a subprocess, so this driver stays small (its memory does not leak into the cases)
        made = json.loads(
            subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--make", tmp, "--rows", str(args.rows)],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        csv_path, parquet_path, gen_s = Path(made["csv"]), Path(made["parquet"]), float(made["gen_s"])
        csv_mb, pq_mb = csv_path.stat().st_size / 2**20, parquet_path.stat().st_size / 2**20
        print(f"generated {args.rows:,} rows in {gen_s:.1f} s; CSV {csv_mb:.0f} MB, Parquet {pq_mb:.0f} MB", flush=True)
        cases = (*CASES, "steps_csv", "steps_parquet")
        runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        # rounds of every case in turn (not all runs of one case, then the next), so a busy spell on the
        # machine hits every case alike
        for round_ in range(args.repeat):
            for case in cases:
                path = parquet_path if "parquet" in case else _shuffled(csv_path) if "shuffled" in case else csv_path
                runs[case].append(_run_case(case, path))
            print(f"round {round_ + 1}/{args.repeat} done", flush=True)
        results = {case: _best(case_runs) for case, case_runs in runs.items()}
        for case, r in results.items():
            print(f"{case:15s} {r['wall_s']:6.2f} s  cpu {r['cpu_s']:6.2f} s  {r['peak_mb']:6.0f} MB", flush=True)
            if r["steps"]:
                print("   ", {k: round(v, 2) for k, v in r["steps"].items()}, flush=True)
    table = _table(results, args.rows, csv_mb, pq_mb, machine)
    print(table)
    if not args.no_write:
        write_section(args.out, "ingest", "Ingest", table)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
