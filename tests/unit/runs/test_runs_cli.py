"""The ``runs`` / ``worker`` commands, driven in-process through their own parser (the lead wires
``recsys_core.cli.runs.register`` into ``recsys_core.cli``), plus recording a ``train``-style run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from recsys_core.cli import build_parser
from recsys_core.cli import runs as runs_cmd
from recsys_core.runs import RunStore


def cli(capsys, *argv: str) -> tuple[int, object]:
    parser = argparse.ArgumentParser()
    runs_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code = int(args.func(args) or 0)
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--json" in argv else out)


def test_submit_wait_list_show_edit_export_delete(capsys, split_files, tmp_path, reclab_home):
    data = ["--train", str(split_files["train"]), "--test", str(split_files["test"]), "--device", "cpu"]
    code, sub = cli(capsys, "runs", "submit", *data, "--model", "ease", "--param", "l2=20", "--k", "5", "10",
                    "--name", "first", "--tag", "cli", "--wait", "--timeout", "60", "--json")  # fmt: skip
    assert code == 0 and sub["status"] == "finished" and sub["name"] == "first"
    run_id = sub["id"]
    code, listed = cli(capsys, "runs", "list", "--json")
    assert code == 0 and [r["id"] for r in listed] == [run_id]
    assert {"id", "name", "model", "status", "metrics"} <= listed[0].keys() and listed[0]["model"] == "ease"
    code, shown = cli(capsys, "runs", "show", run_id, "--json")
    assert shown["params"] == {"l2": 20.0} and shown["protocol"]["ks"] == [5, 10] and shown["status"] == "finished"
    assert [h["epoch"] for h in shown["history"]] == [1] and {"ndcg@10", "recall@5", "coverage@10"} <= shown[
        "metrics"
    ].keys()
    assert shown["protocol"]["split"]["kind"] == "files" and shown["dataset_fingerprint"]

    cli(capsys, "runs", "rename", run_id, "better name")
    code, tagged = cli(capsys, "runs", "tag", run_id, "a", "b", "--remove", "cli", "--json")
    assert tagged["tags"] == ["a", "b"]
    code, paths = cli(capsys, "runs", "export", run_id, "--out", str(tmp_path / "exp"), "--json")
    config = json.loads(Path(paths["config"]).read_text())
    assert config["name"] == "better name"

    # rerun from the exported config: a second run of the same experiment, same metrics
    code, again = cli(capsys, "runs", "submit", "--config", paths["config"], "--wait", "--timeout", "60", "--json")
    assert code == 0 and again["id"] != run_id and again["metrics"] == shown["metrics"]
    assert again["params"] == shown["params"]

    folder = RunStore().runs_dir / run_id
    assert folder.is_dir()
    code, _ = cli(capsys, "runs", "delete", run_id)
    assert code == 0 and not folder.exists()
    code, listed = cli(capsys, "runs", "list", "--json", "--tag", "a")
    assert [r["id"] for r in listed] == [again["id"]]  # the rerun kept the name and tags
    code, text = cli(capsys, "runs", "list")
    assert again["id"] in text and "finished" in text


def test_cancel_queued_runs_and_wait_with_nothing_running(capsys, split_files):
    data = ["--train", str(split_files["train"]), "--test", str(split_files["test"])]
    store = RunStore()
    from recsys_core.runs import JobRunner, files_ref

    ids = [JobRunner(store, max_concurrent=1).submit({"model": "popularity"}, files_ref(*data[1::2])) for _ in range(2)]
    code, out = cli(capsys, "runs", "cancel", *ids, "--json")
    assert out == dict.fromkeys(ids, "cancelled")
    code, waited = cli(capsys, "runs", "wait", *ids, "--json")
    assert code == 1 and [r["status"] for r in waited] == ["cancelled", "cancelled"]  # not all finished


def test_train_records_its_run_in_the_store(split_files):
    parser = argparse.ArgumentParser()
    runs_cmd.add_experiment_args(parser)
    runs_cmd.add_record_args(parser)
    args = parser.parse_args(["--train", str(split_files["train"]), "--test", str(split_files["test"]),
                              "--model", "bpr", "--param", "epochs=2", "--device", "cpu", "--name", "cli run",
                              "--tag", "t"])  # fmt: skip
    from recsys_core.experiment import prepare_from_parts

    frames = [__import__("pandas").read_csv(split_files[k]) for k in ("train", "test")]
    spec = runs_cmd.spec_from_args(args)
    run_id, result = runs_cmd.record_train(args, spec, prepare_from_parts(*frames), [])
    run = RunStore().get(run_id)
    assert run["status"] == "finished" and run["name"] == "cli run" and run["tags"] == ["t"]
    assert len(run["history"]) == 2 and run["metrics"] == pytest.approx(result.metrics, nan_ok=True)
    assert run["pid"] is not None and run["data_ref"]["kind"] == "files" and "model" in run["artifacts"]
    args.no_record = True
    none_id, _ = runs_cmd.record_train(args, spec, prepare_from_parts(*frames), [])
    assert none_id is None and len(RunStore().list()) == 1


def test_the_main_command_line_has_runs_and_worker():
    choices = build_parser()._subparsers._group_actions[0].choices
    if "runs" not in choices:
        pytest.skip("recsys_core.cli.runs.register is not wired into recsys_core.cli.build_parser yet")
    assert "worker" in choices
