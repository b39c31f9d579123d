"""One split per saved dataset, whatever the entry point (QA round 2, item 2): `runs submit --dataset` trains
with the split saved with the dataset, or the same fallback the dashboard uses, changed only by options given."""

from __future__ import annotations

import argparse

from recsys_core.cli.data import split_config
from recsys_core.cli.runs import add_experiment_args, data_ref_from_args
from recsys_core.data.schema import DATASET_SPLIT, SplitConfig
from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_experiment_args(parser)
    return parser.parse_args(list(argv))


def test_a_dataset_saved_without_a_split_uses_the_dashboards_split(reclab_home):
    DatasetStore().save("plain", generate_synthetic(n_users=30, n_items=20, n_interactions=300, seed=1).interactions)
    ref = data_ref_from_args(parse("--dataset", "plain", "--model", "ease"))
    assert SplitConfig.from_dict(ref["split"]) == DATASET_SPLIT
    assert DatasetStore().info("plain").split_config() == DATASET_SPLIT  # what the Train page reads


def test_the_saved_split_is_used_and_only_given_options_change_it(reclab_home):
    saved = SplitConfig(method="user_temporal", test_fraction=0.25, val_fraction=0.15, seed=7)
    frame = generate_synthetic(n_users=30, n_items=20, n_interactions=300, seed=1).interactions
    DatasetStore().save("timed", frame, split=saved.to_dict())
    ref = data_ref_from_args(parse("--dataset", "timed", "--model", "ease", "--seed", "3"))
    assert SplitConfig.from_dict(ref["split"]) == saved  # --seed is the model's seed here
    ref = data_ref_from_args(parse("--dataset", "timed", "--model", "ease", "--val-fraction", "0", "--split-seed", "9"))
    assert SplitConfig.from_dict(ref["split"]) == SplitConfig(
        method="user_temporal", test_fraction=0.25, val_fraction=0.0, seed=9
    )


def test_files_keep_the_plain_defaults_with_the_seed_option():
    args = parse("--data", "x.csv", "--model", "ease", "--seed", "5")
    assert split_config(args) == SplitConfig(seed=5)
    args = parse("--data", "x.csv", "--model", "ease", "--split", "user_temporal", "--leave-last", "1")
    assert split_config(args) == SplitConfig(method="user_temporal", test_last_n=1, seed=42)


def test_data_save_stores_the_split_and_runs_submit_uses_it(reclab_home, tmp_path):
    from recsys_core.cli import main

    path = tmp_path / "log.csv"
    generate_synthetic(n_users=30, n_items=20, n_interactions=300, seed=1).interactions.to_csv(path, index=False)
    assert main(["data", "save", str(path), "--name", "cli"]) == 0
    assert DatasetStore().info("cli").split_config() == DATASET_SPLIT
    assert main(["data", "save", str(path), "--name", "cli2", "--val-fraction", "0", "--seed", "5"]) == 0
    saved = DatasetStore().info("cli2").split_config()
    assert saved == SplitConfig(test_fraction=0.2, val_fraction=0.0, seed=5)
    ref = data_ref_from_args(parse("--dataset", "cli2", "--model", "ease"))
    assert SplitConfig.from_dict(ref["split"]) == saved
