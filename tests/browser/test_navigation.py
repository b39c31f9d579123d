"""A deep link on a freshly started server must get the same frame as a visit through the home page."""

import pytest

from tests.browser.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def _frame(page) -> dict:
    nav = page.get_by_test_id("stSidebarNav")
    return {
        "nav": [t.strip().splitlines()[-1] for t in nav.locator("a").all_inner_texts()],
        "sidebar_has_dataset": page.get_by_test_id("stSidebar").get_by_text("Dataset:").count() > 0,
        "sidebar_has_device": page.get_by_test_id("stSidebar").get_by_text("Device:").count() > 0,
        "wide": page.locator("[data-testid='stMainBlockContainer']").evaluate("e => e.offsetWidth") > 900,
    }


def test_deep_link_first_then_home_show_the_same_frame(app_server, page):
    # The very first request to this server is the deep link.
    page.goto(f"{app_server}/data")
    wait_for_app(page)
    deep = _frame(page)
    assert page.get_by_role("heading", name="Data").first.is_visible()
    assert page.title() == "Data · RecLab"
    screenshot(page, "data-deep-link")

    page.goto(app_server)
    wait_for_app(page)
    home = _frame(page)
    assert page.get_by_role("heading", name="RecLab").first.is_visible()
    assert page.title() == "Home · RecLab"
    screenshot(page, "home")

    assert deep["nav"] == home["nav"] == ["Home", "Data", "Train", "Compare", "Recommendations"]
    assert deep["sidebar_has_dataset"] and home["sidebar_has_dataset"]
    assert deep["sidebar_has_device"] and home["sidebar_has_device"]
    assert deep["wide"] and home["wide"]

    # and navigating from home by the sidebar link lands on the same page as the deep link
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").click()
    wait_for_app(page)
    assert page.url.rstrip("/").endswith("/data")
    assert _frame(page) == deep
