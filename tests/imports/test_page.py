"""The import page in a real browser: upload, mapping table, dry run, import."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import log_in_through_the_form
from tests.imports.conftest import FILES

pytestmark = pytest.mark.browser


async def test_check_then_import_from_the_page(page: Page) -> None:
    await log_in_through_the_form(page, "manager")
    await page.goto("/imports")

    await page.set_input_files('input[name="file"]', str(Path(FILES, "outlook_ru.csv")))
    await page.get_by_role("button", name="Загрузить").click()
    mapping = page.locator("#import-columns select[data-header='Организация']")
    await expect(mapping).to_have_value("company_name")
    await expect(page.locator("#import-file")).to_contain_text("Outlook")

    await page.get_by_role("button", name="Проверить").click()
    report = page.locator("#import-report tr")
    await expect(report).to_have_count(2)
    await expect(report.first).to_contain_text("будет создано")
    await expect(page.locator("#import-counts")).to_contain_text("будет создано: 2")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Импортировать").click()
    await expect(page.locator("#import-progress-title")).to_have_text("Импорт завершён")
    link = report.first.locator("a")
    await expect(link).to_have_text("АО «Север-Трейд»")
    await link.click()
    await expect(page.locator("h1")).to_contain_text("Север-Трейд")
