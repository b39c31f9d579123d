"""Data page: the column mapping shown is the one used, files without an item column, Excel, density."""

import io
import zipfile

import pandas as pd

from recsys_core.data.store import suggest_dataset_name
from tests.app.conftest import open_page

PAGE = "app_pages/data.py"


def _log(columns: list[str], n_users: int = 40, per_user: int = 12, n_items: int = 80) -> bytes:
    """A small interaction log with the given columns (drawn from user, item, rating, timestamp)."""
    rows = [
        {
            "user": u,
            "item": (u * 7 + 3 * k) % n_items,
            "rating": 1 + (u + k) % 5,
            "timestamp": 1_600_000_000 + 86_400 * k + u,
        }
        for u in range(n_users)
        for k in range(per_user)
    ]
    buf = io.StringIO()
    pd.DataFrame(rows)[columns].to_csv(buf, index=False)
    return buf.getvalue().encode()


GOOD = _log(["user", "item", "rating", "timestamp"])
IMPLICIT = _log(["user", "item", "timestamp"])
MISSING_ITEM = _log(["user", "rating", "timestamp"])
N_ITEMS = pd.read_csv(io.BytesIO(GOOD))["item"].nunique()


def _upload(at, data: bytes, name: str):
    if at.segmented_control(key="data.source").value != "upload":
        at.segmented_control(key="data.source").set_value("upload").run()
    at.file_uploader(key="data.upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _select(at, label: str):
    return next(s for s in at.selectbox if s.label == label)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _has_rating_chart(at) -> bool:
    return any('"rating"' in c.proto.spec and "Ratings" in c.proto.spec for c in at.get("plotly_chart"))


def _infos(at) -> list[str]:
    return [i.value for i in at.info]


def _save_shown(at) -> bool:
    return any(b.label == "Save and make active" for b in at.button)


# --- defect 1: the dropdowns show exactly the mapping the page uses ----------------------------------------


def test_a_new_file_after_an_implicit_one_uses_its_own_rating_column():
    at = _upload(open_page(PAGE), IMPLICIT, "implicit.csv")
    assert _select(at, "Rating column").value == "(none)"
    assert any("No rating column" in m for m in _infos(at))
    at.file_uploader(key="data.upload").clear().run()
    at = _upload(at, GOOD, "good.csv")
    assert _select(at, "Rating column").value == "rating"
    # the page uses the ratings it shows: a rating histogram, no "implicit feedback" note
    assert not any("No rating column" in m for m in _infos(at))
    assert len(at.get("plotly_chart")) == 4


def test_replacing_the_file_directly_also_starts_from_the_new_files_mapping():
    at = _upload(open_page(PAGE), IMPLICIT, "implicit.csv")
    at = _upload(at, GOOD, "good.csv")  # no ✕ in between
    assert _select(at, "Rating column").value == "rating"
    assert not any("No rating column" in m for m in _infos(at))


def test_after_a_file_without_item_the_next_file_uses_its_item_column():
    at = _upload(open_page(PAGE), MISSING_ITEM, "missing_item.csv")
    at.file_uploader(key="data.upload").clear().run()
    at = _upload(at, GOOD, "good.csv")
    assert _select(at, "Item column").value == "item"
    assert _metrics(at)["Items"] == f"{N_ITEMS}"
    assert not at.warning, [w.value for w in at.warning]  # no duplicates from a wrong item column


def test_changing_a_dropdown_changes_what_the_page_uses():
    at = _upload(open_page(PAGE), GOOD, "good.csv")
    assert len(at.get("plotly_chart")) == 4
    _select(at, "Rating column").set_value("(none)").run()
    assert any("No rating column" in m for m in _infos(at))
    _select(at, "Timestamp column").set_value("(none)").run()
    assert any("No timestamp column" in m for m in _infos(at))


# --- defect 5: no item column, one column ---------------------------------------------------------------------


def test_a_file_without_an_item_column_stops_before_health_and_save():
    at = _upload(open_page(PAGE), MISSING_ITEM, "missing_item.csv")
    warnings = [w.value for w in at.warning]
    assert (
        "No item column found in 'missing_item.csv' (columns: user, rating, timestamp): "
        "choose the item column below." in warnings
    ), warnings
    kinds = [type(node).__name__ for node in at.main]
    assert kinds.index("Warning") < kinds.index("Selectbox")  # the message is above the form it points to
    assert _select(at, "Item column").value is None  # nothing is used that the user has not chosen
    assert _select(at, "User column").value == "user"
    assert "Users" not in _metrics(at)  # no Health
    assert not _save_shown(at)
    assert not at.error


def test_choosing_the_item_column_unlocks_the_page_once_the_mapping_is_valid():
    at = _upload(open_page(PAGE), MISSING_ITEM, "missing_item.csv")
    _select(at, "Item column").set_value("rating").run()
    # the rating column is still "rating": say which column has two roles, still no Save
    assert any(
        "Column 'rating' of 'missing_item.csv' is chosen as both item and rating" in w.value for w in at.warning
    ), [w.value for w in at.warning]
    assert not _save_shown(at)
    _select(at, "Rating column").set_value("(none)").run()
    assert not at.error and not any("choose" in w.value for w in at.warning), [w.value for w in at.warning]
    assert _metrics(at)["Items"] == "5"  # the user's own choice (the 5 rating values), exactly as shown
    assert _save_shown(at)


def test_a_one_column_file_says_an_item_column_is_needed():
    at = _upload(open_page(PAGE), b"user\n35\n26\n17\n", "one_column.csv")
    errors = [e.value for e in at.error]
    assert any(
        e.startswith(
            "'one_column.csv' has only one column (user); an interaction log needs at least a user and an item column."
        )
        for e in errors
    ), errors
    assert not any("same column for two roles" in e for e in errors)
    assert not at.selectbox or all(s.label != "Item column" for s in at.selectbox)
    assert not _save_shown(at)


# --- defect 10: Excel ----------------------------------------------------------------------------------------


def _xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        zf.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet/>')
    return buf.getvalue()


def test_an_excel_workbook_gets_the_save_as_csv_message():
    at = open_page(PAGE)
    at.segmented_control(key="data.source").set_value("upload").run()
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at.file_uploader(key="data.upload").set_value(("ratings.xlsx", _xlsx(), mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "This is an Excel workbook" in errors and "Save the sheet as CSV (UTF-8)" in errors, errors


def test_an_old_xls_workbook_is_named_as_such():
    at = open_page(PAGE)
    at.segmented_control(key="data.source").set_value("upload").run()
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)  # the OLE2 signature of an old .xls
    at.file_uploader(key="data.upload").set_value(("ratings.xls", ole, "application/vnd.ms-excel")).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "old Excel .xls workbook" in errors and "CSV" in errors, errors


# --- defect 15: density --------------------------------------------------------------------------------------


def test_density_counts_each_user_item_pair_once():
    # 3 users x 2 items, every pair present, each row repeated 4 times: 100% full, not 400%
    rows = "".join(f"{u},{i},{1 + (u + i) % 5}\n" for _ in range(4) for u in range(3) for i in range(2))
    at = _upload(open_page(PAGE), b"user,item,rating\n" + rows.encode(), "dupes.csv")
    metrics = _metrics(at)
    assert metrics["Interactions"] == "24"
    density = [value for label, value in metrics.items() if label.startswith("Density")]
    assert density == ["100.000%"]
    assert "Density (distinct pairs)" in metrics  # the label says what is counted
    assert any("6 distinct (user, item) pairs (18 rows repeat a pair)" in c.value for c in at.caption)


def test_the_suggested_dataset_name_follows_a_new_file():
    at = _upload(open_page(PAGE), GOOD, "good.csv")
    name = next(t for t in at.text_input if t.label == "Dataset name")
    assert name.value == suggest_dataset_name("good.csv")
    at = _upload(at, IMPLICIT, "implicit.csv")  # replaced directly: the old name must not be saved over it
    name = next(t for t in at.text_input if t.label == "Dataset name")
    assert name.value == suggest_dataset_name("implicit.csv")
