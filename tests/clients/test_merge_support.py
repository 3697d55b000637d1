"""Helpers shared by the duplicate and merge tests: users, clients, calls, snapshots."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text

from callcenter.calls.models import Call, CallStatus, Direction, Outcome
from callcenter.clients.service import ClientService
from callcenter.db import SessionFactory, transaction
from callcenter.interactions.models import Interaction, InteractionKind
from callcenter.users.models import Role
from callcenter.users.service import UserService, UserView

PASSWORD = "correct-horse-1"
ROLES = {
    "manager": Role.MANAGER,
    "manager2": Role.MANAGER,
    "supervisor": Role.SUPERVISOR,
    "admin": Role.ADMIN,
}
# Every table a merge may touch; a snapshot of them must come back after an undo.
TABLES = (
    "companies",
    "contacts",
    "phones",
    "emails",
    "equipment",
    "calls",
    "interactions",
    "client_shares",
)


async def make_users(
    sessions: SessionFactory, logins: Iterable[str] = ROLES
) -> dict[str, UserView]:
    service = UserService(sessions, session_max_age=dt.timedelta(hours=1))
    return {
        login: await service.create_user(
            login=login, full_name=login.title(), role=ROLES[login], password=PASSWORD
        )
        for login in logins
    }


async def make_company(
    clients: ClientService,
    user: UserView,
    name: str,
    *,
    inn: str | None = None,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    contacts: Sequence[dict[str, Any]] = (),
    **fields: Any,
) -> int:
    data: dict[str, Any] = {
        "name": name,
        "phones": list(phones),
        "emails": list(emails),
        "contacts": list(contacts),
        **fields,
    }
    if inn:
        data["inn"] = inn
    return await clients.create_company(data, user=user, force=True)


async def add_call(
    sessions: SessionFactory,
    *,
    company_id: int | None,
    contact_id: int | None = None,
    number: str = "79161234567",
    manager_id: int | None = None,
) -> uuid.UUID:
    """A finished call with its history entry, as the call service records them."""
    started = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    async with transaction(sessions) as session:
        call = Call(
            id=uuid.uuid4(),
            direction=Direction.INBOUND,
            status=CallStatus.ENDED,
            outcome=Outcome.ANSWERED,
            client_number=number,
            company_id=company_id,
            contact_id=contact_id,
            manager_id=manager_id,
            started_at=started,
            ended_at=started + dt.timedelta(minutes=2),
            talk_seconds=110,
        )
        session.add(call)
        await session.flush()
        session.add(
            Interaction(
                kind=InteractionKind.CALL,
                company_id=company_id,
                contact_id=contact_id,
                user_id=manager_id,
                call_id=call.id,
                occurred_at=started,
                summary="Входящий звонок, 1:50",
            )
        )
    return call.id


async def snapshot(sessions: SessionFactory) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table a merge touches, in a stable order."""
    tables: dict[str, list[dict[str, Any]]] = {}
    async with sessions() as session:
        for table in TABLES:
            rows = await session.execute(
                text(f"SELECT to_jsonb(t) AS row FROM {table} t")
            )
            tables[table] = sorted(
                (dict(r.row) for r in rows), key=lambda r: str(sorted(r.items()))
            )
    return tables
