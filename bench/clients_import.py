"""Client import: rows per second of a 100,000-row Excel list, dry run and real run.

The file is what a sales department brings from its old spreadsheet: one row per
contact person, the company's columns repeated on each of its rows, Russian headers
("Компания", "ИНН", "Контактное лицо", "Должность", "Телефон", "E-mail"), phones
written every usual way ("8 (495) 123-45-67 доб. 12", "+7 916 ...", two numbers in
a cell). It is written with openpyxl's write-only mode and kept in ``/tmp`` for the
next run. Of its companies, ``--existing`` (a share) are companies of the base (by
INN and name) that get new contacts, the others are new; about 2% of the rows carry
a bad INN checksum or an unparseable phone and must be rejected.

The import goes through ``callcenter.imports.service.ImportService`` as the panel
drives it: ``read`` (the xlsx parse, timed apart), then ``run(..., dry_run=True)``
and ``run(..., dry_run=False)`` with the suggested column mapping, as an admin user.
Both runs happen on a throwaway copy of the cached base (``CREATE DATABASE ...
TEMPLATE``), dropped at the end, so the cache stays as generated. A run that has not
finished after ``--timeout`` seconds is cancelled; its rate so far (from the
progress callback) is printed instead.

Run: ``.venv/bin/python bench/clients_import.py``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import _clientbase as cb
import asyncpg
import openpyxl
from sqlalchemy import event

from callcenter.clients.service import ClientService
from callcenter.db import create_engine, create_session_factory
from callcenter.imports.service import ImportService
from callcenter.users.models import Role
from callcenter.users.service import UserService

HEADERS = ("Компания", "ИНН", "Контактное лицо", "Должность", "Телефон", "E-mail")
SCRATCH_DATABASE = "bench_clients_import"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=100_000, help="data rows in the file"
    )
    parser.add_argument(
        "--existing",
        type=float,
        default=0.2,
        help="share of the file's companies that are already in the base",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds allowed per run"
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="time every SQL statement (SQLAlchemy cursor events) and print the top",
    )
    parser.add_argument(
        "--only",
        choices=("dry", "real"),
        help="run only the dry run or only the real run",
    )
    cb.add_arguments(parser)
    return parser.parse_args()


# -- the file --------------------------------------------------------------------------


async def base_values(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            "inns": {
                r[0]
                for r in await conn.fetch(
                    "SELECT inn FROM companies WHERE inn IS NOT NULL"
                )
            },
            "keys": {r[0] for r in await conn.fetch("SELECT name_key FROM companies")},
            "phones": {r[0] for r in await conn.fetch("SELECT e164 FROM phones")},
            "existing": [
                (r["name"], r["inn"])
                for r in await conn.fetch(
                    "SELECT name, inn FROM companies WHERE inn IS NOT NULL "
                    "AND merged_into_id IS NULL ORDER BY id"
                )
            ],
        }
    finally:
        await conn.close()


def write_file(
    path: Path, rows: int, existing_share: float, seed: int, base: dict[str, Any]
) -> dict[str, int]:
    """Write the list; returns what was planted in it."""
    rng = random.Random(seed)
    gen = cb.Generator(cb.Params(rows, rows, 0, seed), [])
    gen.inns, gen.keys, gen.phones = base["inns"], base["keys"], base["phones"]
    gen._mobiles = iter(rng.sample(range(10**9), rows * 2))
    existing = base["existing"]
    planted = {"rows": 0, "new_companies": 0, "existing_companies": 0, "bad_rows": 0}

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Клиенты")
    sheet.append(list(HEADERS))
    while planted["rows"] < rows:
        if rng.random() < existing_share:
            name, inn = rng.choice(existing)
            company = {
                "name": name,
                "inn": inn,
                "phones": [],
                "domain": f"{cb.translit(name)[:12] or 'firma'}.ru",
            }
            people = rng.choice((1, 1, 2, 3))
            planted["existing_companies"] += 1
        else:
            draft = gen._company(rng.randrange(len(cb.REGIONS)))
            company = {
                "name": draft["row"][0],
                "inn": draft["row"][2] or "",
                "phones": [raw for _, raw in draft["phones"]],
                "domain": draft["domain"],
            }
            people = rng.choice((1, 2, 3, 4, 5, 6, 8))
            planted["new_companies"] += 1
        domain = company["domain"]
        for _ in range(min(people, rows - planted["rows"])):
            last, first, middle = gen.person()
            phones = [gen.raw_phone(gen.mobile())]
            if company["phones"] and rng.random() < 0.4:
                phones.insert(0, f"{company['phones'][0]} доб. {rng.randint(100, 999)}")
            inn = company["inn"]
            if rng.random() < 0.01:
                inn = inn[:-1] + str((int(inn[-1]) + 1) % 10) if inn else "1234567890"
                planted["bad_rows"] += 1
            elif rng.random() < 0.01:
                phones = ["12-34"]
                planted["bad_rows"] += 1
            sheet.append(
                [
                    company["name"],
                    inn,
                    " ".join(p for p in (last, first, middle) if p),
                    rng.choices(cb.POSITIONS, weights=[w for _, w in cb.POSITIONS])[0][
                        0
                    ],
                    "; ".join(phones),
                    f"{cb.translit(first)[:1]}.{cb.translit(last)}@{domain}"
                    if rng.random() < 0.8
                    else None,
                ]
            )
            planted["rows"] += 1
    book.save(path)
    return planted


# -- the runs --------------------------------------------------------------------------


class StatementTimes:
    """Wall time of each SQL statement the service sends, grouped by its text."""

    def __init__(self, engine: Any) -> None:
        self.totals: collections.Counter[str] = collections.Counter()
        self.counts: collections.Counter[str] = collections.Counter()
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_started"].pop()
        text = " ".join(statement.split())
        head, _, where = text.partition(" WHERE ")
        key = head[:70] + (" ... WHERE " + where[:90] if where else "")
        self.totals[key] += time.perf_counter() - started
        self.counts[key] += 1

    def report(self, label: str, wall: float) -> None:
        spent = sum(self.totals.values())
        print(
            f"  {label}: {sum(self.counts.values()):,} statements, {spent:.1f} s "
            f"waiting for them = {100 * spent / wall:.0f}% of the run's wall time; top:"
        )
        for key, total in self.totals.most_common(8):
            count = self.counts[key]
            print(
                f"    {total:7.1f} s {count:>8,}x {1000 * total / count:6.2f} ms  {key}"
            )
        self.totals.clear()
        self.counts.clear()


async def one_run(
    service: ImportService,
    sheet: Any,
    mapping: dict[str, str],
    user: Any,
    *,
    dry_run: bool,
    timeout: float,
    statements: StatementTimes | None,
) -> None:
    label = "dry run" if dry_run else "real run"
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()

    def progress(processed: int, total: int) -> None:
        marks.append((time.perf_counter() - started, processed))

    try:
        summary = await asyncio.wait_for(
            service.run(
                sheet,
                mapping,
                user=user,
                file_name="clients.xlsx",
                dry_run=dry_run,
                progress=progress,
            ),
            timeout,
        )
    except TimeoutError:
        seconds, processed = marks[-1] if marks else (time.perf_counter() - started, 0)
        rate = processed / seconds if seconds else 0
        print(
            f"{label}: NOT FINISHED in {timeout:.0f} s; {processed:,} of "
            f"{len(sheet.rows):,} rows done, {rate:,.0f} rows/s so far "
            f"(whole file at that rate: {len(sheet.rows) / rate / 60 if rate else 0:.0f} min)",
            flush=True,
        )
        if statements is not None:
            statements.report(label, time.perf_counter() - started)
        return
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.counts.items())
    print(
        f"{label}: {summary.total_rows:,} rows in {seconds:.1f} s = "
        f"{summary.total_rows / seconds:,.0f} rows/s ({counts})",
        flush=True,
    )
    if statements is not None:
        statements.report(label, seconds)


async def bench(args: argparse.Namespace) -> None:
    async with cb.clientbase(args) as base:
        print(await cb.server_line(base.dsn))
        path = Path(tempfile.gettempdir()) / (
            f"cc-clients-import-{args.rows}-e{args.existing:g}-s{args.seed}"
            f"-{base.params.tag}.xlsx"
        )
        if path.exists():
            print(f"file: {path} (reused, {path.stat().st_size / 1e6:.1f} MB)")
        else:
            started = time.perf_counter()
            values = await base_values(base.dsn)
            planted = await asyncio.to_thread(
                write_file, path, args.rows, args.existing, args.seed + 7, values
            )
            print(
                f"file: {path} written in {time.perf_counter() - started:.1f} s, "
                f"{path.stat().st_size / 1e6:.1f} MB: "
                + ", ".join(f"{k} {v:,}" for k, v in planted.items())
            )

        started = time.perf_counter()
        url = await cb.scratch_copy(base, SCRATCH_DATABASE)
        print(f"scratch copy of the base: {time.perf_counter() - started:.1f} s")
        engine = create_engine(url, pool_size=4)
        try:
            sessions = create_session_factory(engine)
            users = UserService(sessions, session_max_age=dt.timedelta(hours=1))
            user = await users.create_user(
                login="bench-importer",
                full_name="Импорт (бенчмарк)",
                role=Role.ADMIN,
                password="bench-password-1",
            )
            service = ImportService(sessions, ClientService(sessions))

            data = path.read_bytes()
            started = time.perf_counter()
            sheet = await service.read(data, path.name)
            seconds = time.perf_counter() - started
            print(
                f"read (xlsx parse): {len(sheet.rows):,} rows in {seconds:.1f} s = "
                f"{len(sheet.rows) / seconds:,.0f} rows/s, format {sheet.format}"
            )
            mapping = sheet.suggested_mapping()
            print(f"mapping: {mapping}", flush=True)

            statements = StatementTimes(engine) if args.statements else None
            for dry_run in (True, False):
                if args.only == ("real" if dry_run else "dry"):
                    continue
                await one_run(
                    service,
                    sheet,
                    mapping,
                    user,
                    dry_run=dry_run,
                    timeout=args.timeout,
                    statements=statements,
                )
        finally:
            await engine.dispose()
            await cb.drop_copy(base, SCRATCH_DATABASE)


def main() -> None:
    args = parse_args()
    cb.header()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
