"""Runs pin the dataset version they were trained on (QA report item 2): replacing or deleting a saved dataset
keeps that version, the worker and the Recommendations page rebuild exactly the run's data, and data that
changed (a CSV edited in place, a version pruned) is refused with a clear message instead of being used."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.data.preprocess import preprocess
from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.errors import ConfigError, DataError
from recsys_core.experiment import ExperimentSpec
from recsys_core.inspection import recommendations
from recsys_core.models.base import load_model
from recsys_core.runs import JobRunner, RunStore
from recsys_core.runs.jobs import (
    check_data_ref,
    dataset_ref,
    dataset_versions_in_use,
    file_ref,
    files_ref,
    prune_dataset_versions,
    runs_on_dataset,
)
from recsys_core.runs.worker import load_data, load_run_data, run_data_key, train_and_record

SPLIT = SplitConfig(seed=3)
EASE = ExperimentSpec(model="ease", params={"l2": 10.0}, device="cpu", ks=(5,))


@pytest.fixture
def store(reclab_home: Path) -> RunStore:
    """SQLite only: the run store's backends are covered by its own tests; this is about the dataset store."""
    return RunStore(home=reclab_home)


def qa_good() -> pd.DataFrame:
    """Like the QA fixture: 40 users, 80 items."""
    return generate_synthetic(n_users=40, n_items=80, n_interactions=900, seed=11).interactions


def train_on(name: str, store: RunStore, run_name: str = "qa ease") -> dict:
    ref = dataset_ref(name, split=SPLIT)
    data, about = load_data(ref)
    run_id, _ = train_and_record(EASE, data, ref, store=store, name=run_name, about=about)
    return store.get(run_id, with_history=False)


def assert_same_recommendations(run: dict) -> None:
    """The rebuilt data gives, for every user, the top-K the run stored when it was trained."""
    data, _ = load_run_data(run)
    model = load_model(run["artifacts"]["model"], device="cpu")
    stored = pd.read_parquet(run["artifacts"]["recommendations"])
    for user in stored["user"].unique()[:10]:
        top = recommendations(model, data.train, user, k=5, explain_top=0)
        assert top["item"].tolist() == stored[stored["user"] == user].sort_values("rank")["item"].tolist()


def test_qa_repro_replacing_a_dataset_keeps_every_run_working(store: RunStore):
    datasets = DatasetStore()
    datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    assert run["data_ref"]["fingerprint"] == run["dataset_fingerprint"] == datasets.info("qa_good").fingerprint
    # the QA step: k-core 5/5 (fewer users and items), same name, "Replace if it exists"
    smaller = preprocess(qa_good(), PreprocessConfig(min_user_interactions=5, min_item_interactions=5)).frame
    datasets.save("qa_good", smaller, overwrite=True)
    assert datasets.info("qa_good").n_items < run_n_items(run)
    # what ui/recs.py calls today (load_data on the stored reference) now gives the run's own version ...
    data, about = load_data(run["data_ref"])
    assert about["data_fingerprint"] == run["data_fingerprint"]
    assert len(data.items) == run_n_items(run)
    # ... and the checked loader rebuilds it exactly: the model's recommendations are the stored ones
    assert_same_recommendations(run)


def run_n_items(run: dict) -> int:
    return int(load_model(run["artifacts"]["model"], device="cpu").n_items_)


def test_a_same_shape_replacement_is_not_silently_used(store: RunStore):
    datasets = DatasetStore()
    original = qa_good()
    datasets.save("qa_good", original)
    run = train_on("qa_good", store)
    shuffled = original.assign(item=np.roll(original["item"].to_numpy(), 7))  # same users and items, other data
    datasets.save("qa_good", shuffled, overwrite=True)
    data, _ = load_run_data(run)
    assert data.fingerprint == run["data_fingerprint"]
    assert_same_recommendations(run)


def test_a_run_from_before_versions_were_pinned_uses_its_recorded_fingerprint(store: RunStore):
    datasets = DatasetStore()
    old = datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    legacy_ref = {k: v for k, v in run["data_ref"].items() if k != "fingerprint"}  # what older RecLab stored
    legacy = {**run, "data_ref": legacy_ref}
    datasets.save("qa_good", qa_good().iloc[:-40], overwrite=True)
    data, about = load_data(legacy_ref, expected_fingerprint=run["dataset_fingerprint"])
    assert about["dataset_fingerprint"] == old.fingerprint and data.fingerprint == run["data_fingerprint"]
    assert load_run_data(legacy)[0].fingerprint == run["data_fingerprint"]
    assert run_data_key(legacy) != run_data_key({**legacy, "data_fingerprint": "0" * 64})  # a safe cache key
    assert load_run_data(json.loads(run_data_key(run)))[0].fingerprint == run["data_fingerprint"]


def test_a_version_that_is_gone_is_refused_with_a_clear_message(store: RunStore):
    datasets = DatasetStore()
    datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    datasets.save("qa_good", qa_good().iloc[:-40], overwrite=True)
    datasets.prune_versions()  # nothing kept: as if replaced before versions were kept
    with pytest.raises(DataError) as err:
        load_run_data(run)
    assert err.value.code == "dataset_version_gone"
    message = err.value.message
    assert message.startswith("This run's data can no longer be rebuilt exactly: dataset 'qa_good' no longer has")
    assert message.count("etrain") == 1
    assert run["dataset_fingerprint"][:16] in message and "Retrain it on the current data" in message
    # a legacy reference without the pinned fingerprint is refused the same way, never given the new data
    legacy = {**run, "data_ref": {k: v for k, v in run["data_ref"].items() if k != "fingerprint"}}
    with pytest.raises(DataError, match="no longer has the version"):
        load_run_data(legacy)


def test_a_run_without_a_recorded_data_fingerprint_is_not_guessed(store: RunStore):
    DatasetStore().save("qa_good", qa_good())
    run = train_on("qa_good", store)
    with pytest.raises(DataError, match="no recorded data fingerprint") as err:
        load_run_data({**run, "data_fingerprint": None})
    assert err.value.code == "no_data_fingerprint"


def test_a_csv_file_changed_after_the_run_is_caught(store: RunStore, split_files):
    ref = file_ref(split_files["all"], split=SPLIT)
    data, about = load_data(ref)
    run_id, _ = train_and_record(EASE, data, ref, store=store, about=about)
    run = store.get(run_id, with_history=False)
    assert load_run_data(run)[0].fingerprint == run["data_fingerprint"]
    frame = pd.read_csv(split_files["all"])
    frame.loc[0, "rating"] = 6 - frame.loc[0, "rating"]
    frame.to_csv(split_files["all"], index=False)
    with pytest.raises(DataError) as err:
        load_run_data(run)
    assert err.value.code == "data_changed"
    message = err.value.message
    assert "This run's data can no longer be rebuilt exactly: the file it was trained on changed" in message
    assert str(split_files["all"]) in message and "restore the file" in message
    Path(split_files["all"]).unlink()
    with pytest.raises(DataError, match="a file it was trained on is gone") as err:
        load_run_data(run)
    assert err.value.code == "not_found"


def test_changed_train_test_files_are_caught(store: RunStore, split_files):
    ref = files_ref(split_files["train"], split_files["test"])
    data, about = load_data(ref)
    run_id, _ = train_and_record(EASE, data, ref, store=store, about=about)
    run = store.get(run_id, with_history=False)
    test = pd.read_csv(split_files["test"]).iloc[:-1]
    test.to_csv(split_files["test"], index=False)
    with pytest.raises(DataError, match="the files it was trained on changed") as err:
        load_run_data(run)
    assert err.value.code == "data_changed"


def test_a_changed_split_is_caught_even_when_the_dataset_version_is_the_same(store: RunStore):
    DatasetStore().save("qa_good", qa_good())
    run = train_on("qa_good", store)
    ref = {**run["data_ref"], "split": SplitConfig(seed=4).to_dict()}
    with pytest.raises(DataError, match="now gives train/test parts with fingerprint") as err:
        load_run_data({**run, "data_ref": ref})
    assert err.value.code == "data_changed"


def test_submission_pins_the_current_version_and_checks_a_given_one():
    datasets = DatasetStore()
    old = datasets.save("qa_good", qa_good())
    ref = dataset_ref("qa_good", split=SPLIT)
    assert ref["fingerprint"] == old.fingerprint
    new = datasets.save("qa_good", qa_good().iloc[:-40], overwrite=True)
    assert check_data_ref(ref)["fingerprint"] == old.fingerprint  # an exported run's ref: still its version
    assert dataset_ref("qa_good", fingerprint=old.fingerprint)["fingerprint"] == old.fingerprint
    assert dataset_ref("qa_good")["fingerprint"] == new.fingerprint
    datasets.prune_versions()
    with pytest.raises(DataError, match="no longer has the version"):
        check_data_ref(ref)


def test_a_queued_run_trains_on_the_version_it_was_submitted_on(store: RunStore):
    datasets = DatasetStore()
    old = datasets.save("qa_good", qa_good())
    runner = JobRunner(store, max_concurrent=1)
    run_id = runner.submit({"model": "popularity", "device": "cpu", "ks": [5]}, dataset_ref("qa_good", split=SPLIT))
    datasets.save("qa_good", qa_good().iloc[:-100], overwrite=True)  # replaced before the worker starts
    [run] = runner.wait([run_id], timeout=90)
    assert run["status"] == "finished", run["error"]
    assert run["dataset_fingerprint"] == old.fingerprint
    assert load_run_data(store.get(run_id))[0].fingerprint == run["data_fingerprint"]


def test_prune_keeps_what_runs_use_and_the_data_page_can_count_them(store: RunStore):
    datasets = DatasetStore()
    v1 = datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    v2 = datasets.save("qa_good", qa_good().iloc[:-40], overwrite=True)
    datasets.save("qa_good", qa_good().iloc[:-80], overwrite=True)  # v2 is kept but no run uses it
    assert [r["id"] for r in runs_on_dataset("qa_good", store)] == [run["id"]]
    assert dataset_versions_in_use(store) == {v1.fingerprint}
    gone = prune_dataset_versions(store=store, datasets=datasets)
    assert [k.fingerprint for k in gone] == [v2.fingerprint]
    assert [k.fingerprint for k in datasets.kept_versions()] == [v1.fingerprint]
    assert_same_recommendations(run)
    store.delete(run["id"])
    assert [k.fingerprint for k in prune_dataset_versions(store=store, datasets=datasets)] == [v1.fingerprint]
    assert datasets.kept_versions() == []


def test_data_cli_delete_versions_and_prune(store: RunStore, capsys):
    datasets = DatasetStore()
    v1 = datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    datasets.save("unused", qa_good().iloc[:-10])
    assert main(["data", "delete", "unused"]) == 0
    assert datasets.kept_versions("unused") == []  # no run needed it: gone at once
    assert main(["data", "delete", "qa_good"]) == 0
    out = capsys.readouterr().out
    assert "deleted 'qa_good'" in out and "kept 1 version(s)" in out and "data prune qa_good" in out
    assert assert_same_recommendations(run) is None  # the run still loads its data
    assert main(["data", "list"]) == 0
    assert "+ 1 older version(s) kept for runs" in capsys.readouterr().out
    assert main(["data", "versions", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["name"], row["fingerprint"], row["reason"]) == ("qa_good", v1.fingerprint, "deleted")
    assert main(["data", "prune"]) == 0
    assert "removed 0 kept version(s)" in capsys.readouterr().out
    store.delete(run["id"])
    assert main(["data", "prune", "--dry-run"]) == 0 and datasets.kept_versions()
    assert "would remove qa_good" in capsys.readouterr().out
    assert main(["data", "prune"]) == 0 and datasets.kept_versions() == []
    datasets.save("x", qa_good())
    datasets.save("x", qa_good().iloc[:-10], overwrite=True)
    assert main(["data", "delete", "x", "--all-versions"]) == 0
    assert datasets.names() == [] and datasets.kept_versions() == []


def test_the_rerun_command_names_the_version_the_run_was_trained_on(store: RunStore):
    """After a replace, the run's "reproduce" command must queue the run on its own version, not the current,
    with its own split seed (3 here, while the model seed is 42)."""
    from recsys_core.cli.runs import add_experiment_args, data_ref_from_args
    from recsys_core.runs.store import rerun_command

    datasets = DatasetStore()
    datasets.save("qa_good", qa_good())
    run = train_on("qa_good", store)
    datasets.save("qa_good", qa_good().iloc[:600], overwrite=True)
    argv = rerun_command(run)
    assert argv[argv.index("--dataset-version") + 1] == run["dataset_fingerprint"]
    parser = argparse.ArgumentParser()
    add_experiment_args(parser)
    args, _ = parser.parse_known_args(argv[2:])
    ref = data_ref_from_args(args)
    assert ref["fingerprint"] == run["dataset_fingerprint"]
    _, about = load_data(ref)
    assert about["data_fingerprint"] == run["data_fingerprint"]
    with pytest.raises(ConfigError) as err:
        data_ref_from_args(parser.parse_known_args(["--dataset-version", "abc"])[0])
    assert err.value.field == "dataset_version"
