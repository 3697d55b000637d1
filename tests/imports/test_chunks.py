"""Imports write groups in chunks: the result is the same as one group at a time."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.clients.errors import InvalidClientInput
from callcenter.clients.models import Company, Contact
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.imports import service as import_service
from callcenter.imports.service import ImportService
from callcenter.users.service import UserView
from tests.imports.conftest import (
    INN_A,
    INN_B,
    companies,
    contacts_of,
    count,
    csv_bytes,
    phones_of,
)
from tests.imports.test_service import by_line, run_file


async def test_a_group_matching_a_company_new_in_the_same_chunk_updates_it(
    sessions: SessionFactory, importer: ImportService, users: dict[str, UserView]
) -> None:
    # «Ромашка Плюс» has no INN and another name, but the number of the company two
    # lines above: done one group at a time, it updates that company.
    data = csv_bytes(
        [
            "Компания;ИНН;ФИО;Телефон",
            f"Ромашка;{INN_A};Иванов Иван;+7 916 123-45-67",
            f"Вектор;{INN_B};Петров Пётр;+7 916 765-43-21",
            "Ромашка Плюс;;Сидоров Олег;8 (916) 123-45-67, +7 916 000-00-01",
        ]
    )

    summary = await run_file(importer, users["manager"], data, "a.csv", dry_run=False)

    assert [c.name for c in await companies(sessions)] == ["Ромашка", "Вектор"]
    romashka = (await companies(sessions))[0]
    assert [p.full_name for p in await contacts_of(sessions, romashka.id)] == [
        "Иванов Иван",
        "Сидоров Олег",
    ]
    assert await phones_of(sessions, romashka.id) == {"79161234567", "79160000001"}
    # A new contact in a company the file matched by phone.
    assert by_line(summary)[4] == (
        "created",
        "новый контакт Сидоров Олег; совпадает телефон",
    )
    assert summary.report[2]["company_id"] == romashka.id


async def test_small_chunks_give_the_same_base_as_one_chunk(
    sessions: SessionFactory,
    importer: ImportService,
    users: dict[str, UserView],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["Компания;ФИО;Телефон"]
    lines += [f"Фирма {n};Сотрудник {n};+7 916 100-00-{n:02d}" for n in range(1, 8)]
    lines += ["Фирма 3;Новиков Ян;+7 916 200-00-03"]  # joins the group of line 4
    monkeypatch.setattr(import_service, "CHUNK_GROUPS", 3)

    summary = await run_file(
        importer, users["manager"], csv_bytes(lines), "a.csv", dry_run=False
    )

    assert summary.counts["created"] == 8 and summary.counts["rejected"] == 0
    made = await companies(sessions)
    assert [c.name for c in made] == [f"Фирма {n}" for n in range(1, 8)]
    assert [p.full_name for p in await contacts_of(sessions, made[2].id)] == [
        "Сотрудник 3",
        "Новиков Ян",
    ]
    assert [e["line"] for e in summary.report] == list(range(2, 10))

    again = await run_file(
        importer, users["manager"], csv_bytes(lines), "a.csv", dry_run=False
    )
    assert again.counts["skipped"] == 8
    assert await count(sessions, Company) == 7
    assert await count(sessions, Contact) == 8


async def test_a_group_the_base_refuses_is_rejected_and_its_chunk_still_goes_in(
    sessions: SessionFactory,
    importer: ImportService,
    users: dict[str, UserView],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = ClientService._check_company

    def refuse_one(self: ClientService, data: Any, *, partial: bool) -> Any:
        if data.get("name") == "Сбойная":
            raise InvalidClientInput("name", "отклонено проверкой базы")
        return check(self, data, partial=partial)

    monkeypatch.setattr(ClientService, "_check_company", refuse_one)
    data = csv_bytes(
        ["Компания;Телефон", "Альфа;+7 916 111-11-11", "Сбойная;", "Гамма;"]
    )

    summary = await run_file(importer, users["manager"], data, "a.csv", dry_run=False)

    assert [c.name for c in await companies(sessions)] == ["Альфа", "Гамма"]
    report = by_line(summary)
    assert report[3] == ("rejected", "отклонено проверкой базы")
    assert report[2][0] == report[4][0] == "created"


async def test_names_one_typo_from_another_are_pointed_out_before_the_import(
    sessions: SessionFactory,
    importer: ImportService,
    clients: ClientService,
    users: dict[str, UserView],
) -> None:
    manager = users["manager"]
    existing = await clients.create_company(
        {"name": "ООО «Стройтехмонтаж»", "inn": INN_A}, user=manager, force=True
    )
    data = csv_bytes(
        [
            "Компания;ИНН;ФИО",
            "Стройтехмантаж;;Петров Пётр",  # one letter from the base's company
            "Электросбыт Плюс;;Орлов Антон",
            "Электросбит Плюс;;Жуков Иван",  # one letter from line 3
            f"Электросбыт-Плюс;{INN_B};Белов Олег",  # same name key as line 3
        ]
    )

    dry = await run_file(importer, manager, data, "a.csv", dry_run=True)

    report = by_line(dry)
    assert report[2] == (
        "created",
        "новая компания «Стройтехмантаж»; новый контакт Петров Пётр; "
        f"похожа на ООО «Стройтехмонтаж» (№{existing}) в базе",
    )
    assert report[3] == (
        "created",
        "новая компания «Электросбыт Плюс»; новый контакт Орлов Антон",
    )
    assert report[4][1].startswith(
        "новая компания «Электросбит Плюс»; похожа на «Электросбыт Плюс» из строки 3"
    )
