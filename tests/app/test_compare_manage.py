"""QA round 2 #12 on the Compare page: rename, tag and delete the selected runs ("Manage selected runs"),
through the run store, with a confirmation before deleting and queued/running runs refused."""

from __future__ import annotations

import pytest

from recsys_core.runs.store import RunStore
from tests.app.conftest import open_page
from tests.app.test_compare_page import PAGE, _submitted, two_runs  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def _default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECLAB_DB", raising=False)


def _select(at, ids):
    at.multiselect(key="compare.runs").set_value(list(ids)).run()
    assert not at.exception, [e.value for e in at.exception]


def _flash(at) -> str:
    return " ".join(x.value for x in (*at.success, *at.info, *at.toast))


def test_rename_one_run(two_runs):  # noqa: F811
    pop, _ = two_runs
    at = open_page(PAGE)
    _select(at, [pop])
    at.text_input(key=f"compare.manage.name.{pop}").set_value("popularity baseline").run()
    at.button(key="compare.manage.rename").click().run()
    assert RunStore().get(pop)["name"] == "popularity baseline"
    assert "popularity baseline" in list(at.dataframe[0].value["name"])
    assert "Renamed 'pop' to 'popularity baseline'" in _flash(at)
    _select(at, two_runs)  # two runs: no rename
    assert not [b for b in at.button if b.key == "compare.manage.rename"]


def test_add_and_remove_tags_on_the_selection(two_runs):  # noqa: F811
    at = open_page(PAGE)
    _select(at, two_runs)
    at.text_input(key="compare.manage.add").set_value(" , ,").run()
    assert at.button(key="compare.manage.tag").disabled  # only separators: no tag to apply (QA round 3)
    at.text_input(key="compare.manage.add").set_value("baseline, sweep 3").run()
    at.button(key="compare.manage.tag").click().run()
    store = RunStore()
    assert store.get(two_runs[0])["tags"] == ["baseline", "sweep 3"]
    assert store.get(two_runs[1])["tags"] == ["baseline", "exp1", "sweep 3"]
    assert set(at.multiselect(key="compare.f.tag").options) == {"baseline", "exp1", "sweep 3"}
    at.multiselect(key="compare.manage.remove").set_value(["exp1", "sweep 3"]).run()
    at.button(key="compare.manage.tag").click().run()
    assert [store.get(r)["tags"] for r in two_runs] == [["baseline"], ["baseline"]]


def test_delete_asks_first_then_removes_the_runs(two_runs):  # noqa: F811
    pop, ials = two_runs
    at = open_page(PAGE)
    _select(at, [pop])
    at.button(key="compare.manage.delete").click().run()
    assert any("Delete 'pop'?" in w.value for w in at.warning)
    manage = next(e for e in at.expander if e.label.startswith("Manage selected runs"))
    assert manage.proto.expanded  # the confirmation inside stays in view (QA round 3)
    assert RunStore().exists(pop)  # nothing deleted before the confirmation
    at.button(key="compare.manage.no").click().run()
    assert RunStore().exists(pop) and not any("Delete 'pop'?" in w.value for w in at.warning)
    at.button(key="compare.manage.delete").click().run()
    at.button(key="compare.manage.yes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not RunStore().exists(pop) and RunStore().exists(ials)
    assert list(at.dataframe[0].value["name"]) == ["ials-small"]
    assert "Deleted 'pop'" in _flash(at)


def test_a_queued_run_is_not_deleted(two_runs):  # noqa: F811
    store = RunStore()
    queued = store.create(model="bpr", name="waiting", dataset_name="syn")
    ended = _submitted(store, "bpr", "syn", "cancelled")
    at = open_page(PAGE)
    _select(at, [queued])
    assert "'waiting' is queued: cancel it on the Train page first" in " ".join(i.value for i in at.info)
    assert at.button(key="compare.manage.delete").disabled
    _select(at, [queued, ended])
    at.button(key="compare.manage.delete").click().run()
    at.button(key="compare.manage.yes").click().run()
    assert store.exists(queued) and not store.exists(ended)
