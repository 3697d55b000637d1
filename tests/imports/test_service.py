"""Dry runs and real runs against PostgreSQL: grouping, matching, re-imports, bad rows."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.clients.models import Company, Contact, Email, ImportRun
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory
from callcenter.imports.service import ImportService, Summary
from callcenter.users.service import UserView
from tests.imports.conftest import (
    INN_A,
    INN_B,
    INN_C,
    changes_in,
    companies,
    contacts_of,
    count,
    csv_bytes,
    phones_of,
    read,
    xlsx_bytes,
)

CONTACTS_FILE = [
    "Компания;ИНН;ФИО;Должность;Телефон;E-mail",
    f"ООО «Ромашка»;{INN_A};Иванов Иван Иванович;Директор;+7 (916) 123-45-67;ivanov@romashka.ru",
    f"Ромашка ООО;{INN_A};Петров Пётр;Инженер;8 916 123 45 68;",
    f"ООО «Ромашка»;{INN_A};Сидорова Анна;;89161234569;sidorova@romashka.ru",
    "Бета;7707083890;Кузьмин Олег;;;",  # INN with a wrong checksum
    "Гамма;;Лосев Ян;;12-34;",  # not a phone number
    ";;;;;",  # an empty line in the middle
    f"Дельта;{INN_B};;;+7 495 765-43-21;",
    "Дельта;;Орлова Ирина;Бухгалтер;;orlova@delta.ru",  # no INN: joins «Дельта»
]


async def run_file(
    importer: ImportService,
    user: UserView,
    data: bytes,
    name: str,
    *,
    dry_run: bool,
    mapping: dict[str, str] | None = None,
) -> Summary:
    sheet = await importer.read(data, name)
    return await importer.run(
        sheet,
        mapping if mapping is not None else sheet.suggested_mapping(),
        user=user,
        file_name=name,
        dry_run=dry_run,
    )


def by_line(summary: Summary) -> dict[int, tuple[str, str]]:
    return {e["line"]: (e["status"], e["reason"]) for e in summary.report}


async def test_dry_run_then_the_run_then_the_same_file_again(
    sessions: SessionFactory, importer: ImportService, users: dict[str, UserView]
) -> None:
    manager = users["manager"]
    data = csv_bytes(CONTACTS_FILE, encoding="cp1251")

    # The dry run: what would happen to each row, and nothing written.
    dry = await run_file(importer, manager, data, "a.csv", dry_run=True)

    report = by_line(dry)
    assert dry.counts == {
        "created": 5,
        "updated": 0,
        "skipped": 0,
        "duplicate": 0,
        "rejected": 2,
    }
    assert report[2] == (
        "created",
        "новая компания ООО «Ромашка»; новый контакт Иванов Иван Иванович",
    )
    assert report[3] == ("created", "новый контакт Петров Пётр")
    assert report[5] == ("rejected", "ИНН: неверная контрольная сумма")
    assert report[6] == ("rejected", "телефон «12-34» не распознан")
    assert 7 not in report  # the empty line is not a row
    assert report[9][0] == "created" and "Орлова Ирина" in report[9][1]
    assert await count(sessions, Company) == 0
    async with sessions() as session:
        run = await session.get(ImportRun, dry.run_id)
    assert run is not None and run.dry_run and run.status == "done"
    assert run.total_rows == run.processed_rows == 7
    assert run.counts["rejected"] == 2 and len(run.report) == 7

    # The run: three contact rows make one company; bad rows stay out.
    real = await run_file(importer, manager, data, "a.csv", dry_run=False)

    assert real.counts == dry.counts
    made = await companies(sessions)
    assert [(c.name, c.inn) for c in made] == [
        ("ООО «Ромашка»", INN_A),
        ("Дельта", INN_B),
    ]
    romashka, delta = made
    assert romashka.responsible_id == manager.id == delta.responsible_id
    assert romashka.legal_form == "ООО" and romashka.source == "Импорт"
    people = await contacts_of(sessions, romashka.id)
    assert [p.full_name for p in people] == [
        "Иванов Иван Иванович",
        "Петров Пётр",
        "Сидорова Анна",
    ]
    assert await phones_of(sessions, romashka.id) == {
        "79161234567",
        "79161234568",
        "79161234569",
    }
    assert [p.full_name for p in await contacts_of(sessions, delta.id)] == [
        "Орлова Ирина"
    ]
    assert await phones_of(sessions, delta.id) == {"74957654321"}
    changes = await changes_in(sessions, real.run_id)
    assert {(c.entity, c.entity_id) for c in changes if c.action == "create"} >= {
        ("company", romashka.id),
        ("company", delta.id),
        *(("contact", p.id) for p in people),
    }
    assert all(c.user_id == manager.id for c in changes)
    assert real.report[0]["company_id"] == romashka.id  # the report links to it

    # The same file again: everything is there already.
    before = [await count(sessions, m) for m in (Company, Contact, Email)]

    again = await run_file(importer, manager, data, "a.csv", dry_run=False)

    assert again.counts == {
        "created": 0,
        "updated": 0,
        "skipped": 5,
        "duplicate": 0,
        "rejected": 2,
    }
    assert by_line(again)[2] == ("skipped", "уже есть, нового нет; совпадает ИНН")
    assert [await count(sessions, m) for m in (Company, Contact, Email)] == before
    assert await changes_in(sessions, again.run_id) == []


async def test_existing_companies_are_matched_and_only_filled_in(
    sessions: SessionFactory,
    importer: ImportService,
    clients: ClientService,
    users: dict[str, UserView],
) -> None:
    manager = users["manager"]
    by_inn = await clients.create_company(
        {
            "name": "Север",
            "inn": INN_C,
            "address": "Старый адрес",
            "contacts": [{"last_name": "Ким", "first_name": "Ли"}],
        },
        user=manager,
    )
    by_phone = await clients.create_company(
        {"name": "Юг", "phones": ["+7 495 000-00-01"]}, user=manager
    )
    by_email = await clients.create_company(
        {"name": "Запад", "emails": ["zapad@example.ru"]}, user=manager
    )
    by_name = await clients.create_company({"name": "ООО «Восток»"}, user=manager)
    data = csv_bytes(
        [
            "Наименование;ИНН;Адрес;Регион;Телефон;E-mail;ФИО;Должность",
            f"Север-Новый;{INN_C};Новый адрес;Томск;;;Ким Ли;Технолог",
            "Юг;;;Краснодар;8 (495) 000-00-01;;;",
            "Запад трейд;;;;;ZAPAD@example.ru;Рыбин Ян;",
            "Восток ООО;;;;+7 495 000-00-09;;;",
        ]
    )

    summary = await run_file(importer, manager, data, "b.csv", dry_run=False)

    report = by_line(summary)
    assert report[2] == (
        "updated",
        "дополнено: регион; контакт Ким Ли: должность; совпадает ИНН",
    )
    assert report[3] == ("updated", "дополнено: регион; совпадает телефон")
    assert report[4] == ("created", "новый контакт Рыбин Ян; совпадает эл. почта")
    assert report[5] == (
        "updated",
        "дополнено: телефон +7 (495) 000-00-09; совпадает название",
    )
    assert await count(sessions, Company) == 4
    async with sessions() as session:
        north = await session.get(Company, by_inn)
        south = await session.get(Company, by_phone)
        assert north is not None and south is not None
        # A value already in the card wins over the file; empty ones are filled.
        assert (north.name, north.address, north.region) == (
            "Север",
            "Старый адрес",
            "Томск",
        )
        assert south.region == "Краснодар"
    assert [c.position for c in await contacts_of(sessions, by_inn)] == ["Технолог"]
    assert [c.full_name for c in await contacts_of(sessions, by_email)] == ["Рыбин Ян"]
    assert await phones_of(sessions, by_name) == {"74950000009"}
    changes = await changes_in(sessions, summary.run_id)
    assert {(c.entity, c.field) for c in changes} >= {
        ("company", "region"),
        ("contact", "position"),
        ("company", "phones"),
    }


async def test_another_managers_client_is_a_duplicate_not_an_update(
    sessions: SessionFactory,
    importer: ImportService,
    clients: ClientService,
    users: dict[str, UserView],
) -> None:
    theirs = await clients.create_company(
        {"name": "Чужая", "inn": INN_A}, user=users["manager2"]
    )
    data = csv_bytes(
        ["Компания;ИНН;Регион", f"Чужая;{INN_A};Омск", f"Своя;{INN_B};Омск"]
    )

    summary = await run_file(importer, users["manager"], data, "c.csv", dry_run=False)

    assert by_line(summary)[2] == (
        "duplicate",
        "уже есть в базе (совпадает ИНН): «Чужая», ответственный — другой менеджер",
    )
    assert by_line(summary)[3][0] == "created"
    async with sessions() as session:
        company = await session.get(Company, theirs)
    assert company is not None and company.region is None
    # The admin sees the whole base: the same file fills the region in.
    again = await run_file(importer, users["admin"], data, "c.csv", dry_run=False)
    assert [e["status"] for e in again.report] == ["updated", "skipped"]


async def test_private_clients_from_a_phone_book(
    sessions: SessionFactory, importer: ImportService, users: dict[str, UserView]
) -> None:
    first = await run_file(
        importer, users["manager"], read("outlook_en.csv"), "outlook.csv", dry_run=False
    )
    second = await run_file(
        importer, users["manager"], read("outlook_en.csv"), "outlook.csv", dry_run=False
    )

    assert first.counts["created"] == 3 and first.counts["rejected"] == 0
    assert second.counts["skipped"] == 3 and second.counts["created"] == 0
    async with sessions() as session:
        private = (
            await session.scalars(select(Contact).where(Contact.company_id.is_(None)))
        ).all()
    assert [(c.full_name, c.responsible_id) for c in private] == [
        ("Doe John", users["manager"].id)
    ]
    vector = (await companies(sessions))[0]
    # One office number, two extensions: two people's lines.
    assert vector.name == "ООО «Вектор»"
    people = await contacts_of(sessions, vector.id)
    assert [(p.full_name, p.notes) for p in people] == [
        ("Смирнов Иван Петрович", "Звонить после 10"),
        ("Кравец Ольга", None),
    ]


async def test_every_format_imports(
    sessions: SessionFactory, importer: ImportService, users: dict[str, UserView]
) -> None:
    one_c_excel = xlsx_bytes(
        [
            [
                "Наименование",
                "Полное наименование",
                "ИНН",
                "КПП",
                "Телефон",
                "Адрес",
                "E-mail",
            ],
            [
                "Альфа",
                "ООО «Альфа»",
                int(INN_B),
                "500101001",
                "+7 495 222-33-44",
                "Химки",
                "a@alfa.ru",
            ],
        ],
        title="Контрагенты",
    )
    files = {
        "1c.xlsx": (one_c_excel, "1c-xlsx", 1),
        "outlook_ru.csv": (read("outlook_ru.csv"), "outlook", 2),
        "contacts.vcf": (read("contacts.vcf"), "vcf", 2),
        "counterparties.xml": (read("counterparties.xml"), "commerceml", 3),
    }

    for name, (data, format, created) in files.items():
        sheet = await importer.read(data, name)
        summary = await importer.run(
            sheet,
            sheet.suggested_mapping(),
            user=users["manager"],
            file_name=name,
            dry_run=False,
        )
        assert sheet.format == format, name
        assert summary.counts["created"] == created, (name, summary.report)

    made = {c.name: c for c in await companies(sessions)}
    assert set(made) == {
        "Альфа",
        "АО «Север-Трейд»",
        "ООО «Гранит»",
        "Техснаб",
        "Ромашка",
    }
    alfa = made["Альфа"]
    assert (alfa.legal_name, alfa.inn, alfa.kpp, alfa.address) == (
        "ООО «Альфа»",
        INN_B,
        "500101001",
        "Химки",
    )
    assert await phones_of(sessions, alfa.id) == {"74952223344"}
    tehsnab = made["Техснаб"]
    assert tehsnab.kpp == "781001001"
    assert [c.full_name for c in await contacts_of(sessions, tehsnab.id)] == [
        "Никитин Алексей Юрьевич",
        "Фролова Елена",
    ]


async def test_presets_are_saved_replaced_and_reused(
    importer: ImportService, users: dict[str, UserView]
) -> None:
    mapping = {"Клиент": "company_name", "Тел.": "company_phone"}
    preset_id = await importer.save_preset(
        "Наш Excel", "xlsx", mapping, user=users["manager"]
    )
    same_id = await importer.save_preset(
        "Наш Excel", "xlsx", {**mapping, "Город": "region"}, user=users["manager"]
    )

    assert same_id == preset_id
    presets = await importer.list_presets("xlsx")
    assert [(p["name"], p["mapping"]["Город"]) for p in presets] == [
        ("Наш Excel", "region")
    ]
    assert await importer.list_presets("vcf") == []

    preset = await importer.find_preset(name="Наш Excel")
    data = xlsx_bytes(
        [["Клиент", "Тел.", "Город"], ["Омега", "8 800 555-35-35", "Тула"]]
    )
    summary = await run_file(
        importer,
        users["manager2"],
        data,
        "o.xlsx",
        dry_run=False,
        mapping=preset["mapping"],
    )
    assert summary.counts["created"] == 1
