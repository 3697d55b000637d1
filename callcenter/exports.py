"""Lists exported to Excel: the client base and the call log, as the user sees them.

The rows are read with the same visibility rules as the lists in the panel; a sheet
is then written in a worker thread (openpyxl is synchronous). Dates are real Excel
dates in the panel's time zone, shown the Russian way (04.12.2026 14:05), and phone
numbers are written as +7 (916) 123-45-67. Text that Excel would take for a formula
(``=HYPERLINK(...)`` typed into a client's name) is written as plain text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import or_, select

from callcenter.clients.access import visible_companies
from callcenter.clients.models import Company, Contact, Email, Equipment, Phone
from callcenter.clients.selections import resolve_selection
from callcenter.db import SessionFactory
from callcenter.phones import format_phone
from callcenter.users.models import User
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_EXPORT_ROWS = 100_000
DATE_FORMAT = "DD.MM.YYYY"
DATETIME_FORMAT = "DD.MM.YYYY HH:MM"

Label = Callable[[str], str]

CLIENT_COLUMNS = (
    ("Название", 40),
    ("Полное наименование", 40),
    ("ИНН", 14),
    ("КПП", 12),
    ("ОГРН", 16),
    ("Статус", 14),
    ("Адрес", 40),
    ("Регион", 18),
    ("Отрасль", 18),
    ("Ответственный", 22),
    ("Телефоны", 24),
    ("Эл. почта", 26),
    ("Контакты", 40),
    ("Оборудование", 40),
    ("Добавлен", 12),
)
CALL_COLUMNS = (
    ("Дата и время", 17),
    ("Направление", 14),
    ("Клиент", 36),
    ("Номер", 20),
    ("Менеджер", 22),
    ("Результат", 16),
    ("Ожидание, с", 12),
    ("Разговор, с", 12),
    ("Запись", 10),
)


async def clients_workbook(
    sessions: SessionFactory,
    user: UserView,
    *,
    query: str = "",
    selection: Mapping[str, Any] | None = None,
    label: Label,
    zone: ZoneInfo,
) -> bytes:
    """The companies this user may see as .xlsx: the clients list (filtered by
    name like it), or the companies of a selection's filters."""
    stmt = (
        select(Company, User.full_name)
        .outerjoin(User, User.id == Company.responsible_id)
        .where(visible_companies(user))
        .order_by(Company.name, Company.id)
        .limit(MAX_EXPORT_ROWS)
    )
    if query.strip():
        stmt = stmt.where(Company.name.ilike(f"%{_escape_like(query.strip())}%"))

    async with sessions() as session:
        if selection is not None:
            chosen = await resolve_selection(session, selection, user, zone=zone)
            stmt = stmt.where(Company.id.in_(chosen))
        companies = (await session.execute(stmt)).all()
        ids = [company.id for company, _ in companies] or [0]
        contacts = (
            await session.scalars(
                select(Contact)
                .where(Contact.company_id.in_(ids), Contact.merged_into_id.is_(None))
                .order_by(Contact.id)
            )
        ).all()
        phones = (
            await session.scalars(
                select(Phone)
                .where(
                    or_(
                        Phone.company_id.in_(ids),
                        Phone.contact_id.in_([c.id for c in contacts] or [0]),
                    )
                )
                .order_by(Phone.id)
            )
        ).all()
        emails = (
            await session.scalars(
                select(Email).where(Email.company_id.in_(ids)).order_by(Email.id)
            )
        ).all()
        equipment = (
            await session.scalars(
                select(Equipment)
                .where(Equipment.company_id.in_(ids))
                .order_by(Equipment.id)
            )
        ).all()

    phones_of: dict[int, list[str]] = {}
    contact_company = {c.id: c.company_id for c in contacts}
    for phone in phones:
        owner = phone.company_id or contact_company.get(phone.contact_id or 0)
        if owner is not None:
            phones_of.setdefault(owner, []).append(format_phone(phone.e164))
    emails_of: dict[int, list[str]] = {}
    for email in emails:
        if email.company_id is not None:
            emails_of.setdefault(email.company_id, []).append(email.address)
    people_of: dict[int, list[str]] = {}
    for contact in contacts:
        if contact.company_id is not None:
            person = contact.full_name
            if contact.position:
                person = f"{person} ({contact.position})"
            people_of.setdefault(contact.company_id, []).append(person)

    items_of: dict[int, list[str]] = {}
    for item in equipment:
        name = " ".join(p for p in (item.vendor, item.model or item.kind) if p)
        if item.quantity != 1:
            name = f"{name} × {item.quantity}"
        if item.status.value == "planned":
            name = f"{name} ({label('eq_status_planned').lower()})"
        items_of.setdefault(item.company_id or 0, []).append(name)

    rows = [
        [
            company.name,
            company.legal_name,
            company.inn,
            company.kpp,
            company.ogrn,
            label(f"company_status_{company.status.value}"),
            company.address,
            company.region,
            company.industry,
            responsible,
            "\n".join(dict.fromkeys(phones_of.get(company.id, []))),
            "\n".join(dict.fromkeys(emails_of.get(company.id, []))),
            "\n".join(people_of.get(company.id, [])),
            "\n".join(items_of.get(company.id, [])),
            company.created_at.astimezone(zone).date(),
        ]
        for company, responsible in companies
    ]
    logger.info("clients exported user_id=%s rows=%s", user.id, len(rows))
    return await asyncio.to_thread(_workbook, "Клиенты", CLIENT_COLUMNS, rows)


async def calls_workbook(
    calls: Iterable[dict[str, Any]], *, label: Label, zone: dt.tzinfo
) -> bytes:
    """Calls as ``CallService.list_calls`` returns them, as .xlsx."""
    rows = []
    for call in calls:
        started = dt.datetime.fromisoformat(call["started_at"]).astimezone(zone)
        recording = call.get("recording") or {}
        rows.append(
            [
                started.replace(tzinfo=None),
                label(f"dir_{call['direction']}"),
                call.get("company_name") or call.get("client_name") or "",
                call.get("number_display") or call.get("number") or "",
                call.get("manager_name") or "",
                label(f"out_{call['outcome']}") if call.get("outcome") else "",
                call.get("ring_seconds"),
                call.get("talk_seconds"),
                "есть" if recording.get("status") == "ready" else "",
            ]
        )
    return await asyncio.to_thread(_workbook, "Звонки", CALL_COLUMNS, rows)


def _workbook(
    title: str, columns: Sequence[tuple[str, int]], rows: list[list[Any]]
) -> bytes:
    book = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = book.create_sheet(title)
    for index, (_, width) in enumerate(columns):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"

    bold = Font(bold=True)
    header = []
    for name, _ in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = WriteOnlyCell(sheet, value=text)
        # openpyxl stores any text starting with "=" as a formula; a client's name
        # must never run as one on the manager's computer.
        cell.data_type = "s"
        return cell
    return value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
