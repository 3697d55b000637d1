"""The search box in Chromium: results appear as the manager types, names stay text
(never markup), and a found number is a click-to-call button like everywhere else."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import browser as browser  # noqa: F401 - fixtures
from tests.browser.conftest import chromium_path as chromium_path  # noqa: F401
from tests.browser.conftest import log_in_through_the_form
from tests.browser.conftest import page as page  # noqa: F401
from tests.web.conftest import app as app  # noqa: F401
from tests.web.conftest import client as client  # noqa: F401

pytestmark = pytest.mark.browser

HOSTILE = 'Ромашка <img src=x onerror="window.pwned=1">'


async def test_results_appear_while_typing(page: Page) -> None:  # noqa: F811
    csrf = await log_in_through_the_form(page, "manager")
    response = await page.request.post(
        "/api/clients?force=1",
        data={"name": HOSTILE, "phones": ["+7 495 123-45-67"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201

    await page.goto("/search")
    await page.locator("#search-q").press_sequentially("Ромош", delay=30)

    hit = page.locator('#search-results [data-group="companies"] .search-hit').first
    await expect(hit.locator("a.name")).to_have_text(HOSTILE)
    button = hit.locator(".call-btn")
    await expect(button).to_have_attribute("data-number", "74951234567")
    assert await button.get_attribute("data-company")
    assert await page.evaluate("window.pwned === undefined")
    assert await page.locator("#search-results img").count() == 0
    assert page.url.endswith("/search?q=%D0%A0%D0%BE%D0%BC%D0%BE%D1%88")

    await page.locator("#search-q").fill("нет такого клиента")
    await expect(page.locator("#search-status")).to_have_text("Ничего не найдено")
