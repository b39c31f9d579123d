"""Background jobs with real worker processes (``python -m recsys_core.runs.worker``): every model family,
failures, cancel, SIGKILL, restart recovery, and the issue's "Done when" scenario in one test."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from recsys_core.runs import JobRunner, RunStore, files_ref
from recsys_core.runs import jobs as jobs_module

FAMILIES = {
    "popularity": {},
    "itemknn": {"k": 5},
    "ease": {"l2": 10.0},
    "ials": {"factors": 4, "iterations": 2},
    "bpr": {"factors": 4, "epochs": 2},
    "biased_mf": {"factors": 4, "epochs": 2},
    "mlp": {"factors": 4, "hidden": 8, "epochs": 2},
}
LONG = {"model": "bpr", "params": {"factors": 4, "batch_size": 64}, "epochs": 100_000, "device": "cpu"}


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> object:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def _epochs_done(store: RunStore, run_id: str, n: int) -> bool:
    return store.progress(run_id)["epoch"] >= n


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the PostgreSQL runs below cover the worker
def test_every_model_family_runs_through_the_worker(store: RunStore, split_files):
    runner = JobRunner(store, max_concurrent=3)
    ref = files_ref(split_files["train"], split_files["test"])
    ids = {m: runner.submit({"model": m, "params": p, "device": "cpu", "ks": [5]}, ref) for m, p in FAMILIES.items()}
    runs = runner.wait(list(ids.values()), timeout=120)
    assert {r["model"]: r["status"] for r in runs} == dict.fromkeys(FAMILIES, "finished"), [r["error"] for r in runs]
    for model, run_id in ids.items():
        run = store.get(run_id)
        assert run["history"] and run["last_epoch"] == len(run["history"]) == run["epochs_total"], model
        key = "rmse" if model == "biased_mf" else "ndcg@5"
        assert 0 <= run["metrics"][key] < 10, model
        assert run["device"] == "cpu" and run["versions"]["numpy"] and run["data_fingerprint"], model
        arts = run["artifacts"]
        assert {"model", "recommendations", "per_user", "log"} <= arts.keys(), model
        recs = pd.read_parquet(arts["recommendations"])
        assert list(recs.columns) == ["user", "item", "score", "rank"] and recs["rank"].max() == 5, model
        assert len(pd.read_parquet(arts["per_user"])) > 0
    wait_for(lambda: runner.poll()["started"] == [] and not runner.children())  # every worker reaped


def test_a_crash_is_recorded_as_failed_and_does_not_stop_the_queue(store: RunStore, split_files, tmp_path):
    implicit = tmp_path / "implicit.csv"
    pd.read_csv(split_files["train"])[["user", "item"]].to_csv(implicit, index=False)
    runner = JobRunner(store, max_concurrent=1)
    bad = runner.submit({"model": "biased_mf", "device": "cpu"}, files_ref(implicit, split_files["test"]))
    good = runner.submit({"model": "popularity", "device": "cpu"}, files_ref(split_files["train"], split_files["test"]))
    runner.wait([bad, good], timeout=60)
    run = store.get(bad)
    assert run["status"] == "failed" and "explicit ratings" in run["error"] and "last epoch reached: 0" in run["error"]
    assert store.get(good)["status"] == "finished"
    assert "Traceback" in Path(run["artifacts"]["log"]).read_text()


def test_cancel_stops_a_running_worker_within_a_second(store: RunStore, split_files):
    runner = JobRunner(store, max_concurrent=1)
    run_id = runner.submit(LONG, files_ref(split_files["train"], split_files["test"]))
    queued = runner.submit(LONG, files_ref(split_files["train"], split_files["test"]))
    runner.poll()
    assert store.progress(queued)["queue_position"] == 1
    wait_for(lambda: _epochs_done(store, run_id, 3))
    assert runner.cancel(queued) == "cancelled"  # a queued run never starts
    assert runner.cancel(run_id) == "running"
    runner.wait([run_id], timeout=20)
    run = store.get(run_id)
    assert run["status"] == "cancelled" and "cancelled by the user" in run["error"]
    assert len(run["history"]) >= 3 and run["last_epoch"] >= 3
    assert store.get(queued)["status"] == "cancelled" and store.get(queued)["started_at"] is None


def test_done_when_scenario_queue_watch_cancel_kill_restart(store: RunStore, split_files):
    """Queue three runs, watch progress, cancel one, SIGKILL another's worker, restart the app (a new
    JobRunner that never saw these processes), and find all three with the right status, history, metrics."""
    ref = files_ref(split_files["train"], split_files["test"])
    runner = JobRunner(store, max_concurrent=3)
    quick = runner.submit({"model": "bpr", "params": {"factors": 4, "epochs": 3}, "device": "cpu"}, ref, name="quick")
    to_cancel = runner.submit(LONG, ref, name="cancel me", tags=["scenario"])
    to_kill = runner.submit(LONG, ref, name="kill me", tags=["scenario"])
    assert [store.progress(r)["queue_position"] for r in (quick, to_cancel, to_kill)] == [1, 2, 3]
    runner.poll()

    def watching() -> bool:
        runner.poll()
        progress = {r: store.progress(r) for r in (quick, to_cancel, to_kill)}
        return progress[quick]["status"] == "finished" and all(
            p["epoch"] >= 2 and p["losses"] and p["n_epochs"] == 100_000 and p["eta"] > 0
            for r, p in progress.items()
            if r != quick
        )

    wait_for(watching, timeout=60)
    runner.cancel(to_cancel)
    pid = store.get(to_kill, with_history=False)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: store.get(to_cancel, with_history=False)["status"] == "cancelled", timeout=20)

    # "restart": forget every process handle, as a new app process would, then poll with a new runner
    jobs_module._CHILDREN.clear()
    restarted = JobRunner(RunStore(home=store.home), max_concurrent=3)
    wait_for(lambda: restarted.poll()["interrupted"] or store.get(to_kill, with_history=False)["status"] != "running")

    runs = {r["name"]: r for r in restarted.store.list()}
    assert {n: r["status"] for n, r in runs.items()} == {
        "quick": "finished",
        "cancel me": "cancelled",
        "kill me": "interrupted",
    }
    assert f"worker process {pid}" in runs["kill me"]["error"] and "last epoch reached" in runs["kill me"]["error"]
    histories = restarted.store.histories([quick, to_cancel, to_kill])
    assert [h["epoch"] for h in histories[quick]] == [1, 2, 3]
    assert len(histories[to_cancel]) >= 2 and len(histories[to_kill]) >= 2
    assert all("loss" in h["losses"] for hs in histories.values() for h in hs)
    assert runs["quick"]["metrics"]["ndcg@10"] >= 0 and runs["cancel me"]["metrics"] is None
    assert {r["id"] for r in restarted.store.list(tag="scenario")} == {to_cancel, to_kill}
