"""Likely duplicates across the whole client base, found set-based in PostgreSQL.

Companies pair up on equal keys (INN, a normalized phone, an e-mail) through
self-joins on indexed columns, and on similar names: ``name_key`` equal or one typo
apart (found by grouping one-letter-deleted variants of each key, see
``_typo_neighbours``), then scored by pg_trgm ``similarity``. Nothing compares rows
pairwise in Python, and nothing probes an index once per company. Contact persons
pair up only inside one company (same phone, same e-mail, similar name): the company
join keeps that scan linear.

A pair carries its reasons and a score in (0, 1]: each reason has a weight and the
score is ``1 - prod(1 - weight)``, so two weak reasons rank above one. Values shared
by more than ``MAX_GROUP`` records (a switchboard number, ``info@`` of a holding) say
nothing about duplicates and are skipped rather than turned into thousands of pairs.
Two companies with different INNs are different legal entities, so a similar name
alone does not pair them.

``scan_company_duplicates`` and ``scan_contact_duplicates`` are what the duplicates
page and the benchmark call.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from callcenter.clients.access import visible_companies, visible_contacts
from callcenter.clients.models import Company, Contact, Email, Phone
from callcenter.users.models import Role
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

NAME_SIMILARITY = 0.45
MAX_GROUP = 20
MAX_PAGE = 500
# What one scan keeps for paging (MergeService cuts pages from it).
MAX_PAIRS = 20_000
SCAN_WORK_MEM = "128MB"
# How much one reason alone says about two records being one client.
WEIGHTS = {"inn": 0.95, "email": 0.8, "phone": 0.7, "name": 0.6}
REASON_LABELS = {
    "inn": "одинаковый ИНН",
    "phone": "одинаковый телефон",
    "email": "одинаковая эл. почта",
    "name": "похожее название",
}
# Roles that review duplicates of the whole base; managers see pairs of their own.
WHOLE_BASE_ROLES = frozenset({Role.SUPERVISOR, Role.HEAD, Role.ADMIN})


@dataclass(slots=True)
class DuplicatePair:
    entity: str
    first_id: int
    second_id: int
    first_name: str
    second_name: str
    reasons: list[str]
    similarity: float
    score: float
    company_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "first_id": self.first_id,
            "second_id": self.second_id,
            "first_name": self.first_name,
            "second_name": self.second_name,
            "reasons": self.reasons,
            "reason_labels": [REASON_LABELS.get(r, r) for r in self.reasons],
            "similarity": round(self.similarity, 2),
            "score": round(self.score, 3),
            "company_id": self.company_id,
            **self.details,
        }


@dataclass(slots=True)
class DuplicatePage:
    entity: str
    total: int
    limit: int
    offset: int
    pairs: list[DuplicatePair]
    # When the base was scanned (a page may come from an earlier scan).
    scanned_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "pairs": [p.as_dict() for p in self.pairs],
            "scanned_at": self.scanned_at.isoformat() if self.scanned_at else None,
        }


def _page(limit: int, offset: int) -> tuple[int, int]:
    return min(max(limit, 1), MAX_PAIRS), max(offset, 0)


async def _tune_scan(session: AsyncSession) -> None:
    # Transaction-local: the scan's hash aggregates fit in memory instead of
    # spilling to disk, and no other query of the pool is affected.
    await session.execute(
        text("SELECT set_config('work_mem', :size, true)"), {"size": SCAN_WORK_MEM}
    )


def _score(reason_weight: Any) -> Any:
    """``1 - prod(1 - w)`` over a pair's reasons, as an aggregate (via exp/sum/ln)."""
    return 1 - func.exp(func.sum(func.ln(1 - reason_weight)))


def _shared_key_pairs(owned: Any, key: str, reason: str) -> Select[Any]:
    """Pairs of owners sharing a key value held by at most MAX_GROUP owners."""
    common = (
        select(owned.c.key)
        .group_by(owned.c.key)
        .having(func.count() <= MAX_GROUP)
        .having(func.count() > 1)
        .subquery(f"common_{key}")
    )
    a, b = owned.alias(f"{key}_a"), owned.alias(f"{key}_b")
    return (
        select(
            a.c.owner.label("a_id"),
            b.c.owner.label("b_id"),
            literal(reason).label("reason"),
            cast(literal(1.0), Float).label("similarity"),
        )
        .join_from(a, common, common.c.key == a.c.key)
        .join(b, and_(b.c.key == a.c.key, b.c.owner > a.c.owner))
    )


# -- companies -----------------------------------------------------------------------


def _company_scope(user: UserView | None) -> Any:
    if user is None or user.role in WHOLE_BASE_ROLES:
        return Company.merged_into_id.is_(None)
    return visible_companies(user)


def _company_pairs(user: UserView | None) -> Any:
    """Every likely pair (a_id < b_id) with its reasons, best similarity and score."""
    alive = (
        select(Company.id, Company.inn, Company.name_key)
        .where(_company_scope(user))
        .cte("alive")
    )
    a, b = alive.alias("a"), alive.alias("b")

    by_inn = select(
        a.c.id.label("a_id"),
        b.c.id.label("b_id"),
        literal("inn").label("reason"),
        cast(literal(1.0), Float).label("similarity"),
    ).join_from(a, b, and_(b.c.inn == a.c.inn, b.c.id > a.c.id))
    by_inn = by_inn.where(a.c.inn.is_not(None), a.c.inn != "")

    # A phone or e-mail belongs to its company directly or through a contact person.
    phone_owner = func.coalesce(Phone.company_id, Contact.company_id)
    phones = (
        select(Phone.e164.label("key"), phone_owner.label("owner"))
        .outerjoin(Contact, Contact.id == Phone.contact_id)
        .join(alive, alive.c.id == phone_owner)
        .distinct()
        .cte("owned_phones")
    )
    email_owner = func.coalesce(Email.company_id, Contact.company_id)
    emails = (
        select(func.lower(Email.address).label("key"), email_owner.label("owner"))
        .outerjoin(Contact, Contact.id == Email.contact_id)
        .join(alive, alive.c.id == email_owner)
        .distinct()
        .cte("owned_emails")
    )

    name_pairs = _typo_neighbours(alive)
    similarity = func.similarity(a.c.name_key, b.c.name_key)
    by_name = (
        select(
            a.c.id.label("a_id"),
            b.c.id.label("b_id"),
            literal("name").label("reason"),
            cast(similarity, Float).label("similarity"),
        )
        .select_from(name_pairs)
        .join(a, a.c.id == name_pairs.c.a_id)
        .join(b, b.c.id == name_pairs.c.b_id)
        .where(
            similarity >= NAME_SIMILARITY,
            or_(a.c.inn.is_(None), b.c.inn.is_(None), a.c.inn == b.c.inn),
        )
    )

    reasons = union_all(
        by_inn,
        _shared_key_pairs(phones, "phone", "phone"),
        _shared_key_pairs(emails, "email", "email"),
        by_name,
    ).subquery("reasons")
    weight = _weight_case(reasons.c.reason, reasons.c.similarity)
    return (
        select(
            reasons.c.a_id,
            reasons.c.b_id,
            func.array_agg(reasons.c.reason.distinct()).label("reasons"),
            func.max(reasons.c.similarity).label("similarity"),
            _score(weight).label("score"),
        )
        .group_by(reasons.c.a_id, reasons.c.b_id)
        .subquery("pairs")
    )


def _typo_neighbours(alive: Any) -> Any:
    """Pairs whose name keys are equal or one typo apart, by equal keys only.

    Two keys within one edit (a letter wrong, missing, extra, or two swapped) share
    a key with one letter deleted, or one is such a key of the other. Grouping every
    key's one-deletion variants is a hash aggregate over about 16 rows per company,
    where a trigram self-join probes the index once per company and slows down as
    the base grows (common trigrams). pg_trgm similarity then scores the few pairs.
    """
    key = alive.c.name_key.collate("C")
    position = (
        func.generate_series(1, func.length(key))
        .table_valued("i")
        .render_derived()
        .lateral()
    )
    variants = union_all(
        select(alive.c.id, key.label("variant")).where(key != ""),
        select(
            alive.c.id,
            func.concat(
                func.left(key, position.c.i - 1), func.substr(key, position.c.i + 1)
            ).label("variant"),
        )
        .select_from(alive)
        .join(position, true())
        .where(key != ""),
    ).subquery("variants")
    distinct = select(variants.c.id, variants.c.variant).distinct().subquery("keyed")
    groups = (
        select(func.array_agg(distinct.c.id).label("ids"))
        .group_by(distinct.c.variant)
        .having(func.count().between(2, MAX_GROUP))
        .subquery("groups")
    )
    first = (
        func.unnest(groups.c.ids)
        .table_valued("id")
        .render_derived()
        .lateral("first_id")
    )
    second = (
        func.unnest(groups.c.ids)
        .table_valued("id")
        .render_derived()
        .lateral("second_id")
    )
    return (
        select(first.c.id.label("a_id"), second.c.id.label("b_id"))
        .select_from(groups)
        .join(first, true())
        .join(second, second.c.id > first.c.id)
        .distinct()
        .subquery("name_pairs")
    )


def _weight_case(reason: Any, similarity: Any) -> Any:
    # A similar name counts by how similar; the cap keeps ln(1 - w) finite.
    return case(
        (reason == "name", func.least(WEIGHTS["name"] * similarity, 0.99)),
        *[(reason == r, w) for r, w in WEIGHTS.items() if r != "name"],
        else_=0.0,
    )


async def scan_company_duplicates(
    session: AsyncSession,
    *,
    user: UserView | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DuplicatePage:
    """One page of likely duplicate companies, best first.

    ``user=None`` scans the whole base (benchmarks, admin tools); a manager gets
    only pairs where both companies are visible to them.
    """
    limit, offset = _page(limit, offset)
    started = time.perf_counter()
    await _tune_scan(session)

    pairs = _company_pairs(user)
    first, second = Company.__table__.alias("first"), Company.__table__.alias("second")
    rows = (
        await session.execute(
            select(
                pairs.c.a_id,
                pairs.c.b_id,
                pairs.c.reasons,
                pairs.c.similarity,
                pairs.c.score,
                first.c.name.label("a_name"),
                second.c.name.label("b_name"),
                first.c.inn.label("a_inn"),
                second.c.inn.label("b_inn"),
                first.c.responsible_id.label("a_responsible"),
                second.c.responsible_id.label("b_responsible"),
                func.count().over().label("total"),
            )
            .join(first, first.c.id == pairs.c.a_id)
            .join(second, second.c.id == pairs.c.b_id)
            .order_by(pairs.c.score.desc(), pairs.c.a_id, pairs.c.b_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()

    total = rows[0].total if rows else await _count(session, pairs, offset)
    result = [
        DuplicatePair(
            entity="company",
            first_id=row.a_id,
            second_id=row.b_id,
            first_name=row.a_name,
            second_name=row.b_name,
            reasons=_ordered(row.reasons),
            similarity=float(row.similarity or 0),
            score=float(row.score),
            details={
                "first_inn": row.a_inn,
                "second_inn": row.b_inn,
                "first_responsible_id": row.a_responsible,
                "second_responsible_id": row.b_responsible,
            },
        )
        for row in rows
    ]
    logger.info(
        "company duplicates scanned user_id=%s total=%s offset=%s seconds=%.2f",
        user.id if user else None,
        total,
        offset,
        time.perf_counter() - started,
    )
    return DuplicatePage("company", total, limit, offset, result)


async def _count(session: AsyncSession, pairs: Any, offset: int) -> int:
    # An empty page past the end still needs the total for the pager.
    if offset == 0:
        return 0
    return int(await session.scalar(select(func.count()).select_from(pairs)) or 0)


def _ordered(reasons: list[str]) -> list[str]:
    return sorted(reasons, key=lambda r: -WEIGHTS.get(r, 0))


# -- contact persons -----------------------------------------------------------------


def _contact_scope(user: UserView | None) -> Any:
    alive = Contact.merged_into_id.is_(None) & Contact.company_id.is_not(None)
    if user is None or user.role in WHOLE_BASE_ROLES:
        return alive
    return alive & visible_contacts(user)


def _contact_pairs(user: UserView | None) -> Any:
    people = (
        select(Contact.id, Contact.company_id, Contact.name_key, Contact.email)
        .where(_contact_scope(user))
        .cte("people")
    )
    a, b = people.alias("a"), people.alias("b")

    # Similarity, not ``%``: the equi-join on company_id keeps this linear, and
    # the planner must not trade it for a trigram index probe per contact.
    similarity = func.similarity(a.c.name_key, b.c.name_key)
    by_name = (
        select(
            a.c.id.label("a_id"),
            b.c.id.label("b_id"),
            literal("name").label("reason"),
            cast(similarity, Float).label("similarity"),
        )
        .join_from(a, b, and_(b.c.company_id == a.c.company_id, b.c.id > a.c.id))
        .where(a.c.name_key != "", similarity >= NAME_SIMILARITY)
    )

    # Colleagues share the switchboard number, each with an extension of their own:
    # the number and extension together are what says "the same person".
    phones = (
        select(
            func.concat(Phone.e164, ";", func.coalesce(Phone.extension, "")).label(
                "key"
            ),
            people.c.company_id,
            people.c.id.label("owner"),
        )
        .join(people, people.c.id == Phone.contact_id)
        .distinct()
        .cte("contact_phones")
    )
    emails = (
        union_all(
            select(
                func.lower(Email.address).label("key"),
                people.c.company_id,
                people.c.id.label("owner"),
            ).join(people, people.c.id == Email.contact_id),
            select(
                func.lower(people.c.email).label("key"),
                people.c.company_id,
                people.c.id.label("owner"),
            ).where(people.c.email.is_not(None), people.c.email != ""),
        )
        .subquery()
        .select()
        .distinct()
        .cte("contact_emails")
    )

    def same_key(owned: Any, reason: str) -> Select[Any]:
        # A value shared by more than MAX_GROUP people of one company (a general
        # mailbox) is skipped, as in the company scan.
        rare = (
            select(owned.c.company_id, owned.c.key)
            .group_by(owned.c.company_id, owned.c.key)
            .having(func.count().between(2, MAX_GROUP))
            .subquery(f"rare_{reason}")
        )
        x, y = owned.alias(f"{reason}_x"), owned.alias(f"{reason}_y")
        return (
            select(
                x.c.owner.label("a_id"),
                y.c.owner.label("b_id"),
                literal(reason).label("reason"),
                cast(literal(1.0), Float).label("similarity"),
            )
            .join_from(
                x,
                rare,
                and_(rare.c.company_id == x.c.company_id, rare.c.key == x.c.key),
            )
            .join(
                y,
                and_(
                    y.c.company_id == x.c.company_id,
                    y.c.key == x.c.key,
                    y.c.owner > x.c.owner,
                ),
            )
        )

    reasons = union_all(
        by_name, same_key(phones, "phone"), same_key(emails, "email")
    ).subquery("reasons")
    weight = _weight_case(reasons.c.reason, reasons.c.similarity)
    return (
        select(
            reasons.c.a_id,
            reasons.c.b_id,
            func.array_agg(reasons.c.reason.distinct()).label("reasons"),
            func.max(reasons.c.similarity).label("similarity"),
            _score(weight).label("score"),
        )
        .group_by(reasons.c.a_id, reasons.c.b_id)
        .subquery("pairs")
    )


async def scan_contact_duplicates(
    session: AsyncSession,
    *,
    user: UserView | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DuplicatePage:
    """One page of likely duplicate contact persons inside the same company."""
    limit, offset = _page(limit, offset)
    started = time.perf_counter()

    pairs = _contact_pairs(user)
    first, second = Contact.__table__.alias("first"), Contact.__table__.alias("second")
    owner = Company.__table__.alias("owner")

    def full_name(person: Any) -> Any:
        parts = (person.c.last_name, person.c.first_name, person.c.middle_name)
        return func.concat_ws(" ", *[func.nullif(p, "") for p in parts])

    rows = (
        await session.execute(
            select(
                pairs.c.a_id,
                pairs.c.b_id,
                pairs.c.reasons,
                pairs.c.similarity,
                pairs.c.score,
                full_name(first).label("a_name"),
                full_name(second).label("b_name"),
                first.c.company_id,
                owner.c.name.label("company_name"),
                func.count().over().label("total"),
            )
            .join(first, first.c.id == pairs.c.a_id)
            .join(second, second.c.id == pairs.c.b_id)
            .join(owner, owner.c.id == first.c.company_id)
            .order_by(pairs.c.score.desc(), pairs.c.a_id, pairs.c.b_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()

    total = rows[0].total if rows else await _count(session, pairs, offset)
    result = [
        DuplicatePair(
            entity="contact",
            first_id=row.a_id,
            second_id=row.b_id,
            first_name=row.a_name,
            second_name=row.b_name,
            reasons=_ordered(row.reasons),
            similarity=float(row.similarity or 0),
            score=float(row.score),
            company_id=row.company_id,
            details={"company_name": row.company_name},
        )
        for row in rows
    ]
    logger.info(
        "contact duplicates scanned user_id=%s total=%s offset=%s seconds=%.2f",
        user.id if user else None,
        total,
        offset,
        time.perf_counter() - started,
    )
    return DuplicatePage("contact", total, limit, offset, result)
