"""A manager's day with the client base, in a real browser: import a list (check it
first, then run it), find a client by a misspelled name, then merge two companies
the list brought in twice under a name one letter apart.

Every step goes through the panel as a user would: the import page, the search box,
the duplicates list and the merge form. Screenshots go to the test's tmp dir
(``pytest -s`` prints where).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Screenshot, log_in_through_the_form
from tests.imports.conftest import INN_A, csv_bytes

pytestmark = pytest.mark.browser

BAD_INN = "7707083894"  # INN_A with the last digit changed: checksum wrong
# Two spellings of one company: the importer matches neither (no INN, different
# name keys, phones and e-mails), the duplicate scan pairs them (one typo apart).
FIRST_SPELLING = "Стройтехмонтаж"
SECOND_SPELLING = "Стройтехмантаж"
CLIENT_LIST = [
    "Компания;ИНН;Регион;Отрасль;ФИО;Должность;Телефон;Email",
    f"ООО «Ромашка»;{INN_A};Москва;Торговля;Иванов Иван Петрович;Директор;"
    "+7 916 123-45-67;ivanov@romashka.ru",
    f"ООО «{FIRST_SPELLING}»;;Подольск;Строительство;Петров Пётр Ильич;Прораб;"
    "+7 495 111-22-33;petrov@stm.ru",
    f"ООО «{SECOND_SPELLING}»;;Подольск;Монтаж вентиляции;Сидорова Анна Юрьевна;"
    "Снабженец;+7 495 444-55-66;sidorova@stm-vent.ru",
    f"АО «Вектор»;{BAD_INN};Тула;Логистика;Кузьмин Олег;Логист;"
    "+7 487 222-33-44;kuzmin@vektor.ru",
]


async def test_import_search_and_merge_duplicates(
    page: Page, screenshot: Screenshot, tmp_path: Path
) -> None:
    await log_in_through_the_form(page, "manager")

    # 1. Upload the list on the import page.
    upload = tmp_path / "clients.csv"
    upload.write_bytes(csv_bytes(CLIENT_LIST))
    await page.get_by_role("link", name="Импорт", exact=True).click()
    await page.wait_for_url("**/imports")
    await page.set_input_files('input[name="file"]', str(upload))
    await page.get_by_role("button", name="Загрузить").click()
    await expect(page.locator("#import-file")).to_contain_text(
        "clients.csv: CSV (UTF-8 или Windows-1251), строк: 4"
    )
    columns = page.locator("#import-columns")
    await expect(columns.locator("select[data-header='Компания']")).to_have_value(
        "company_name"
    )
    await expect(columns.locator("select[data-header='Отрасль']")).to_have_value(
        "industry"
    )
    await expect(columns.locator("select[data-header='ФИО']")).to_have_value(
        "full_name"
    )
    await screenshot(page, "1-import-mapping")

    # 2. Dry run: three companies would be created, Вектор is refused for its INN.
    await page.get_by_role("button", name="Проверить").click()
    await expect(page.locator("#import-progress-title")).to_have_text(
        "Проверка: что будет сделано"
    )
    report = page.locator("#import-report tr")
    await expect(report).to_have_count(4)
    await expect(page.locator("#import-counts")).to_contain_text("будет создано: 3")
    await expect(page.locator("#import-counts")).to_contain_text("отклонено: 1")
    created = page.locator("#import-report tr.import-created")
    await expect(created).to_have_count(3)
    await expect(created.nth(1)).to_contain_text(FIRST_SPELLING)
    await expect(created.nth(2).locator("td")).to_have_text(
        [
            "4",
            "будет создано",
            f"ООО «{SECOND_SPELLING}»",
            "Сидорова Анна Юрьевна",
            # The likely duplicate is pointed out before anything is written.
            f"новая компания ООО «{SECOND_SPELLING}»; "
            f"похожа на ООО «{FIRST_SPELLING}» из строки 3; "
            "новый контакт Сидорова Анна Юрьевна",
        ]
    )
    rejected = page.locator("#import-report tr.import-rejected")
    await expect(rejected.locator("td")).to_have_text(
        [
            "5",
            "отклонено",
            "АО «Вектор»",
            "Кузьмин Олег",
            "ИНН: неверная контрольная сумма",
        ]
    )
    await screenshot(page, "2-import-dry-run")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Импортировать").click()
    await expect(page.locator("#import-progress-title")).to_have_text("Импорт завершён")
    await expect(page.locator("#import-counts")).to_contain_text("создано: 3")
    await expect(report.locator("a")).to_have_text(
        ["ООО «Ромашка»", f"ООО «{FIRST_SPELLING}»", f"ООО «{SECOND_SPELLING}»"]
    )
    await expect(rejected).to_contain_text("ИНН: неверная контрольная сумма")
    # The list of runs under the form shows the check and the import at once.
    await expect(page.locator("#import-runs tr")).to_have_count(2)
    await expect(page.locator("#import-runs tr").first).to_contain_text(
        "импорт" + "завершён" + "создано: 3 · отклонено: 1"
    )
    await expect(page.locator("#import-runs tr").nth(1)).to_contain_text(
        "проверка" + "завершён" + "будет создано: 3 · отклонено: 1"
    )
    await screenshot(page, "3-import-done")

    # 3. The search box forgives a typo in the name.
    await page.get_by_role("link", name="Поиск", exact=True).click()
    await page.locator("#search-q").press_sequentially("Ромошка", delay=50)
    hit = page.locator("#search-results .search-hit", has_text="Ромашка")
    await expect(hit).to_have_count(1)
    await expect(hit.locator("a.name")).to_have_text("ООО «Ромашка»")
    await expect(hit.locator(".badge")).to_have_text("название: ООО «Ромашка»")
    await screenshot(page, "4-search-typo")
    await hit.locator("a.name").click()
    await page.wait_for_url(re.compile(r"/clients/\d+$"))
    await expect(page.locator("h1")).to_contain_text("Ромашка")
    await expect(page.locator("table.contacts")).to_contain_text("Иванов Иван Петрович")
    await expect(page.locator("dt:has-text('ИНН') + dd")).to_have_text(f"{INN_A} / —")
    await screenshot(page, "5-search-hit-card")

    # 4. The duplicates list pairs the two spellings; merge them, taking the
    # second record's industry.
    await page.get_by_role("link", name="Дубли", exact=True).click()
    await expect(page.locator("nav.filters")).to_contain_text("найдено пар: 1")
    pair = page.locator("table.duplicates tbody tr", has_text=FIRST_SPELLING)
    await expect(pair).to_have_count(1)
    await expect(pair).to_contain_text(SECOND_SPELLING)
    await expect(pair.locator(".badge")).to_have_text(["похожее название"])
    await screenshot(page, "6-duplicates")
    await pair.get_by_role("link", name="Объединить").click()
    await page.wait_for_url(re.compile(r"/merge\?"))
    await expect(page.locator("h1")).to_have_text("Объединение компаний")
    form = page.locator("form.merge")
    await expect(form.locator("thead th").nth(1)).to_contain_text(
        f"Остаётся: ООО «{FIRST_SPELLING}»"
    )
    await expect(form.locator("thead th").nth(2)).to_contain_text(
        f"Объединяется: ООО «{SECOND_SPELLING}»"
    )
    # Field names and values read as on the card, and the numbers come once.
    status = form.locator("tbody tr", has_text="Статус")
    await expect(status.locator("label")).to_have_text(
        ["Потенциальный", "Потенциальный"]
    )
    await expect(
        form.locator("tbody tr", has_text="Полное наименование")
    ).to_have_count(1)
    await expect(
        form.locator("tbody td:first-child", has_text="Телефоны")
    ).to_have_count(1)
    industry = form.locator("tr", has_text="Монтаж вентиляции")
    await expect(industry.locator("input[value=survivor]")).to_be_checked()
    await industry.get_by_label("Монтаж вентиляции").check()
    await screenshot(page, "7-merge-form")
    await form.get_by_role("button", name="Объединить").click()
    await page.wait_for_url(re.compile(r"/merges/[0-9a-f-]+$"))
    await expect(page.locator("h1")).to_have_text("Записи объединены")
    await expect(page.locator("dl.facts")).to_contain_text(
        "Строительство → Монтаж вентиляции"
    )
    await expect(
        page.get_by_role("button", name="Отменить объединение")
    ).to_be_visible()
    await screenshot(page, "8-merge-result")

    await page.locator("dl.facts a", has_text=FIRST_SPELLING).click()
    await page.wait_for_url(re.compile(r"/clients/\d+$"))
    await expect(page.locator("h1")).to_contain_text(FIRST_SPELLING)
    contacts = page.locator("table.contacts tbody tr")
    await expect(contacts).to_have_count(2)
    await expect(contacts.filter(has_text="Петров Пётр Ильич")).to_contain_text(
        "+7 (495) 111-22-33"
    )
    await expect(contacts.filter(has_text="Сидорова Анна Юрьевна")).to_contain_text(
        "+7 (495) 444-55-66"
    )
    await expect(page.locator("dt:has-text('Отрасль') + dd")).to_have_text(
        "Монтаж вентиляции"
    )
    merge_log = page.locator("table.changes tbody tr", has_text="объединение:")
    await expect(merge_log.filter(has_text="присоединена запись")).to_contain_text(
        f"ООО «{SECOND_SPELLING}»"
    )
    await expect(
        merge_log.filter(has_text="перенесено контактных лиц")
    ).to_contain_text("1")
    await screenshot(page, "9-survivor-card")

    await page.get_by_role("link", name="Дубли", exact=True).click()
    await expect(page.locator("table.duplicates tbody tr")).to_have_text(
        ["Дублей не найдено."]
    )
