"""Similar items (QA #11): a model without item vectors gets a neutral note, never a red error; every model
that the note lets through really lists similar items."""

from __future__ import annotations

import pytest

from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.experiment import prepare_from_frame
from recsys_core.inspection import similar
from recsys_core.models import create
from recsys_core.models.registry import get_model_class, model_names
from tests.app.conftest import open_page, train_runs
from ui import recs

PAGE = "app_pages/recommendations.py"
NOTE = "Similar items need item vectors; popularity has none. Pick a run of another model."


@pytest.fixture
def runs(reclab_home) -> dict:
    syn = generate_synthetic(n_users=60, n_items=40, n_interactions=1000, seed=3)
    DatasetStore().save("small", syn.interactions, items=syn.items)
    # popularity last: the newest run is the page's default
    return train_runs("small", {"ease": {}, "popularity": {}})[0]


def test_popularity_run_gets_a_neutral_note_instead_of_an_error(runs):
    at = open_page(PAGE)
    assert at.selectbox(key="recs.run").value == runs["popularity"]
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert NOTE in [i.value for i in at.info]
    assert not [s for s in at.selectbox if s.key == "recs.similar.item"]
    at.selectbox(key="recs.run").set_value(runs["ease"]).run()
    assert not at.error and NOTE not in [i.value for i in at.info]
    assert at.selectbox(key="recs.similar.item") is not None
    similar_frames = [d.value for d in at.dataframe if "similarity" in d.value.columns]
    assert len(similar_frames) == 1 and len(similar_frames[0]) == 5


@pytest.mark.parametrize("name", model_names())
def test_note_exactly_for_models_that_cannot_list_similar_items(name):
    syn = generate_synthetic(n_users=40, n_items=30, n_interactions=600, seed=3)
    data = prepare_from_frame(syn.interactions)
    quick = {"epochs": 1} if any(p.name == "epochs" for p in get_model_class(name).schema) else {}
    model = create(name, device="cpu", **quick)
    model.prepare(data.train)
    for epoch in range(1, model.n_epochs + 1):
        model.train_epoch(epoch)
    loaded = recs.LoadedRun(run={"model": name}, model=model, data=data, items=None)
    note = recs.similar_items_note(loaded)
    item = data.train.items.to_ids([0])[0]
    if note is None:
        assert len(similar(model, data.train, item, k=5)) == 5
    else:
        assert name == "popularity" and note == NOTE
