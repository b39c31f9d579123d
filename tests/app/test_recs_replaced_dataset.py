"""QA report item 2 on the page: a run whose saved dataset was replaced still shows its own data; a run whose
data cannot be rebuilt exactly says so plainly (not "Something went wrong", not another dataset's items)."""

from __future__ import annotations

from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.runs.store import RunStore
from tests.app.conftest import open_page, train_runs

PAGE = "app_pages/recommendations.py"


def _train(name: str) -> str:
    return train_runs(name, {"ease": {"l2": 20.0}})[0]["ease"]


def test_a_run_on_a_replaced_dataset_shows_its_own_data(reclab_home):
    syn = generate_synthetic(n_users=80, n_items=60, n_interactions=1600, seed=5)
    datasets = DatasetStore()
    datasets.save("tiny", syn.interactions, items=syn.items)
    _train("tiny")
    smaller = syn.interactions[syn.interactions["item"].isin(syn.interactions["item"].unique()[:30])]
    datasets.save("tiny", smaller, overwrite=True)
    at = open_page(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_run_whose_version_is_gone_says_so(reclab_home):
    syn = generate_synthetic(n_users=80, n_items=60, n_interactions=1600, seed=5)
    datasets = DatasetStore()
    datasets.save("tiny", syn.interactions, items=syn.items)
    run_id = _train("tiny")
    datasets.save("tiny", syn.interactions.iloc[:1000], overwrite=True)
    datasets.prune_versions(keep=set())  # the run's version is removed by hand
    at = open_page(PAGE)
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "can no longer be rebuilt exactly" in messages and "Something went wrong" not in messages
    assert RunStore(home=reclab_home).get(run_id)["status"] == "finished"  # nothing saved was changed
