"""Imports into the client base: a dry run that says what would happen, then the run.

The file is read into a sheet, each row is mapped and checked (``rows``), and the rows
are grouped into companies. Each group is matched against the whole base, in this
order: the same INN, a phone, an e-mail, the same ``name_key``. A candidate whose INN
differs from the file's is not the same company. Then:

* no match: the company is created with its contacts through
  ``ClientService.create_company`` (its validation, change log and call linking);
* a match the user may edit: empty fields are filled, new phones and e-mails added,
  contacts matched by name inside the company, new ones added. Nothing is
  overwritten: a value already in the card wins over the file;
* a match the user may not see (another manager's client): skipped as a duplicate.

Groups are matched and written in chunks of ``CHUNK_GROUPS``: one transaction and a
few set-based statements per chunk instead of several per row. A chunk stops before a
group that touches a company (or key) already planned in it, so every group sees the
writes of those before it, as if they ran one by one. If a chunk fails, its groups run
one at a time: the failing group is reported and the others still go in. Everything
written carries the run's id as the change log's ``batch_id``. A dry run does the same
matching and writes nothing but the report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, delete, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clients.access import (
    sees_everything,
    visible_companies,
    visible_contacts,
)
from callcenter.clients.changes import record_changes
from callcenter.clients.errors import ClientError
from callcenter.clients.models import (
    Company,
    Contact,
    Email,
    Equipment,
    ImportPreset,
    ImportRun,
    Phone,
    PhoneKind,
)
from callcenter.clients.service import ClientService, parse_date
from callcenter.clients.validation import (
    TYPO_MIN_KEY,
    name_key,
    name_variants,
    split_legal_form,
)
from callcenter.db import SessionFactory, transaction, utcnow
from callcenter.imports.errors import InvalidMapping, NoSuchImport
from callcenter.imports.fields import FIELDS, check_mapping
from callcenter.imports.readers import FORMATS, Sheet, read_file
from callcenter.imports.rows import ImportRow, Person, Rejected, map_row
from callcenter.imports.rows import Phone as RowPhone
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

STATUSES = ("created", "updated", "skipped", "duplicate", "rejected")
FILLED_FIELDS = (
    "legal_name",
    "inn",
    "kpp",
    "ogrn",
    "address",
    "region",
    "industry",
    "source",
    "notes",
)
_FIELD_WORDS = {
    "legal_name": "полное наименование",
    "inn": "ИНН",
    "kpp": "КПП",
    "ogrn": "ОГРН",
    "address": "адрес",
    "region": "регион",
    "industry": "отрасль",
    "source": "источник",
    "notes": "примечание",
    "middle_name": "отчество",
    "position": "должность",
    "birthday": "день рождения",
}
_MATCH_WORDS = {
    "inn": "совпадает ИНН",
    "phone": "совпадает телефон",
    "email": "совпадает эл. почта",
    "name": "совпадает название",
}
# Groups (companies) planned and written in one transaction.
CHUNK_GROUPS = 200
# How often a running import writes its progress (the panel polls it).
PROGRESS_INTERVAL = 0.5
DEFAULT_SOURCE = "Импорт"

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Group:
    key: str
    rows: list[ImportRow] = field(default_factory=list)
    # An earlier company of the same file whose name is one typo away.
    lookalike: ImportRow | None = None

    @property
    def name(self) -> str:
        return next((r.company_name for r in self.rows if r.company_name), "")

    @property
    def is_private(self) -> bool:
        return self.key.startswith("person:")

    def first(self, name: str) -> str:
        return next((r.company[name] for r in self.rows if r.company.get(name)), "")

    def phones(self) -> list[str]:
        found = [p.e164 for r in self.rows for p in r.company_phones]
        found += [p.e164 for r in self.rows if r.person for p in r.person.phones]
        return list(dict.fromkeys(found))

    def emails(self) -> list[str]:
        found = [e for r in self.rows for e in r.company_emails]
        found += [e for r in self.rows if r.person for e in r.person.emails]
        return list(dict.fromkeys(found))


@dataclass(slots=True)
class PersonChange:
    """What a group adds to one person: a new contact, or to an existing one."""

    contact_id: int | None
    person: Person
    fills: dict[str, str] = field(default_factory=dict)
    phones: list[RowPhone] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.contact_id is None or bool(self.fills or self.phones or self.emails)


@dataclass(slots=True)
class Plan:
    """What one group does; ``company_id`` None means a new company (or person)."""

    company_id: int | None = None
    company_name: str = ""
    matched_by: str = ""
    hidden: bool = False
    fills: dict[str, str] = field(default_factory=dict)
    phones: list[RowPhone] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    people: dict[str, PersonChange] = field(default_factory=dict)
    # New equipment items, and serial numbers to add to items already there.
    equipment: list[dict[str, Any]] = field(default_factory=list)
    serials: dict[int, list[str]] = field(default_factory=dict)
    report: list[dict[str, Any]] = field(default_factory=list)

    @property
    def company_changed(self) -> bool:
        return bool(self.fills or self.phones or self.emails)

    @property
    def equipment_changed(self) -> bool:
        return bool(self.equipment or self.serials)


@dataclass(slots=True)
class Summary:
    run_id: uuid.UUID
    dry_run: bool
    total_rows: int
    counts: dict[str, int]
    report: list[dict[str, Any]]


class ImportService:
    def __init__(
        self, sessions: SessionFactory, clients: ClientService, *, region: str = "RU"
    ) -> None:
        self._sessions = sessions
        self._clients = clients
        self._region = region

    # -- files and mappings ---------------------------------------------------------

    async def read(self, data: bytes, file_name: str, format: str = "auto") -> Sheet:
        return await asyncio.to_thread(read_file, data, file_name, format)

    def prepare(
        self, sheet: Sheet, mapping: Mapping[str, str]
    ) -> tuple[list[Group], list[Rejected], int]:
        """Map and check every row, then group the good ones into companies.

        Returns the groups (in file order), the rejected rows and the number of rows
        that carried data.
        """
        problems = check_mapping(mapping, sheet.headers)
        if problems:
            raise InvalidMapping("; ".join(problems))

        groups: dict[str, Group] = {}
        rejected: list[Rejected] = []
        total = 0
        for row in sheet.rows:
            mapped = map_row(row, sheet.headers, mapping, self._region)
            if mapped is None:
                continue
            total += 1
            if isinstance(mapped, Rejected):
                rejected.append(mapped)
                continue
            groups.setdefault(mapped.group_key, Group(mapped.group_key)).rows.append(
                mapped
            )
        merged = _merge_name_groups(groups)
        _find_lookalikes(merged)
        return merged, rejected, total

    # -- runs -----------------------------------------------------------------------

    async def start_run(
        self,
        *,
        user: UserView,
        file_name: str,
        format: str,
        dry_run: bool,
        total_rows: int,
    ) -> uuid.UUID:
        async with transaction(self._sessions) as session:
            run = ImportRun(
                user_id=user.id,
                file_name=file_name[:300],
                format=format,
                dry_run=dry_run,
                status="running",
                total_rows=total_rows,
                counts={s: 0 for s in STATUSES},
                report=[],
            )
            session.add(run)
            await session.flush()
        logger.info(
            "import started run_id=%s user_id=%s format=%s dry_run=%s rows=%s",
            run.id,
            user.id,
            format,
            dry_run,
            total_rows,
        )
        return run.id

    async def run(
        self,
        sheet: Sheet,
        mapping: Mapping[str, str],
        *,
        user: UserView,
        file_name: str,
        dry_run: bool,
        progress: Progress | None = None,
    ) -> Summary:
        """Prepare, start and execute in one go (the command line's way)."""
        groups, rejected, total = self.prepare(sheet, mapping)
        run_id = await self.start_run(
            user=user,
            file_name=file_name,
            format=sheet.format,
            dry_run=dry_run,
            total_rows=total,
        )
        return await self.execute(
            run_id, groups, rejected, user=user, dry_run=dry_run, progress=progress
        )

    async def execute(
        self,
        run_id: uuid.UUID,
        groups: list[Group],
        rejected: list[Rejected],
        *,
        user: UserView,
        dry_run: bool,
        progress: Progress | None = None,
    ) -> Summary:
        report = [_rejected_entry(r) for r in rejected]
        total = len(rejected) + sum(len(g.rows) for g in groups)
        processed = len(rejected)
        last_saved = time.monotonic()

        try:
            start = 0
            while start < len(groups):
                chunk = groups[start : start + CHUNK_GROUPS]
                entries, done = await self._run_chunk(chunk, user, run_id, dry_run)
                report.extend(entries)
                processed += sum(len(group.rows) for group in chunk[:done])
                start += done
                if progress is not None:
                    progress(processed, total)
                if time.monotonic() - last_saved >= PROGRESS_INTERVAL:
                    await self._save_progress(run_id, processed, _count(report))
                    last_saved = time.monotonic()
        except Exception as error:
            logger.exception("import failed run_id=%s", run_id)
            await self._finish(run_id, processed, report, "failed", str(error)[:1000])
            raise

        report.sort(key=lambda e: e["line"])
        await self._finish(run_id, processed, report, "done", None)
        counts = _count(report)
        logger.info(
            "import finished run_id=%s dry_run=%s %s",
            run_id,
            dry_run,
            " ".join(f"{k}={v}" for k, v in counts.items()),
        )
        return Summary(run_id, dry_run, total, counts, report)

    async def _save_progress(
        self, run_id: uuid.UUID, processed: int, counts: dict[str, int]
    ) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                update(ImportRun)
                .where(ImportRun.id == run_id)
                .values(processed_rows=processed, counts=counts)
            )

    async def _finish(
        self,
        run_id: uuid.UUID,
        processed: int,
        report: list[dict[str, Any]],
        status: str,
        error: str | None,
    ) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                update(ImportRun)
                .where(ImportRun.id == run_id)
                .values(
                    processed_rows=processed,
                    counts=_count(report),
                    report=report,
                    status=status,
                    error=error,
                    finished_at=utcnow(),
                )
            )

    async def fail_run(self, run_id: uuid.UUID, reason: str) -> None:
        await self._finish(run_id, 0, [], "failed", reason[:1000])

    # -- a chunk of groups -----------------------------------------------------------

    async def _run_chunk(
        self, chunk: list[Group], user: UserView, run_id: uuid.UUID, dry_run: bool
    ) -> tuple[list[dict[str, Any]], int]:
        """Plan and write the first groups of ``chunk`` in one transaction.

        Returns their report entries and how many groups that was: planning stops
        before a group that touches a company already planned in this chunk, so
        that group sees the chunk's writes. If the chunk fails, its groups are run
        one by one and only the failing one is rejected.
        """
        try:
            async with transaction(self._sessions) as session:
                plans = await self._plan_chunk(session, chunk, user, lock=not dry_run)
                planned = chunk[: len(plans)]
                if not dry_run:
                    await self._apply_chunk(session, planned, plans, user, run_id)
        except (ClientError, SQLAlchemyError) as error:
            if len(chunk) > 1:
                logger.info(
                    "import chunk failed, retrying group by group run_id=%s groups=%s",
                    run_id,
                    len(chunk),
                )
                entries = []
                for group in chunk:
                    entries += (await self._run_chunk([group], user, run_id, dry_run))[
                        0
                    ]
                return entries, len(chunk)
            return self._rejected_group(chunk[0], error, run_id), 1

        entries = []
        for plan in plans:
            # A hidden company is named in the report (so the user can ask its
            # manager) but not linked: its card would answer "not found" anyway.
            for entry in plan.report:
                entry["company_id"] = None if plan.hidden else plan.company_id
            entries += plan.report
        return entries, len(plans)

    def _rejected_group(
        self, group: Group, error: Exception, run_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        if isinstance(error, ClientError):
            reason = getattr(error, "reason", str(error))
        else:
            logger.error(
                "import group failed run_id=%s group=%s",
                run_id,
                group.key,
                exc_info=error,
            )
            reason = "ошибка базы данных при записи (подробности в журнале сервера)"
        return [_entry(r.line, "rejected", reason, r) for r in group.rows]

    async def _plan_chunk(
        self, session: AsyncSession, chunk: list[Group], user: UserView, *, lock: bool
    ) -> list[Plan]:
        """Match the chunk's groups against the base with a few set-based queries,
        then plan each one; returns the plans of the groups that may share a
        transaction (at least the first)."""
        known = await _Known.load(session, [g for g in chunk if not g.is_private])
        claimed: set[str] = set()
        plans: list[Plan] = []
        matched: dict[int, Company] = {}
        for group in chunk:
            if group.is_private:
                plan = await self._plan_person(session, group, user)
                change = next(iter(plan.people.values()), None)
                touched = change.contact_id if change else None
                keys = _claims("p", group, f"person:{touched}" if touched else "")
            else:
                company, matched_by = known.match(group)
                plan = Plan(company_name=group.name, matched_by=matched_by)
                if company is None:
                    _plan_new_company(group, plan)
                else:
                    plan.company_id, plan.company_name = company.id, company.name
                    matched[company.id] = company
                keys = _claims("c", group, f"id:{company.id}" if company else "")
            if plans and keys & claimed:
                break
            claimed |= keys
            plans.append(plan)

        new = [
            (group, plan)
            for group, plan in zip(chunk, plans, strict=False)
            if plan.company_id is None and not group.is_private
        ]
        if new:
            await _note_similar_names(session, new)

        # Only company groups have an id at this point: a matched company.
        existing = [
            (group, plan)
            for group, plan in zip(chunk, plans, strict=False)
            if plan.company_id is not None
        ]
        if not existing:
            return plans

        visible = set(
            await session.scalars(
                select(Company.id).where(
                    Company.id.in_([plan.company_id for _, plan in existing]),
                    visible_companies(user),
                )
            )
        )
        for group, plan in existing:
            if plan.company_id not in visible:
                plan.hidden = True
                reason = (
                    f"уже есть в базе ({_MATCH_WORDS[plan.matched_by]}): "
                    f"{_quoted(plan.company_name)}, ответственный — другой менеджер"
                )
                plan.report = [
                    _entry(r.line, "duplicate", reason, r) for r in group.rows
                ]

        editable = [(group, plan) for group, plan in existing if not plan.hidden]
        if not editable:
            return plans
        ids = sorted({plan.company_id for _, plan in editable if plan.company_id})
        if lock:
            # In id order, so two imports of overlapping files cannot deadlock.
            locked = await session.scalars(
                select(Company)
                .where(Company.id.in_(ids))
                .order_by(Company.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            matched.update((c.id, c) for c in locked)
        details = await _Details.load(session, ids)
        for group, plan in editable:
            assert plan.company_id is not None
            _plan_existing_company(group, matched[plan.company_id], plan, details)
        return plans

    async def _apply_chunk(
        self,
        session: AsyncSession,
        chunk: list[Group],
        plans: list[Plan],
        user: UserView,
        run_id: uuid.UUID,
    ) -> None:
        new_companies = []
        new_people: list[tuple[PersonChange, int | None]] = []
        changed = []
        for group, plan in zip(chunk, plans, strict=True):
            if plan.hidden:
                continue
            if plan.company_id is None and not group.is_private:
                new_companies.append((group, plan))
            else:
                new_people += await self._apply(session, group, plan, user, run_id)
                changed.append(plan)

        if new_people:
            people = []
            for change, company_id in new_people:
                contact, channels = self._clients.checked_contact(
                    _contact_data(change.person)
                )
                contact.company_id = company_id
                people.append((contact, channels))
            await self._clients.store_contacts(session, people, user, run_id)
            for (change, _), (contact, _) in zip(new_people, people, strict=True):
                change.contact_id = contact.id
        for plan in changed:
            if plan.equipment_changed:
                # A private client's equipment is the person's own.
                person = next(iter(plan.people.values()), None)
                owner = None if plan.company_id or person is None else person.contact_id
                await _write_equipment(
                    self._clients, session, plan, plan.company_id, owner, user, run_id
                )

        if new_companies:
            # Matching was done above, more strictly than the form's duplicate check.
            ids = await self._clients.add_companies(
                session,
                [_company_data(group, plan) for group, plan in new_companies],
                user=user,
                batch_id=run_id,
            )
            for (_, plan), company_id in zip(new_companies, ids, strict=True):
                plan.company_id = company_id

    async def _plan_person(
        self, session: AsyncSession, group: Group, user: UserView
    ) -> Plan:
        """A private client (no company): matched by phone, e-mail or full name."""
        people = [r.person for r in group.rows if r.person is not None]
        key = people[0].key
        private = Contact.company_id.is_(None) & Contact.merged_into_id.is_(None)
        phones, emails = group.phones(), group.emails()
        queries = [
            (
                "phone",
                phones,
                Contact.id.in_(select(Phone.contact_id).where(Phone.e164.in_(phones))),
            ),
            (
                "email",
                emails,
                Contact.id.in_(
                    select(Email.contact_id).where(Email.address.in_(emails))
                ),
            ),
            ("name", [key], Contact.name_key == key),
        ]
        contact, matched_by = None, ""
        for reason, values, condition in queries:
            if not values:
                continue
            contact = await session.scalar(
                select(Contact).where(private, condition).order_by(Contact.id).limit(1)
            )
            if contact is not None:
                matched_by = reason
                break

        plan = Plan(company_name="", matched_by=matched_by)
        if contact is not None:
            visible = await session.scalar(
                select(Contact.id).where(
                    Contact.id == contact.id, visible_contacts(user)
                )
            )
            if visible is None:
                plan.hidden = True
                reason = (
                    f"частный клиент «{contact.full_name}» уже есть у другого менеджера"
                )
                plan.report = [
                    _entry(r.line, "duplicate", reason, r) for r in group.rows
                ]
                return plan

        known_phones: set[str] = set()
        known_emails: set[str] = set()
        known_equipment: dict[EquipmentKey, dict[str, Any] | Equipment] = {}
        change = PersonChange(None, Person())
        if contact is not None:
            known_phones, known_emails = await _contact_channels(session, contact.id)
            change = PersonChange(contact.id, _person_of(contact))
            owned = await session.scalars(
                select(Equipment).where(Equipment.contact_id == contact.id)
            )
            known_equipment = {_equipment_key(item): item for item in owned}
        plan.people[key] = change
        for index, row in enumerate(group.rows):
            assert row.person is not None
            created = index == 0 and change.contact_id is None
            notes = _add_person(change, row.person, known_phones, known_emails)
            if created:
                notes = [f"новый частный клиент {row.person.display}"]
            notes += _add_equipment(plan, row.equipment, known_equipment)
            plan.report.append(_row_entry(row, plan, created=created, notes=notes))
        return plan

    # -- writing --------------------------------------------------------------------

    async def _apply(
        self,
        session: AsyncSession,
        group: Group,
        plan: Plan,
        user: UserView,
        run_id: uuid.UUID,
    ) -> list[tuple[PersonChange, int | None]]:
        """Write the changes of a group to an existing company (or a private client).

        Returns the people to create, with their company (None for a private
        client): the chunk creates them together. New companies are written by
        ``ClientService.add_companies``.
        """
        new_people: list[tuple[PersonChange, int | None]] = []
        company_id = plan.company_id

        if company_id is not None and plan.company_changed:
            company = await session.get(Company, company_id)
            assert company is not None
            before = {f: getattr(company, f) for f in plan.fills}
            for name, value in plan.fills.items():
                setattr(company, name, value)
            record_changes(
                session,
                entity="company",
                entity_id=company_id,
                before=before,
                after=dict(plan.fills),
                user_id=user.id,
                batch_id=run_id,
            )
            _add_channels(session, company_id, None, plan.phones, plan.emails)
            _log_channels(session, "company", company_id, plan, user, run_id)

        for change in plan.people.values():
            if not change.changed:
                continue
            if change.contact_id is None:
                new_people.append((change, company_id))
                continue
            contact = await session.get(Contact, change.contact_id)
            assert contact is not None
            before = {f: getattr(contact, f) for f in change.fills}
            after = {}
            for name, value in change.fills.items():
                after[name] = parse_date(value) if name == "birthday" else value
                setattr(contact, name, after[name])
            record_changes(
                session,
                entity="contact",
                entity_id=contact.id,
                before=before,
                after=after,
                user_id=user.id,
                batch_id=run_id,
            )
            _add_channels(
                session, contact.company_id, contact.id, change.phones, change.emails
            )
            if change.emails and not contact.email:
                contact.email = change.emails[0]
            _log_channels(session, "contact", contact.id, change, user, run_id)

        return new_people

    # -- reading runs ---------------------------------------------------------------

    async def get_run(
        self, run_id: uuid.UUID, *, user: UserView, with_report: bool = True
    ) -> dict[str, Any]:
        async with self._sessions() as session:
            run = await session.get(ImportRun, run_id)
        if run is None or not _may_see_run(run, user):
            raise NoSuchImport("нет такого импорта")
        return _run_dict(run, with_report=with_report)

    async def list_runs(
        self, *, user: UserView, limit: int = 20
    ) -> list[dict[str, Any]]:
        stmt = select(ImportRun).order_by(ImportRun.started_at.desc()).limit(limit)
        if not sees_everything(user):
            stmt = stmt.where(ImportRun.user_id == user.id)
        async with self._sessions() as session:
            runs = (await session.scalars(stmt)).all()
        return [_run_dict(r, with_report=False) for r in runs]

    # -- presets --------------------------------------------------------------------

    async def save_preset(
        self, name: str, format: str, mapping: Mapping[str, str], *, user: UserView
    ) -> int:
        """Save a mapping under a name; the same name and format replace the old one."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidMapping("название шаблона: от 1 до 200 знаков")
        if format not in FORMATS:
            raise InvalidMapping(f"неизвестный формат «{format}»")
        clean = {}
        for header, target in mapping.items():
            if not isinstance(header, str) or not isinstance(target, str):
                raise InvalidMapping("сопоставление: колонка → поле, обе строки")
            if target and target not in FIELDS:
                raise InvalidMapping(f"неизвестное поле «{target}»")
            if target:
                clean[header[:300]] = target
        if not clean:
            raise InvalidMapping("в шаблоне нет ни одной сопоставленной колонки")

        async with transaction(self._sessions) as session:
            preset = await session.scalar(
                select(ImportPreset).where(
                    ImportPreset.name == name, ImportPreset.format == format
                )
            )
            if preset is None:
                preset = ImportPreset(
                    name=name, format=format, mapping=clean, owner_id=user.id
                )
                session.add(preset)
            else:
                preset.mapping = clean
            await session.flush()
        logger.info(
            "import preset saved preset_id=%s user_id=%s format=%s",
            preset.id,
            user.id,
            format,
        )
        return preset.id

    async def list_presets(self, format: str | None = None) -> list[dict[str, Any]]:
        """Presets are shared: a mapping for 1C's export is the same for everyone."""
        stmt = select(ImportPreset).order_by(ImportPreset.name)
        if format:
            stmt = stmt.where(ImportPreset.format == format)
        async with self._sessions() as session:
            presets = (await session.scalars(stmt)).all()
        return [_preset_dict(p) for p in presets]

    async def find_preset(
        self, *, preset_id: int | None = None, name: str | None = None
    ) -> dict[str, Any]:
        stmt = select(ImportPreset).order_by(ImportPreset.id).limit(1)
        if preset_id is not None:
            stmt = stmt.where(ImportPreset.id == preset_id)
        elif name is not None:
            stmt = stmt.where(ImportPreset.name == name.strip())
        else:
            raise NoSuchImport("шаблон не указан")
        async with self._sessions() as session:
            preset = await session.scalar(stmt)
        if preset is None:
            raise NoSuchImport("нет такого шаблона")
        return _preset_dict(preset)

    async def delete_preset(self, preset_id: int, *, user: UserView) -> None:
        async with transaction(self._sessions) as session:
            preset = await session.get(ImportPreset, preset_id)
            if preset is None or not (
                preset.owner_id == user.id or sees_everything(user)
            ):
                raise NoSuchImport("нет такого шаблона")
            await session.execute(
                delete(ImportPreset).where(ImportPreset.id == preset_id)
            )


# -- planning helpers ---------------------------------------------------------------


@dataclass(slots=True)
class _Known:
    """Companies of the base that a chunk's groups could match, by each key."""

    by_inn: dict[str, list[Company]] = field(default_factory=dict)
    by_phone: dict[str, list[Company]] = field(default_factory=dict)
    by_email: dict[str, list[Company]] = field(default_factory=dict)
    by_name: dict[str, list[Company]] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, groups: list[Group]) -> _Known:
        known = cls()
        alive = Company.merged_into_id.is_(None)
        inns = {g.first("inn") for g in groups} - {""}
        phones = {p for g in groups for p in g.phones()}
        emails = {e for g in groups for e in g.emails()}
        names = {name_key(g.name) for g in groups} - {""}

        if inns:
            found = await session.scalars(
                select(Company).where(alive, Company.inn.in_(inns)).order_by(Company.id)
            )
            for company in found:
                known.by_inn.setdefault(company.inn or "", []).append(company)
        # A phone or e-mail belongs to a company directly or through a contact.
        for values, table, index in (
            (phones, Phone, known.by_phone),
            (emails, Email, known.by_email),
        ):
            if not values:
                continue
            column = Phone.e164 if table is Phone else Email.address
            owner = func.coalesce(table.company_id, Contact.company_id)
            rows = await session.execute(
                select(column, Company)
                .select_from(table)
                .outerjoin(Contact, Contact.id == table.contact_id)
                .join(Company, owner == Company.id)
                .where(alive, column.in_(values))
                .order_by(Company.id)
            )
            for value, company in rows:
                index.setdefault(value, []).append(company)
        if names:
            found = await session.scalars(
                select(Company)
                .where(alive, Company.name_key.in_(names))
                .order_by(Company.id)
            )
            for company in found:
                known.by_name.setdefault(company.name_key, []).append(company)
        return known

    def match(self, group: Group) -> tuple[Company | None, str]:
        """The company a group is, in order: same INN, phone, e-mail, name. A
        candidate with another INN than the file's is another legal entity."""
        inn = group.first("inn")
        if inn and self.by_inn.get(inn):
            return self.by_inn[inn][0], "inn"

        key = name_key(group.name)
        for reason, values, index in (
            ("phone", group.phones(), self.by_phone),
            ("email", group.emails(), self.by_email),
            ("name", [key] if key else [], self.by_name),
        ):
            candidates = {c.id: c for v in values for c in index.get(v, ())}
            for company_id in sorted(candidates):
                company = candidates[company_id]
                if not (inn and company.inn and company.inn != inn):
                    return company, reason
        return None, ""


@dataclass(slots=True)
class _Details:
    """Numbers (as lines), e-mails, live contacts and equipment of matched
    companies."""

    phones: dict[int, list[str]] = field(default_factory=dict)
    emails: dict[int, list[str]] = field(default_factory=dict)
    contacts: dict[int, list[Contact]] = field(default_factory=dict)
    equipment: dict[int, list[Equipment]] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, company_ids: list[int]) -> _Details:
        details = cls()
        for phone in await session.scalars(
            select(Phone).where(Phone.company_id.in_(company_ids))
        ):
            details.phones.setdefault(phone.company_id or 0, []).append(_line_of(phone))
        for company_id, address in await session.execute(
            select(Email.company_id, Email.address).where(
                Email.company_id.in_(company_ids)
            )
        ):
            details.emails.setdefault(company_id, []).append(address)
        for contact in await session.scalars(
            select(Contact).where(
                Contact.company_id.in_(company_ids),
                Contact.merged_into_id.is_(None),
                Contact.name_key != "",
            )
        ):
            details.contacts.setdefault(contact.company_id or 0, []).append(contact)
        for item in await session.scalars(
            select(Equipment)
            .where(Equipment.company_id.in_(company_ids))
            .order_by(Equipment.id)
        ):
            details.equipment.setdefault(item.company_id or 0, []).append(item)
        return details


def _claims(space: str, group: Group, record: str) -> set[str]:
    """What a group could collide on with another group of the same chunk: the
    record it changes and every key it matches or creates by."""
    keys = {f"phone:{p}" for p in group.phones()}
    keys |= {f"email:{e}" for e in group.emails()}
    keys.add(group.key)
    if record:
        keys.add(record)
    if not group.is_private:
        keys.add(f"name:{name_key(group.name)}")
        if group.first("inn"):
            keys.add(f"inn:{group.first('inn')}")
    return {f"{space}:{k}" for k in keys}


def _find_lookalikes(groups: list[Group]) -> None:
    """Mark each company whose name is one typo away from an earlier one of the file
    (one dictionary of name variants: a single pass, however long the file)."""
    seen: dict[str, Group] = {}
    for group in groups:
        key = name_key(group.name)
        if group.is_private or len(key) < TYPO_MIN_KEY:
            continue
        variants = name_variants(key)
        earlier = next((seen[v] for v in variants if v in seen), None)
        if earlier is not None and not _different_entities(earlier, group):
            group.lookalike = earlier.rows[0]
        for variant in variants:
            seen.setdefault(variant, group)


def _different_entities(first: Group, second: Group) -> bool:
    inns = first.first("inn"), second.first("inn")
    return all(inns) and inns[0] != inns[1]


async def _note_similar_names(
    session: AsyncSession, new: list[tuple[Group, Plan]]
) -> None:
    """Tell, on the first row of each new company, which company of the base has a
    name one typo away: a likely duplicate the user should see before the import.

    One probe of the variants index (migration 0006) for the whole chunk.
    """
    wanted: dict[str, set[str]] = {}  # variant -> new keys that have it
    for group, _ in new:
        key = name_key(group.name)
        if len(key) >= TYPO_MIN_KEY:
            for variant in name_variants(key):
                wanted.setdefault(variant, set()).add(key)
    if not wanted:
        return
    # One index probe per variant (a LATERAL join): with the whole array in one
    # condition the planner expects a large share of the table and scans it all.
    typed = (
        func.unnest(literal(sorted(wanted), ARRAY(Text)))
        .table_valued("variant")
        .render_derived("typed")
    )
    near = (
        select(Company.id, Company.name, Company.inn, Company.name_key)
        .where(
            Company.merged_into_id.is_(None),
            # Inline, so the planner matches the partial index's predicate.
            func.length(Company.name_key)
            >= literal(TYPO_MIN_KEY, literal_execute=True),
            func.name_key_variants(Company.name_key).op("&&")(array([typed.c.variant])),
        )
        .lateral("near")
    )
    rows = await session.execute(
        select(near.c.id, near.c.name, near.c.inn, near.c.name_key)
        .select_from(typed)
        .join(near, true())
        .distinct()
        .order_by(near.c.id)
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        keys = {k for v in name_variants(row.name_key) for k in wanted.get(v, ())}
        for key in keys - {row.name_key}:
            found.setdefault(key, []).append(row)

    for group, plan in new:
        inn = group.first("inn")
        similar = [
            c
            for c in found.get(name_key(group.name), ())
            if not (inn and c.inn and c.inn != inn)
        ][:3]
        if similar and plan.report:
            names = ", ".join(f"{_quoted(c.name)} (№{c.id})" for c in similar)
            entry = plan.report[0]
            entry["reason"] = f"{entry['reason']}; похожа на {names} в базе"


def _quoted(name: str) -> str:
    """«Дельта», but ООО «Ромашка» as it is: a name with quotes gets no more."""
    return name if any(q in name for q in '«»"“”') else f"«{name}»"


def _merge_name_groups(groups: dict[str, Group]) -> list[Group]:
    """A row without INN joins the INN group of the same name when there is one."""
    by_name: dict[str, list[Group]] = {}
    for group in groups.values():
        if group.key.startswith("inn:"):
            by_name.setdefault(name_key(group.name), []).append(group)

    merged: list[Group] = []
    for group in groups.values():
        if group.key.startswith("name:"):
            targets = by_name.get(group.key[5:], [])
            if len(targets) == 1:
                targets[0].rows.extend(group.rows)
                targets[0].rows.sort(key=lambda r: r.line)
                continue
        merged.append(group)
    return sorted(merged, key=lambda g: g.rows[0].line)


def _plan_new_company(group: Group, plan: Plan) -> None:
    known_phones: set[str] = set()
    known_emails: set[str] = set()
    known_equipment: dict[EquipmentKey, dict[str, Any] | Equipment] = {}
    for index, row in enumerate(group.rows):
        notes = [f"новая компания {_quoted(group.name)}"] if index == 0 else []
        if index == 0 and group.lookalike is not None:
            other = group.lookalike
            notes.append(
                f"похожа на {_quoted(other.company_name)} из строки {other.line}"
            )
        fills = {k: v for k, v in row.company.items() if k not in plan.fills}
        plan.fills.update(fills)
        phones, emails = _new_channels(
            row.company_phones, row.company_emails, known_phones, known_emails
        )
        plan.phones += phones
        plan.emails += emails
        if index > 0 and (fills or phones or emails):
            notes.append(f"дополнено: {_words(fills, phones, emails)}")

        created = index == 0
        if row.person is not None:
            change = plan.people.get(row.person.key)
            if change is None:
                change = plan.people[row.person.key] = PersonChange(None, Person())
                created = True
            notes += _add_person(change, row.person, known_phones, known_emails)
        notes += _add_equipment(plan, row.equipment, known_equipment)
        plan.report.append(_row_entry(row, plan, created=created, notes=notes))


def _plan_existing_company(
    group: Group, company: Company, plan: Plan, details: _Details
) -> None:
    known_phones = set(details.phones.get(company.id, ()))
    known_emails = set(details.emails.get(company.id, ()))
    existing = {c.name_key: c for c in details.contacts.get(company.id, ())}
    known_equipment: dict[EquipmentKey, dict[str, Any] | Equipment] = {
        _equipment_key(item): item for item in details.equipment.get(company.id, ())
    }

    for row in group.rows:
        fills = {
            name: value
            for name, value in row.company.items()
            if name in FILLED_FIELDS
            and not getattr(company, name)
            and name not in plan.fills
        }
        plan.fills.update(fills)
        phones, emails = _new_channels(
            row.company_phones, row.company_emails, known_phones, known_emails
        )
        plan.phones += phones
        plan.emails += emails
        notes = []
        if fills or phones or emails:
            notes.append(f"дополнено: {_words(fills, phones, emails)}")

        created = False
        if row.person is not None:
            key = row.person.key
            change = plan.people.get(key)
            if change is None:
                contact = existing.get(key)
                change = plan.people[key] = PersonChange(
                    contact.id if contact else None,
                    _person_of(contact) if contact else Person(),
                )
                created = contact is None
            notes += _add_person(change, row.person, known_phones, known_emails)
        notes += _add_equipment(plan, row.equipment, known_equipment)
        plan.report.append(_row_entry(row, plan, created=created, notes=notes))


EquipmentKey = tuple[str, str, str]


def _equipment_key(item: Mapping[str, Any] | Equipment) -> EquipmentKey:
    """Kind, vendor and model, case aside: one item of a client, however spelled."""
    fields = (
        (item.kind, item.vendor, item.model)
        if isinstance(item, Equipment)
        else (item.get("kind", ""), item.get("vendor", ""), item.get("model", ""))
    )
    return (fields[0].lower(), fields[1].lower(), fields[2].lower())


def _add_equipment(
    plan: Plan,
    item: dict[str, Any] | None,
    known: dict[EquipmentKey, dict[str, Any] | Equipment],
) -> list[str]:
    """Fold one row's equipment item into the plan; returns what it adds, in words.

    An item the client already has (same kind, vendor and model) only gains the
    serial numbers it did not have.
    """
    if item is None:
        return []
    key = _equipment_key(item)
    label = " ".join(p for p in (item["vendor"], item["model"] or item["kind"]) if p)
    current = known.get(key)
    if current is None:
        known[key] = planned = {**item, "serial_numbers": list(item["serial_numbers"])}
        plan.equipment.append(planned)
        quantity = f" × {item['quantity']}" if item.get("quantity", 1) != 1 else ""
        return [f"оборудование {label}{quantity}"]

    if isinstance(current, Equipment):
        have = set(current.serial_numbers) | set(plan.serials.get(current.id, ()))
        new = [s for s in item["serial_numbers"] if s not in have]
        plan.serials.setdefault(current.id, []).extend(new)
    else:
        new = [s for s in item["serial_numbers"] if s not in current["serial_numbers"]]
        current["serial_numbers"] += new
        # Rows of one item listing its units: at least one unit per serial number.
        current["quantity"] = max(current["quantity"], len(current["serial_numbers"]))
    return [f"оборудование {label}: серийные номера {', '.join(new)}"] if new else []


def _new_channels(
    phones: Iterable[RowPhone],
    emails: Iterable[str],
    known_phones: set[str],
    known_emails: set[str],
) -> tuple[list[RowPhone], list[str]]:
    new_phones = [p for p in phones if _line_of(p) not in known_phones]
    new_emails = [e for e in emails if e not in known_emails]
    known_phones.update(_line_of(p) for p in new_phones)
    known_emails.update(new_emails)
    return new_phones, new_emails


def _line_of(phone: RowPhone | Phone) -> str:
    """One office number with different extensions is different people's lines."""
    return f"{phone.e164}#{phone.extension or ''}"


def _add_person(
    change: PersonChange,
    person: Person,
    known_phones: set[str],
    known_emails: set[str],
) -> list[str]:
    """Fold one row's person into the change; returns what the row adds, in words."""
    current = change.person
    if change.contact_id is None and not current.key:
        change.person = current = Person(
            last_name=person.last_name,
            first_name=person.first_name,
            middle_name=person.middle_name,
        )
        brand_new = True
    else:
        brand_new = False

    fills = {}
    for name in ("middle_name", "position", "birthday", "notes"):
        value = getattr(person, name)
        if value and not getattr(current, name):
            setattr(current, name, value)
            fills[name] = value
    phones, emails = _new_channels(
        person.phones, person.emails, known_phones, known_emails
    )
    current.phones += phones
    current.emails += emails
    if change.contact_id is not None:
        change.fills.update(fills)
        change.phones += phones
        change.emails += emails

    if brand_new:
        return [f"новый контакт {current.display}"]
    if fills or phones or emails:
        return [f"контакт {current.display}: {_words(fills, phones, emails)}"]
    return []


def _row_entry(
    row: ImportRow, plan: Plan, *, created: bool, notes: list[str]
) -> dict[str, Any]:
    if created:
        status = "created"
    elif notes:
        status = "updated"
    else:
        status, notes = "skipped", ["уже есть, нового нет"]
    if plan.matched_by:
        notes = [*notes, _MATCH_WORDS[plan.matched_by]]
    return _entry(row.line, status, "; ".join(notes), row, plan.company_name)


def _words(fills: Mapping[str, str], phones: list[RowPhone], emails: list[str]) -> str:
    words = [_FIELD_WORDS.get(f, f) for f in fills]
    words += [f"телефон {p.display}" for p in phones]
    words += [f"почта {e}" for e in emails]
    return ", ".join(words)


def _person_of(contact: Contact) -> Person:
    return Person(
        last_name=contact.last_name,
        first_name=contact.first_name,
        middle_name=contact.middle_name,
        position=contact.position or "",
        birthday=contact.birthday.strftime("%d.%m.%Y") if contact.birthday else "",
        notes=contact.notes or "",
    )


def _entry(
    line: int,
    status: str,
    reason: str,
    row: ImportRow | None = None,
    company: str | None = None,
) -> dict[str, Any]:
    return {
        "line": line,
        "status": status,
        "company": company
        if company is not None
        else (row.company_name if row else ""),
        "contact": row.person.display if row and row.person else "",
        "reason": reason,
    }


def _rejected_entry(rejected: Rejected) -> dict[str, Any]:
    return {
        "line": rejected.line,
        "status": "rejected",
        "company": rejected.company,
        "contact": rejected.contact,
        "reason": rejected.reason,
    }


def _count(report: list[dict[str, Any]]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for entry in report:
        counts[entry["status"]] += 1
    return counts


def _company_data(group: Group, plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = {"name": group.name, **plan.fills}
    data.setdefault("source", DEFAULT_SOURCE)
    form, _ = split_legal_form(group.name)
    if form:
        data["legal_form"] = form
    data["phones"] = [p.raw for p in plan.phones]
    data["emails"] = list(plan.emails)
    data["contacts"] = [_contact_data(c.person) for c in plan.people.values()]
    data["equipment"] = plan.equipment
    return data


def _contact_data(person: Person) -> dict[str, Any]:
    return {
        "last_name": person.last_name,
        "first_name": person.first_name,
        "middle_name": person.middle_name,
        "position": person.position,
        "birthday": person.birthday,
        "notes": person.notes,
        "phones": [p.raw for p in person.phones],
        "emails": list(person.emails),
    }


# -- writing helpers ----------------------------------------------------------------


async def _contact_channels(
    session: AsyncSession, contact_id: int
) -> tuple[set[str], set[str]]:
    phones = await session.scalars(select(Phone).where(Phone.contact_id == contact_id))
    emails = await session.scalars(
        select(Email.address).where(Email.contact_id == contact_id)
    )
    return {_line_of(p) for p in phones}, set(emails.all())


def _add_channels(
    session: AsyncSession,
    company_id: int | None,
    contact_id: int | None,
    phones: Iterable[RowPhone],
    emails: Iterable[str],
) -> None:
    for phone in phones:
        session.add(
            Phone(
                company_id=company_id,
                contact_id=contact_id,
                e164=phone.e164,
                extension=phone.extension,
                raw=phone.raw,
                kind=PhoneKind(phone.kind),
            )
        )
    for address in emails:
        session.add(
            Email(company_id=company_id, contact_id=contact_id, address=address)
        )


def _log_channels(
    session: AsyncSession,
    entity: str,
    entity_id: int,
    change: Plan | PersonChange,
    user: UserView,
    run_id: uuid.UUID,
) -> None:
    added: dict[str, str] = {}
    if change.phones:
        added["phones"] = ", ".join(p.e164 for p in change.phones)
    if change.emails:
        added["emails"] = ", ".join(change.emails)
    if added:
        record_changes(
            session,
            entity=entity,
            entity_id=entity_id,
            before={k: None for k in added},
            after=added,
            user_id=user.id,
            action="update",
            batch_id=run_id,
        )


async def _write_equipment(
    clients: ClientService,
    session: AsyncSession,
    plan: Plan,
    company_id: int | None,
    contact_id: int | None,
    user: UserView,
    run_id: uuid.UUID,
) -> None:
    for item_id, serials in plan.serials.items():
        current = await session.get(Equipment, item_id)  # loaded while planning
        assert current is not None
        before = {
            "serial_numbers": current.serial_numbers,
            "quantity": current.quantity,
        }
        current.serial_numbers = current.serial_numbers + serials
        current.quantity = max(current.quantity, len(current.serial_numbers))
        record_changes(
            session,
            entity="equipment",
            entity_id=item_id,
            before=before,
            after={
                "serial_numbers": current.serial_numbers,
                "quantity": current.quantity,
            },
            user_id=user.id,
            batch_id=run_id,
        )

    items = [
        Equipment(company_id=company_id, contact_id=contact_id, **item)
        for item in plan.equipment
    ]
    await clients.store_equipment(session, items, user, run_id)


# -- runs as dictionaries -----------------------------------------------------------


def _may_see_run(run: ImportRun, user: UserView) -> bool:
    return run.user_id == user.id or sees_everything(user)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run_dict(run: ImportRun, *, with_report: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": str(run.id),
        "file_name": run.file_name,
        "format": run.format,
        "dry_run": run.dry_run,
        "status": run.status,
        "total_rows": run.total_rows,
        "processed_rows": run.processed_rows,
        "counts": run.counts,
        "error": run.error,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "user_id": run.user_id,
    }
    if with_report:
        result["report"] = run.report
    return result


def _preset_dict(preset: ImportPreset) -> dict[str, Any]:
    return {
        "id": preset.id,
        "name": preset.name,
        "format": preset.format,
        "mapping": preset.mapping,
        "owner_id": preset.owner_id,
    }
