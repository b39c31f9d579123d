import time

from tests.app.conftest import open_page

PAGE = "app_pages/train.py"


def test_train_page_builds_the_form_from_the_schema():
    at = open_page(PAGE)
    assert at.title[0].value == "Train"
    at.selectbox(key="train.model").set_value("ials").run()
    labels = {n.label for n in at.number_input}
    assert {"factors", "iterations", "reg (L2)", "alpha"} <= labels
    at.selectbox(key="train.model").set_value("itemknn").run()
    assert {"k (neighbours per item)", "BM25 k1"} <= {n.label for n in at.number_input}  # not to be read as a K
    at.selectbox(key="train.model").set_value("ials").run()
    factors = at.number_input(key="train.p.ials.factors")
    assert factors.value == 64 and factors.max == 1024
    assert "Range" in factors.help and "`factors`" in factors.help  # the public name for --param / configs
    assert at.selectbox(key="train.p.ials.solver").options == ["cg", "cholesky"]
    assert "No jobs running" in " ".join(i.value for i in at.info)


def test_launching_a_job_shows_it_queued_then_finished(reclab_home):
    at = open_page(PAGE)
    at.selectbox(key="train.model").set_value("popularity").run()
    at.text_input(key="train.name").set_value("pop run").run()
    at.button(key="train.launch").click().run()
    assert not at.exception
    statuses = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # run_every never ticks in AppTest: rerun by hand
        at.run()
        texts = " ".join(p.proto.text for p in at.get("progress"))
        statuses.add("active" if texts else "idle")
        table = [d.value for d in at.dataframe if "status" in d.value.columns]
        if table and (table[0]["status"] == "finished").any():
            break
        time.sleep(0.5)
    assert "active" in statuses
    recent = next(d.value for d in at.dataframe if "status" in d.value.columns)
    row = recent[recent["run"] == "pop run"].iloc[0]
    assert row["status"] == "finished" and row["ndcg@10"] > 0
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Jobs:" in sidebar


def test_cancel_button_cancels_a_running_job():
    at = open_page(PAGE)
    at.selectbox(key="train.model").set_value("bpr").run()
    at.number_input(key="train.p.bpr.epochs").set_value(2000).run()
    at.button(key="train.launch").click().run()
    deadline = time.monotonic() + 90
    cancel = None
    while time.monotonic() < deadline:
        at.run()
        buttons = [b for b in at.button if b.key and b.key.startswith("train.cancel.")]
        if buttons and "epoch" in " ".join(p.proto.text for p in at.get("progress")):
            cancel = buttons[0]
            break
        time.sleep(0.5)
    assert cancel is not None
    cancel.click().run()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        at.run()
        table = [d.value for d in at.dataframe if "status" in d.value.columns]
        if table and (table[0]["status"] == "cancelled").any():
            break
        time.sleep(0.5)
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert (table["status"] == "cancelled").any()


def test_tags_typed_on_train_go_with_the_queued_run():
    # QA round 2 #12: tags could only be set from the command line
    from recsys_core.runs.store import RunStore

    at = open_page(PAGE)
    at.selectbox(key="train.model").set_value("popularity").run()
    at.text_input(key="train.name").set_value("tagged pop").run()
    at.text_input(key="train.tags").set_value(" baseline, sweep 3 ,, ").run()
    at.button(key="train.launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (run,) = [r for r in RunStore().list() if r["name"] == "tagged pop"]
    assert run["tags"] == ["baseline", "sweep 3"]


def test_a_cancelled_run_is_not_shown_as_an_error_and_empty_cells_are_dashes(reclab_home):
    from recsys_core.runs.store import RunStore

    store = RunStore(home=reclab_home)
    store.request_cancel(store.create(model="bpr", name="stopped early"))
    at = open_page("app_pages/train.py")
    assert not at.exception
    assert not [e.value for e in at.error if "stopped early" in e.value]
    assert any("stopped early" in i.value and "was cancelled before its first epoch" in i.value for i in at.info)
    recent = next(d for d in at.dataframe if "error" in d.value.columns)
    assert recent.proto.placeholder == "—"
