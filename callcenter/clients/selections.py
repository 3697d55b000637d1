"""Selections: the client base filtered by any parameter, saved by name and shared.

A selection is a JSON object of filters (all optional, all combined with AND):

=====================  ==========================================================
``name``               the name contains this text (any case, legal form ignored)
``industry``,          any of these values (a list; one string is read as a list)
``region``,
``segment``
``status``             any of prospect, client, former
``responsible_id``     any of these user ids; ``null`` in the list: no responsible
``equipment_kind``,    has equipment of this kind / vendor (whole value, any case),
``equipment_vendor``,  whose model contains this text, in this status
``equipment_model``,
``equipment_status``
``last_contact_from``, the last contact (a call with the client or any history
``last_contact_to``    entry) falls in these days; never-contacted clients excluded
``never_contacted``    true: no call and no history entry at all
``called``             "yes" / "no": we called the client (outbound or click-to-call,
                       any outcome) in the period below, or ever without one
``called_from``,       the period, as days
``called_to``
``called_days``        the period is the last N days (a saved "not called for 30
                       days" stays relative); overrides ``called_from``
``created_from``,      the record was created in these days
``created_to``
``completeness_min``,  the completeness percent of the card (the configured
``completeness_max``   required fields) lies within these bounds
``has_phone``,         true / false
``has_email``
=====================  ==========================================================

Days are ``2026-12-04`` or ``04.12.2026``, whole local days in the panel's zone.

:func:`resolve_selection` turns filters into a SELECT of company ids, always narrowed
to what the user may see (``callcenter.clients.access``): call lists and mailings use
it as the set of clients to work on. Selections hold companies only; a private client
(a person without a company) is not part of any selection.

Errors (subclasses of ``ClientError``)::

    SelectionError
     ├── NoSuchSelection      not found, or private to someone else (same answer)
     └── SelectionNotYours    shared with the user, but only its owner may change it
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call, Direction
from callcenter.clients.access import visible_companies
from callcenter.clients.errors import ClientError, InvalidClientInput
from callcenter.clients.models import (
    Company,
    CompanyStatus,
    Email,
    Equipment,
    EquipmentStatus,
    FieldRule,
    Phone,
    Selection,
)
from callcenter.clients.validation import DEFAULT_RULES, name_key
from callcenter.db import SessionFactory, transaction, utcnow
from callcenter.interactions.models import Interaction
from callcenter.phones import format_phone
from callcenter.users.models import User
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

MOSCOW = ZoneInfo("Europe/Moscow")
MAX_PAGE = 200
MAX_NAME = 200
MAX_VALUES = 100  # values in one list filter
MAX_TEXT = 200
PHONES_PER_CLIENT = 3

LIST_FILTERS = ("industry", "region", "segment", "status", "responsible_id")
TEXT_FILTERS = ("name", "equipment_kind", "equipment_vendor", "equipment_model")
DAY_FILTERS = (
    "last_contact_from",
    "last_contact_to",
    "called_from",
    "called_to",
    "created_from",
    "created_to",
)
BOOL_FILTERS = ("never_contacted", "has_phone", "has_email")
PERCENT_FILTERS = ("completeness_min", "completeness_max")
OTHER_FILTERS = ("equipment_status", "called", "called_days")
FILTER_KEYS = frozenset(
    LIST_FILTERS + TEXT_FILTERS + DAY_FILTERS + BOOL_FILTERS + PERCENT_FILTERS
) | frozenset(OTHER_FILTERS)

# Calls that mean "we called the client", whatever the outcome.
OUR_CALLS = (Direction.OUTBOUND, Direction.ORIGINATED)
# Calls that are a contact with the client at all (not manager to manager).
CLIENT_CALLS = (Direction.INBOUND, Direction.OUTBOUND, Direction.ORIGINATED)


class SelectionError(ClientError):
    code = "selection_error"


class NoSuchSelection(SelectionError):
    code = "no_such_selection"

    def __init__(self, selection_id: int) -> None:
        super().__init__(f"selection {selection_id} not found")
        self.selection_id = selection_id


class SelectionNotYours(SelectionError):
    code = "selection_not_yours"

    def __init__(self, selection_id: int) -> None:
        super().__init__(f"selection {selection_id} may be changed by its owner only")
        self.selection_id = selection_id


# -- filters -----------------------------------------------------------------------


def check_filters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate filters; returns them in the stored form (empty values dropped).

    Raises InvalidClientInput naming the filter (``filters.<key>``).
    """
    if not isinstance(raw, Mapping):
        raise InvalidClientInput("filters", "an object of filters")
    unknown = sorted(k for k in raw if k not in FILTER_KEYS)
    if unknown:
        raise InvalidClientInput(
            "filters", f"неизвестные фильтры: {', '.join(unknown)}"
        )

    clean: dict[str, Any] = {}
    for key, value in raw.items():
        if _blank(value):
            continue
        clean[key] = _check_one(key, value)
    return {k: v for k, v in clean.items() if not _blank(v)}


def _check_one(key: str, value: Any) -> Any:
    name = f"filters.{key}"
    if key in ("industry", "region", "segment"):
        return _texts(value, name)
    if key == "status":
        values = _texts(value, name)
        allowed = {s.value for s in CompanyStatus}
        if not set(values) <= allowed:
            raise InvalidClientInput(name, "prospect, client или former")
        return values
    if key == "responsible_id":
        return _user_ids(value, name)
    if key in TEXT_FILTERS:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InvalidClientInput(name, f"текст до {MAX_TEXT} знаков")
        return value.strip()
    if key in DAY_FILTERS:
        return _day(value, name).isoformat()
    if key in BOOL_FILTERS:
        return _bool(value, name)
    if key in PERCENT_FILTERS:
        return _whole(value, name, 0, 100)
    if key == "called_days":
        return _whole(value, name, 1, 3660)
    if key == "called":
        if value not in ("yes", "no"):
            raise InvalidClientInput(name, "yes или no")
        return value
    if key == "equipment_status":
        if value not in {s.value for s in EquipmentStatus}:
            raise InvalidClientInput(name, "installed или planned")
        return value
    raise InvalidClientInput(name, "неизвестный фильтр")  # pragma: no cover


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _texts(value: Any, name: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or len(values) > MAX_VALUES:
        raise InvalidClientInput(name, f"список до {MAX_VALUES} значений")
    if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in values):
        raise InvalidClientInput(name, f"значения — текст до {MAX_TEXT} знаков")
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _user_ids(value: Any, name: str) -> list[int | None]:
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_VALUES:
        raise InvalidClientInput(name, f"список до {MAX_VALUES} значений")
    ids: list[int | None] = []
    for item in values:
        if item is None or item == "none":
            ids.append(None)  # "no responsible manager"
            continue
        if isinstance(item, str) and item.isdigit() and len(item) <= 9:
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**31:
            raise InvalidClientInput(name, "номера пользователей или null")
        ids.append(item)
    return list(dict.fromkeys(ids))


def _day(value: Any, name: str) -> dt.date:
    if isinstance(value, str):
        text = value.strip()
        try:
            if "." in text:
                return dt.datetime.strptime(text, "%d.%m.%Y").date()
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidClientInput(name, "дата вида 04.12.2026")


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidClientInput(name, "да или нет (true/false)")


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise InvalidClientInput(name, f"целое число от {low} до {high}")
    return value


# -- filters -> SQL ----------------------------------------------------------------


async def resolve_selection(
    session: AsyncSession,
    filters: Mapping[str, Any],
    user: UserView,
    *,
    zone: ZoneInfo = MOSCOW,
    now: dt.datetime | None = None,
) -> Select[tuple[int]]:
    """The ids of the companies that match ``filters`` and that ``user`` may see.

    Unordered; use it as a subquery (``Company.id.in_(...)``) or execute it. The
    session is read for the configured completeness rules; filters are checked again
    here, since stored ones may predate a rule change. ``now`` anchors ``called_days``.
    """
    clean = check_filters(filters)
    conditions = [visible_companies(user)]
    conditions.extend(_field_conditions(clean))
    conditions.extend(_equipment_conditions(clean))
    conditions.extend(_contact_conditions(clean, zone, now or utcnow()))
    conditions.extend(_day_conditions(clean, "created", Company.created_at, zone))
    if "has_phone" in clean:
        has = exists().where(Phone.company_id == Company.id)
        conditions.append(has if clean["has_phone"] else not_(has))
    if "has_email" in clean:
        has = exists().where(Email.company_id == Company.id)
        conditions.append(has if clean["has_email"] else not_(has))
    if "completeness_min" in clean or "completeness_max" in clean:
        percent = await completeness_percent(session)
        if "completeness_min" in clean:
            conditions.append(percent >= clean["completeness_min"])
        if "completeness_max" in clean:
            conditions.append(percent <= clean["completeness_max"])
    return select(Company.id).where(*conditions)


def _field_conditions(clean: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if clean.get("name"):
        key = name_key(clean["name"])
        if key:
            # LIKE '%key%' is answered by the trigram index on name_key.
            conditions.append(Company.name_key.contains(key, autoescape=True))
    for key, column in (
        ("industry", Company.industry),
        ("region", Company.region),
        ("segment", Company.segment),
    ):
        if clean.get(key):
            conditions.append(column.in_(clean[key]))
    if clean.get("status"):
        conditions.append(
            Company.status.in_([CompanyStatus(s) for s in clean["status"]])
        )
    if "responsible_id" in clean:
        ids = [i for i in clean["responsible_id"] if i is not None]
        either = [Company.responsible_id.in_(ids)] if ids else []
        if None in clean["responsible_id"]:
            either.append(Company.responsible_id.is_(None))
        conditions.append(or_(*either))
    return conditions


def _equipment_conditions(clean: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    wanted = []
    if clean.get("equipment_kind"):
        wanted.append(func.lower(Equipment.kind) == clean["equipment_kind"].lower())
    if clean.get("equipment_vendor"):
        wanted.append(func.lower(Equipment.vendor) == clean["equipment_vendor"].lower())
    if clean.get("equipment_model"):
        # The indexed expression, so the trigram index on lower(model) answers it.
        wanted.append(
            func.lower(Equipment.model).contains(
                clean["equipment_model"].lower(), autoescape=True
            )
        )
    if clean.get("equipment_status"):
        wanted.append(Equipment.status == EquipmentStatus(clean["equipment_status"]))
    if not wanted:
        return []
    return [exists().where(Equipment.company_id == Company.id, *wanted)]


def _contact_conditions(
    clean: Mapping[str, Any], zone: ZoneInfo, now: dt.datetime
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []

    def contacted(since: dt.datetime | None = None) -> ColumnElement[bool]:
        """A call with the client or a history entry, from ``since`` on."""
        call = [Call.company_id == Company.id, Call.direction.in_(CLIENT_CALLS)]
        entry = [Interaction.company_id == Company.id]
        if since is not None:
            call.append(Call.started_at >= since)
            entry.append(Interaction.occurred_at >= since)
        return or_(exists().where(*call), exists().where(*entry))

    if clean.get("never_contacted"):
        conditions.append(not_(contacted()))
    if "last_contact_from" in clean:
        conditions.append(contacted(_start(clean["last_contact_from"], zone)))
    if "last_contact_to" in clean:
        after = _start(clean["last_contact_to"], zone, next_day=True)
        conditions.extend([contacted(), not_(contacted(after))])

    if clean.get("called"):
        since = until = None
        if "called_days" in clean:
            since = now - dt.timedelta(days=clean["called_days"])
        elif "called_from" in clean:
            since = _start(clean["called_from"], zone)
        if "called_to" in clean:
            until = _start(clean["called_to"], zone, next_day=True)
        called = [Call.company_id == Company.id, Call.direction.in_(OUR_CALLS)]
        if since is not None:
            called.append(Call.started_at >= since)
        if until is not None:
            called.append(Call.started_at < until)
        has_call = exists().where(*called)
        conditions.append(has_call if clean["called"] == "yes" else not_(has_call))
    return conditions


def _day_conditions(
    clean: Mapping[str, Any], prefix: str, column: Any, zone: ZoneInfo
) -> list[ColumnElement[bool]]:
    conditions = []
    if f"{prefix}_from" in clean:
        conditions.append(column >= _start(clean[f"{prefix}_from"], zone))
    if f"{prefix}_to" in clean:
        conditions.append(column < _start(clean[f"{prefix}_to"], zone, next_day=True))
    return conditions


def _start(day: str, zone: ZoneInfo, *, next_day: bool = False) -> dt.datetime:
    date = dt.date.fromisoformat(day) + dt.timedelta(days=1 if next_day else 0)
    return dt.datetime.combine(date, dt.time(), tzinfo=zone)


async def completeness_percent(session: AsyncSession) -> ColumnElement[Any]:
    """The card's completeness percent as SQL on ``Company``, by the configured rules.

    Mirrors ``validation.completeness`` for required fields; invalid INN/KPP/OGRN
    (which cap a card at 99) are not checked here, their checksums live in Python.
    """
    rows = (
        await session.execute(
            select(FieldRule.field, FieldRule.required).where(
                FieldRule.entity == "company"
            )
        )
    ).all()
    fields = (
        [f for f, required in rows if required] if rows else DEFAULT_RULES["company"]
    )
    if not fields:
        return literal(100)
    filled = sum((case((_filled(f), 1), else_=0) for f in fields), start=literal(0))
    return func.round(cast(filled, Numeric) * 100 / len(fields))


def _filled(field_name: str) -> ColumnElement[bool]:
    if field_name == "phones":
        return exists().where(Phone.company_id == Company.id)
    if field_name == "emails":
        return exists().where(Email.company_id == Company.id)
    column = getattr(Company, field_name, None)
    if field_name in ("responsible_id", "status"):
        return column.is_not(None)  # type: ignore[union-attr]
    if column is None or field_name in ("id", "name_key", "merged_into_id"):
        return literal(False)  # a contact's field in company rules: never filled
    return func.coalesce(column, "") != ""


# -- pages of clients ---------------------------------------------------------------


@dataclass(slots=True)
class ClientPage:
    total: int
    limit: int
    offset: int
    clients: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "clients": self.clients,
        }


async def client_page(
    session: AsyncSession,
    ids: Select[tuple[int]],
    *,
    limit: int = 50,
    offset: int = 0,
) -> ClientPage:
    """One page of the matching companies, by name, with what a list needs to call."""
    limit = min(max(limit, 1), MAX_PAGE)
    offset = max(offset, 0)
    matching = ids.subquery()
    total = await session.scalar(select(func.count()).select_from(matching)) or 0

    rows = (
        await session.execute(
            select(Company, User.full_name)
            .outerjoin(User, User.id == Company.responsible_id)
            .where(Company.id.in_(select(matching.c.id)))
            .order_by(Company.name, Company.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    page = ClientPage(total=total, limit=limit, offset=offset)
    if not rows:
        return page

    page_ids = [company.id for company, _ in rows]
    phones = await _phones_of(session, page_ids)
    last_contacts = await _last_contacts(session, page_ids)
    page.clients = [
        {
            "id": company.id,
            "name": company.name,
            "inn": company.inn,
            "status": company.status.value,
            "region": company.region,
            "industry": company.industry,
            "segment": company.segment,
            "responsible_id": company.responsible_id,
            "responsible_name": responsible,
            "created_at": company.created_at.isoformat(),
            "last_contact_at": _iso(last_contacts.get(company.id)),
            "phones": phones.get(company.id, []),
            "url": f"/clients/{company.id}",
        }
        for company, responsible in rows
    ]
    return page


async def _phones_of(
    session: AsyncSession, company_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    rows = await session.execute(
        select(Phone.company_id, Phone.contact_id, Phone.e164, Phone.extension)
        .where(Phone.company_id.in_(company_ids))
        .order_by(Phone.contact_id.is_not(None), Phone.id)
    )
    phones: dict[int, list[dict[str, Any]]] = {}
    for company_id, contact_id, e164, extension in rows:
        numbers = phones.setdefault(company_id, [])
        if len(numbers) < PHONES_PER_CLIENT:
            numbers.append(
                {
                    "e164": e164,
                    "display": format_phone(e164),
                    "extension": extension,
                    "contact_id": contact_id,
                }
            )
    return phones


async def _last_contacts(
    session: AsyncSession, company_ids: Sequence[int]
) -> dict[int, dt.datetime]:
    calls = (
        select(Call.company_id, func.max(Call.started_at).label("at"))
        .where(Call.company_id.in_(company_ids), Call.direction.in_(CLIENT_CALLS))
        .group_by(Call.company_id)
    )
    entries = (
        select(Interaction.company_id, func.max(Interaction.occurred_at).label("at"))
        .where(Interaction.company_id.in_(company_ids))
        .group_by(Interaction.company_id)
    )
    last: dict[int, dt.datetime] = {}
    for statement in (calls, entries):
        for company_id, at in await session.execute(statement):
            if company_id not in last or at > last[company_id]:
                last[company_id] = at
    return last


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- saved selections ----------------------------------------------------------------


def _selection_view(
    selection: Selection, owner_name: str | None, user: UserView
) -> dict[str, Any]:
    return {
        "id": selection.id,
        "name": selection.name,
        "shared": selection.shared,
        "filters": selection.filters,
        "owner_id": selection.owner_id,
        "owner_name": owner_name,
        "editable": selection.owner_id == user.id,
        "created_at": selection.created_at.isoformat(),
    }


def _check_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise InvalidClientInput("name", "обязательное поле")
    if len(name) > MAX_NAME:
        raise InvalidClientInput("name", f"не длиннее {MAX_NAME} знаков")
    return name


def _readable(user: UserView) -> ColumnElement[bool]:
    return or_(Selection.owner_id == user.id, Selection.shared.is_(True))


class SelectionService:
    """Saved selections: the owner's and the shared ones; only the owner changes one."""

    def __init__(self, sessions: SessionFactory, *, zone: ZoneInfo = MOSCOW) -> None:
        self._sessions = sessions
        self._zone = zone

    async def list_selections(self, user: UserView) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Selection, User.full_name)
                .outerjoin(User, User.id == Selection.owner_id)
                .where(_readable(user))
                .order_by((Selection.owner_id == user.id).desc(), Selection.name)
            )
            return [_selection_view(s, owner, user) for s, owner in rows]

    async def get_selection(self, selection_id: int, user: UserView) -> dict[str, Any]:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Selection, User.full_name)
                    .outerjoin(User, User.id == Selection.owner_id)
                    .where(Selection.id == selection_id, _readable(user))
                )
            ).first()
        if row is None:
            raise NoSuchSelection(selection_id)
        return _selection_view(row[0], row[1], user)

    async def create_selection(
        self,
        user: UserView,
        *,
        name: Any,
        filters: Mapping[str, Any],
        shared: bool = False,
    ) -> int:
        selection = Selection(
            name=_check_name(name),
            owner_id=user.id,
            shared=bool(shared),
            filters=check_filters(filters),
        )
        async with transaction(self._sessions) as session:
            session.add(selection)
            await session.flush()

        logger.info(
            "selection created selection_id=%s user_id=%s shared=%s",
            selection.id,
            user.id,
            selection.shared,
        )
        return selection.id

    async def update_selection(
        self, selection_id: int, user: UserView, changes: Mapping[str, Any]
    ) -> None:
        """Change the name, filters or sharing of a selection the user owns."""
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = _check_name(changes["name"])
        if "filters" in changes:
            values["filters"] = check_filters(changes["filters"])
        if "shared" in changes:
            values["shared"] = _bool(changes["shared"], "shared")

        async with transaction(self._sessions) as session:
            selection = await self._owned(session, selection_id, user)
            for key, value in values.items():
                setattr(selection, key, value)

        logger.info(
            "selection updated selection_id=%s user_id=%s fields=%s",
            selection_id,
            user.id,
            ",".join(sorted(values)),
        )

    async def delete_selection(self, selection_id: int, user: UserView) -> None:
        async with transaction(self._sessions) as session:
            selection = await self._owned(session, selection_id, user)
            await session.delete(selection)
        logger.info(
            "selection deleted selection_id=%s user_id=%s", selection_id, user.id
        )

    async def _owned(
        self, session: AsyncSession, selection_id: int, user: UserView
    ) -> Selection:
        selection = await session.scalar(
            select(Selection)
            .where(Selection.id == selection_id, _readable(user))
            .with_for_update()
        )
        if selection is None:
            raise NoSuchSelection(selection_id)
        if selection.owner_id != user.id:
            raise SelectionNotYours(selection_id)
        return selection

    async def selection_clients(
        self, selection_id: int, user: UserView, *, limit: int = 50, offset: int = 0
    ) -> ClientPage:
        """The clients a saved selection matches now, as ``user`` may see them."""
        selection = await self.get_selection(selection_id, user)
        return await self.preview(
            selection["filters"], user, limit=limit, offset=offset
        )

    async def preview(
        self,
        filters: Mapping[str, Any],
        user: UserView,
        *,
        limit: int = 50,
        offset: int = 0,
    ) -> ClientPage:
        async with self._sessions() as session:
            ids = await resolve_selection(session, filters, user, zone=self._zone)
            return await client_page(session, ids, limit=limit, offset=offset)

    async def filter_options(self, user: UserView) -> dict[str, list[str]]:
        """The values the filter form offers: those of the clients the user sees."""
        options: dict[str, list[str]] = {}
        async with self._sessions() as session:
            for key, column in (
                ("industry", Company.industry),
                ("region", Company.region),
                ("segment", Company.segment),
            ):
                values = await session.scalars(
                    select(column)
                    .where(visible_companies(user), column.is_not(None), column != "")
                    .distinct()
                    .order_by(column)
                    .limit(500)
                )
                options[key] = list(values)
        return options
