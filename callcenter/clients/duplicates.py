"""Duplicate control: which existing clients a new or edited one may be.

A candidate matches on any of: the same INN, the same normalized phone, the same
e-mail, or a similar name (``name_key`` compared by trigram similarity, so legal
forms, quotes and small typos do not hide a duplicate). Candidates are searched in
the whole base, not only what the user may see: two managers must not create the same
client twice; the caller decides how much of a hidden candidate to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clients.models import Company, Contact, Email, Phone

NAME_SIMILARITY = 0.45


@dataclass(frozen=True, slots=True)
class Draft:
    name: str = ""
    name_key: str = ""
    inn: str | None = None
    phones: tuple[str, ...] = ()  # E.164 digits
    emails: tuple[str, ...] = ()  # lowercased
    exclude_id: int | None = None  # the company being edited


@dataclass(slots=True)
class Candidate:
    company_id: int
    name: str
    inn: str | None
    responsible_id: int | None
    reasons: list[str] = field(default_factory=list)
    similarity: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "company_id": self.company_id,
            "name": self.name,
            "inn": self.inn,
            "responsible_id": self.responsible_id,
            "reasons": self.reasons,
            "similarity": round(self.similarity, 2),
        }


async def find_duplicates(
    session: AsyncSession, draft: Draft, *, limit: int = 10
) -> list[Candidate]:
    found: dict[int, Candidate] = {}

    def note(row: Any, reason: str, similarity: float = 0.0) -> None:
        if draft.exclude_id is not None and row.id == draft.exclude_id:
            return
        candidate = found.setdefault(
            row.id, Candidate(row.id, row.name, row.inn, row.responsible_id)
        )
        if reason not in candidate.reasons:
            candidate.reasons.append(reason)
        candidate.similarity = max(candidate.similarity, similarity)

    alive = Company.merged_into_id.is_(None)
    columns = (Company.id, Company.name, Company.inn, Company.responsible_id)

    if draft.inn:
        for row in await session.execute(
            select(*columns).where(alive, Company.inn == draft.inn)
        ):
            note(row, "inn")

    if draft.phones:
        owner = func.coalesce(Phone.company_id, Contact.company_id)
        rows = await session.execute(
            select(*columns)
            .select_from(Phone)
            .outerjoin(Contact, Contact.id == Phone.contact_id)
            .join(Company, Company.id == owner)
            .where(alive, Phone.e164.in_(draft.phones))
            .distinct()
        )
        for row in rows:
            note(row, "phone")

    if draft.emails:
        owner = func.coalesce(Email.company_id, Contact.company_id)
        rows = await session.execute(
            select(*columns)
            .select_from(Email)
            .outerjoin(Contact, Contact.id == Email.contact_id)
            .join(Company, Company.id == owner)
            .where(alive, Email.address.in_(draft.emails))
            .distinct()
        )
        for row in rows:
            note(row, "email")

    if draft.name_key:
        await session.execute(
            text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
            {"t": str(NAME_SIMILARITY)},
        )
        score = func.similarity(Company.name_key, draft.name_key)
        rows = await session.execute(
            select(*columns, score.label("score"))
            .where(
                alive,
                or_(
                    Company.name_key == draft.name_key,
                    Company.name_key.op("%")(draft.name_key),
                ),
            )
            .order_by(score.desc())
            .limit(limit)
        )
        for row in rows:
            note(row, "name", float(row.score))

    ranked = sorted(
        found.values(), key=lambda c: (len(c.reasons), c.similarity), reverse=True
    )
    return ranked[:limit]


def draft_of(
    *,
    name: str,
    name_key: str,
    inn: str | None,
    phones: Iterable[str],
    emails: Iterable[str],
    exclude_id: int | None = None,
) -> Draft:
    return Draft(
        name=name,
        name_key=name_key,
        inn=inn,
        phones=tuple(dict.fromkeys(phones)),
        emails=tuple(dict.fromkeys(e.lower() for e in emails)),
        exclude_id=exclude_id,
    )
