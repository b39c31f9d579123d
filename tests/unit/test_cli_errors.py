"""Bad command-line input: one clear line on stderr and exit code 2, never a traceback; nothing saved is lost,
and a run that can only fail is neither trained nor stored (QA round 2, items 5, 7 and 8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.cli import runs as runs_cmd
from recsys_core.data.store import DatasetStore
from recsys_core.runs import STATUSES, RunStore, files_ref

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ratings(tmp_path: Path) -> Path:
    """40 users × 12 of 30 items, with ratings and timestamps."""
    rng = np.random.default_rng(0)
    rows = [
        (u, int(i), float(rng.integers(1, 6)), 1_600_000_000 + 100 * k)
        for u in range(40)
        for k, i in enumerate(rng.choice(30, size=12, replace=False))
    ]
    path = tmp_path / "ratings.csv"
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(path, index=False)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); argparse's own refusals (SystemExit) give their code too."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *argv: str) -> str:
    """Run a command that must be refused: exit 2, an ``error:`` line and no traceback; returns stderr."""
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert "error:" in err and "Traceback" not in err
    return err


def no_runs() -> bool:
    return RunStore().list() == []


def train_one(capsys, ratings: Path) -> str:
    code, out, err = run(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "cpu",
                         "--quiet", "--json")  # fmt: skip
    assert code == 0, err
    return json.loads(out)["run_id"]


# ---------------------------------------------------------------------- item 5: seeds
def test_a_negative_seed_is_refused_before_training_or_queueing(capsys, ratings):
    err = refused(capsys, "train", "--data", str(ratings), "--model", "ease", "--seed", "-1")
    assert "--seed" in err and "0 to 2,147,483,647" in err and "'-1'" in err
    err = refused(capsys, "runs", "submit", "--data", str(ratings), "--model", "ease", "--seed", "-1")
    assert "--seed" in err
    refused(capsys, "runs", "submit", "--data", str(ratings), "--model", "ease", "--split-seed", "2147483648")
    assert no_runs()


def test_a_run_config_with_a_bad_seed_is_not_queued(capsys, ratings, tmp_path):
    config = tmp_path / "run.config.json"
    spec = {"model": "popularity", "seed": -1, "device": "cpu"}
    config.write_text(json.dumps({"spec": spec, "data": files_ref(ratings, ratings)}))
    err = refused(capsys, "runs", "submit", "--config", str(config))
    assert "seed" in err and "-1" in err and "0 to 2,147,483,647" in err
    assert no_runs()


# ---------------------------------------------------------------------- item 5: output paths
def test_train_checks_its_output_paths_before_training(capsys, ratings, tmp_path):
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("keep me")
    err = refused(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "cpu",
                  "--save-recs", str(a_file / "dir" / "recs.csv"))  # fmt: skip
    assert "--save-recs" in err and "is a file, not a folder" in err
    err = refused(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "cpu",
                  "--save-recs", str(tmp_path))  # fmt: skip
    assert "--save-recs" in err and "is a folder" in err
    err = refused(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "cpu",
                  "--save-model", str(a_file))  # fmt: skip
    assert "--save-model" in err and a_file.read_text() == "keep me"
    assert no_runs()
    # a missing folder is created, as `data synthetic` and `data prepare` do
    recs = tmp_path / "new" / "folder" / "recs.csv"
    code, _, err = run(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "cpu",
                       "--quiet", "--save-recs", str(recs))  # fmt: skip
    assert code == 0, err
    assert set(pd.read_csv(recs).columns) == {"user", "item", "score", "rank"}


def test_runs_export_refuses_a_file_an_unwritable_place_and_files_already_there(capsys, ratings, tmp_path):
    run_id = train_one(capsys, ratings)
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("keep me")
    err = refused(capsys, "runs", "export", run_id, "--out", str(a_file))
    assert "--out" in err and "is a file, not a folder" in err and a_file.read_text() == "keep me"
    err = refused(capsys, "runs", "export", run_id, "--out", str(a_file / "sub"))
    assert "--out" in err
    if Path("/proc/self").is_dir():  # the report's case: a folder that cannot be made, even by root
        assert "Cannot write --out '/proc/nope'" in refused(capsys, "runs", "export", run_id, "--out", "/proc/nope")
    out = tmp_path / "exp"
    assert run(capsys, "runs", "export", run_id, "--out", str(out))[0] == 0
    config = out / f"{run_id}.config.json"
    config.write_text("my edits")
    err = refused(capsys, "runs", "export", run_id, "--out", str(out))
    assert "already holds" in err and "--overwrite" in err and config.read_text() == "my edits"
    assert run(capsys, "runs", "export", run_id, "--out", str(out), "--overwrite")[0] == 0
    assert json.loads(config.read_text())["run_id"] == run_id


def test_data_prepare_refuses_a_file_as_out_and_keeps_earlier_files(capsys, ratings, tmp_path):
    before = ratings.read_bytes()
    err = refused(capsys, "data", "prepare", str(ratings), "--out", str(ratings))
    assert "--out" in err and "is a file, not a folder" in err and ratings.read_bytes() == before
    out = tmp_path / "parts"
    assert run(capsys, "data", "prepare", str(ratings), "--out", str(out), "--val-fraction", "0.1")[0] == 0
    (out / "train.csv").write_text("my edits")
    err = refused(capsys, "data", "prepare", str(ratings), "--out", str(out))
    assert "train.csv, val.csv, test.csv" in err and "--overwrite" in err
    assert (out / "train.csv").read_text() == "my edits"
    assert run(capsys, "data", "prepare", str(ratings), "--out", str(out), "--overwrite")[0] == 0
    assert len(pd.read_csv(out / "train.csv")) > 0
    assert not (out / "val.csv").exists()  # the earlier split's validation part is not left beside this one


def test_a_closed_pipe_ends_the_command_quietly(tmp_path, reclab_home):
    """`runs list | head -0`: the reader is gone before anything is written; no BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_core", "runs", "list"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


# ---------------------------------------------------------------------- item 7: metadata coverage
def test_data_save_warns_about_metadata_that_matches_no_item(capsys, ratings, tmp_path):
    meta = tmp_path / "meta_bad.csv"
    meta.write_text("foo,bar\nx,y\n")
    code, out, err = run(capsys, "data", "save", str(ratings), "--name", "with_meta", "--items", str(meta))
    assert code == 0, err
    assert "saved 'with_meta'" in out
    assert "warning:" in err and "2 of 2 metadata items match no interaction" in err
    assert "30 of 30 interacted items have no metadata" in err


# ---------------------------------------------------------------------- item 8: misleading messages
def test_runs_list_refuses_an_unknown_status_or_model(capsys, ratings):
    train_one(capsys, ratings)
    err = refused(capsys, "runs", "list", "--status", "bogus")
    assert "'bogus'" in err and all(s in err for s in STATUSES)
    err = refused(capsys, "runs", "list", "--model", "nope")
    assert "'nope'" in err and "popularity" in err
    code, out, _ = run(capsys, "runs", "list", "--status", "failed")
    assert code == 0 and "no runs match these filters" in out and "no runs yet" not in out
    assert runs_cmd.STATUSES == STATUSES  # the parser's copy of the run store's statuses


def test_data_versions_and_prune_refuse_an_unknown_dataset(capsys, ratings):
    assert run(capsys, "data", "save", str(ratings), "--name", "known")[0] == 0
    for action in ("versions", "prune"):
        err = refused(capsys, "data", action, "nope")
        assert "No saved dataset named 'nope'" in err and "known" in err
    code, out, _ = run(capsys, "data", "versions", "known")
    assert code == 0 and "no kept versions of 'known'" in out


def test_a_dataset_version_that_does_not_exist_is_not_called_replaced(capsys, ratings):
    assert run(capsys, "data", "save", str(ratings), "--name", "fresh")[0] == 0
    current = DatasetStore().info("fresh").fingerprint
    err = refused(capsys, "runs", "submit", "--dataset", "fresh", "--dataset-version", "deadbeef",
                  "--model", "popularity")  # fmt: skip
    assert "has no version with a fingerprint starting 'deadbeef'" in err
    assert f"{current[:16]} (current)" in err and "replaced" not in err and "no longer" not in err
    assert no_runs()
    # the 16 digits `data versions` and `runs show` print are enough to name a version
    code, out, err = run(capsys, "runs", "submit", "--dataset", "fresh", "--dataset-version", current[:16],
                         "--model", "popularity", "--device", "cpu", "--json")  # fmt: skip
    assert code == 0, err
    assert RunStore().get(json.loads(out)["id"])["data_ref"]["fingerprint"] == current


def test_data_synthetic_names_its_flags_not_internal_fields(capsys, tmp_path):
    err = refused(capsys, "data", "synthetic", "--out", str(tmp_path / "s.csv"), "--interactions", "10")
    assert "--interactions must be between" in err and "--users" in err and "--items" in err
    assert "n_interactions" not in err and "n_users" not in err and "n_items" not in err
    err = refused(capsys, "data", "synthetic", "--out", str(tmp_path / "s.csv"), "--users", "0")
    assert "--users must be" in err
    assert not (tmp_path / "s.csv").exists()


def test_data_save_over_an_existing_name_names_replace_and_keeps_the_data(capsys, ratings, tmp_path):
    assert run(capsys, "data", "save", str(ratings), "--name", "taken")[0] == 0
    before = DatasetStore().info("taken").fingerprint
    other = tmp_path / "other.csv"
    pd.read_csv(ratings).iloc[:100].to_csv(other, index=False)
    err = refused(capsys, "data", "save", str(other), "--name", "taken")
    assert "'taken' already exists" in err and "--replace" in err
    assert DatasetStore().info("taken").fingerprint == before


def test_an_unavailable_device_records_no_run(capsys, ratings):
    err = refused(capsys, "train", "--data", str(ratings), "--model", "popularity", "--device", "gpu7")
    assert "'gpu7' is not available" in err and "cpu" in err
    assert no_runs()
