"""Merging two records of the client base into one, and undoing it.

A merge keeps one record (the survivor) and hides the other (``merged_into_id``);
nothing is deleted. The user picks each field's value: the survivor's, the merged
record's, or a value of their own. Everything that hung on the merged record moves to
the survivor: for a company its phones, e-mails, contact persons, equipment, calls,
history (interactions) and shares; for a contact person their phones, e-mails,
equipment, calls and interactions.

The ``merges`` row keeps what an undo needs: the survivor's previous field values, the
values the merge set, and the id of every moved row per table. An undo moves exactly
those rows back (the ones still on the survivor), restores the fields nobody has
changed since, and shows the merged record again. Undo goes in reverse order: a merge
cannot be undone while a later merge of the same records is in force.

Both records are locked (``FOR UPDATE``, lowest id first, so two merges of overlapping
pairs queue instead of deadlocking) for the whole transaction.

Errors (all ``ClientError``):
 ├── NoSuchClient / NoSuchMerge   not found or not visible to the user
 ├── InvalidMergeChoice           a field choice or a custom value is wrong (422)
 ├── CannotMerge                  these two records cannot be merged
 └── UndoRefused                  the merge cannot be undone (any more)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.clients.access import visible_companies, visible_contacts
from callcenter.clients.changes import record_changes
from callcenter.clients.dedupe import (
    MAX_PAGE,
    MAX_PAIRS,
    WHOLE_BASE_ROLES,
    DuplicatePage,
    DuplicatePair,
    scan_company_duplicates,
    scan_contact_duplicates,
)
from callcenter.clients.errors import ClientError, InvalidClientInput, NoSuchClient
from callcenter.clients.models import (
    ClientShare,
    Company,
    CompanyStatus,
    Contact,
    Email,
    Equipment,
    Merge,
    Phone,
)
from callcenter.clients.service import (
    COMPANY_FIELDS,
    COMPANY_TEXT_FIELDS,
    CONTACT_TEXT_FIELDS,
)
from callcenter.clients.validation import (
    FIELD_LABELS,
    FieldProblem,
    check_email,
    check_inn,
    check_kpp,
    check_ogrn,
    name_key,
    person_key,
)
from callcenter.db import SessionFactory, transaction, utcnow
from callcenter.interactions.models import Interaction
from callcenter.users.models import User
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
MAX_CHAIN = 20
ENTITIES = ("company", "contact")

CONTACT_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "position",
    "email",
    "birthday",
    "notes",
    "responsible_id",
    "channels",
)
LABELS = {**FIELD_LABELS, "notes": "заметки", "email": "эл. почта", "status": "статус"}
LABELS["channels"] = "другие каналы"

# What hangs on a record, per table: (name in the snapshot, model, owner column).
COMPANY_ROWS = (
    ("contacts", Contact, "company_id"),
    ("phones", Phone, "company_id"),
    ("emails", Email, "company_id"),
    ("equipment", Equipment, "company_id"),
    ("calls", Call, "company_id"),
    ("interactions", Interaction, "company_id"),
)
CONTACT_ROWS = (
    ("phones", Phone, "contact_id"),
    ("emails", Email, "contact_id"),
    ("equipment", Equipment, "contact_id"),
    ("calls", Call, "contact_id"),
    ("interactions", Interaction, "contact_id"),
)
ROW_LABELS = {
    "contacts": "контактные лица",
    "phones": "телефоны",
    "emails": "эл. адреса",
    "equipment": "оборудование",
    "calls": "звонки",
    "interactions": "история",
    "shares": "доступ менеджерам",
}


class MergeError(ClientError):
    code = "merge_error"


class NoSuchMerge(NoSuchClient):
    code = "no_such_merge"

    def __init__(self, merge_id: object) -> None:
        ClientError.__init__(self, f"merge {merge_id} not found")
        self.company_id = 0
        self.merge_id = merge_id


class InvalidMergeChoice(InvalidClientInput):
    code = "invalid_merge_choice"


class CannotMerge(MergeError):
    code = "cannot_merge"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UndoRefused(MergeError):
    code = "undo_refused"

    def __init__(self, merge_id: uuid.UUID, reason: str) -> None:
        super().__init__(reason)
        self.merge_id = merge_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MergeResult:
    merge_id: uuid.UUID
    entity: str
    survivor_id: int
    merged_id: int
    changed_fields: tuple[str, ...]
    moved: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.merge_id),
            "entity": self.entity,
            "survivor_id": self.survivor_id,
            "merged_id": self.merged_id,
            "changed_fields": list(self.changed_fields),
            "moved": self.moved,
            "url": f"/merges/{self.merge_id}",
        }


@dataclass(frozen=True, slots=True)
class UndoResult:
    merge_id: uuid.UUID
    restored_fields: tuple[str, ...]
    # Fields edited after the merge keep their newer value.
    kept_fields: tuple[str, ...]
    moved_back: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.merge_id),
            "restored_fields": list(self.restored_fields),
            "kept_fields": list(self.kept_fields),
            "moved_back": self.moved_back,
        }


# -- values in and out of the snapshot -----------------------------------------------


def _dump(value: Any) -> Any:
    """A field value as JSON: dates as ISO text, enums as their value."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, CompanyStatus):
        return value.value
    return value


def _load(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "birthday":
        return dt.date.fromisoformat(value)
    if field == "status":
        return CompanyStatus(value)
    return value


def _fields(entity: str) -> tuple[str, ...]:
    return COMPANY_FIELDS if entity == "company" else CONTACT_FIELDS


def _values(record: Company | Contact, entity: str) -> dict[str, Any]:
    return {f: _dump(getattr(record, f)) for f in _fields(entity)}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def suggested_choice(field: str, survivor: Any, merged: Any) -> str:
    """Keep the survivor's value unless it is empty and the other one is not."""
    if _empty(survivor) and not _empty(merged):
        return "merged"
    return "survivor"


# -- the service ---------------------------------------------------------------------


# How long a duplicates scan is reused for paging before the base is scanned again.
SCAN_TTL = 600.0


@dataclass(slots=True)
class _Scan:
    done: float  # time.monotonic()
    scanned_at: dt.datetime
    pairs: list[DuplicatePair]


class MergeService:
    def __init__(self, sessions: SessionFactory, *, scan_ttl: float = SCAN_TTL) -> None:
        self._sessions = sessions
        self._scan_ttl = scan_ttl
        self._scans: dict[tuple[str, int | None], _Scan] = {}
        self._scan_locks: dict[tuple[str, int | None], asyncio.Lock] = {}

    async def duplicates(
        self,
        entity: str,
        *,
        user: UserView,
        limit: int = 50,
        offset: int = 0,
        refresh: bool = False,
    ) -> DuplicatePage:
        """A page of likely duplicates, cut from the last scan of what the user
        may review (the whole base, or a manager's own clients).

        A scan of a large base takes seconds (19 s on 200,000 companies), so it
        is kept for ``scan_ttl`` seconds, or until ``refresh``; a merge takes
        its pairs out of the kept list at once.
        """
        _check_entity(entity)
        limit, offset = min(max(limit, 1), MAX_PAGE), max(offset, 0)
        key = (entity, None if user.role in WHOLE_BASE_ROLES else user.id)
        asked = time.monotonic()
        async with self._scan_locks.setdefault(key, asyncio.Lock()):
            scan = self._scans.get(key)
            # A scan that finished while this request waited is fresh enough.
            stale = scan is None or (
                time.monotonic() - scan.done > self._scan_ttl
                or (refresh and scan.done < asked)
            )
            if stale:
                scan = self._scans[key] = await self._scan(entity, user)
        assert scan is not None
        return DuplicatePage(
            entity,
            len(scan.pairs),
            limit,
            offset,
            scan.pairs[offset : offset + limit],
            scanned_at=scan.scanned_at,
        )

    async def _scan(self, entity: str, user: UserView) -> _Scan:
        scan = (
            scan_company_duplicates if entity == "company" else scan_contact_duplicates
        )
        async with self._sessions() as session:
            page = await scan(session, user=user, limit=MAX_PAIRS)
        return _Scan(time.monotonic(), utcnow(), page.pairs)

    def _forget_pairs(self, entity: str, record_id: int) -> None:
        """Take a merged-away record's pairs out of every kept scan."""
        for (scanned, _), scan in self._scans.items():
            if scanned == entity:
                scan.pairs = [
                    p for p in scan.pairs if record_id not in (p.first_id, p.second_id)
                ]

    async def preview(
        self, entity: str, survivor_id: int, merged_id: int, *, user: UserView
    ) -> dict[str, Any]:
        """Both records side by side, field by field, with what hangs on each."""
        _check_entity(entity)
        _check_pair(survivor_id, merged_id)
        async with self._sessions() as session:
            survivor, merged = await self._load_pair(
                session, entity, survivor_id, merged_id, user, lock=False
            )
            rows = COMPANY_ROWS if entity == "company" else CONTACT_ROWS
            owner = "company_id" if entity == "company" else "contact_id"
            counts = {
                record_id: await _counts(session, rows, record_id)
                for record_id in (survivor_id, merged_id)
            }
            phones = {
                record_id: await _phones(session, owner, record_id)
                for record_id in (survivor_id, merged_id)
            }
            names = await _user_names(session, survivor, merged)

        left, right = _values(survivor, entity), _values(merged, entity)
        fields = [
            {
                "field": f,
                "label": LABELS.get(f, f),
                "survivor": left[f],
                "merged": right[f],
                "survivor_display": _display(f, left[f], names),
                "merged_display": _display(f, right[f], names),
                "differs": left[f] != right[f],
                "suggested": suggested_choice(f, left[f], right[f]),
            }
            for f in _fields(entity)
        ]
        return {
            "entity": entity,
            "survivor": {
                "id": survivor_id,
                "title": _title(survivor, entity),
                "counts": counts[survivor_id],
                "phones": phones[survivor_id],
            },
            "merged": {
                "id": merged_id,
                "title": _title(merged, entity),
                "counts": counts[merged_id],
                "phones": phones[merged_id],
            },
            "fields": fields,
            "row_labels": ROW_LABELS,
        }

    async def merge(
        self,
        entity: str,
        survivor_id: int,
        merged_id: int,
        choices: Mapping[str, Any],
        *,
        user: UserView,
    ) -> MergeResult:
        """Merge ``merged_id`` into ``survivor_id``; returns the merge to undo it by.

        ``choices`` maps a field to ``"survivor"``, ``"merged"`` or a value of the
        user's own (``{"value": ...}`` or the value itself); fields not named follow
        :func:`suggested_choice`.
        """
        _check_entity(entity)
        _check_pair(survivor_id, merged_id)
        unknown = sorted(set(choices) - set(_fields(entity)))
        if unknown:
            raise InvalidMergeChoice(unknown[0], "нет такого поля")

        async with transaction(self._sessions) as session:
            survivor, merged = await self._load_pair(
                session, entity, survivor_id, merged_id, user, lock=True
            )
            # Kept for an exact undo: the merge itself bumps both timestamps.
            stamps = {"survivor": survivor.updated_at, "merged": merged.updated_at}
            if entity == "contact" and survivor.company_id != merged.company_id:
                raise CannotMerge(
                    "контакты из разных компаний: сначала перенесите одного из них"
                )
            before = _values(survivor, entity)
            other = _values(merged, entity)
            chosen = {
                f: await self._choose(session, entity, f, choices, before, other)
                for f in _fields(entity)
            }

            merge = Merge(
                id=uuid.uuid4(),
                entity=entity,
                survivor_id=survivor_id,
                merged_id=merged_id,
                user_id=user.id,
                snapshot={},
            )
            changed = _apply(survivor, entity, chosen, before)
            merged.merged_into_id = survivor_id
            await session.flush()

            rows = COMPANY_ROWS if entity == "company" else CONTACT_ROWS
            owner = "company_id" if entity == "company" else "contact_id"
            moved: dict[str, list[Any]] = {}
            for table, model, column in rows:
                moved[table] = await _move(
                    session, model, column, merged_id, survivor_id
                )
            shares: list[int] = []
            if entity == "company":
                shares = await _share(session, merged, survivor)

            merge.snapshot = {
                "version": SNAPSHOT_VERSION,
                "owner": owner,
                "before": before,
                "after": {f: chosen[f] for f in changed},
                "merged": other,
                "survivor_updated_at": _iso(stamps["survivor"]),
                "merged_updated_at": _iso(stamps["merged"]),
                "moved": {t: [str(i) for i in ids] for t, ids in moved.items()},
                "shares_added": shares,
            }
            session.add(merge)
            await session.flush()
            self._log_merge(session, merge, before, chosen, changed, moved, user)

        counts = {t: len(ids) for t, ids in moved.items()}
        if entity == "company":
            counts["shares"] = len(shares)
        logger.info(
            "merged entity=%s survivor_id=%s merged_id=%s merge_id=%s user_id=%s "
            "fields=%s moved=%s",
            entity,
            survivor_id,
            merged_id,
            merge.id,
            user.id,
            ",".join(changed) or "-",
            counts,
        )
        self._forget_pairs(entity, merged_id)
        return MergeResult(
            merge.id, entity, survivor_id, merged_id, tuple(changed), counts
        )

    async def undo(self, merge_id: uuid.UUID, *, user: UserView) -> UndoResult:
        """Put both records back as they were before the merge."""
        async with transaction(self._sessions) as session:
            merge = await session.get(Merge, merge_id, with_for_update=True)
            if merge is None:
                raise NoSuchMerge(merge_id)
            entity = merge.entity
            model = Company if entity == "company" else Contact
            survivor, merged = await _lock_pair(
                session, model, merge.survivor_id, merge.merged_id
            )
            if survivor is None or merged is None:
                raise NoSuchMerge(merge_id)
            if not await _may_see(session, entity, survivor, user):
                raise NoSuchMerge(merge_id)
            await self._check_undo(session, merge, survivor, merged)

            snapshot = merge.snapshot
            rows = COMPANY_ROWS if entity == "company" else CONTACT_ROWS
            moved_back = {
                table: await _move_back(
                    session,
                    model_,
                    column,
                    snapshot["moved"].get(table, []),
                    merge.survivor_id,
                    merge.merged_id,
                )
                for table, model_, column in rows
            }
            if snapshot.get("shares_added"):
                await session.execute(
                    delete(ClientShare).where(
                        ClientShare.company_id == merge.survivor_id,
                        ClientShare.user_id.in_(snapshot["shares_added"]),
                    )
                )

            current = _values(survivor, entity)
            restored, kept = [], []
            for field, value in snapshot["after"].items():
                if current.get(field) == value:
                    restored.append(field)
                else:
                    kept.append(field)
            restore = {f: snapshot["before"][f] for f in restored}
            _apply(survivor, entity, restore, current)
            merged.merged_into_id = None
            if not kept:
                survivor.updated_at = _parse_iso(snapshot["survivor_updated_at"])
            merged.updated_at = _parse_iso(snapshot["merged_updated_at"])
            merge.undone_at = utcnow()

            record_changes(
                session,
                entity=entity,
                entity_id=merge.survivor_id,
                before={
                    **{f: current[f] for f in restored},
                    "merged_from": merge.merged_id,
                },
                after={**restore, "merged_from": None},
                user_id=user.id,
                action="unmerge",
                batch_id=merge.id,
            )
            record_changes(
                session,
                entity=entity,
                entity_id=merge.merged_id,
                before={"merged_into_id": merge.survivor_id},
                after={"merged_into_id": None},
                user_id=user.id,
                action="unmerge",
                batch_id=merge.id,
            )

        logger.info(
            "merge undone merge_id=%s entity=%s survivor_id=%s merged_id=%s user_id=%s "
            "kept_fields=%s",
            merge.id,
            entity,
            merge.survivor_id,
            merge.merged_id,
            user.id,
            ",".join(kept) or "-",
        )
        self._scans.clear()  # the record is back: its pairs may be too
        return UndoResult(merge.id, tuple(restored), tuple(kept), moved_back)

    async def get_merge(self, merge_id: uuid.UUID, *, user: UserView) -> dict[str, Any]:
        async with self._sessions() as session:
            merge = await session.get(Merge, merge_id)
            if merge is None:
                raise NoSuchMerge(merge_id)
            model = Company if merge.entity == "company" else Contact
            survivor = await session.get(model, merge.survivor_id)
            merged = await session.get(model, merge.merged_id)
            if survivor is None or merged is None:
                raise NoSuchMerge(merge_id)
            if not await _may_see(session, merge.entity, survivor, user):
                raise NoSuchMerge(merge_id)
            author = (
                await session.scalar(
                    select(User.full_name).where(User.id == merge.user_id)
                )
                if merge.user_id
                else None
            )
            blocker = None
            if merge.undone_at is None:
                try:
                    await self._check_undo(session, merge, survivor, merged)
                except UndoRefused as refused:
                    blocker = refused.reason

        snapshot = merge.snapshot
        return {
            "id": str(merge.id),
            "entity": merge.entity,
            "survivor_id": merge.survivor_id,
            "survivor_title": _title(survivor, merge.entity),
            "merged_id": merge.merged_id,
            "merged_title": _title(merged, merge.entity),
            "user": author,
            "at": merge.at.isoformat(),
            "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
            "changed_fields": [
                {
                    "field": f,
                    "label": LABELS.get(f, f),
                    "before": snapshot["before"].get(f),
                    "after": value,
                }
                for f, value in snapshot["after"].items()
            ],
            "moved": {t: len(ids) for t, ids in snapshot["moved"].items()},
            "shares_added": len(snapshot.get("shares_added", [])),
            "can_undo": merge.undone_at is None and blocker is None,
            "undo_blocked_by": blocker,
            "row_labels": ROW_LABELS,
        }

    # -- helpers ---------------------------------------------------------------------

    async def _load_pair(
        self,
        session: AsyncSession,
        entity: str,
        survivor_id: int,
        merged_id: int,
        user: UserView,
        *,
        lock: bool,
    ) -> tuple[Any, Any]:
        model = Company if entity == "company" else Contact
        if lock:
            survivor, merged = await _lock_pair(session, model, survivor_id, merged_id)
        else:
            survivor = await session.get(model, survivor_id)
            merged = await session.get(model, merged_id)
        # A merged-away or invisible record answers like a missing one.
        for record_id, record in ((survivor_id, survivor), (merged_id, merged)):
            if record is None or record.merged_into_id is not None:
                raise NoSuchClient(record_id)
            if not await _may_see(session, entity, record, user):
                raise NoSuchClient(record_id)
        return survivor, merged

    async def _choose(
        self,
        session: AsyncSession,
        entity: str,
        field: str,
        choices: Mapping[str, Any],
        survivor: Mapping[str, Any],
        merged: Mapping[str, Any],
    ) -> Any:
        choice = choices.get(field)
        if choice is None:
            choice = suggested_choice(field, survivor[field], merged[field])
        if choice == "survivor":
            return survivor[field]
        if choice == "merged":
            return merged[field]
        value = choice["value"] if isinstance(choice, dict) else choice
        return await _clean_custom(session, entity, field, value)

    async def _check_undo(
        self, session: AsyncSession, merge: Merge, survivor: Any, merged: Any
    ) -> None:
        if merge.undone_at is not None:
            raise UndoRefused(merge.id, "это объединение уже отменено")
        if survivor.merged_into_id is not None:
            raise UndoRefused(
                merge.id,
                "запись, в которую объединяли, с тех пор сама объединена с другой "
                f"(№{survivor.merged_into_id}): сначала отмените то объединение",
            )
        if merged.merged_into_id != merge.survivor_id:
            raise UndoRefused(merge.id, "объединённая запись с тех пор изменилась")

        involved = or_(
            Merge.survivor_id.in_([merge.survivor_id, merge.merged_id]),
            Merge.merged_id.in_([merge.survivor_id, merge.merged_id]),
        )
        later = select(Merge.id).where(
            Merge.entity == merge.entity,
            involved,
            Merge.at >= merge.at,
            Merge.id != merge.id,
            Merge.undone_at.is_(None),
        )
        if merge.entity == "company":
            # Contact persons this merge moved may have been merged since.
            moved = [int(i) for i in merge.snapshot["moved"].get("contacts", [])]
            if moved:
                later = later.union(
                    select(Merge.id).where(
                        Merge.entity == "contact",
                        Merge.at >= merge.at,
                        Merge.undone_at.is_(None),
                        or_(Merge.survivor_id.in_(moved), Merge.merged_id.in_(moved)),
                    )
                )
        if await session.scalar(select(func.count()).select_from(later.subquery())):
            raise UndoRefused(
                merge.id,
                "после этого объединения с этими записями было ещё одно: "
                "сначала отмените более позднее",
            )

    def _log_merge(
        self,
        session: AsyncSession,
        merge: Merge,
        before: Mapping[str, Any],
        chosen: Mapping[str, Any],
        changed: Sequence[str],
        moved: Mapping[str, list[Any]],
        user: UserView,
    ) -> None:
        summary = {f"moved_{t}": len(ids) or None for t, ids in moved.items()}
        record_changes(
            session,
            entity=merge.entity,
            entity_id=merge.survivor_id,
            before={**{f: before[f] for f in changed}, "merged_from": None},
            after={
                **{f: chosen[f] for f in changed},
                "merged_from": merge.merged_id,
                **summary,
            },
            user_id=user.id,
            action="merge",
            batch_id=merge.id,
        )
        record_changes(
            session,
            entity=merge.entity,
            entity_id=merge.merged_id,
            before={"merged_into_id": None},
            after={"merged_into_id": merge.survivor_id},
            user_id=user.id,
            action="merge",
            batch_id=merge.id,
        )
        for contact_id in (
            moved.get("contacts", []) if merge.entity == "company" else []
        ):
            record_changes(
                session,
                entity="contact",
                entity_id=int(contact_id),
                before={"company_id": merge.merged_id},
                after={"company_id": merge.survivor_id},
                user_id=user.id,
                action="merge",
                batch_id=merge.id,
            )


# -- module helpers ------------------------------------------------------------------


def _check_entity(entity: str) -> None:
    if entity not in ENTITIES:
        raise InvalidMergeChoice("entity", "company или contact")


def _check_pair(survivor_id: int, merged_id: int) -> None:
    if survivor_id == merged_id:
        raise CannotMerge("нельзя объединить запись саму с собой")


async def _lock_pair(
    session: AsyncSession, model: Any, survivor_id: int, merged_id: int
) -> tuple[Any, Any]:
    # Lowest id first: two merges over the same records wait instead of deadlocking.
    # populate_existing: a row read earlier in this session is re-read under the lock.
    rows = (
        await session.scalars(
            select(model)
            .where(model.id.in_([survivor_id, merged_id]))
            .order_by(model.id)
            .with_for_update(of=model)
            .execution_options(populate_existing=True)
        )
    ).all()
    by_id = {r.id: r for r in rows}
    return by_id.get(survivor_id), by_id.get(merged_id)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _apply(
    record: Any, entity: str, values: Mapping[str, Any], before: Mapping[str, Any]
) -> list[str]:
    """Set the fields that differ; keep name keys in step. Returns the changed ones."""
    changed = [f for f in _fields(entity) if f in values and values[f] != before[f]]
    for field in changed:
        setattr(record, field, _load(field, values[field]))
    if entity == "company" and "name" in changed:
        record.name_key = name_key(record.name)
    if entity == "contact" and {"last_name", "first_name", "middle_name"} & set(
        changed
    ):
        record.name_key = person_key(
            record.last_name, record.first_name, record.middle_name
        )
    return changed


async def _move(
    session: AsyncSession, model: Any, column: str, from_id: int, to_id: int
) -> list[Any]:
    """Re-point every row of ``model`` from one owner to the other; returns the ids."""
    owner = getattr(model, column)
    values: dict[str, Any] = {column: to_id}
    if "updated_at" in model.__table__.c:
        # Moving a row is not an edit of it, and an undo must leave it as it was.
        values["updated_at"] = model.updated_at
    result = await session.execute(
        update(model)
        .where(owner == from_id)
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all(), key=str)


async def _move_back(
    session: AsyncSession,
    model: Any,
    column: str,
    ids: Sequence[str],
    survivor_id: int,
    merged_id: int,
) -> int:
    """Move the rows a merge moved back, if they are still on the survivor."""
    if not ids:
        return 0
    key_type = model.__table__.c.id.type.python_type
    keys = [key_type(i) for i in ids]
    owner = getattr(model, column)
    values: dict[str, Any] = {column: merged_id}
    if "updated_at" in model.__table__.c:
        values["updated_at"] = model.updated_at
    result = await session.execute(
        update(model)
        .where(model.id.in_(keys), owner == survivor_id)
        .values(**values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def _share(
    session: AsyncSession, merged: Company, survivor: Company
) -> list[int]:
    """Give the survivor every share the merged company had, and its manager too.

    Whoever could see the merged company keeps seeing that client's calls and history.
    """
    users = set(
        (
            await session.scalars(
                select(ClientShare.user_id).where(ClientShare.company_id == merged.id)
            )
        ).all()
    )
    if merged.responsible_id is not None:
        users.add(merged.responsible_id)
    users.discard(survivor.responsible_id)  # type: ignore[arg-type]
    if not users:
        return []
    result = await session.execute(
        pg_insert(ClientShare)
        .values([{"company_id": survivor.id, "user_id": u} for u in sorted(users)])
        .on_conflict_do_nothing()
        .returning(ClientShare.user_id)
    )
    return sorted(result.scalars().all())


async def _counts(
    session: AsyncSession, rows: Sequence[tuple[str, Any, str]], record_id: int
) -> dict[str, int]:
    counts = {}
    for table, model, column in rows:
        counts[table] = int(
            await session.scalar(
                select(func.count())
                .select_from(model)
                .where(getattr(model, column) == record_id)
            )
            or 0
        )
    return counts


async def _phones(session: AsyncSession, owner: str, record_id: int) -> list[str]:
    rows = await session.scalars(
        select(Phone.e164).where(getattr(Phone, owner) == record_id).order_by(Phone.id)
    )
    return list(dict.fromkeys(rows.all()))


async def _user_names(session: AsyncSession, *records: Any) -> dict[int, str]:
    ids = {r.responsible_id for r in records if r.responsible_id is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(User.id, User.full_name).where(User.id.in_(ids))
    )
    return {user_id: name for user_id, name in rows.all()}


def _display(field: str, value: Any, names: Mapping[int, str]) -> str:
    if _empty(value):
        return ""
    if field == "responsible_id":
        return names.get(value, f"№{value}")
    if field == "channels":
        return ", ".join(f"{c.get('kind')}: {c.get('value')}" for c in value)
    if field == "birthday":
        return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
    return str(value)


def _title(record: Any, entity: str) -> str:
    if entity == "company":
        return str(record.name)
    return str(record.full_name)


async def _may_see(
    session: AsyncSession, entity: str, record: Any, user: UserView
) -> bool:
    """May this user see the record, or, once merged away, what it was merged into."""
    if user.role in WHOLE_BASE_ROLES:
        return True
    model = Company if entity == "company" else Contact
    condition = (
        visible_companies(user) if entity == "company" else visible_contacts(user)
    )
    record_id = record.id
    # Follow merged_into_id to the record that is listed now (chains are short).
    for _ in range(MAX_CHAIN):
        target = await session.scalar(
            select(model.merged_into_id).where(model.id == record_id)
        )
        if target is None:
            break
        record_id = target
    found = await session.scalar(
        select(model.id).where(model.id == record_id, condition)
    )
    return found is not None


async def _clean_custom(
    session: AsyncSession, entity: str, field: str, value: Any
) -> Any:
    """Validate a value the user typed instead of picking one of the two."""
    if _empty(value):
        if entity == "company" and field in ("name", "status"):
            raise InvalidMergeChoice(field, "обязательное поле")
        if field in ("last_name", "first_name", "middle_name"):
            return ""
        return [] if field == "channels" else None

    if field == "responsible_id":
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise InvalidMergeChoice(field, "номер пользователя") from None
        if await session.get(User, user_id) is None:
            raise InvalidMergeChoice(field, "нет такого пользователя")
        return user_id
    if field == "status":
        try:
            return CompanyStatus(str(value)).value
        except ValueError:
            raise InvalidMergeChoice(field, "prospect, client или former") from None
    if field == "channels":
        if not isinstance(value, list) or not all(
            isinstance(c, dict) and str(c.get("value", "")).strip() for c in value
        ):
            raise InvalidMergeChoice(field, "список {kind, value}")
        return [
            {"kind": str(c.get("kind", "other"))[:30], "value": str(c["value"])[:200]}
            for c in value
        ]
    if field == "birthday":
        text = str(value).strip()
        try:
            if "." in text:
                return dt.datetime.strptime(text, "%d.%m.%Y").date().isoformat()
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidMergeChoice(field, "дата вида 04.12.1980") from None

    text = str(value).strip()
    checks = {"inn": check_inn, "kpp": check_kpp, "ogrn": check_ogrn}
    if entity == "company" and field in checks:
        try:
            return checks[field](text)
        except FieldProblem as problem:
            raise InvalidMergeChoice(field, problem.reason) from None
    if field == "email":
        try:
            return check_email(text)
        except FieldProblem as problem:
            raise InvalidMergeChoice(field, problem.reason) from None
    limits = (
        {"name": 300, **COMPANY_TEXT_FIELDS}
        if entity == "company"
        else CONTACT_TEXT_FIELDS
    )
    limit = limits.get(field, 200)
    if len(text) > limit:
        raise InvalidMergeChoice(field, f"не длиннее {limit} знаков")
    if entity == "company" and field == "name" and not name_key(text):
        raise InvalidMergeChoice(field, "название без формы собственности пустое")
    return text
