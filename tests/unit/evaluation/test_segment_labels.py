"""User-activity segment labels (QA #16): the ranges never overlap, ties stay in one segment."""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np

from recsys_core.evaluation.segments import activity_segments


def _ranges(labels) -> dict[str, tuple[int, int]]:
    out = {}
    for label in set(labels):
        m = re.fullmatch(r"(\w+) \((\d+)(?:–(\d+))?\)", label)
        assert m, label
        out[label] = (int(m[2]), int(m[3] or m[2]))
    return out


def test_qa_counts_give_disjoint_integer_ranges():
    # the QA saw "light (5–8) · medium (8–10) · heavy (10–13)": users with 8 and 10 were on both sides
    n = [5, 5, 6, 7, 8, 8, 8, 9, 10, 10, 11, 12, 13]
    labels = activity_segments(n)
    ranges = sorted(_ranges(labels).values())
    assert ranges == [(5, 8), (9, 10), (11, 13)]
    for count in set(n):  # every user with one count is in one segment
        assert labels[np.asarray(n) == count].nunique() == 1


def test_random_activity_never_overlaps_and_sizes_are_balanced():
    rng = np.random.default_rng(0)
    n = rng.geometric(0.05, size=2000)
    labels = activity_segments(n)
    warm = labels[n >= 5]
    ranges = sorted(_ranges(warm).values())
    assert len(ranges) == 3
    assert all(hi < lo for (_, hi), (lo, _) in pairwise(ranges))
    sizes = warm.value_counts()
    assert sizes.min() > 0.25 * len(warm)  # about a third each despite the ties
    for label, (lo, hi) in _ranges(warm).items():
        members = n[(labels == label).to_numpy()]
        assert members.min() == lo and members.max() == hi


def test_a_single_count_is_one_segment_labelled_with_it():
    labels = activity_segments([2, 7, 7, 7, 7])
    assert list(labels) == ["cold (<5)", "light (7)", "light (7)", "light (7)", "light (7)"]
