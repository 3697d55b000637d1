"""Fixtures of the import tests: users of each role, the services, sample files.

Small sample files in each format live in ``files/``; Excel files are built here with
openpyxl (a binary file in the repository would hide what is in it).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from callcenter.clients.models import ChangeRecord, Company, Contact, Phone
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory, transaction
from callcenter.imports.service import ImportService
from callcenter.users.models import Role, User
from callcenter.users.service import UserView
from tests.browser.conftest import browser, chromium_path, page  # noqa: F401
from tests.web.conftest import app, client  # noqa: F401 - the web tests' fixtures

FILES = Path(__file__).resolve().parent / "files"

# Valid INNs (checksums right): Сбербанк's, and made-up ones that pass the check.
INN_A = "7707083893"
INN_B = "5001007329"
INN_C = "7810001238"
INN_ZERO = "0105012349"  # Excel drops the leading zero when stored as a number


@pytest.fixture
async def users(sessions: SessionFactory) -> dict[str, UserView]:
    """Users straight in the table: nobody logs in here, so no password hashing."""
    made = {}
    async with transaction(sessions) as session:
        for login, role in (
            ("manager", Role.MANAGER),
            ("manager2", Role.MANAGER),
            ("admin", Role.ADMIN),
        ):
            user = User(
                login=login, full_name=login.title(), role=role, password_hash="!"
            )
            session.add(user)
            await session.flush()
            made[login] = UserView(user.id, login, user.full_name, role, "ru", ())
    return made


@pytest.fixture
def clients(sessions: SessionFactory) -> ClientService:
    return ClientService(sessions)


@pytest.fixture
def importer(sessions: SessionFactory, clients: ClientService) -> ImportService:
    return ImportService(sessions, clients)


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def csv_bytes(
    lines: list[str], *, encoding: str = "utf-8", delimiter: str = ";"
) -> bytes:
    text = "\r\n".join(line.replace(";", delimiter) for line in lines) + "\r\n"
    return text.encode(encoding)


def xlsx_bytes(rows: list[list[Any]], *, title: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def count(sessions: SessionFactory, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(model).where(*where))
            or 0
        )


async def companies(sessions: SessionFactory) -> list[Company]:
    async with sessions() as session:
        return list((await session.scalars(select(Company).order_by(Company.id))).all())


async def contacts_of(sessions: SessionFactory, company_id: int) -> list[Contact]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Contact)
                    .where(Contact.company_id == company_id)
                    .order_by(Contact.id)
                )
            ).all()
        )


async def phones_of(sessions: SessionFactory, company_id: int) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Phone.e164).where(Phone.company_id == company_id)
        )
        return set(rows.all())


async def changes_in(sessions: SessionFactory, batch_id: Any) -> list[ChangeRecord]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(ChangeRecord).where(ChangeRecord.batch_id == batch_id)
                )
            ).all()
        )
