"""Reading and creating clients, and the client card telephony shows.

A card is what a manager needs at a glance when the phone rings: the company, the
contact person whose number it is, the number, and the last interactions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call, CallStatus
from callcenter.clients.access import visible_companies, visible_contacts
from callcenter.clients.changes import change_rows, record_changes
from callcenter.clients.duplicates import Candidate, draft_of, find_duplicates
from callcenter.clients.errors import DuplicatesFound, InvalidClientInput, NoSuchClient
from callcenter.clients.models import (
    ChangeRecord,
    ClientShare,
    Company,
    CompanyStatus,
    Contact,
    Email,
    Equipment,
    EquipmentStatus,
    FieldRule,
    Phone,
    PhoneKind,
)
from callcenter.clients.validation import (
    FIELD_LABELS,
    FieldProblem,
    check_email,
    check_inn,
    check_kpp,
    check_ogrn,
    completeness,
    name_key,
    person_key,
    split_legal_form,
)
from callcenter.db import SessionFactory, transaction
from callcenter.interactions.models import Interaction
from callcenter.phones import InvalidPhoneNumber, format_phone, parse_phone
from callcenter.users.models import Role, User
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

# A checked phone (E.164, extension, as typed, kind); phones and e-mails of a record.
CheckedPhone = tuple[str, str | None, str, PhoneKind]
CheckedChannels = tuple[list[CheckedPhone], list[str]]

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
    interactions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # Users who may open this client (None: anyone, an unknown number). The others
    # get ``limited_dict``: who is calling and whose client it is, nothing more.
    audience: frozenset[int] | None = None
    responsible: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "number_display": format_phone(self.number) if self.number else None,
            "known": self.company is not None or self.contact is not None,
            "company": self.company,
            "contact": self.contact,
            "interactions": self.interactions,
            "responsible": self.responsible,
            "restricted": False,
        }

    def limited_dict(self) -> dict[str, Any]:
        card = self.as_dict()
        if self.company is not None:
            card["company"] = {"name": self.company["name"]}
        if self.contact is not None:
            card["contact"] = {
                "name": self.contact["name"],
                "position": self.contact["position"],
            }
        card["interactions"] = []
        card["restricted"] = True
        return card

    def for_user(self, user_id: int) -> dict[str, Any]:
        if self.audience is None or user_id in self.audience:
            return self.as_dict()
        return self.limited_dict()


@dataclass(frozen=True, slots=True)
class NewClient:
    company_name: str
    phone: str
    contact_name: str = ""
    position: str = ""
    email: str = ""
    inn: str = ""


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
            owner: Company | Contact | None = None
            if contact_id is not None:
                contact = await session.get(Contact, contact_id)
                if contact is not None:
                    card.contact = {
                        "id": contact.id,
                        "name": contact.full_name,
                        "position": contact.position,
                        "url": f"/contacts/{contact.id}",
                    }
                    company_id = company_id or contact.company_id
                    owner = contact
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
                    owner = company
            if owner is not None:
                card.audience, card.responsible = await self._audience(session, owner)
        return card

    async def _audience(
        self, session: AsyncSession, owner: Company | Contact
    ) -> tuple[frozenset[int], str | None]:
        """Who may open this client (the rule of ``access``, as a set of users),
        and the name of its responsible manager."""
        responsible_id = owner.responsible_id
        responsible = (
            await session.get(User, responsible_id) if responsible_id else None
        )
        who = [User.role.in_((Role.HEAD, Role.ADMIN))]
        if responsible is not None:
            who.append(User.id == responsible.id)
            if responsible.supervisor_id is not None:
                who.append(User.id == responsible.supervisor_id)
        else:
            who.append(User.role == Role.SUPERVISOR)  # unassigned: to hand out
        if isinstance(owner, Company):
            shared = select(ClientShare.user_id).where(
                ClientShare.company_id == owner.id
            )
            who.append(User.id.in_(shared))
        ids = await session.scalars(select(User.id).where(or_(*who)))
        return frozenset(ids), responsible.full_name if responsible else None

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

    async def create_client(
        self, data: NewClient, *, user: UserView, force: bool = False
    ) -> int:
        """The quick form (e.g. from a screen-pop): a company, a contact, one phone.
        The same rules as the full form apply: validation and duplicate control."""
        contact: dict[str, Any] | None = None
        if data.contact_name.strip():
            last, _, rest = data.contact_name.strip().partition(" ")
            first, _, middle = rest.partition(" ")
            contact = {
                "last_name": last,
                "first_name": first,
                "middle_name": middle,
                "position": data.position,
                "phones": [data.phone],
                "emails": [data.email] if data.email.strip() else [],
            }
        if not data.phone.strip():
            raise InvalidClientInput("phone", "обязательное поле")
        record: dict[str, Any] = {
            "name": data.company_name,
            "inn": data.inn,
            "phones": [] if contact else [data.phone],
            "emails": [data.email] if data.email.strip() and not contact else [],
            "contacts": [contact] if contact else [],
        }
        duplicates_of = {**record, "phones": [data.phone], "emails": [data.email]}
        if not force:
            candidates = await self.check_duplicates(duplicates_of)
            if candidates:
                raise DuplicatesFound([c.as_dict() for c in candidates])
        return await self.create_company(record, user=user, force=True)

    async def _link_past_calls(
        self, session: AsyncSession, company_ids: Iterable[int]
    ) -> int:
        """Attach ended calls from the numbers of new companies to them.

        A number held by several of them goes to the first one stored (its own
        number before its contacts'). Calls still in progress are linked by the
        call service when they end.
        """
        owners = (
            select(Phone.e164, Phone.company_id, Phone.contact_id)
            .where(Phone.company_id.in_(list(company_ids)))
            .ext(distinct_on(Phone.e164))
            .order_by(Phone.e164, Phone.id)
            .subquery("owners")
        )
        result = await session.execute(
            update(Call)
            .where(
                Call.client_number == owners.c.e164,
                Call.company_id.is_(None),
                Call.status == CallStatus.ENDED,
            )
            .values(company_id=owners.c.company_id, contact_id=owners.c.contact_id)
            .returning(
                Call.id,
                Call.company_id,
                Call.contact_id,
                Call.started_at,
                Call.direction,
                Call.talk_seconds,
                Call.manager_id,
            )
        )
        calls = result.all()
        session.add_all(
            Interaction(
                kind="call",
                company_id=company_id,
                contact_id=contact_id,
                user_id=manager_id,
                call_id=call_id,
                occurred_at=started_at,
                summary=call_summary(direction.value, talk),
            )
            for call_id, company_id, contact_id, started_at, direction, talk, manager_id in calls
        )
        return len(calls)

    async def survivor_of(
        self, entity: str, record_id: int, *, user: UserView
    ) -> int | None:
        """The record a merged-away company or contact now lives in, if the user
        may see it (old links and bookmarks lead there); None otherwise."""
        model: type[Company] | type[Contact] = (
            Company if entity == "company" else Contact
        )
        visible = (
            visible_companies(user) if entity == "company" else visible_contacts(user)
        )
        async with self._sessions() as session:
            current = record_id
            for _ in range(20):  # merge chains are short; a loop is not followed
                target = await session.scalar(
                    select(model.merged_into_id).where(model.id == current)
                )
                if target is None:
                    break
                current = target
            if current == record_id:
                return None
            return await session.scalar(
                select(model.id).where(model.id == current, visible)
            )

    async def get_company(self, company_id: int, *, user: UserView) -> dict[str, Any]:
        async with self._sessions() as session:
            company = await session.scalar(
                select(Company).where(Company.id == company_id, visible_companies(user))
            )
            if company is None:
                raise NoSuchClient(company_id)

            contacts = (
                await session.scalars(
                    select(Contact).where(
                        Contact.company_id == company_id,
                        Contact.merged_into_id.is_(None),
                    )
                )
            ).all()
            phones = (
                await session.scalars(
                    select(Phone)
                    .where(Phone.company_id == company_id)
                    .order_by(Phone.id)
                )
            ).all()
            emails = (
                await session.scalars(
                    select(Email)
                    .where(Email.company_id == company_id)
                    .order_by(Email.id)
                )
            ).all()
            equipment = (
                await session.scalars(
                    select(Equipment)
                    .where(Equipment.company_id == company_id)
                    .order_by(Equipment.id)
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
            quality = await self.company_completeness(session, company)
            responsible = (
                await session.scalar(
                    select(User.full_name).where(User.id == company.responsible_id)
                )
                if company.responsible_id
                else None
            )
        return {
            "id": company.id,
            "name": company.name,
            "legal_name": company.legal_name,
            "legal_form": company.legal_form,
            "inn": company.inn,
            "kpp": company.kpp,
            "ogrn": company.ogrn,
            "address": company.address,
            "region": company.region,
            "industry": company.industry,
            "size": company.size,
            "source": company.source,
            "segment": company.segment,
            "status": company.status.value,
            "responsible_id": company.responsible_id,
            "responsible_name": responsible,
            "notes": company.notes,
            "completeness": quality,
            "contacts": [
                {
                    "id": c.id,
                    "name": c.full_name,
                    "last_name": c.last_name,
                    "first_name": c.first_name,
                    "middle_name": c.middle_name,
                    "position": c.position,
                    "email": c.email,
                    "emails": [e.address for e in emails if e.contact_id == c.id],
                    "birthday": c.birthday.isoformat() if c.birthday else None,
                    "channels": c.channels,
                    "phones": [_phone(p) for p in phones if p.contact_id == c.id],
                }
                for c in contacts
            ],
            "phones": [_phone(p) for p in phones if p.contact_id is None],
            "emails": [e.address for e in emails if e.contact_id is None],
            "equipment": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "vendor": e.vendor,
                    "model": e.model,
                    "quantity": e.quantity,
                    "serial_numbers": e.serial_numbers,
                    "status": e.status.value,
                    "installed_on": e.installed_on.isoformat()
                    if e.installed_on
                    else None,
                    "notes": e.notes,
                }
                for e in equipment
            ],
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

    async def get_contact(self, contact_id: int, *, user: UserView) -> dict[str, Any]:
        """A contact person (or a private client) with phones, e-mails, history."""
        async with self._sessions() as session:
            contact = await self._visible_contact(session, contact_id, user)
            phones = (
                await session.scalars(
                    select(Phone)
                    .where(Phone.contact_id == contact_id)
                    .order_by(Phone.id)
                )
            ).all()
            emails = (
                await session.scalars(
                    select(Email.address)
                    .where(Email.contact_id == contact_id)
                    .order_by(Email.id)
                )
            ).all()
            company_name = (
                await session.scalar(
                    select(Company.name).where(Company.id == contact.company_id)
                )
                if contact.company_id
                else None
            )
            interactions = (
                await session.scalars(
                    select(Interaction)
                    .where(Interaction.contact_id == contact_id)
                    .order_by(Interaction.occurred_at.desc())
                    .limit(50)
                )
            ).all()
            responsible = (
                await session.scalar(
                    select(User.full_name).where(User.id == contact.responsible_id)
                )
                if contact.responsible_id
                else None
            )
        return {
            "id": contact.id,
            "name": contact.full_name,
            "company_id": contact.company_id,
            "company_name": company_name,
            "last_name": contact.last_name,
            "first_name": contact.first_name,
            "middle_name": contact.middle_name,
            "position": contact.position,
            "email": contact.email,
            "emails": list(emails),
            "birthday": contact.birthday.isoformat() if contact.birthday else None,
            "channels": contact.channels,
            "notes": contact.notes,
            "responsible_id": contact.responsible_id,
            "responsible_name": responsible,
            "phones": [_phone(p) for p in phones],
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

    async def visible_company_ids(
        self, company_ids: Iterable[int], *, user: UserView
    ) -> set[int]:
        """Which of these companies the user may open (duplicate hints show others
        by name only)."""
        ids = list(company_ids)
        if not ids:
            return set()
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Company.id).where(Company.id.in_(ids), visible_companies(user))
            )
            return set(rows)

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

    # -- the client base: create, edit, contacts, equipment ----------------------------

    def _check_company(
        self, data: Mapping[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        """Validate company fields; returns the clean values of the fields given."""
        clean: dict[str, Any] = {}
        if "name" in data or not partial:
            raw = str(data.get("name") or "").strip()
            if not raw:
                raise InvalidClientInput("name", "обязательное поле")
            if len(raw) > 300:
                raise InvalidClientInput("name", "не длиннее 300 знаков")
            form, short = split_legal_form(raw)
            clean["name"] = raw
            clean["name_key"] = name_key(raw)
            if form and not data.get("legal_form"):
                clean["legal_form"] = form
            if not short:
                raise InvalidClientInput(
                    "name", "название без формы собственности пустое"
                )
        checks = {"inn": check_inn, "kpp": check_kpp, "ogrn": check_ogrn}
        for field, check in checks.items():
            if field in data:
                value = str(data.get(field) or "").strip()
                try:
                    clean[field] = check(value) if value else None
                except FieldProblem as problem:
                    raise InvalidClientInput(field, problem.reason) from None
        for field, limit in COMPANY_TEXT_FIELDS.items():
            if field in data:
                value = str(data.get(field) or "").strip()
                if len(value) > limit:
                    raise InvalidClientInput(field, f"не длиннее {limit} знаков")
                clean[field] = value or None
        if "status" in data:
            try:
                clean["status"] = CompanyStatus(str(data["status"]))
            except ValueError:
                raise InvalidClientInput(
                    "status", "prospect, client или former"
                ) from None
        if "responsible_id" in data:
            value = data.get("responsible_id")
            if value in (None, ""):
                clean["responsible_id"] = None
            elif str(value).isdigit() and len(str(value)) < 10:
                clean["responsible_id"] = int(value)
            else:
                raise InvalidClientInput("responsible_id", "выберите сотрудника")
        return clean

    def _check_phones(self, raws: Iterable[Any]) -> list[CheckedPhone]:
        phones = []
        for raw in raws:
            text = str(raw or "").strip()
            if not text:
                continue
            try:
                number = parse_phone(text, self._region)
            except InvalidPhoneNumber:
                # The parser's reasons are English; the form shows this to a manager.
                raise InvalidClientInput(
                    "phones", f"{text}: не номер телефона, пример: +7 (916) 123-45-67"
                ) from None
            phones.append(
                (number.e164, number.extension, text[:64], PhoneKind(number.kind))
            )
        return phones

    def problems(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Every problem of a new company's data at once, by field: the form shows
        them all instead of one per submit. Contact fields are ``contacts.N.field``.
        Empty when ``create_company`` would accept the data (duplicates aside)."""
        found: dict[str, str] = {}

        def check(prefix: str, run: Callable[[], object]) -> None:
            try:
                run()
            except InvalidClientInput as problem:
                found.setdefault(prefix + problem.field, problem.reason)

        for name in data:
            if name not in ("phones", "emails", "contacts", "equipment"):
                check(
                    "", lambda n=name: self._check_company({n: data[n]}, partial=True)
                )
        check("", lambda: self._check_company({"name": data.get("name")}, partial=True))
        check("", lambda: self._check_phones(data.get("phones") or []))
        check("", lambda: self._check_emails(data.get("emails") or []))
        for index, contact in enumerate(data.get("contacts") or []):
            prefix = f"contacts.{index}."
            for name in contact:
                if name not in ("phones", "emails"):
                    check(
                        prefix,
                        lambda n=name, c=contact: self._check_contact(
                            {n: c[n]}, partial=True
                        ),
                    )
            check(prefix, lambda c=contact: self._check_contact(c, partial=False))
            check(prefix, lambda c=contact: self._check_phones(c.get("phones") or []))
            check(prefix, lambda c=contact: self._check_emails(c.get("emails") or []))
        return found

    def _check_emails(self, raws: Iterable[Any]) -> list[str]:
        emails = []
        for raw in raws:
            text = str(raw or "").strip()
            if not text:
                continue
            try:
                emails.append(check_email(text))
            except FieldProblem as problem:
                raise InvalidClientInput(
                    "emails", f"{text}: {problem.reason}"
                ) from None
        return list(dict.fromkeys(emails))

    async def check_duplicates(
        self,
        data: Mapping[str, Any],
        *,
        exclude_id: int | None = None,
        session: AsyncSession | None = None,
    ) -> list[Candidate]:
        """Likely duplicates of a draft company (shown to the user before saving)."""
        name = str(data.get("name") or "")
        inn = str(data.get("inn") or "").strip() or None
        phones = [p[0] for p in self._check_phones(data.get("phones") or [])]
        emails = self._check_emails(data.get("emails") or [])
        draft = draft_of(
            name=name,
            name_key=name_key(name) if name else "",
            inn=inn,
            phones=phones,
            emails=emails,
            exclude_id=exclude_id,
        )
        if session is not None:
            return await find_duplicates(session, draft)
        async with self._sessions() as own:
            return await find_duplicates(own, draft)

    async def create_company(
        self,
        data: Mapping[str, Any],
        *,
        user: UserView,
        force: bool = False,
        batch_id: uuid.UUID | None = None,
    ) -> int:
        """Create a company with phones, e-mails and contacts; refuses likely duplicates
        unless ``force`` (then they are created anyway, on purpose)."""
        # Bad input is reported before likely duplicates (add_companies checks again).
        self._check_company(data, partial=False)
        self._check_phones(data.get("phones") or [])
        self._check_emails(data.get("emails") or [])

        async with transaction(self._sessions) as session:
            if not force:
                candidates = await self.check_duplicates(data, session=session)
                if candidates:
                    raise DuplicatesFound([c.as_dict() for c in candidates])
            (company_id,) = await self.add_companies(
                session, [data], user=user, batch_id=batch_id
            )

        logger.info("company created company_id=%s user_id=%s", company_id, user.id)
        return company_id

    async def add_companies(
        self,
        session: AsyncSession,
        drafts: Sequence[Mapping[str, Any]],
        *,
        user: UserView,
        batch_id: uuid.UUID | None = None,
    ) -> list[int]:
        """Write new companies with their phones, e-mails, contacts and equipment in
        the session's transaction; returns their ids in the order of ``drafts``.

        Everything is checked before anything is written, and each table gets its
        rows in one flush, so an import of thousands of companies costs a few
        statements per batch rather than several per company. No duplicate check.
        """
        checked = [
            (
                self._check_company(data, partial=False),
                self._check_phones(data.get("phones") or []),
                self._check_emails(data.get("emails") or []),
                [self.checked_contact(c) for c in data.get("contacts") or []],
                [
                    check_equipment(e, partial=False)
                    for e in data.get("equipment") or []
                ],
            )
            for data in drafts
        ]

        companies = []
        for clean, *_ in checked:
            clean.setdefault("responsible_id", user.id)
            companies.append(Company(**clean))
        session.add_all(companies)
        await session.flush()

        rows = _BulkRows()
        people: list[tuple[Contact, CheckedChannels]] = []
        items: list[Equipment] = []
        for company, (_, phones, emails, contacts, equipment) in zip(
            companies, checked, strict=True
        ):
            rows.changes += change_rows(
                entity="company",
                entity_id=company.id,
                before=None,
                after=_company_fields(company),
                user_id=user.id,
                batch_id=batch_id,
            )
            rows.add_channels(company.id, None, (phones, emails))
            for contact, channels in contacts:
                contact.company_id = company.id
                people.append((contact, channels))
            items += (Equipment(company_id=company.id, **e) for e in equipment)
        await rows.insert(session)
        await self.store_contacts(session, people, user, batch_id)
        await self.store_equipment(session, items, user, batch_id)

        ids = [company.id for company in companies]
        await self._link_past_calls(session, ids)
        return ids

    async def update_company(
        self,
        company_id: int,
        changes: Mapping[str, Any],
        *,
        user: UserView,
        force: bool = False,
    ) -> None:
        clean = self._check_company(changes, partial=True)
        async with transaction(self._sessions) as session:
            company = await session.scalar(
                select(Company)
                .where(Company.id == company_id, visible_companies(user))
                .with_for_update()
            )
            if company is None:
                raise NoSuchClient(company_id)
            if not force and ("name" in clean or "inn" in clean):
                draft = {"name": clean.get("name", ""), "inn": clean.get("inn")}
                candidates = await self.check_duplicates(
                    draft, exclude_id=company_id, session=session
                )
                if candidates:
                    raise DuplicatesFound([c.as_dict() for c in candidates])

            before = _company_fields(company)
            for field, value in clean.items():
                setattr(company, field, value)
            record_changes(
                session,
                entity="company",
                entity_id=company_id,
                before=before,
                after=_company_fields(company),
                user_id=user.id,
            )
            if "phones" in changes:
                await self._replace_phones(
                    session, company_id, None, changes["phones"], user
                )
            if "emails" in changes:
                await self._replace_emails(
                    session, company_id, None, changes["emails"], user
                )

    async def _replace_phones(
        self,
        session: AsyncSession,
        company_id: int | None,
        contact_id: int | None,
        raws: Iterable[Any],
        user: UserView,
    ) -> None:
        phones = self._check_phones(raws)
        new_rows = [
            Phone(
                company_id=company_id,
                contact_id=contact_id,
                e164=e164,
                extension=extension,
                raw=raw,
                kind=kind,
            )
            for e164, extension, raw, kind in phones
        ]
        await self._replace_owned(
            session, Phone, "phones", "e164", company_id, contact_id, new_rows, user
        )

    async def _replace_emails(
        self,
        session: AsyncSession,
        company_id: int | None,
        contact_id: int | None,
        raws: Iterable[Any],
        user: UserView,
    ) -> None:
        new_rows = [
            Email(company_id=company_id, contact_id=contact_id, address=address)
            for address in self._check_emails(raws)
        ]
        await self._replace_owned(
            session, Email, "emails", "address", company_id, contact_id, new_rows, user
        )

    async def _replace_owned(
        self,
        session: AsyncSession,
        model: type[Phone] | type[Email],
        field: str,
        value: str,
        company_id: int | None,
        contact_id: int | None,
        new_rows: list[Any],
        user: UserView,
    ) -> None:
        """Swap the phones or e-mails of a company (its own) or of a contact, logged."""
        if contact_id:
            owner = model.contact_id == contact_id
        else:
            owner = (model.company_id == company_id) & model.contact_id.is_(None)
        old = (await session.scalars(select(model).where(owner))).all()
        entity, entity_id = (
            ("contact", contact_id) if contact_id else ("company", company_id)
        )
        record_changes(
            session,
            entity=entity,
            entity_id=int(entity_id or 0),
            before={field: ", ".join(getattr(row, value) for row in old)},
            after={field: ", ".join(getattr(row, value) for row in new_rows)},
            user_id=user.id,
            action="update",
        )
        for row in old:
            await session.delete(row)
        session.add_all(new_rows)

    def _check_contact(
        self, data: Mapping[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for field, limit in CONTACT_TEXT_FIELDS.items():
            if field in data or (not partial and field in ("last_name", "first_name")):
                value = str(data.get(field) or "").strip()
                if len(value) > limit:
                    raise InvalidClientInput(field, f"не длиннее {limit} знаков")
                clean[field] = (
                    value
                    if field in ("last_name", "first_name", "middle_name")
                    else (value or None)
                )
        if not partial and not (clean.get("last_name") or clean.get("first_name")):
            raise InvalidClientInput("last_name", "нужна фамилия или имя")
        if "birthday" in data:
            value = data.get("birthday")
            if value in (None, ""):
                clean["birthday"] = None
            else:
                try:
                    clean["birthday"] = parse_date(str(value))
                except ValueError:
                    raise InvalidClientInput(
                        "birthday", "дата вида 04.12.1980"
                    ) from None
        if "channels" in data:
            channels = data.get("channels") or []
            if not isinstance(channels, list) or not all(
                isinstance(c, dict) and str(c.get("value", "")).strip()
                for c in channels
            ):
                raise InvalidClientInput("channels", "список {kind, value}")
            clean["channels"] = [
                {
                    "kind": str(c.get("kind", "other"))[:30],
                    "value": str(c["value"])[:200],
                }
                for c in channels
            ]
        if any(f in clean for f in ("last_name", "first_name", "middle_name")):
            clean["name_key"] = person_key(
                clean.get("last_name", ""),
                clean.get("first_name", ""),
                clean.get("middle_name", ""),
            )
        return clean

    async def _add_contact(
        self,
        session: AsyncSession,
        company_id: int | None,
        data: Mapping[str, Any],
        user: UserView,
        batch_id: uuid.UUID | None = None,
    ) -> int:
        contact, channels = self.checked_contact(data)
        contact.company_id = company_id
        await self.store_contacts(session, [(contact, channels)], user, batch_id)
        return contact.id

    def checked_contact(
        self, data: Mapping[str, Any]
    ) -> tuple[Contact, CheckedChannels]:
        contact = Contact(**self._check_contact(data, partial=False))
        phones = self._check_phones(data.get("phones") or [])
        emails = self._check_emails(data.get("emails") or [])
        if emails and not contact.email:
            contact.email = emails[0]
        return contact, (phones, emails)

    async def store_contacts(
        self,
        session: AsyncSession,
        people: Sequence[tuple[Contact, CheckedChannels]],
        user: UserView,
        batch_id: uuid.UUID | None,
    ) -> None:
        """Insert checked contacts (``company_id`` set, None for private clients)
        in one flush, then their change rows, phones and e-mails."""
        for contact, _ in people:
            if contact.company_id is None:
                contact.responsible_id = user.id
        session.add_all(contact for contact, _ in people)
        await session.flush()

        rows = _BulkRows()
        for contact, channels in people:
            rows.changes += change_rows(
                entity="contact",
                entity_id=contact.id,
                before=None,
                after=_contact_fields(contact),
                user_id=user.id,
                batch_id=batch_id,
            )
            rows.add_channels(contact.company_id, contact.id, channels)
        await rows.insert(session)

    async def add_contact(
        self, company_id: int | None, data: Mapping[str, Any], *, user: UserView
    ) -> int:
        """Add a contact person to a company, or a private client (no company)."""
        async with transaction(self._sessions) as session:
            if company_id is not None:
                await self._visible_company(session, company_id, user)
            contact_id = await self._add_contact(session, company_id, data, user)
        logger.info("contact added contact_id=%s company_id=%s", contact_id, company_id)
        return contact_id

    async def update_contact(
        self, contact_id: int, changes: Mapping[str, Any], *, user: UserView
    ) -> None:
        clean = self._check_contact(changes, partial=True)
        async with transaction(self._sessions) as session:
            contact = await self._visible_contact(session, contact_id, user)
            before = _contact_fields(contact)
            for field, value in clean.items():
                setattr(contact, field, value)
            record_changes(
                session,
                entity="contact",
                entity_id=contact_id,
                before=before,
                after=_contact_fields(contact),
                user_id=user.id,
            )
            if "phones" in changes:
                await self._replace_phones(
                    session, contact.company_id, contact_id, changes["phones"], user
                )
            if "emails" in changes:
                await self._replace_emails(
                    session, contact.company_id, contact_id, changes["emails"], user
                )

    async def move_contact(
        self, contact_id: int, company_id: int | None, *, user: UserView
    ) -> None:
        """Move a person to another company; their calls and history go with them."""
        async with transaction(self._sessions) as session:
            contact = await self._visible_contact(session, contact_id, user)
            if company_id is not None:
                await self._visible_company(session, company_id, user)
            old_company = contact.company_id
            contact.company_id = company_id
            await session.execute(
                update(Phone)
                .where(Phone.contact_id == contact_id)
                .values(company_id=company_id)
            )
            await session.execute(
                update(Email)
                .where(Email.contact_id == contact_id)
                .values(company_id=company_id)
            )
            await session.execute(
                update(Interaction)
                .where(Interaction.contact_id == contact_id)
                .values(company_id=company_id)
            )
            await session.execute(
                update(Call)
                .where(Call.contact_id == contact_id)
                .values(company_id=company_id)
            )
            record_changes(
                session,
                entity="contact",
                entity_id=contact_id,
                before={"company_id": old_company},
                after={"company_id": company_id},
                user_id=user.id,
                action="move",
            )
        logger.info(
            "contact moved contact_id=%s from=%s to=%s",
            contact_id,
            old_company,
            company_id,
        )

    async def _visible_company(
        self, session: AsyncSession, company_id: int, user: UserView
    ) -> Company:
        company = await session.scalar(
            select(Company).where(Company.id == company_id, visible_companies(user))
        )
        if company is None:
            raise NoSuchClient(company_id)
        return company

    async def _visible_contact(
        self, session: AsyncSession, contact_id: int, user: UserView
    ) -> Contact:
        contact = await session.scalar(
            select(Contact).where(Contact.id == contact_id, visible_contacts(user))
        )
        if contact is None:
            raise NoSuchClient(contact_id)
        return contact

    async def add_equipment(
        self, company_id: int, data: Mapping[str, Any], *, user: UserView
    ) -> int:
        clean = check_equipment(data, partial=False)
        async with transaction(self._sessions) as session:
            await self._visible_company(session, company_id, user)
            item = Equipment(company_id=company_id, **clean)
            await self.store_equipment(session, [item], user)
        return item.id

    async def store_equipment(
        self,
        session: AsyncSession,
        items: Sequence[Equipment],
        user: UserView,
        batch_id: uuid.UUID | None = None,
    ) -> None:
        """Insert checked equipment items in one flush, with their change rows."""
        session.add_all(items)
        await session.flush()
        rows = _BulkRows()
        for item in items:
            rows.changes += change_rows(
                entity="equipment",
                entity_id=item.id,
                before=None,
                after=equipment_fields(item),
                user_id=user.id,
                batch_id=batch_id,
            )
        await rows.insert(session)

    async def update_equipment(
        self, equipment_id: int, changes: Mapping[str, Any], *, user: UserView
    ) -> None:
        clean = check_equipment(changes, partial=True)
        async with transaction(self._sessions) as session:
            item = await session.get(Equipment, equipment_id, with_for_update=True)
            if item is None or item.company_id is None:
                raise NoSuchClient(equipment_id)
            await self._visible_company(session, item.company_id, user)
            before = {f: getattr(item, f) for f in clean}
            for field, value in clean.items():
                setattr(item, field, value)
            record_changes(
                session,
                entity="equipment",
                entity_id=equipment_id,
                before=before,
                after=clean,
                user_id=user.id,
            )

    async def delete_equipment(self, equipment_id: int, *, user: UserView) -> None:
        async with transaction(self._sessions) as session:
            item = await session.get(Equipment, equipment_id)
            if item is None or item.company_id is None:
                raise NoSuchClient(equipment_id)
            await self._visible_company(session, item.company_id, user)
            record_changes(
                session,
                entity="equipment",
                entity_id=equipment_id,
                before={"model": item.model, "company_id": item.company_id},
                after=None,
                user_id=user.id,
            )
            await session.delete(item)

    async def share_company(
        self, company_id: int, with_user_id: int, *, user: UserView
    ) -> None:
        async with transaction(self._sessions) as session:
            await self._visible_company(session, company_id, user)
            exists = await session.get(ClientShare, (company_id, with_user_id))
            if exists is None:
                session.add(ClientShare(company_id=company_id, user_id=with_user_id))
                record_changes(
                    session,
                    entity="company",
                    entity_id=company_id,
                    before={"shared_with": None},
                    after={"shared_with": with_user_id},
                    user_id=user.id,
                    action="share",
                )

    async def history(
        self, entity: str, entity_id: int, *, user: UserView, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The change log of a record the user may see, newest first."""
        async with self._sessions() as session:
            if entity == "company":
                await self._visible_company(session, entity_id, user)
            elif entity == "contact":
                await self._visible_contact(session, entity_id, user)
            else:
                raise NoSuchClient(entity_id)
            own = (ChangeRecord.entity == entity) & (
                ChangeRecord.entity_id == entity_id
            )
            if entity == "company":
                # The company's card also tells what happened to its people and
                # its equipment.
                people = select(Contact.id).where(Contact.company_id == entity_id)
                items = select(Equipment.id).where(Equipment.company_id == entity_id)
                own = or_(
                    own,
                    (ChangeRecord.entity == "contact")
                    & ChangeRecord.entity_id.in_(people),
                    (ChangeRecord.entity == "equipment")
                    & ChangeRecord.entity_id.in_(items),
                )
            rows = (
                await session.execute(
                    select(ChangeRecord, User.full_name)
                    .outerjoin(User, User.id == ChangeRecord.user_id)
                    .where(own)
                    .order_by(ChangeRecord.id.desc())
                    .limit(limit)
                )
            ).all()
            changes = [c for c, _ in rows]
            titles = await self._linked_titles(session, entity, changes)
            subjects = await self._subjects(session, entity, changes)
        return [
            {
                "at": _iso(change.at),
                "user": name,
                "action": change.action,
                "field": change.field,
                "old": change.old_value,
                "new": change.new_value,
                "old_title": titles.get(
                    (_linked_kind(entity, change.field) or "", change.old_value or "")
                ),
                "new_title": titles.get(
                    (_linked_kind(entity, change.field) or "", change.new_value or "")
                ),
                # Whose row it is when not the record's own: a contact, an item.
                "subject": subjects.get((change.entity, change.entity_id)),
            }
            for change, name in rows
        ]

    async def _subjects(
        self, session: AsyncSession, entity: str, changes: Sequence[ChangeRecord]
    ) -> dict[tuple[str, int], dict[str, str]]:
        others = {(c.entity, c.entity_id) for c in changes if c.entity != entity}
        people = [i for kind, i in others if kind == "contact"]
        items = [i for kind, i in others if kind == "equipment"]
        subjects: dict[tuple[str, int], dict[str, str]] = {}
        if people:
            for contact_id, name in await session.execute(
                select(Contact.id, _full_name()).where(Contact.id.in_(people))
            ):
                subjects[("contact", contact_id)] = {
                    "kind": "contact",
                    "name": name,
                    "url": f"/contacts/{contact_id}",
                }
        if items:
            for item_id, vendor, model, kind in await session.execute(
                select(
                    Equipment.id, Equipment.vendor, Equipment.model, Equipment.kind
                ).where(Equipment.id.in_(items))
            ):
                label = " ".join(p for p in (vendor, model or kind) if p)
                subjects[("equipment", item_id)] = {"kind": "equipment", "name": label}
        return subjects

    async def _linked_titles(
        self, session: AsyncSession, entity: str, changes: Sequence[ChangeRecord]
    ) -> dict[tuple[str, str], str]:
        """Names of the records change rows point at (a merge's other record, a
        contact's company), by (kind, id as logged)."""
        wanted: dict[str, set[int]] = {"company": set(), "contact": set()}
        for change in changes:
            kind = _linked_kind(entity, change.field)
            if kind is not None:
                wanted[kind].update(
                    int(v)
                    for v in (change.old_value, change.new_value)
                    if v and v.isdigit()
                )
        titles: dict[tuple[str, str], str] = {}
        if wanted["company"]:
            for record_id, title in await session.execute(
                select(Company.id, Company.name).where(
                    Company.id.in_(wanted["company"])
                )
            ):
                titles[("company", str(record_id))] = title
        if wanted["contact"]:
            for record_id, title in await session.execute(
                select(Contact.id, _full_name()).where(
                    Contact.id.in_(wanted["contact"])
                )
            ):
                titles[("contact", str(record_id))] = title
        return titles

    async def company_completeness(
        self, session: AsyncSession, company: Company
    ) -> dict[str, Any]:
        phones = await session.scalar(
            select(func.count())
            .select_from(Phone)
            .where(Phone.company_id == company.id)
        )
        emails = (
            await session.scalars(
                select(Email.address).where(Email.company_id == company.id)
            )
        ).all()
        rules = await self._required_fields(session, "company")
        record = {
            **_company_fields(company),
            "phones": [1] * (phones or 0),
            "emails": emails,
        }
        return completeness("company", record, rules).as_dict()

    async def _required_fields(
        self, session: AsyncSession, entity: str
    ) -> list[str] | None:
        rows = (
            await session.execute(
                select(FieldRule.field, FieldRule.required).where(
                    FieldRule.entity == entity
                )
            )
        ).all()
        if not rows:
            return None  # the defaults in validation.DEFAULT_RULES
        return [field for field, required in rows if required]

    async def set_required_fields(self, entity: str, fields: Iterable[str]) -> None:
        """Admins configure which fields a complete record must have."""
        if entity not in ("company", "contact"):
            raise InvalidClientInput("entity", "company или contact")
        chosen = list(dict.fromkeys(fields))
        unknown = [f for f in chosen if f not in FIELD_LABELS]
        if unknown:
            raise InvalidClientInput(
                "fields", f"неизвестные поля: {', '.join(unknown)}"
            )
        async with transaction(self._sessions) as session:
            await session.execute(delete(FieldRule).where(FieldRule.entity == entity))
            session.add_all(
                FieldRule(entity=entity, field=f, required=True) for f in chosen
            )


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


COMPANY_TEXT_FIELDS = {
    "legal_name": 500,
    "legal_form": 20,
    "address": 1000,
    "region": 100,
    "industry": 100,
    "size": 30,
    "source": 100,
    "segment": 50,
    "notes": 10000,
}
CONTACT_TEXT_FIELDS = {
    "last_name": 100,
    "first_name": 100,
    "middle_name": 100,
    "position": 200,
    "notes": 10000,
}
COMPANY_FIELDS = (
    "name",
    "legal_name",
    "legal_form",
    "inn",
    "kpp",
    "ogrn",
    "address",
    "region",
    "industry",
    "size",
    "source",
    "segment",
    "status",
    "responsible_id",
    "notes",
)
EQUIPMENT_FIELDS = (
    "company_id",
    "contact_id",
    "kind",
    "vendor",
    "model",
    "quantity",
    "serial_numbers",
    "status",
    "installed_on",
    "notes",
)
_CONTACT_LOGGED = (
    "company_id",
    "last_name",
    "first_name",
    "middle_name",
    "position",
    "email",
    "birthday",
    "notes",
    "responsible_id",
)


def check_equipment(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """An equipment item's fields, checked; raises InvalidClientInput."""
    clean: dict[str, Any] = {}
    for field, limit in (
        ("kind", 100),
        ("vendor", 100),
        ("model", 200),
        ("notes", 2000),
    ):
        if field in data or not partial:
            value = str(data.get(field) or "").strip()
            if len(value) > limit:
                raise InvalidClientInput(field, f"не длиннее {limit} знаков")
            clean[field] = value
    if not partial and not (clean.get("model") or clean.get("kind")):
        raise InvalidClientInput("model", "нужна модель или вид оборудования")
    if "quantity" in data:
        try:
            clean["quantity"] = int(data["quantity"])
        except (TypeError, ValueError):
            raise InvalidClientInput("quantity", "целое число") from None
        if not 0 <= clean["quantity"] <= 1_000_000:
            raise InvalidClientInput("quantity", "от 0 до 1 000 000")
    if "serial_numbers" in data:
        serials = data.get("serial_numbers") or []
        if isinstance(serials, str):
            serials = [s for s in re.split(r"[,;\s]+", serials) if s]
        clean["serial_numbers"] = [str(s)[:100] for s in serials][:1000]
    if "status" in data:
        try:
            clean["status"] = EquipmentStatus(str(data["status"]))
        except ValueError:
            raise InvalidClientInput("status", "installed или planned") from None
    if "installed_on" in data:
        value = data.get("installed_on")
        try:
            clean["installed_on"] = parse_date(str(value)) if value else None
        except ValueError:
            raise InvalidClientInput("installed_on", "дата вида 04.12.2026") from None
    return clean


@dataclass(slots=True)
class _BulkRows:
    """Rows that nothing reads back as objects in the same session: change log,
    phones, e-mails. Each table gets one INSERT of many rows, without the ORM's
    per-object bookkeeping (which cost most of an import's time)."""

    changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    phones: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    emails: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def add_channels(
        self, company_id: int | None, contact_id: int | None, channels: CheckedChannels
    ) -> None:
        phones, emails = channels
        owner = {"company_id": company_id, "contact_id": contact_id}
        self.phones += (
            {
                **owner,
                "e164": e164,
                "extension": extension,
                "raw": raw,
                "kind": kind,
            }
            for e164, extension, raw, kind in phones
        )
        self.emails += ({**owner, "address": address} for address in emails)

    async def insert(self, session: AsyncSession) -> None:
        for model, rows in (
            (ChangeRecord, self.changes),
            (Phone, self.phones),
            (Email, self.emails),
        ):
            if rows:
                # render_nulls: rows with and without an extension stay in one
                # batched statement (by default each run of like rows gets its own).
                await session.execute(
                    insert(model).execution_options(render_nulls=True), rows
                )


def _linked_kind(entity: str, field: str | None) -> str | None:
    """What kind of record a logged field holds the id of, if any."""
    if field == "company_id":
        return "company"
    if field in ("merged_from", "merged_into_id"):
        return entity
    return None


def _full_name() -> Any:
    """A contact's Ф. И. О. in SQL, without blanks for the missing parts."""
    parts = (Contact.last_name, Contact.first_name, Contact.middle_name)
    return func.concat_ws(" ", *(func.nullif(p, "") for p in parts))


def equipment_fields(item: Equipment) -> dict[str, Any]:
    return {field: getattr(item, field) for field in EQUIPMENT_FIELDS}


def _company_fields(company: Company) -> dict[str, Any]:
    return {field: getattr(company, field) for field in COMPANY_FIELDS}


def _contact_fields(contact: Contact) -> dict[str, Any]:
    return {field: getattr(contact, field) for field in _CONTACT_LOGGED}


def parse_date(value: str) -> dt.date:
    """04.12.2026 (Russian habit) or 2026-12-04."""
    value = value.strip()
    if "." in value:
        return dt.datetime.strptime(value, "%d.%m.%Y").date()
    return dt.date.fromisoformat(value)
