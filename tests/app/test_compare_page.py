"""Compare page in AppTest: empty state, two comparable runs, mixed protocols, interactions, a damaged
artifact, and the HTML report (a pure function)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pytest

from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.experiment import ExperimentSpec, prepare_from_frame
from recsys_core.runs import compare as cmp
from recsys_core.runs.store import RunStore
from recsys_core.runs.worker import train_and_record
from tests.app.conftest import open_page

PAGE = "app_pages/compare.py"


@pytest.fixture(autouse=True)
def _default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECLAB_DB", raising=False)


def _data(seed: int = 0):
    syn = generate_synthetic(n_users=120, n_items=60, n_interactions=2400, seed=seed)
    return prepare_from_frame(syn.interactions, PreprocessConfig(), SplitConfig(val_fraction=0.1))


def _train(spec: ExperimentSpec, data, name: str, **kw) -> str:
    rid, _ = train_and_record(spec, data, {"kind": "file", "data": "synthetic.csv"}, name=name, **kw)
    return rid


@pytest.fixture
def two_runs() -> list[str]:
    data = _data()
    return [
        _train(ExperimentSpec("popularity", ks=(5, 10)), data, "pop", about={"dataset_name": "syn"}),
        _train(
            ExperimentSpec("ials", params={"iterations": 3, "factors": 8}, ks=(5, 10), device="cpu"),
            data,
            "ials-small",
            about={"dataset_name": "syn"},
            tags=["exp1"],
        ),
    ]


def _values(v) -> list:
    """Plotly ≥ 6 sends numpy arrays as typed arrays (``{"dtype", "bdata"}``); lists pass through."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def _charts(at) -> dict[str, dict]:
    out = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def test_empty_state_points_to_train():
    at = open_page(PAGE)
    assert "No runs yet" in at.info[0].value
    assert any("train" in link.proto.page.lower() for link in at.get("page_link"))
    assert not at.get("plotly_chart")


def test_two_runs_compared(two_runs):
    at = open_page(PAGE)
    assert not at.error and not at.warning
    assert set(at.multiselect(key="compare.runs").value) == set(two_runs)  # both finished, same group
    charts = _charts(at)
    loss, val = charts["training loss: loss"], charts["validation: ndcg@10"]
    assert [d["name"] for d in loss["data"]] == ["ials-small"]  # popularity has no loss
    assert {d["name"] for d in val["data"]} == {"pop", "ials-small"}
    assert loss["layout"]["uirevision"] == "compare.curve.losses"
    assert {"ndcg across K", "ndcg@10 vs coverage@10", "ndcg@10 against factors", "ndcg@10 by user activity"} <= set(
        charts
    )
    k_lines = charts["ndcg across K"]["data"]
    assert len(k_lines) == 2 and _values(k_lines[0]["x"]) == [5, 10]
    verdict = next(m.value for m in at.markdown if "significant at 0.05" in m.value)
    winner, loser = ("ials-small", "pop") if verdict.startswith("'ials-small'") else ("pop", "ials-small")
    assert f"'{winner}' − '{loser}' = +" in verdict  # ndcg@10: the winner's mean minus the loser's is positive
    assert len(at.get("download_button")) == 2
    tables = at.dataframe
    assert len(tables[0].value) == 2 and set(tables[0].value["rank"]) == {1, 2}


def test_interactions_log_scale_wall_time_filters_and_same_run(two_runs):
    at = open_page(PAGE)
    at.toggle(key="compare.c.log").set_value(True).run()
    at.get("segmented_control")[0]  # the x-axis control exists
    at.session_state["compare.c.x"] = "elapsed"
    at.run()
    loss = _charts(at)["training loss: loss"]
    assert loss["layout"]["yaxis"]["type"] == "log" and loss["layout"]["xaxis"]["title"]["text"].startswith("wall")
    at.multiselect(key="compare.f.tag").set_value(["exp1"]).run()
    assert list(at.dataframe[0].value["name"]) == ["ials-small"]
    assert at.multiselect(key="compare.runs").value == [two_runs[1]]
    assert "Select two runs" in " ".join(i.value for i in at.info)
    at.multiselect(key="compare.f.tag").set_value([]).run()
    at.multiselect(key="compare.runs").set_value(two_runs).run()
    at.selectbox(key="compare.sig.b").set_value(at.selectbox(key="compare.sig.a").value).run()
    assert any("two different runs" in w.value for w in at.warning)
    assert not at.exception


def test_mixed_protocols_are_flagged_and_not_tested(two_runs):
    other = _train(ExperimentSpec("popularity", ks=(10,)), _data(seed=7), "pop-other-data")
    rating = _train(ExperimentSpec("biased_mf", params={"epochs": 2}, device="cpu"), _data(), "mf")
    at = open_page(PAGE)
    at.multiselect(key="compare.runs").set_value([*two_runs, other, rating]).run()
    (warning,) = at.warning
    text = warning.value
    assert "not all comparable" in text
    # one sentence per differing aspect; different data with the same split settings is not a different split
    sentences = text.rstrip(".").split(". ")[1:]
    assert len(sentences) == 2  # evaluation and data, not one sentence per pair of runs
    evaluation = next(x for x in sentences if x.startswith("Different evaluation: "))
    assert "rating for 'mf'" in evaluation and all(
        f"'{n}'" in evaluation for n in ("pop", "ials-small", "pop-other-data")
    )
    data = next(x for x in sentences if x.startswith("Different data: "))
    ours, theirs = data.split(" vs ")
    assert "'pop-other-data'" in theirs and "'pop-other-data'" not in ours and "'mf'" in ours
    assert "different split" not in text.lower()  # the same split settings on different data
    table = at.dataframe[0].value
    assert table.loc[table["name"] == "mf", "rmse"].notna().all() and table["group"].nunique() == 3
    at.selectbox(key="compare.sig.a").set_value(two_runs[0]).run()
    at.selectbox(key="compare.sig.b").set_value(other).run()
    assert any("paired test needs the same users" in e.value for e in at.error)
    # the metrics table keeps rating metrics for the rating run
    assert "rmse" in at.dataframe[1].value.columns


def test_damaged_per_user_artifact_gives_a_message(two_runs):
    path = RunStore().artifacts(two_runs[0])["per_user"]
    Path(path).write_bytes(b"not parquet")
    at = open_page(PAGE)
    assert any("could not be read" in w.value for w in at.warning)
    assert not at.exception


def test_html_report_is_self_contained(two_runs):
    from ui import compare as ui
    from ui.figures import scatter_runs

    store = RunStore()
    runs = [store.get(r) for r in two_runs]
    table = cmp.run_table(runs)
    fig_a = scatter_runs({r["id"]: (r["name"], 0.5, 0.25) for r in runs}, x_title="x", y_title="y", title="trade")
    fig_b = ui.across_k_figure(cmp.metrics_across_k(runs), "ndcg", ui.run_labels(table))
    page = ui.comparison_report(runs, table, {"Trade-off": fig_a, "NDCG across K": fig_b}, notes=["verdict here"])
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("* plotly.js v") == 1  # plotly.js inlined exactly once
    assert page.count("Plotly.newPlot") >= 2 and '<script src="http' not in page
    for r in runs:
        assert r["name"] in page and r["id"] in page
    assert html.escape(cmp.describe_protocol(runs[0]["protocol"], datasets=["syn"])) in page  # each run's protocol
    assert runs[0]["protocol"]["data_fingerprint"] in page
    assert f"{runs[1]['metrics']['ndcg@10']:.4f}" in page and "class='best'" in page
    assert '"name":"pop"' in page.replace(" ", "") and "verdict here" in page  # the figures' data


def _colours(spec: dict) -> dict[str, str]:
    """Trace name → colour of a line, marker or bar chart."""
    out = {}
    for d in spec["data"]:
        colour = (d.get("line") or {}).get("color") or (d.get("marker") or {}).get("color")
        out[d["name"]] = colour
    return out


def test_every_run_has_its_own_colour_in_every_chart():
    # QA #9: two of six runs were drawn in the same green. Nine runs on the old 8-colour hash palette must clash.
    data = _data()
    ids = [
        _train(ExperimentSpec("popularity", ks=(5, 10), seed=i), data, f"pop {i}", about={"dataset_name": "syn"})
        for i in range(9)
    ]
    at = open_page(PAGE)
    at.multiselect(key="compare.runs").set_value(ids).run()
    charts = _charts(at)
    by_chart = {t: _colours(charts[t]) for t in ("ndcg across K", "ndcg@10 by user activity", "validation: ndcg@10")}
    for title, colours in by_chart.items():
        assert len(colours) == 9 and len(set(colours.values())) == 9, title
    assert by_chart["ndcg across K"] == by_chart["ndcg@10 by user activity"] == by_chart["validation: ndcg@10"]
    # dropping a run keeps the others' colours
    before = by_chart["ndcg across K"]
    at.multiselect(key="compare.runs").set_value(ids[1:]).run()
    after = _colours(_charts(at)["ndcg across K"])
    assert after == {k: v for k, v in before.items() if k != "pop 0"}


def _submitted(store: RunStore, model: str, dataset: str, status: str) -> str:
    """A run as the job queue records it on submission (no fingerprint, no evaluation kind), then ended
    without metrics."""
    split = {"kind": "dataset", "preprocess": PreprocessConfig().to_dict(), "split": SplitConfig().to_dict()}
    protocol = {"ks": [10, 20], "candidates": "full", "n_negatives": 100, "relevance_threshold": None, "seed": 42,
                "split": split}  # fmt: skip
    rid = store.create(model=model, name=f"qa {model}", dataset_name=dataset, protocol=protocol)
    store.fail(rid, "stopped", status=status)
    return rid


def test_runs_without_metrics_form_no_group(two_runs):
    # QA #14: a failed biased_mf run and a cancelled bpr run on other datasets made a group
    # "C · 2 runs · ranking evaluation · … · data ?"
    store = RunStore()
    failed = _submitted(store, "biased_mf", "qa_implicit", "failed")
    cancelled = _submitted(store, "bpr", "qa_good", "cancelled")
    at = open_page(PAGE)
    table = at.dataframe[0].value
    assert set(table.loc[table["name"].isin(["qa biased_mf", "qa bpr"]), "group"]) == {cmp.NO_GROUP}
    groups = [m.value for m in at.markdown if " evaluation · " in m.value]
    assert len(groups) == 1 and "data ?" not in groups[0]
    assert "validation 10%" in groups[0] and "data 'syn'" in groups[0]
    at.multiselect(key="compare.runs").set_value([*two_runs, failed, cancelled]).run()
    assert not at.warning  # the evaluated runs are comparable; the others are named in a note
    note = " ".join(i.value for i in at.info)
    assert "'qa biased_mf' (failed)" in note and "'qa bpr' (cancelled)" in note and "have no metrics" in note
    assert not at.exception


def _config(at, index: int = 0) -> dict[str, dict]:
    """Column name → its column_config of the ``index``-th dataframe on the page."""
    return json.loads(at.dataframe[index].proto.columns or "{}")


def test_cells_without_a_value_are_empty_not_none(two_runs):
    # QA round 2 #9: the rank and metric cells of a run without metrics read "None" (Streamlit's default text
    # for a missing value)
    _submitted(RunStore(), "biased_mf", "qa_good", "failed")
    at = open_page(PAGE)
    table = at.dataframe[0]
    data = table.value
    row = data[data["name"] == "qa biased_mf"].iloc[0]
    assert row[["rank", "ndcg@10", "coverage@10"]].isna().all()  # no value there…
    assert table.proto.placeholder == "—"  # …so the cell shows a dash
    config = _config(at)
    assert config["ndcg@10"]["type_config"]["format"] == "%.4f"
    assert config["n_users"]["type_config"]["format"] == "localized"


def test_metric_columns_and_pickers_explain_each_metric(two_runs):
    # QA round 2 #11: no definitions for avg_popularity, gini, novelty, personalisation, coverage or MAP
    from recsys_core.evaluation import METRICS

    at = open_page(PAGE)
    helps = {c: v.get("help") for c, v in _config(at).items()}
    assert METRICS["ndcg"].description in helps["ndcg@10"] and "Higher is better" in helps["ndcg@10"]
    assert METRICS["catalog_coverage"].description in helps["coverage@10"]
    assert METRICS["gini_index"].description in helps["gini@10"] and "Lower is better" in helps["gini@10"]
    assert METRICS["average_popularity"].description in helps["avg_popularity@10"]
    for name in ("map@10", "novelty@10", "personalisation@10"):
        assert "docs/metrics.md" in helps[name], name
    assert METRICS["ndcg"].description in at.selectbox(key="compare.f.sort").help
    at.selectbox(key="compare.f.sort").set_value("recall@10").run()
    assert METRICS["recall"].description in at.selectbox(key="compare.f.sort").help
    metrics_help = {c: v.get("help") for c, v in _config(at, 1).items()}
    assert METRICS["mrr"].description in metrics_help["mrr@10"]
    assert METRICS["ndcg"].description in at.selectbox(key="compare.k.metric").help


def test_the_sort_metric_is_the_first_metric_column(two_runs):
    # QA round 2 #11: metric columns are alphabetical, so the one sorted by was off-screen
    at = open_page(PAGE)
    at.selectbox(key="compare.f.sort").set_value("recall@10").run()
    assert not at.exception
    columns = list(at.dataframe[0].value.columns)
    first_metric = next(c for c in columns if "@" in c or c in ("rmse", "mae"))
    assert first_metric == "recall@10"
