"""Caller lookup: how long ``ClientService.find_by_phone`` takes on a big base.

This is the lookup telephony runs when the phone rings (the card pops after it), so
its tail matters more than its mean. ``--lookups`` numbers are asked one after
another through the service, as the call service does: half are numbers in the base
(drawn at random from ``phones``: mobiles, city numbers, switchboard numbers shared
by many contacts through extensions), half are valid mobile numbers that are not in
it. Each call is timed around ``find_by_phone`` alone: a pooled session, the phone
query and the responsible-manager query. ``--warmup`` lookups run first, untimed.

Run: ``.venv/bin/python bench/clients_lookup.py`` (the cached 1M-contact base, see
``bench/_clientbase.py``; the first run generates it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import _clientbase as cb
import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from callcenter.clients.service import ClientService
from callcenter.db import create_engine, create_session_factory


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=2000, help="timed lookups")
    parser.add_argument("--warmup", type=int, default=200, help="untimed lookups first")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="lookups in flight at once (default 1: one ringing call at a time)",
    )
    cb.add_arguments(parser)
    args = parser.parse_args()
    if args.lookups < 2 or args.warmup < 0 or args.concurrency < 1:
        parser.error("--lookups >= 2, --warmup >= 0, --concurrency >= 1")
    return args


async def numbers(dsn: str, count: int, seed: int) -> tuple[list[str], list[str]]:
    """``count`` numbers in the base and ``count`` valid mobiles that are not."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval("SELECT max(id) FROM phones")
        ids = rng.sample(range(1, total + 1), count)
        present = [
            r["e164"]
            for r in await conn.fetch(
                "SELECT e164 FROM phones WHERE id = ANY($1::int[])", ids
            )
        ]
        absent: list[str] = []
        while len(absent) < count:
            draw = [f"79{rng.randrange(10**9):09d}" for _ in range(count)]
            known = {
                r["e164"]
                for r in await conn.fetch(
                    "SELECT e164 FROM phones WHERE e164 = ANY($1::text[])", draw
                )
            }
            absent += [n for n in draw if n not in known][: count - len(absent)]
        shared = await conn.fetchval(
            "SELECT count(*) FROM (SELECT e164 FROM phones WHERE e164 = ANY($1::text[]) "
            "GROUP BY e164 HAVING count(*) > 1) s",
            present,
        )
    finally:
        await conn.close()
    print(
        f"numbers: {len(present)} in the base ({shared} of them shared by several "
        f"rows: switchboard + extensions), {len(absent)} not in it"
    )
    return present, absent


PHONE_SQL = (
    "SELECT phones.company_id, phones.contact_id, contacts.company_id "
    "FROM phones LEFT OUTER JOIN contacts ON contacts.id = phones.contact_id "
    "WHERE phones.e164 = $1 "
    "ORDER BY phones.contact_id IS NULL, phones.id LIMIT 1"
)
RESPONSIBLE_SQL = "SELECT responsible_id FROM companies WHERE id = $1"


async def bare(dsn: str, work: list[tuple[str, bool]]) -> list[float]:
    """The service's two queries on one plain asyncpg connection (prepared): what
    the database and the driver cost, without the session, the pool and the ORM."""
    conn = await asyncpg.connect(dsn)
    try:
        phone = await conn.prepare(PHONE_SQL)
        responsible = await conn.prepare(RESPONSIBLE_SQL)
        times = []
        for number, _ in work:
            started = time.perf_counter()
            row = await phone.fetchrow(number)
            if row is not None and (row[0] or row[2]):
                await responsible.fetchval(row[0] or row[2])
            times.append(time.perf_counter() - started)
        return times
    finally:
        await conn.close()


async def no_ping(url: str, work: list[tuple[str, bool]]) -> list[float]:
    """find_by_phone on an engine like ``callcenter.db.create_engine`` builds, but
    without ``pool_pre_ping``: how much of the service's time is the ping."""
    engine = create_async_engine(url, pool_size=2, max_overflow=10)
    service = ClientService(create_session_factory(engine))
    try:
        times = []
        for number, _ in work:
            started = time.perf_counter()
            await service.find_by_phone(number)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await engine.dispose()


async def explain(dsn: str, e164: str) -> None:
    """The plan of the service's phone query for one number, as the service sends it."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + PHONE_SQL, e164)
    finally:
        await conn.close()
    print(f"EXPLAIN ANALYZE of the phone query for {e164}:")
    for row in rows:
        print("   ", row[0])


async def bench(args: argparse.Namespace) -> None:
    async with cb.clientbase(args) as base:
        print(await cb.server_line(base.dsn))
        present, absent = await numbers(
            base.dsn, (args.lookups + args.warmup) // 2, args.seed
        )
        engine = create_engine(base.url, pool_size=max(args.concurrency, 2))
        service = ClientService(create_session_factory(engine))
        try:
            work = [(n, True) for n in present] + [(n, False) for n in absent]
            random.Random(args.seed + 1).shuffle(work)
            warm, timed = work[: args.warmup], work[args.warmup :]
            for number, _ in warm:
                await service.find_by_phone(number)

            results: list[tuple[bool, float, bool]] = []
            gate = asyncio.Semaphore(args.concurrency)

            async def one(number: str, known: bool) -> None:
                async with gate:
                    started = time.perf_counter()
                    match = await service.find_by_phone(number)
                    results.append(
                        (known, time.perf_counter() - started, match is not None)
                    )

            wall = time.perf_counter()
            await asyncio.gather(*(one(n, k) for n, k in timed))
            wall = time.perf_counter() - wall
        finally:
            await engine.dispose()

        hits = [t for known, t, _ in results if known]
        misses = [t for known, t, _ in results if not known]
        wrong = sum(1 for known, _, found in results if known != found)
        print(
            f"find_by_phone, {len(results)} lookups, concurrency {args.concurrency}, "
            f"{len(results) / wall:.0f} lookups/s overall:"
        )
        print(cb.latency_line("all", [t for _, t, _ in results]))
        print(cb.latency_line("number in the base", hits))
        print(cb.latency_line("number not in the base", misses))
        print(f"answers that disagree with the base: {wrong}")
        print(
            cb.latency_line("same SQL, bare asyncpg", await bare(base.dsn, timed))
            + "  (baseline: no session, pool or ORM)"
        )
        print(
            cb.latency_line("service, no pool_pre_ping", await no_ping(base.url, timed))
            + "  (diagnostic engine: the product's minus the ping per checkout)"
        )
        await explain(base.dsn, present[0])


def main() -> None:
    args = parse_args()
    cb.header()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
