from tests.app.conftest import open_app


def test_home_renders_on_the_embedded_dataset():
    at = open_app()
    assert at.title[0].value == "RecLab"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Interactions"].replace(",", "")) > 50_000
    assert int(metrics["Users"].replace(",", "")) > 500
    sidebar_text = " ".join(m.value for m in at.sidebar.markdown)
    assert "Dataset:" in sidebar_text and "Device:" in sidebar_text


def test_home_shows_the_active_dataset_name_in_full():
    # QA #16: as an st.metric value the name was cut off in the browser ("Built-in sy…"); text wraps instead
    at = open_app()
    assert "Active dataset" not in {m.label for m in at.metric}
    assert any(m.value == "**Active dataset:** Built-in synthetic" for m in at.main.markdown)


def test_home_lists_recent_runs_or_says_how_to_get_one():
    at = open_app()
    assert any("No runs yet" in i.value for i in at.info)
