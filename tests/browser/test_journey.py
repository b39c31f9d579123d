"""The whole journey in a real browser: upload a CSV, map columns, save, train two models and watch the loss
curve appear, compare them, open a user and edit the history (what-if). Screenshots of each page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def _csv() -> bytes:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(200):
        block = u % 4
        items = rng.choice(np.arange(block * 15, block * 15 + 15), size=10, replace=False)
        extra = rng.choice(60, size=3, replace=False)
        for k, i in enumerate([*items, *extra]):
            rows.append((f"u{u}", f"m{i}", float(rng.integers(3, 6)), 1_700_000_000 + 3600 * k + u))
    frame = pd.DataFrame(rows, columns=["visitor", "movie", "stars", "when"]).drop_duplicates(["visitor", "movie"])
    return frame.to_csv(index=False).encode()


def _select(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()
    wait_for_app(page)


def _go(page, title: str) -> None:
    """Navigate like a user, through the sidebar (keeps the browser session and its active dataset)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_app(page)


def _number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True).first
    field.fill(str(value))
    field.press("Enter")
    wait_for_app(page)


def test_upload_train_compare_and_what_if(app_server, page):
    # 1. Data: upload, check the detected mapping, save as the active dataset
    page.goto(f"{app_server}/data")
    wait_for_app(page)
    page.get_by_text("Upload a file", exact=True).first.click()
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "visits.csv", "mimeType": "text/csv", "buffer": _csv()}]
    )
    wait_for_app(page)
    expect(page.get_by_role("combobox", name="User column")).to_have_value("visitor")
    expect(page.get_by_role("combobox", name="Rating column")).to_have_value("stars")
    expect(page.get_by_test_id("stMetric").filter(has_text="Users")).to_contain_text("200")
    name = page.get_by_label("Dataset name")
    name.fill("visits")
    name.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Save and make active").click()
    wait_for_app(page)
    expect(page.get_by_text("Saved 'visits'")).to_be_visible()
    screenshot(page, "journey-1-data")

    # 2. Train two models; the live loss curve appears while the first one runs
    _go(page, "Train")
    expect(page.get_by_test_id("stMarkdown").filter(has_text="Data: visits").first).to_be_visible()
    _select(page, "Model", "bpr")
    _number(page, "epochs", 400)
    page.get_by_role("button", name="Train", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=90_000)
    expect(page.get_by_text("epoch", exact=False).first).to_be_visible()
    screenshot(page, "journey-2-train-live")
    _select(page, "Model", "ease")
    page.get_by_role("button", name="Train", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("No jobs running")).to_be_visible(timeout=180_000)
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()
    screenshot(page, "journey-3-train-done")

    # 3. Compare: both runs are in the table; curves and metrics for the selection
    _go(page, "Compare")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_role("tab", name="Curves")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=30_000)
    screenshot(page, "journey-4-compare")
    page.get_by_role("tab", name="Metrics").click()
    wait_for_app(page)
    screenshot(page, "journey-5-compare-metrics")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the comparison (HTML report)").click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<html" in report.lower() and "Plotly" in report
    assert "bpr" in report and "ease" in report and "visits" in report

    # 4. Recommendations: open a user, remove history items, see the list change
    _go(page, "Recommendations")
    expect(page.get_by_text("History", exact=False).first).to_be_visible(timeout=60_000)
    screenshot(page, "journey-6-recommendations")
    page.get_by_role("tab", name="What-if").click()
    wait_for_app(page)
    summary = page.get_by_test_id("stMarkdown").filter(has_text="Re-ranked top").first
    expect(summary).to_contain_text("no edits yet")
    remove = page.get_by_role("combobox", name="Remove from the history")
    for _ in range(4):
        remove.click()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        wait_for_app(page)
    expect(summary).not_to_contain_text("no edits yet")
    expect(summary).not_to_contain_text("0 new, 0 dropped")
    screenshot(page, "journey-7-what-if")
