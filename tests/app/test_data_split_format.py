"""QA round 2 #11: the Data page's split preview showed raw counts ("799992" / "200008") beside "1,000,000" in
the Cleaning table; its counts now carry thousands separators."""

import json

from tests.app.conftest import open_page

PAGE = "app_pages/data.py"


def test_split_preview_counts_have_thousands_separators():
    at = open_page(PAGE)
    preview = next(d for d in at.dataframe if list(d.value.columns[:1]) == ["part"])
    assert set(preview.value["part"]) >= {"train", "test"}
    assert preview.value["interactions"].max() >= 1_000  # the built-in data: separators matter
    config = json.loads(preview.proto.columns or "{}")
    for column in ("users", "items", "interactions"):
        assert config[column]["type_config"]["format"] == "localized", column
