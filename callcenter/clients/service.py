"""Reading and creating clients, and the client card telephony shows.

A card is what a manager needs at a glance when the phone rings: the company, the
contact person whose number it is, the number, and the last interactions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.clients.errors import InvalidClientInput, NoSuchClient
from callcenter.clients.models import Company, CompanyStatus, Contact, Phone, PhoneKind
from callcenter.db import SessionFactory, transaction
from callcenter.interactions.models import Interaction
from callcenter.phones import InvalidPhoneNumber, format_phone, parse_phone
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

CARD_INTERACTIONS = 5


@dataclass(frozen=True, slots=True)
class ClientMatch:
    company_id: int | None
    contact_id: int | None
    responsible_id: int | None


@dataclass(slots=True)
class ClientCard:
    number: str | None
    company: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    interactions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "number_display": format_phone(self.number) if self.number else None,
            "known": self.company is not None or self.contact is not None,
            "company": self.company,
            "contact": self.contact,
            "interactions": self.interactions,
        }


@dataclass(frozen=True, slots=True)
class NewClient:
    company_name: str
    phone: str
    contact_name: str = ""
    position: str = ""
    email: str = ""
    inn: str = ""


def visible_companies(user: UserView) -> Any:
    """SQL condition: the companies this user may see."""
    if user.sees_all_calls:
        return True
    return or_(Company.responsible_id == user.id, Company.responsible_id.is_(None))


class ClientService:
    def __init__(self, sessions: SessionFactory, *, region: str = "RU") -> None:
        self._sessions = sessions
        self._region = region

    async def find_by_phone(self, e164: str) -> ClientMatch | None:
        """Who owns this number: a contact person first, else the company itself."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Phone.company_id, Phone.contact_id, Contact.company_id)
                    .outerjoin(Contact, Contact.id == Phone.contact_id)
                    .where(Phone.e164 == e164)
                    .order_by(Phone.contact_id.is_(None), Phone.id)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None

            company_id = row[0] or row[2]
            responsible = (
                await session.scalar(
                    select(Company.responsible_id).where(Company.id == company_id)
                )
                if company_id
                else None
            )
        return ClientMatch(
            company_id=company_id, contact_id=row[1], responsible_id=responsible
        )

    async def build_card(
        self, number: str | None, company_id: int | None, contact_id: int | None
    ) -> ClientCard:
        card = ClientCard(number=number)
        if company_id is None and contact_id is None:
            return card

        async with self._sessions() as session:
            if contact_id is not None:
                contact = await session.get(Contact, contact_id)
                if contact is not None:
                    card.contact = {
                        "id": contact.id,
                        "name": contact.full_name,
                        "position": contact.position,
                    }
                    company_id = company_id or contact.company_id
            if company_id is not None:
                company = await session.get(Company, company_id)
                if company is not None:
                    card.company = {
                        "id": company.id,
                        "name": company.name,
                        "inn": company.inn,
                        "status": company.status.value,
                        "url": f"/clients/{company.id}",
                    }
                    card.interactions = await self._recent(session, company.id)
        return card

    async def _recent(
        self, session: AsyncSession, company_id: int
    ) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(Interaction)
            .where(Interaction.company_id == company_id)
            .order_by(Interaction.occurred_at.desc())
            .limit(CARD_INTERACTIONS)
        )
        return [
            {
                "kind": i.kind.value,
                "occurred_at": i.occurred_at.isoformat(),
                "summary": i.summary,
            }
            for i in rows
        ]

    async def create_client(self, data: NewClient, *, user: UserView) -> int:
        """Create a company (and a contact) with a phone; link past calls from it."""
        name = data.company_name.strip()
        if not name:
            raise InvalidClientInput("company_name", "required")
        if len(name) > 300:
            raise InvalidClientInput("company_name", "too long")
        try:
            phone = parse_phone(data.phone, self._region)
        except InvalidPhoneNumber as error:
            raise InvalidClientInput("phone", error.reason) from None
        inn = data.inn.strip() or None
        if inn is not None and (not inn.isdigit() or len(inn) not in (10, 12)):
            raise InvalidClientInput("inn", "10 or 12 digits")

        async with transaction(self._sessions) as session:
            company = Company(
                name=name,
                inn=inn,
                status=CompanyStatus.PROSPECT,
                responsible_id=user.id,
            )
            session.add(company)
            await session.flush()

            contact_id = None
            if data.contact_name.strip():
                last, _, rest = data.contact_name.strip().partition(" ")
                first, _, middle = rest.partition(" ")
                contact = Contact(
                    company_id=company.id,
                    last_name=last[:100],
                    first_name=first[:100],
                    middle_name=middle[:100],
                    position=data.position.strip()[:200] or None,
                    email=data.email.strip()[:200] or None,
                )
                session.add(contact)
                await session.flush()
                contact_id = contact.id

            session.add(
                Phone(
                    company_id=company.id,
                    contact_id=contact_id,
                    e164=phone.e164,
                    extension=phone.extension,
                    raw=data.phone.strip()[:64],
                    kind=PhoneKind.WORK,
                )
            )
            linked = await self._link_past_calls(
                session, phone.e164, company.id, contact_id
            )

        logger.info(
            "client created company_id=%s user_id=%s linked_calls=%s",
            company.id,
            user.id,
            linked,
        )
        return company.id

    async def _link_past_calls(
        self, session: AsyncSession, e164: str, company_id: int, contact_id: int | None
    ) -> int:
        result = await session.execute(
            update(Call)
            .where(Call.client_number == e164, Call.company_id.is_(None))
            .values(company_id=company_id, contact_id=contact_id)
            .returning(
                Call.id,
                Call.started_at,
                Call.direction,
                Call.talk_seconds,
                Call.manager_id,
            )
        )
        calls = result.all()
        for call_id, started_at, direction, talk, manager_id in calls:
            session.add(
                Interaction(
                    kind="call",
                    company_id=company_id,
                    contact_id=contact_id,
                    user_id=manager_id,
                    call_id=call_id,
                    occurred_at=started_at,
                    summary=call_summary(direction.value, talk),
                )
            )
        return len(calls)

    async def get_company(self, company_id: int, *, user: UserView) -> dict[str, Any]:
        async with self._sessions() as session:
            company = await session.scalar(
                select(Company).where(Company.id == company_id, visible_companies(user))
            )
            if company is None:
                raise NoSuchClient(company_id)

            contacts = (
                await session.scalars(
                    select(Contact).where(Contact.company_id == company_id)
                )
            ).all()
            phones = (
                await session.scalars(
                    select(Phone)
                    .where(
                        or_(
                            Phone.company_id == company_id,
                            Phone.contact_id.in_([c.id for c in contacts] or [0]),
                        )
                    )
                    .order_by(Phone.id)
                )
            ).all()
            interactions = (
                await session.scalars(
                    select(Interaction)
                    .where(Interaction.company_id == company_id)
                    .order_by(Interaction.occurred_at.desc())
                    .limit(50)
                )
            ).all()
        return {
            "id": company.id,
            "name": company.name,
            "legal_name": company.legal_name,
            "inn": company.inn,
            "status": company.status.value,
            "responsible_id": company.responsible_id,
            "notes": company.notes,
            "contacts": [
                {
                    "id": c.id,
                    "name": c.full_name,
                    "position": c.position,
                    "email": c.email,
                    "phones": [_phone(p) for p in phones if p.contact_id == c.id],
                }
                for c in contacts
            ],
            "phones": [_phone(p) for p in phones if p.contact_id is None],
            "interactions": [
                {
                    "id": i.id,
                    "kind": i.kind.value,
                    "occurred_at": i.occurred_at.isoformat(),
                    "summary": i.summary,
                    "call_id": str(i.call_id) if i.call_id else None,
                }
                for i in interactions
            ],
        }

    async def list_companies(
        self, *, user: UserView, query: str = "", limit: int = 100
    ) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            stmt = (
                select(Company)
                .where(visible_companies(user))
                .order_by(Company.name)
                .limit(min(max(limit, 1), 500))
            )
            if query.strip():
                stmt = stmt.where(
                    Company.name.ilike(f"%{_escape_like(query.strip())}%")
                )
            companies = (await session.scalars(stmt)).all()
            ids = [c.id for c in companies] or [0]
            phones = (
                await session.execute(
                    select(Phone, Contact)
                    .outerjoin(Contact, Contact.id == Phone.contact_id)
                    .where(or_(Phone.company_id.in_(ids), Contact.company_id.in_(ids)))
                    .order_by(Phone.id)
                )
            ).all()
            last_calls = dict(
                (
                    await session.execute(
                        select(Call.company_id, func.max(Call.started_at))
                        .where(and_(Call.company_id.in_(ids)))
                        .group_by(Call.company_id)
                    )
                ).all()
            )

        by_company: dict[int, list[dict[str, Any]]] = {}
        for phone, contact in phones:
            owner = phone.company_id or (contact.company_id if contact else None)
            entry = _phone(phone)
            entry["contact"] = contact.full_name if contact else None
            entry["contact_id"] = contact.id if contact else None
            by_company.setdefault(owner or 0, []).append(entry)
        return [
            {
                "id": c.id,
                "name": c.name,
                "inn": c.inn,
                "status": c.status.value,
                "phones": by_company.get(c.id, []),
                "last_call_at": _iso(last_calls.get(c.id)),
            }
            for c in companies
        ]


def _phone(phone: Phone) -> dict[str, Any]:
    return {
        "id": phone.id,
        "e164": phone.e164,
        "display": format_phone(phone.e164),
        "extension": phone.extension,
        "kind": phone.kind.value,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def call_summary(direction: str, talk_seconds: int | None) -> str:
    """A short line for the interaction history, in the panel's language (Russian)."""
    label = {
        "inbound": "Входящий звонок",
        "outbound": "Исходящий звонок",
        "originated": "Исходящий звонок",
        "internal": "Внутренний звонок",
    }.get(direction, "Звонок")
    if talk_seconds:
        minutes, seconds = divmod(talk_seconds, 60)
        return f"{label}, {minutes}:{seconds:02d}"
    return f"{label}, без ответа"
