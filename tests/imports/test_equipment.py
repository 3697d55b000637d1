"""Equipment columns in an import: items per client, serial numbers, bad values."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from callcenter.clients.models import Company, Contact, Equipment, EquipmentStatus
from callcenter.db import SessionFactory
from callcenter.imports.fields import suggest_mapping
from callcenter.imports.service import ImportService
from callcenter.users.service import UserView
from tests.imports.conftest import INN_A, INN_B, count, xlsx_bytes
from tests.imports.test_service import by_line, run_file

HEADERS = [
    "Компания",
    "ИНН",
    "ФИО",
    "Вид оборудования",
    "Производитель",
    "Модель",
    "Кол-во",
    "Серийный номер",
    "Статус оборудования",
    "Дата установки",
]


async def equipment_of(
    sessions: SessionFactory, *, company_id: int | None = None, contact_id=None
) -> list[Equipment]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        owner = (
            Equipment.company_id == company_id
            if company_id is not None
            else Equipment.contact_id == contact_id
        )
        rows = await session.scalars(
            select(Equipment).where(owner).order_by(Equipment.id)
        )
        return list(rows.all())


def test_equipment_headers_are_recognised() -> None:
    mapping = suggest_mapping(HEADERS)
    assert {h: mapping[h] for h in HEADERS[3:]} == {
        "Вид оборудования": "equipment_kind",
        "Производитель": "equipment_vendor",
        "Модель": "equipment_model",
        "Кол-во": "equipment_quantity",
        "Серийный номер": "equipment_serials",
        "Статус оборудования": "equipment_status",
        "Дата установки": "equipment_date",
    }


async def test_equipment_is_imported_once_and_gains_new_serial_numbers(
    sessions: SessionFactory, importer: ImportService, users: dict[str, UserView]
) -> None:
    manager = users["manager"]
    rows = [
        HEADERS,
        [
            "Ромашка",
            INN_A,
            "Иванов Иван",
            "IP-АТС",
            "Panasonic",
            "KX-TDE100",
            1,
            "SN-1",
            "установлено",
            dt.date(2025, 3, 14),
        ],
        # The same item in another spelling, with a second serial number.
        [
            "Ромашка",
            INN_A,
            "Петров Пётр",
            "ip-атс",
            "PANASONIC",
            "kx-tde100",
            None,
            "SN-2",
            None,
            None,
        ],
        [
            "Ромашка",
            INN_A,
            None,
            "IP-телефон",
            "Yealink",
            "T46U",
            25.0,
            None,
            "планируется",
            None,
        ],
        ["Вектор", INN_B, None, None, "Cisco", "CP-7821", "две", None, None, None],
        ["Вектор", INN_B, None, None, "Cisco", "CP-8841", 2, None, "сломан", None],
        [
            None,
            None,
            "Орлова Ирина",
            "Телефон",
            "Gigaset",
            "A690",
            1,
            None,
            None,
            "31.02.2025",
        ],
        [None, None, "Лосев Ян", "Телефон", "Gigaset", "A690", 1, "G-77", None, None],
    ]
    data = xlsx_bytes(rows)

    summary = await run_file(importer, manager, data, "eq.xlsx", dry_run=False)

    report = by_line(summary)
    assert report[5] == (
        "rejected",
        "оборудование, количество: целое число",
    )
    assert report[6] == (
        "rejected",
        "оборудование: статус «сломан» — «установлено» или «планируется»",
    )
    assert report[7] == (
        "rejected",
        "оборудование, дата установки: дата вида 04.12.2026",
    )
    assert "оборудование Yealink T46U × 25" in report[4][1]
    async with sessions() as session:
        romashka = await session.scalar(select(Company).where(Company.inn == INN_A))
        losev = await session.scalar(
            select(Contact).where(Contact.last_name == "Лосев")
        )
    assert romashka is not None and losev is not None
    items = await equipment_of(sessions, company_id=romashka.id)
    assert [
        (
            i.kind,
            i.vendor,
            i.model,
            i.quantity,
            i.serial_numbers,
            i.status,
            i.installed_on,
        )
        for i in items
    ] == [
        (
            "IP-АТС",
            "Panasonic",
            "KX-TDE100",
            2,  # one unit per serial number, whatever the first row said
            ["SN-1", "SN-2"],
            EquipmentStatus.INSTALLED,
            dt.date(2025, 3, 14),
        ),
        ("IP-телефон", "Yealink", "T46U", 25, [], EquipmentStatus.PLANNED, None),
    ]
    # A private client's equipment is the person's own.
    assert [
        (i.model, i.serial_numbers)
        for i in await equipment_of(sessions, contact_id=losev.id)
    ] == [("A690", ["G-77"])]

    # The same file again adds nothing; a new serial number goes to the item.
    again = await run_file(importer, manager, data, "eq.xlsx", dry_run=False)
    assert again.counts["created"] == 0 and again.counts["updated"] == 0
    assert await count(sessions, Equipment) == 3

    rows[1][7] = "SN-1, SN-3"
    more = await run_file(importer, manager, xlsx_bytes(rows), "eq.xlsx", dry_run=False)
    assert by_line(more)[2] == (
        "updated",
        "оборудование Panasonic KX-TDE100: серийные номера SN-3; совпадает ИНН",
    )
    items = await equipment_of(sessions, company_id=romashka.id)
    assert items[0].serial_numbers == ["SN-1", "SN-2", "SN-3"]
    assert items[0].quantity == 3
    assert await count(sessions, Equipment) == 3
