"""Run colours (QA #9): distinct within a selection, the same in every chart, stable as runs come and go."""

from __future__ import annotations

import numpy as np

from ui import figures
from ui.figures import RUN_PALETTE, curves, run_colours, scatter_runs

# Under the old scheme (SHA-1 of the id modulo 8 colours) "run0" and "run5" got the same colour.
CLASHED = ["run0", "run5"]


def _line_colours(fig) -> dict[str, str]:
    return {t.legendgroup: t.line.color for t in fig.data}


def test_palette_is_large_and_distinct():
    assert len(RUN_PALETTE) >= 20 and len(set(RUN_PALETTE)) == len(RUN_PALETTE)
    assert not hasattr(figures, "run_colour")  # the hash-based colour is gone: no caller can clash again


def test_curves_give_every_run_its_own_colour():
    x = np.arange(3.0)
    fig = curves({rid: (rid, x, x) for rid in CLASHED}, title="t", x_title="x", y_title="y")
    colours = _line_colours(fig)
    assert len(set(colours.values())) == 2
    six = [f"run{i}" for i in range(6)]
    fig = curves({rid: (rid, x, x) for rid in six}, title="t", x_title="x", y_title="y")
    assert len(set(_line_colours(fig).values())) == 6


def test_run_colours_distinct_up_to_the_palette_then_reused():
    ids = [f"r{i}" for i in range(len(RUN_PALETTE))]
    colours = run_colours(ids)
    assert list(colours) == ids and list(colours.values()) == list(RUN_PALETTE)  # selection order
    more = run_colours([*ids, "extra"])
    assert more["extra"] == RUN_PALETTE[len(RUN_PALETTE) % len(RUN_PALETTE)]  # reuse only beyond the palette
    assert run_colours(["a", "a", "b"]) == {"a": RUN_PALETTE[0], "b": RUN_PALETTE[1]}


def test_run_colours_are_sticky_as_the_selection_changes():
    first = run_colours(["a", "b", "c"])
    # remove "a": b and c keep theirs
    second = run_colours(["b", "c"], first)
    assert second == {"b": first["b"], "c": first["c"]}
    # add "d": it takes the free colour, nobody else moves
    third = run_colours(["b", "c", "d"], second)
    assert third["b"] == first["b"] and third["c"] == first["c"] and third["d"] == first["a"]
    # "a" comes back while its old colour is taken by d: a different, free colour
    fourth = run_colours(["b", "c", "d", "a"], {**first, **third})
    assert len(set(fourth.values())) == 4 and fourth["d"] == first["a"]
    # a stale or foreign colour in the previous assignment is not kept
    assert run_colours(["x"], {"x": "#000001"}) == {"x": RUN_PALETTE[0]}


def test_charts_use_the_selection_colours():
    colours = run_colours(["b", "a", "c"])
    x = np.arange(3.0)
    # "a" has no curve in this chart, the others keep the selection's colours
    fig = curves({"b": ("b", x, x), "c": ("c", x, x)}, title="t", x_title="x", y_title="y", colours=colours)
    assert _line_colours(fig) == {"b": colours["b"], "c": colours["c"]}
    pts = scatter_runs({r: (r, 0.1, 0.2) for r in ("c", "a")}, x_title="x", y_title="y", title="s", colours=colours)
    assert {t.name: t.marker.color for t in pts.data} == {"c": colours["c"], "a": colours["a"]}


def test_the_shared_chart_layout_keeps_a_log_axis_the_builder_set():
    from recsys_core.data.profile import profile
    from recsys_core.data.synthetic import generate_synthetic
    from ui import figures

    prof = profile(generate_synthetic(n_users=50, n_items=40, n_interactions=600, seed=1).interactions)
    assert figures.popularity_long_tail(prof).layout.yaxis.type == "log"
    assert figures.user_activity_histogram(prof).layout.xaxis.type == "log"


def test_log_axes_label_powers_of_ten_only():
    from recsys_core.data.profile import profile
    from recsys_core.data.synthetic import generate_synthetic
    from ui import figures

    prof = profile(generate_synthetic(n_users=50, n_items=40, n_interactions=600, seed=1).interactions)
    assert figures.popularity_long_tail(prof).layout.yaxis.dtick == 1
    assert figures.user_activity_histogram(prof).layout.xaxis.dtick == 1
