"""DatasetStore: saving, replacing (the old version is kept for the runs trained on it), loading a version by
its fingerprint, deleting, pruning kept versions, and remembering the active dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recsys_core.config import read_settings, settings_path, update_settings
from recsys_core.data.fingerprint import frame_fingerprint
from recsys_core.data.store import (
    DatasetStore,
    remember_active_dataset,
    remembered_active_dataset,
)
from recsys_core.errors import ConfigError, DataError


def frame(n_users: int = 6, n_items: int = 5, shift: int = 0) -> pd.DataFrame:
    rows = [(u, (u + k + shift) % n_items, float(1 + (u + k) % 5)) for u in range(n_users) for k in range(3)]
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def items(n_items: int = 5, tag: str = "") -> pd.DataFrame:
    return pd.DataFrame({"item": range(n_items), "title": [f"t{i}{tag}" for i in range(n_items)]})


@pytest.fixture
def store(tmp_path: Path) -> DatasetStore:
    return DatasetStore(tmp_path / "datasets")


def test_save_and_load_the_current_version(store: DatasetStore):
    info = store.save("events", frame(), items=items())
    assert store.names() == ["events"] and store.exists("events")
    ds = store.load("events")
    assert ds.info.fingerprint == info.fingerprint == frame_fingerprint(frame())
    pd.testing.assert_frame_equal(ds.interactions, frame())
    assert ds.items["title"].tolist() == items()["title"].tolist()
    assert store.load("events", fingerprint=info.fingerprint).info == info


def test_saving_over_a_name_needs_overwrite(store: DatasetStore):
    store.save("events", frame())
    with pytest.raises(ConfigError, match="already exists"):
        store.save("events", frame(shift=1))
    assert store.load("events").info.fingerprint == frame_fingerprint(frame())


def test_replacing_keeps_the_old_version_loadable_by_fingerprint(store: DatasetStore):
    old = store.save("events", frame(), items=items(tag="-old"))
    new = store.save("events", frame(n_users=4, shift=2), items=items(tag="-new"), overwrite=True)
    assert old.fingerprint != new.fingerprint
    # the name shows the new version; the old one is not listed but loads, files unchanged
    assert store.names() == ["events"] and [i.fingerprint for i in store.list()] == [new.fingerprint]
    assert store.load("events").info.fingerprint == new.fingerprint
    kept = store.load("events", fingerprint=old.fingerprint)
    pd.testing.assert_frame_equal(kept.interactions, frame())
    assert kept.items["title"].tolist() == items(tag="-old")["title"].tolist()
    assert kept.info == old
    assert store.info("events", old.fingerprint) == old
    assert store.has_version("events", old.fingerprint) and store.has_version("events", new.fingerprint)
    [version] = store.kept_versions()
    assert (version.name, version.fingerprint, version.reason) == ("events", old.fingerprint, "replaced")
    assert version.n_bytes > 0 and version.path == store.root / ".versions" / "events" / old.fingerprint


def test_a_version_that_was_not_kept_gives_a_clear_error(store: DatasetStore):
    store.save("events", frame())
    gone = "ab" * 32
    with pytest.raises(DataError) as err:
        store.load("events", fingerprint=gone)
    assert err.value.code == "dataset_version_gone"
    message = err.value.message
    assert "Dataset 'events' no longer has the version with fingerprint abababababababab…" in message
    assert "replaced" in message and "not kept" in message and "Retrain on the current data" in message
    assert not store.has_version("events", gone)
    with pytest.raises(ConfigError, match="not a dataset fingerprint"):
        store.load("events", fingerprint="../../etc")


def test_saving_the_same_content_again_does_not_keep_a_duplicate(store: DatasetStore):
    a = store.save("events", frame(), items=items(tag="-1"))
    store.save("events", frame(), items=items(tag="-2"), overwrite=True)  # same interactions, new titles
    assert store.kept_versions() == []
    assert store.load("events", fingerprint=a.fingerprint).items["title"][0] == "t0-2"
    b = store.save("events", frame(shift=1), overwrite=True)
    store.save("events", frame(), overwrite=True)  # back to a: it is current again, its kept copy dropped
    assert [k.fingerprint for k in store.kept_versions()] == [b.fingerprint]
    assert store.load("events").info.fingerprint == a.fingerprint
    pd.testing.assert_frame_equal(store.load("events", fingerprint=b.fingerprint).interactions, frame(shift=1))
    assert not any(p.name.startswith(".trash") or p.name.startswith(".events") for p in store.root.iterdir())


def test_delete_keeps_the_version_for_runs_until_pruned(store: DatasetStore):
    info = store.save("events", frame())
    store.delete("events")
    assert store.names() == [] and not store.exists("events")
    with pytest.raises(ConfigError, match="No saved dataset named 'events'"):
        store.load("events")
    pd.testing.assert_frame_equal(store.load("events", fingerprint=info.fingerprint).interactions, frame())
    [kept] = store.kept_versions("events")
    assert kept.reason == "deleted"
    assert store.prune_versions(keep={info.fingerprint}) == []  # still needed
    assert [k.fingerprint for k in store.prune_versions(dry_run=True)] == [info.fingerprint]
    assert store.has_version("events", info.fingerprint)  # a dry run removes nothing
    assert [k.fingerprint for k in store.prune_versions()] == [info.fingerprint]
    assert store.kept_versions() == [] and not (store.versions_root / "events").exists()
    with pytest.raises(DataError, match="was deleted and that version was not kept"):
        store.load("events", fingerprint=info.fingerprint)


def test_delete_all_versions_removes_everything(store: DatasetStore):
    old = store.save("events", frame())
    store.save("events", frame(shift=1), overwrite=True)
    store.save("other", frame(shift=2))
    store.save("other", frame(shift=3), overwrite=True)
    store.delete("events", all_versions=True)
    assert not (store.root / "events").exists() and not (store.versions_root / "events").exists()
    assert not store.has_version("events", old.fingerprint)
    assert store.names() == ["other"] and [k.name for k in store.kept_versions()] == ["other"]


def test_prune_only_touches_the_named_dataset_and_keeps_listed_fingerprints(store: DatasetStore):
    a1 = store.save("a", frame())
    store.save("a", frame(shift=1), overwrite=True)
    a2 = store.load("a").info
    store.save("a", frame(shift=2), overwrite=True)
    b1 = store.save("b", frame(n_users=3))
    store.save("b", frame(n_users=4), overwrite=True)
    gone = store.prune_versions(keep={a2.fingerprint}, name="a")
    assert [k.fingerprint for k in gone] == [a1.fingerprint]
    assert {(k.name, k.fingerprint) for k in store.kept_versions()} == {("a", a2.fingerprint), ("b", b1.fingerprint)}


def test_a_dataset_with_an_unreadable_info_is_kept_aside_on_replace(store: DatasetStore):
    store.save("events", frame())
    (store.root / "events" / "dataset.json").write_text("{not json")
    store.save("events", frame(shift=1), overwrite=True)
    [kept] = store.kept_versions()
    assert kept.fingerprint.startswith("unreadable-") and kept.info is None
    assert (kept.path / "interactions.parquet").exists()


# ---------------------------------------------------------------------- the remembered active dataset
def test_the_active_dataset_is_remembered_in_reclab_home(reclab_home: Path):
    store = DatasetStore()
    assert remembered_active_dataset() is None
    store.save("events", frame())
    assert remember_active_dataset("events")
    assert json.loads(settings_path().read_text()) == {"active_dataset": "events"}
    assert settings_path().parent == reclab_home
    assert remembered_active_dataset() == "events"
    assert remember_active_dataset(None) and remembered_active_dataset() is None
    assert read_settings() == {}


def test_a_remembered_dataset_that_is_gone_or_bad_falls_back_quietly(reclab_home: Path):
    store = DatasetStore()
    store.save("events", frame())
    remember_active_dataset("events")
    store.delete("events")
    assert remembered_active_dataset() is None
    update_settings({"active_dataset": "../bad name!"})
    assert remembered_active_dataset() is None
    settings_path().write_text("{damaged")
    assert read_settings() == {} and remembered_active_dataset() is None
    store.save("events", frame())
    assert remember_active_dataset("events") and remembered_active_dataset() == "events"  # rewritten whole


def test_settings_are_written_atomically_and_merged(reclab_home: Path):
    update_settings({"a": 1})
    update_settings({"b": "x"})
    assert read_settings() == {"a": 1, "b": "x"}
    assert [p.name for p in reclab_home.iterdir() if "settings" in p.name] == ["settings.json"]  # no temp left
