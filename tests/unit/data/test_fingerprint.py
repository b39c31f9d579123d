"""Fingerprints: content as a multiset, sensitive to every value, stable across dtypes and storage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.fingerprint import (
    data_fingerprint,
    frame_fingerprint,
    interactions_fingerprint,
    short_fingerprint,
)
from recsys_core.data.interactions import Interactions
from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.errors import DataError


def make_frame(n: int = 400, seed: int = 0, *, string_ids: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame(
        {
            "user": rng.integers(0, 30, n).astype(np.int64),
            "item": rng.integers(0, 50, n).astype(np.int64),
            "rating": rng.integers(1, 11, n).astype(np.float32) / 2,
            "timestamp": rng.integers(10**9, 10**9 + 1000, n).astype(np.int64),
        }
    )
    if string_ids:
        f["user"] = "user-" + f["user"].astype(str)
        f["item"] = "item-" + f["item"].astype(str)
    return f


@pytest.mark.parametrize("string_ids", [False, True])
def test_fingerprint_is_independent_of_row_order_and_index(string_ids):
    f = make_frame(string_ids=string_ids)
    fp = frame_fingerprint(f)
    assert len(fp) == 64
    assert int(fp, 16) >= 0  # hex
    shuffled = f.sample(frac=1.0, random_state=3)  # keeps the shuffled index too
    assert frame_fingerprint(shuffled) == fp
    assert frame_fingerprint(shuffled.reset_index(drop=True)) == fp
    assert frame_fingerprint(f[["timestamp", "rating", "item", "user"]]) == fp  # column order
    assert frame_fingerprint(f.assign(extra=1)) == fp  # non-canonical columns are ignored
    assert short_fingerprint(fp) == fp[:16]


@pytest.mark.parametrize("string_ids", [False, True])
def test_fingerprint_changes_with_any_value(string_ids):
    f = make_frame(string_ids=string_ids)
    fp = frame_fingerprint(f)
    changed = []
    g = f.copy()
    g.loc[17, "rating"] = g.loc[17, "rating"] + 0.5
    changed.append(g)
    g = f.copy()
    g.loc[5, "timestamp"] += 1
    changed.append(g)
    g = f.copy()
    g.loc[9, "item"] = g.loc[10, "item"] if g.loc[10, "item"] != g.loc[9, "item"] else g.loc[11, "item"]
    changed.append(g)
    changed.append(f.drop(index=3))  # a row less
    changed.append(pd.concat([f, f.iloc[[3]]]))  # a repeated row: multisets, not sets
    changed.append(f.drop(columns="timestamp"))
    changed.append(f.drop(columns="rating"))
    changed.append(f.rename(columns={"user": "item", "item": "user"}))  # users and items swapped
    fps = [frame_fingerprint(c) for c in changed]
    assert fp not in fps
    assert len(set(fps)) == len(fps)


def test_integer_and_string_ids_differ():
    ints = pd.DataFrame({"user": [1, 2], "item": [3, 4]})
    strs = pd.DataFrame({"user": ["1", "2"], "item": ["3", "4"]})
    assert frame_fingerprint(ints) != frame_fingerprint(strs)


def test_fingerprint_ignores_storage_dtypes(tmp_path):
    f = make_frame(string_ids=True)
    fp = frame_fingerprint(f)
    as_object = f.astype({"user": object, "item": object})
    as_string = f.astype({"user": "string", "item": "string"})
    assert frame_fingerprint(as_object) == fp
    assert frame_fingerprint(as_string) == fp
    assert frame_fingerprint(f.astype({"rating": np.float64})) == fp  # ratings compare as float32
    path = tmp_path / "interactions.parquet"
    f.to_parquet(path, index=False)
    assert frame_fingerprint(pd.read_parquet(path)) == fp
    csv = tmp_path / "interactions.csv"
    f.to_csv(csv, index=False)
    back = pd.read_csv(csv).astype({"rating": np.float32})
    assert frame_fingerprint(back) == fp


@pytest.mark.parametrize("string_ids", [False, True])
def test_interactions_fingerprint_equals_frame_fingerprint(string_ids):
    f = make_frame(string_ids=string_ids)
    data = Interactions.from_frame(f)
    assert interactions_fingerprint(data) == frame_fingerprint(f)
    # a part encoded in a larger id space has the fingerprint of its own rows
    part = data.subset(np.arange(0, len(f), 3))
    assert interactions_fingerprint(part) == frame_fingerprint(f.iloc[::3])
    implicit = Interactions.from_frame(f[["user", "item"]])
    assert interactions_fingerprint(implicit) == frame_fingerprint(f[["user", "item"]])


def test_empty_frames_have_a_fingerprint():
    empty = pd.DataFrame({"user": np.zeros(0, np.int64), "item": np.zeros(0, np.int64)})
    assert frame_fingerprint(empty) == frame_fingerprint(empty.astype(object))
    assert frame_fingerprint(empty) != frame_fingerprint(pd.DataFrame({"user": [1], "item": [1]}))


def test_known_values_do_not_drift():
    # Stored fingerprints must stay comparable across releases and pandas/numpy versions: if the hashed
    # representation changes on purpose, bump FORMAT_VERSION and update these values.
    ints = pd.DataFrame(
        {
            "user": np.array([3, 1, 2], dtype=np.int64),
            "item": np.array([10, 20, 10], dtype=np.int64),
            "rating": np.array([4.5, 3.0, 1.0], dtype=np.float32),
            "timestamp": np.array([100, 200, 300], dtype=np.int64),
        }
    )
    strs = ints.astype({"user": str, "item": str})
    assert frame_fingerprint(ints) == INT_FINGERPRINT
    assert frame_fingerprint(strs) == STR_FINGERPRINT


INT_FINGERPRINT = "cc3ceac4dc92d965f6e49f2aef408c26e09e3e16c6d23c6409a28e18dd724924"
STR_FINGERPRINT = "3241b07c0a6ffa4e5e4495aa543e2edf1c4cf3d528a45d69065341ab9592920d"


def test_bad_frames_are_data_errors():
    with pytest.raises(DataError) as exc:
        frame_fingerprint(pd.DataFrame({"user": [1]}))
    assert exc.value.code == "missing_column"
    with pytest.raises(DataError) as exc:
        frame_fingerprint(pd.DataFrame({"user": [1.5], "item": [1]}))
    assert exc.value.code == "bad_id_dtype"


def test_data_fingerprint_depends_on_every_part():
    raw = frame_fingerprint(make_frame())
    pre = PreprocessConfig()
    spl = SplitConfig()
    fp = data_fingerprint(raw, pre, spl)
    assert len(fp) == 64
    assert data_fingerprint(raw, PreprocessConfig(), SplitConfig()) == fp  # equal configs, equal value
    others = [
        data_fingerprint(frame_fingerprint(make_frame(seed=1)), pre, spl),
        data_fingerprint(raw, PreprocessConfig(duplicates="mean"), spl),
        data_fingerprint(raw, PreprocessConfig(min_user_interactions=5), spl),
        data_fingerprint(raw, pre, SplitConfig(seed=7)),
        data_fingerprint(raw, pre, SplitConfig(method="random")),
        data_fingerprint(raw, pre, None),
    ]
    assert fp not in others
    assert len(set(others)) == len(others)


def test_an_option_added_later_leaves_earlier_fingerprints_unchanged_at_its_default():
    """Runs recorded before `pseudonymise_users` existed must rebuild to their stored fingerprint."""
    import hashlib
    import json

    from recsys_core.data.fingerprint import FORMAT_VERSION, data_fingerprint
    from recsys_core.data.schema import PreprocessConfig, SplitConfig

    before = {"duplicates": "last", "implicit_threshold": None, "min_user_interactions": 0,
              "min_item_interactions": 0, "normalisation": "none"}  # fmt: skip
    split = SplitConfig()
    payload = {"format": FORMAT_VERSION, "data": "abc", "preprocess": before, "split": split.to_dict()}
    recorded = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert data_fingerprint("abc", PreprocessConfig(), split) == recorded
    assert data_fingerprint("abc", PreprocessConfig(pseudonymise_users=True), split) != recorded
