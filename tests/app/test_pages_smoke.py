"""Every page renders without an exception: on a fresh install (built-in dataset, no runs) and with an
uploaded dataset saved and made active."""

import pandas as pd
import pytest

from tests.app.conftest import open_app

PAGES = ["app_pages/home.py", "app_pages/data.py", "app_pages/train.py", "app_pages/compare.py",
         "app_pages/recommendations.py"]  # fmt: skip


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_a_fresh_install(page):
    at = open_app()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value
    assert any("Built-in synthetic" in m.value for m in at.sidebar.markdown)


def test_every_page_renders_with_an_uploaded_dataset_active():
    rows = [(f"u{u}", f"i{(u * 3 + k) % 25}", 1 + (u + k) % 5) for u in range(40) for k in range(8)]
    data = pd.DataFrame(rows, columns=["customer", "product", "score"]).to_csv(index=False).encode()
    at = open_app()
    at.switch_page("app_pages/data.py").run()
    at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value(("shop.csv", data, "text/csv")).run()
    next(t for t in at.text_input if t.label == "Dataset name").set_value("shop").run()
    at.button(key="data.save").click().run()
    assert not at.exception
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert any("shop" in m.value for m in at.sidebar.markdown), page
    at.switch_page("app_pages/train.py").run()
    assert any("Data:** shop" in m.value for m in at.markdown)
