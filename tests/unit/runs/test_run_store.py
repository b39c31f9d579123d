"""The run store on its own (no worker processes): round-trips, filters, history, progress, export, delete,
concurrent writers and recovery of runs whose process is gone. Tests that take the ``store`` fixture run on
SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time

import pytest

from recsys_core.errors import ConfigError
from recsys_core.runs import JobRunner, RunStore, files_ref, rerun_command
from recsys_core.runs.store import jsonable, new_run_id
from recsys_core.training import EpochRecord


def _finished_result(metrics: dict) -> dict:
    return {
        "model": "bpr",
        "params": {"factors": 8, "epochs": 3},
        "device": "cpu",
        "metrics": metrics,
        "history": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}],
        "protocol": {"ks": [10], "data_fingerprint": "f" * 64, "split": {"kind": "files"}},
        "fit_seconds": 1.5,
        "best_epoch": 2,
    }


def test_round_trip_filters_and_edits(store: RunStore, split_files):
    ref = files_ref(split_files["train"], split_files["test"])
    a = store.create(model="bpr", params={"factors": 8}, data_ref=ref, dataset_name="ml", tags=["b", "a", "a"])
    b = store.create(model="ease", params={"l2": 10.0}, data_ref=ref, dataset_name="other", name="  mine ")
    assert store.get(a)["tags"] == ["a", "b"] and store.get(b)["name"] == "mine"
    assert store.get(a)["name"] == f"bpr {a}" and store.get(a)["status"] == "queued"
    assert [r["id"] for r in store.list()] == [b, a]  # newest first
    assert [r["id"] for r in store.list(model="bpr")] == [a]
    assert [r["id"] for r in store.list(dataset="other")] == [b]
    assert [r["id"] for r in store.list(tag="a")] == [a] and store.list(tag="c") == []
    assert store.list(tag="%") == [] and store.list(tag='"') == []  # LIKE wildcards and quotes are escaped

    store.mark_started(a, device="cpu", device_name="CPU", epochs_total=3)
    for epoch in (1, 2, 3):
        store.append_epoch(a, EpochRecord(epoch, {"loss": 1.0 / epoch}, {"ndcg@10": 0.1 * epoch}, 0.5, 0.6 * epoch))
    store.finish(a, _finished_result({"ndcg@10": 0.31, "recall@10": float("nan")}))
    store.rename(a, "renamed")
    assert store.tag(a, add=["z"], remove=["b"]) == ["a", "z"]
    store.set_notes(a, "tried smaller factors")

    run = store.get(a)
    assert run["status"] == "finished" and run["name"] == "renamed" and run["notes"] == "tried smaller factors"
    assert run["metrics"] == {"ndcg@10": 0.31, "recall@10": None}  # NaN stored as null (valid JSON)
    assert [h["epoch"] for h in run["history"]] == [1, 2, 3]
    assert run["history"][1] == {"epoch": 2, "losses": {"loss": 0.5}, "val": {"ndcg@10": 0.2}, "seconds": 0.5,
                                 "elapsed": 1.2}  # fmt: skip
    assert run["last_epoch"] == 3 and run["protocol"]["data_fingerprint"] == "f" * 64
    assert run["result"]["best_epoch"] == 2 and run["versions"]["python"] and run["versions"]["torch"]
    assert [r["id"] for r in store.list(status="finished")] == [a]
    assert [r["id"] for r in store.list(status=["queued", "finished"])] == [b, a]
    with pytest.raises(ConfigError, match="No run"):
        store.get("nope")
    with pytest.raises(ConfigError):
        store.rename(a, "   ")


def test_histories_of_many_runs_in_one_read(store: RunStore):
    ids = [store.create(model="bpr") for _ in range(20)]
    for i, run_id in enumerate(ids):
        for epoch in range(1, 31):
            store.append_epoch(run_id, {"epoch": epoch, "losses": {"loss": i + 1 / epoch}, "seconds": 0.1})
    curves = store.histories(ids)
    assert list(curves) == ids and all(len(c) == 30 for c in curves.values())
    assert curves[ids[3]][0]["losses"]["loss"] == pytest.approx(4.0)
    store.append_epoch(ids[0], {"epoch": 30, "losses": {"loss": -1.0}})  # re-recorded epoch replaces
    assert store.history(ids[0])[-1]["losses"] == {"loss": -1.0} and len(store.history(ids[0])) == 30


def test_progress_eta_and_queue_position(store: RunStore):
    first, second = store.create(model="bpr", epochs_total=10), store.create(model="bpr", epochs_total=10)
    assert store.progress(first)["queue_position"] == 1 and store.progress(second)["queue_position"] == 2
    assert store.queue() == [first, second]
    store.mark_started(first)
    store.append_epoch(first, {"epoch": 1, "losses": {"loss": 0.9}, "elapsed": 2.0})
    store.append_epoch(first, {"epoch": 2, "losses": {"loss": 0.7}, "elapsed": 4.0})
    p = store.progress(first)
    assert p["status"] == "running" and p["epoch"] == 2 and p["n_epochs"] == 10 and p["queue_position"] is None
    assert p["eta"] == pytest.approx(16.0) and p["losses"] == {"loss": 0.7} and p["elapsed"] >= 0
    assert store.progress(second)["queue_position"] == 1


def test_cancel_a_queued_run_and_flag_a_running_one(store: RunStore):
    queued, running = store.create(model="ease"), store.create(model="bpr")
    store.mark_started(running)
    assert store.request_cancel(queued) == "cancelled" and store.get(queued)["finished_at"] is not None
    assert store.request_cancel(running) == "running" and store.cancel_requested(running)
    assert store.heartbeat(running) is True


def test_export_writes_a_config_that_reruns_and_a_metrics_csv(store: RunStore, split_files, tmp_path):
    from recsys_core.cli.runs import register

    ref = files_ref(split_files["train"], split_files["test"])
    spec = {"model": "bpr", "params": {"factors": 8}, "seed": 7, "ks": [5, 10], "epochs": 3, "device": "cpu"}
    run_id = store.create(model="bpr", spec=spec, params=spec["params"], data_ref=ref, tags=["x"])
    store.append_epoch(run_id, {"epoch": 1, "losses": {"loss": 0.5}, "val": {"ndcg@10": 0.2}})
    store.finish(run_id, {"metrics": {"ndcg@10": 0.25}})
    paths = store.export(run_id, tmp_path / "export")
    config = json.loads(paths["config"].read_text())
    assert config["spec"] == spec and config["data"] == ref and config["tags"] == ["x"]
    rows = list(csv.DictReader(paths["metrics"].open()))
    assert rows[0]["row"] == "epoch" and float(rows[0]["loss.loss"]) == 0.5 and float(rows[0]["val.ndcg@10"]) == 0.2
    assert rows[-1]["row"] == "final" and float(rows[-1]["ndcg@10"]) == 0.25

    # the exported command parses with the CLI and describes the same experiment
    import argparse

    from recsys_core.cli.runs import data_ref_from_args, spec_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(config["command"])
    again = spec_from_args(args).to_dict()
    assert {k: again[k] for k in spec if k != "params"} == {k: v for k, v in spec.items() if k != "params"}
    assert again["params"] == {"factors": "8"}  # KEY=VALUE text, validated into numbers by the model
    assert data_ref_from_args(args) == ref and args.tag == ["x"]
    assert rerun_command(store.get(run_id)) == config["command"]


def test_delete_removes_the_run_its_history_and_its_files(store: RunStore):
    keep, gone = store.create(model="ease"), store.create(model="ease")
    for run_id in (keep, gone):
        store.mark_started(run_id)
        store.append_epoch(run_id, {"epoch": 1, "losses": {"loss": 1.0}})
        (store.run_dir(run_id) / "model").mkdir()
        (store.run_dir(run_id) / "model" / "model.json").write_text("{}")
        store.add_artifact(run_id, "model", store.run_dir(run_id) / "model")
    with pytest.raises(ConfigError, match="Cancel it first"):
        store.delete(gone)
    store.finish(gone, {"metrics": {}})
    assert store.artifacts(gone)["model"].is_dir()
    store.delete(gone)
    assert not (store.runs_dir / gone).exists() and not store.exists(gone)
    assert store.histories([gone]) == {gone: []} and store.artifacts(gone) == {}
    assert (store.runs_dir / keep / "model" / "model.json").exists() and len(store.history(keep)) == 1


_WRITER = """
import sys
from recsys_core.runs.store import RunStore
store = RunStore()
run_id = sys.argv[1]
for epoch in range(1, 151):
    store.append_epoch(run_id, {"epoch": epoch, "losses": {"loss": 1.0 / epoch}})
    if epoch % 10 == 0:
        store.heartbeat(run_id)
store.finish(run_id, {"metrics": {"ndcg@10": 0.5}})
"""


def test_two_processes_write_at_once(store: RunStore, reclab_home, backend):
    ids = [store.create(model="bpr", status="running") for _ in range(2)]
    env = {**os.environ, "RECLAB_HOME": str(reclab_home), "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, run_id], env=env, stderr=subprocess.PIPE) for run_id in ids
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    curves = store.histories(ids)
    assert all([h["epoch"] for h in c] == list(range(1, 151)) for c in curves.values())
    assert all(store.get(r, with_history=False)["status"] == "finished" for r in ids)
    assert store.engine.dialect.name == backend  # the writers used RECLAB_DB (PostgreSQL) or the SQLite file
    if backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_restart_marks_runs_whose_process_is_gone_as_interrupted(store: RunStore):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = store.create(model="bpr", epochs_total=5)
    store.mark_started(orphan, pid=dead.pid)  # this host, a pid that no longer exists
    store.append_epoch(orphan, {"epoch": 1, "losses": {"loss": 0.9}})
    stale = store.create(model="bpr")
    store.mark_started(stale, pid=os.getpid(), host="another-host")
    from recsys_core.runs.store import runs_table

    with store.engine.begin() as conn:
        conn.execute(runs_table.update().where(runs_table.c.id == stale).values(heartbeat_at=time.time() - 600))
    alive = store.create(model="bpr")
    store.mark_started(alive)  # this very process: alive

    report = JobRunner(store, max_concurrent=1).poll()  # a fresh runner, as after an app restart
    assert sorted(report["interrupted"]) == sorted([orphan, stale])
    run = store.get(orphan)
    assert run["status"] == "interrupted" and "is gone" in run["error"] and "last epoch reached: 1 of 5" in run["error"]
    assert len(run["history"]) == 1  # history kept
    assert store.get(stale)["status"] == "interrupted" and "no heartbeat" in store.get(stale)["error"]
    assert store.get(alive)["status"] == "running"


def test_submit_validates_before_queueing(store: RunStore, split_files):
    runner = JobRunner(store, max_concurrent=1)
    ref = files_ref(split_files["train"], split_files["test"])
    with pytest.raises(ConfigError, match="Unknown model"):
        runner.submit({"model": "nope"}, ref)
    with pytest.raises(ConfigError, match="hyperparameter"):
        runner.submit({"model": "bpr", "params": {"factorz": 3}}, ref)
    with pytest.raises(ConfigError, match="No file"):
        files_ref(split_files["train"], split_files["train"].with_name("missing.csv"))
    with pytest.raises(ConfigError, match="No saved dataset"):
        runner.submit({"model": "bpr"}, {"kind": "dataset", "name": "absent"})
    assert store.list() == []
    run_id = runner.submit({"model": "bpr", "params": {"epochs": 4}}, ref, name="n", tags=["t"])
    run = store.get(run_id)
    assert run["epochs_total"] == 4 and run["dataset_name"] == "train.csv" and run["spec"]["params"] == {"epochs": 4}


def test_small_helpers():
    assert jsonable({"a": math.inf, "b": [1, float("nan")], 3: True}) == {"a": None, "b": [1, None], "3": True}
    ids = [new_run_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 23 for i in ids)


def test_values_sqlite_would_take_silently_are_checked_the_same_on_both_backends(store: RunStore):
    """SQLite ignores VARCHAR lengths and integer widths and stores NUL characters; PostgreSQL rejects all
    three. The store checks them itself, so a run is accepted (or refused, with the field named) alike."""
    with pytest.raises(ConfigError, match="1-200 characters; this one has 201") as err:
        store.create(model="bpr", name="n" * 201)
    assert err.value.field == "name"
    run_id = store.create(model="bpr", name="n" * 200, dataset_name="d" * 240 + ".csv", seed=2**32 - 1)
    run = store.get(run_id)
    assert run["name"] == "n" * 200 and run["seed"] == 2**32 - 1
    assert run["dataset_name"] == "d" * 199 + "…"  # a long file name is cut to fit, not a failed run
    assert [r["id"] for r in store.list(dataset="d" * 240 + ".csv")] == [run_id]
    with pytest.raises(ConfigError, match="seed must be between") as err:
        store.create(model="bpr", seed=2**63)
    assert err.value.field == "seed"
    with pytest.raises(ConfigError, match="at most 200") as err:
        store.set_fields(run_id, device_name="ok", name="x" * 300)
    assert err.value.field == "name"
    with pytest.raises(ConfigError, match="at most 32") as err:
        store.add_artifact(run_id, "k" * 33, "file.txt")
    assert err.value.field == "kind"

    # NUL characters (e.g. from a data file's junk quoted in an error message) are replaced, not fatal
    store.set_notes(run_id, "before\x00after")
    store.fail(run_id, "bad value 'a\x00b' in column item")
    run = store.get(run_id)
    assert run["notes"] == "before\ufffdafter" and run["error"] == "bad value 'a\ufffdb' in column item"
    assert run["status"] == "failed"
    # non-finite epoch times: SQLite stores NaN as NULL (refused: NOT NULL), PostgreSQL as NaN; both get 0.0
    store.append_epoch(run_id, {"epoch": 1, "losses": {"loss": float("inf")}, "seconds": math.nan, "elapsed": 1.5})
    assert store.history(run_id) == [{"epoch": 1, "losses": {"loss": None}, "val": {}, "seconds": 0.0, "elapsed": 1.5}]


def test_json_columns_timestamps_and_flags_round_trip_exactly(store: RunStore):
    import numpy as np

    protocol = {
        "text": 'ü ☃ \u2028 "quoted" back\\slash',
        "nul": "a\x00b",  # fine inside JSON (escaped as \u0000)
        "nested": {"list": [1, 2.5, None, True, False, "x"], "empty": {}, "deep": [[[]]]},
        "big": 2**53 + 1,
        "float": 0.1 + 0.2,
        "tiny": 5e-324,
        "numpy": np.float32(0.5),
        "ints": np.arange(3),
    }
    before = time.time()
    run_id = store.create(model="bpr", params={"lr": np.float64(1e-3), "factors": np.int64(8)}, protocol=protocol)
    run = store.get(run_id)
    assert run["protocol"] == {**protocol, "numpy": 0.5, "ints": [0, 1, 2]}
    assert run["params"] == {"lr": 1e-3, "factors": 8} and type(run["params"]["factors"]) is int
    assert before <= run["created_at"] <= time.time()  # double precision: sub-millisecond timestamps survive
    assert run["created_at"] == store.list()[0]["created_at"] and run["created_at"] % 1 != 0
    assert run["cancel_requested"] is False and run["started_at"] is None and run["metrics"] is None
    store.mark_started(run_id)
    assert store.request_cancel(run_id) == "running"
    row = store.list(status="running")[0]
    assert row["cancel_requested"] is True and row["started_at"] >= row["created_at"]

    # tags: the text match behind the tag filter sees JSON escapes the same way on both backends
    tagged = store.create(model="ease", tags=["ü", "a\\b", "50%", "x_y", "Case", 'q"'])
    assert [r["id"] for r in store.list(tag="ü")] == [tagged] and [r["id"] for r in store.list(tag="a\\b")] == [tagged]
    assert [r["id"] for r in store.list(tag="50%")] == [tagged] and store.list(tag="50") == []
    assert [r["id"] for r in store.list(tag="Case")] == [tagged] and store.list(tag="case") == []  # case-sensitive
    assert store.list(tag="x%y") == [] and store.list(tag="xay") == [] and len(store.list(tag='q"')) == 1


def test_concurrent_tag_edits_are_not_lost(store: RunStore):
    """Read-modify-write of a run's tag list from several threads at once: every added tag survives."""
    import threading

    run_id = store.create(model="bpr", tags=["base"])
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def add(tag: str) -> None:
        start.wait()
        try:
            for i in range(5):
                store.tag(run_id, add=[f"{tag}-{i}"])
        except BaseException as err:  # reported below: an exception in a thread would be lost otherwise
            failures.append(err)

    threads = [threading.Thread(target=add, args=(f"t{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert store.get(run_id)["tags"] == sorted(["base", *(f"t{n}-{i}" for n in range(6) for i in range(5))])
    assert store.tag(run_id, remove=["base"])[0] == "t0-0"


def test_a_bad_database_url_is_a_clear_config_error(monkeypatch, tmp_path):
    from recsys_core.cli import main

    monkeypatch.setenv("RECLAB_DB", "not a url")
    with pytest.raises(ConfigError, match=r"'not a url' \(RECLAB_DB\) is not a database URL.*postgresql\+psycopg://"):
        RunStore()
    monkeypatch.setenv("RECLAB_DB", "postgres://me:secret@db.example/reclab")  # Heroku-style spelling
    with pytest.raises(ConfigError, match="unknown database kind 'postgres'") as err:
        RunStore()
    assert err.value.field == "RECLAB_DB" and "secret" not in str(err.value) and "me:***@" in str(err.value)
    missing = tmp_path / "no such folder" / "reclab.db"
    with pytest.raises(ConfigError, match=r"Could not connect to the run database.*unable to open database file"):
        RunStore(f"sqlite:///{missing}")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on a machine without the driver
    monkeypatch.setenv("RECLAB_DB", "postgresql+psycopg://me:secret@db.example/reclab")
    with pytest.raises(ConfigError, match=r"needs the Python package 'psycopg'.*pip install \"psycopg\[binary\]\""):
        RunStore()

    # the command line shows it as one line, no traceback
    monkeypatch.setenv("RECLAB_DB", "not a url")
    assert main(["runs", "list"]) == 2
