"""AppTest for the Train page's checks before queueing (QA #8, #16): a rating model on implicit data is refused
with a message, the early-stopping Monitor offers only what validation reports, failed runs' errors are
readable in full, and the K list has room."""

from __future__ import annotations

import pytest

from recsys_core.data.schema import SplitConfig
from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from tests.app.conftest import open_page
from ui import resources, state

PAGE = "app_pages/train.py"
SPLIT = SplitConfig(method="user_random", test_fraction=0.2, val_fraction=0.1, seed=42).to_dict()


@pytest.fixture
def datasets(reclab_home) -> None:
    """'qa_implicit' (no rating column) and 'qa_good' (ratings), both with a validation share."""
    rated = generate_synthetic(n_users=40, n_items=30, n_interactions=500, seed=2)
    clicks = generate_synthetic(n_users=40, n_items=30, n_interactions=500, implicit=True, seed=2)
    DatasetStore().save("qa_good", rated.interactions, split=SPLIT)
    DatasetStore().save("qa_implicit", clicks.interactions, split=SPLIT)


def _open(dataset: str):
    at = open_page(PAGE)
    at.session_state[state.ACTIVE_DATASET] = dataset
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"**Data:** {dataset}" in " ".join(m.value for m in at.markdown)
    return at


def _launch(at):
    return at.button(key="train.launch")


def test_rating_model_on_implicit_data_is_explained_and_cannot_be_queued(datasets):
    at = _open("qa_implicit")
    at.selectbox(key="train.model").set_value("biased_mf").run()
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = at.warning
    assert warning.value == (
        "biased_mf learns from explicit ratings, but dataset 'qa_implicit' has none. Choose a ranking model "
        "(bpr, ease, ials, itemknn, mlp, popularity) or load data with ratings."
    )
    assert _launch(at).disabled
    assert resources.run_store().list() == []
    # a ranking model on the same data is fine
    at.selectbox(key="train.model").set_value("bpr").run()
    assert not at.warning and not _launch(at).disabled


def test_mlp_with_mse_loss_on_implicit_data_is_refused(datasets):
    at = _open("qa_implicit")
    at.selectbox(key="train.model").set_value("mlp").run()
    assert not at.warning and not _launch(at).disabled
    at.selectbox(key="train.p.mlp.loss").set_value("mse").run()
    assert "loss=mse" in at.warning[0].value and _launch(at).disabled


def test_rating_model_on_rated_data_is_allowed(datasets):
    at = _open("qa_good")
    at.selectbox(key="train.model").set_value("biased_mf").run()
    assert not at.warning and not _launch(at).disabled


def test_monitor_offers_only_what_validation_reports(datasets):
    at = _open("qa_implicit")
    at.selectbox(key="train.model").set_value("bpr").run()
    at.toggle(key="train.early").set_value(True).run()
    monitor = at.selectbox(key="train.monitor")
    assert monitor.options == ["ndcg@10", "ndcg@20", "recall@10", "recall@20"]
    assert monitor.value == "ndcg@10"
    at.pills(key="train.ks").set_value([5, 10, 20]).run()
    assert at.selectbox(key="train.monitor").options == [f"{m}@{k}" for m in ("ndcg", "recall") for k in (5, 10, 20)]
    at.selectbox(key="train.monitor").set_value("recall@20").run()
    assert not at.warning and not _launch(at).disabled

    at = _open("qa_good")
    at.selectbox(key="train.model").set_value("biased_mf").run()
    at.toggle(key="train.early").set_value(True).run()
    assert at.selectbox(key="train.monitor").options == ["rmse", "mae"]
    assert not at.warning and not _launch(at).disabled


def test_recent_runs_show_a_failed_runs_full_error(datasets):
    store = resources.run_store()
    long_error = (
        "ConfigError: biased_mf is evaluated on test ratings, but the test data has none. "
        "Use a ranking model for implicit data."
    )
    first = store.create(model="biased_mf", name="qa biased_mf", dataset_name="qa_implicit", status="running")
    store.fail(first, long_error)
    second = store.create(model="bpr", name="qa bpr", dataset_name="qa_implicit", status="running")
    store.fail(second, "early stopping monitors 'rmse', which validation does not report. Reported: ndcg@10.")
    at = _open("qa_implicit")
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert set(table["status"]) == {"failed"}
    # the newest failed run's message is shown in full; the other one on request
    (error,) = [e.value for e in at.error]
    assert "qa bpr" in error and "Reported: ndcg@10." in error
    at.selectbox(key="train.recent.error_run").set_value(first).run()
    (error,) = [e.value for e in at.error]
    assert "qa biased_mf" in error and error.endswith(long_error)


def _share(node, key: str, share: float = 1.0) -> float | None:
    """The fraction of the page width the widget ``key`` gets (product of the enclosing column weights)."""
    for child in getattr(node, "children", {}).values():
        s = share * child.weight if child.type == "column" else share
        if getattr(child, "key", None) == key:
            return s
        found = _share(child, key, s)
        if found is not None:
            return found
    return None


def test_evaluate_at_k_gets_room(datasets):
    at = _open("qa_good")
    share = _share(at.main, "train.ks")
    assert share is not None and share >= 0.4, share  # was 1/5 of the page: the "20" chip hid under the icon
    ks = at.pills(key="train.ks")
    assert ks.options == ["1", "5", "10", "20", "50", "100"] and ks.value == [10, 20]  # pills wrap, never hide
    ks.set_value([]).run()
    assert "None chosen: evaluating at K = 10." in [c.value for c in at.caption]


def test_a_k_above_the_number_of_items_is_explained_and_cannot_be_queued(datasets):
    """QA round 2 #1: K=100 on a small dataset was queued, trained, then failed."""
    n = DatasetStore().info("qa_good").n_items
    at = _open("qa_good")
    at.selectbox(key="train.model").set_value("popularity").run()
    at.pills(key="train.ks").set_value([10, 50, 100]).run()
    assert not at.exception, [e.value for e in at.exception]
    (warning,) = at.warning
    assert warning.value == f"K=50 and K=100 are more than the {n} items in dataset 'qa_good'. Pick K ≤ {n}."
    assert _launch(at).disabled
    at.pills(key="train.ks").set_value([10, 20]).run()
    assert not at.warning and not _launch(at).disabled
