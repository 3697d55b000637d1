"""The client forms in a real browser: a new client meets its likely duplicate before
saving, is saved anyway, edited (a wrong INN is refused next to the field), and the
card shows the change history.

Headless Chromium runs ``web/static/clients.js`` against the app on 127.0.0.1.
Screenshots go to the test's tmp dir (``pytest -s`` prints where).
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Screenshot, log_in_through_the_form

pytestmark = pytest.mark.browser

EXISTING = "ООО «Ромашка»"
SBERBANK_INN = "7707083893"


async def test_new_client_meets_its_duplicate_then_is_edited_with_history(
    page: Page, screenshot: Screenshot
) -> None:
    csrf = await log_in_through_the_form(page, "manager")
    existing = await page.request.post(
        "/api/clients",
        data={"name": EXISTING, "inn": SBERBANK_INN, "phones": ["+7 916 123-45-67"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert existing.status == 201, await existing.text()

    # The screen-pop's "Создать клиента" opens the form with the caller's number.
    await page.goto("/clients/new?phone=79035551234")
    form = page.locator("#client-form")
    await expect(form.locator("input[name=phone]")).to_have_value("+7 (903) 555-12-34")
    await form.locator("input[name=company_name]").fill("Ромашка")
    await form.locator("select[name=legal_form]").select_option("АО")
    await form.locator("input[name=contact_name]").fill("Петров Иван Сергеевич")
    await form.locator("input[name=position]").fill("Директор")

    warning = page.locator("#duplicates")
    await expect(warning).to_be_visible()
    await expect(warning.locator("li")).to_contain_text(EXISTING)
    await expect(warning.locator(".dup-reason")).to_have_text(["похожее название"])
    await screenshot(page, "new-client-duplicate-warning")

    # Enter in a field is a plain save: the server shows the duplicates again.
    await form.locator("input[name=position]").press("Enter")
    await page.wait_for_load_state()
    await expect(page.locator("#duplicates li")).to_contain_text(EXISTING)
    assert page.url.endswith("/clients/new")
    await expect(form.locator("input[name=contact_name]")).to_have_value(
        "Петров Иван Сергеевич"
    )

    await warning.get_by_role("button", name="Всё равно сохранить").click()
    await page.wait_for_url(re.compile(r"/clients/\d+$"))
    company_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("h1")).to_contain_text("Ромашка")
    await expect(page.locator("table.contacts")).to_contain_text(
        "Петров Иван Сергеевич"
    )
    await expect(page.locator(".call-btn").first).to_have_text("☎ +7 (903) 555-12-34")
    await expect(page.locator(".completeness")).to_contain_text("Не заполнено")

    await page.get_by_role("link", name="Изменить", exact=True).first.click()
    await page.wait_for_url(f"**/clients/{company_id}/edit")
    edit = page.locator("#client-form")
    await edit.locator("input[name=inn]").fill("7707083894")
    await edit.locator("input[name=region]").fill("Казань")
    await edit.get_by_role("button", name="Сохранить", exact=True).click()

    error = edit.locator('[data-error-for="inn"]')
    await expect(error).to_have_text("ИНН: неверная контрольная сумма")
    await screenshot(page, "edit-client-invalid-inn")

    await edit.locator("input[name=inn]").fill("7736050003")
    await edit.locator("select[name=status]").select_option("client")
    await edit.get_by_role("button", name="Сохранить", exact=True).click()
    await page.wait_for_url(f"**/clients/{company_id}?saved=1")

    changes = page.locator("table.changes tbody tr", has_text="изменение:")
    region = changes.filter(has_text="Регион")
    await expect(region).to_contain_text("Анна Смирнова")
    await expect(region.locator(".new")).to_have_text("Казань")
    await expect(changes.filter(has_text="Статус").locator(".old")).to_have_text(
        "Потенциальный"
    )
    await expect(changes.filter(has_text="Статус").locator(".new")).to_have_text(
        "Клиент"
    )
    await expect(changes.filter(has_text="ИНН").locator(".new")).to_have_text(
        "7736050003"
    )
    await expect(page.locator(".badge.status-client")).to_have_text("Клиент")
    await screenshot(page, "client-card-after-edit")
