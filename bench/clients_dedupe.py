"""Whole-base duplicate scan: seconds per scan, and whether it finds what was planted.

The generated base (``bench/_clientbase.py``) holds ``--planted`` companies that are
second cards of existing ones, sharing exactly one signal each: the INN, the work
phone, or the name with one typo. Everything else in the base has its own INN, phones,
e-mail domain and ``name_key``, so a planted pair is a duplicate the scan should find
and any other pair it reports is either a real near-namesake ("Сибпромснаб" and
"Сибпромснаб-М") or noise.

Timed, each on a fresh pooled session (what the duplicates page calls):

* ``scan_company_duplicates(user=None, limit=50)``: the first page of the whole base;
* ``scan_contact_duplicates(user=None, limit=50)``: the same for contact persons;
* the full list of company pairs, to compare with the planted ones. The public
  function pages (at most 500 pairs a call, and every call runs the whole scan), so
  the list is read in one query built by the module's own ``_company_pairs(None)``:
  the same SQL, without the page.

``--explain`` adds ``EXPLAIN (ANALYZE, BUFFERS)`` of the full company pair query.
Every query has a ``--timeout`` (``statement_timeout``), so the script always ends.

Run: ``.venv/bin/python bench/clients_dedupe.py``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from typing import Any

import _clientbase as cb
import asyncpg
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clients import dedupe
from callcenter.db import create_engine, create_session_factory


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200,
        help="statement_timeout for each scan query, seconds",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also EXPLAIN ANALYZE the full company pair query (runs it once more)",
    )
    parser.add_argument(
        "--skip-contacts", action="store_true", help="do not time the contact scan"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="diagnose the name self-join: time it on the first N and 2N companies, "
        "as the module writes it and as a per-row trigram index probe",
    )
    parser.add_argument(
        "--skip-scans",
        action="store_true",
        help="time nothing (with --explain: only the plans)",
    )
    cb.add_arguments(parser)
    return parser.parse_args()


async def _module_threshold(session: AsyncSession) -> None:
    """The module's own transaction setup, whichever it has (``_set_threshold``
    in older versions, ``_tune_scan`` in newer ones)."""
    for name in ("_set_threshold", "_tune_scan"):
        setup = getattr(dedupe, name, None)
        if setup is not None:
            await setup(session)


async def _limit(session: AsyncSession, seconds: float) -> None:
    await session.execute(text(f"SET statement_timeout = {int(seconds * 1000)}"))


async def timed(label: str, coro: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        result = await coro
    except Exception as error:  # a timeout is a figure too
        elapsed = time.perf_counter() - started
        print(
            f"{label}: FAILED after {elapsed:.1f} s: {type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}",
            flush=True,
        )
        return None, elapsed
    elapsed = time.perf_counter() - started
    return result, elapsed


async def planted_similarity(dsn: str, planted: list[tuple[int, int, str]]) -> None:
    """How similar the planted typo pairs' name_keys are, by pg_trgm's measure."""
    typos = [(a, b) for a, b, kind in planted if kind == "typo"]
    conn = await asyncpg.connect(dsn)
    try:
        values = await conn.fetch(
            """
            SELECT similarity(a.name_key, b.name_key) AS s
            FROM unnest($1::int[], $2::int[]) AS p(a_id, b_id)
            JOIN companies a ON a.id = p.a_id JOIN companies b ON b.id = p.b_id
            ORDER BY s
            """,
            [a for a, _ in typos],
            [b for _, b in typos],
        )
    finally:
        await conn.close()
    scores = [float(r["s"]) for r in values]
    below = sum(1 for s in scores if s < dedupe.NAME_SIMILARITY)
    print(
        f"planted typo pairs: name_key similarity min {scores[0]:.2f}, "
        f"median {cb.percentile(scores, 0.5):.2f}, max {scores[-1]:.2f}; "
        f"{below} of {len(scores)} below the scan's threshold "
        f"{dedupe.NAME_SIMILARITY} (unfindable by name)"
    )


async def bench(args: argparse.Namespace) -> None:
    async with cb.clientbase(args) as base:
        print(await cb.server_line(base.dsn))
        engine = create_engine(base.url, pool_size=2)
        sessions = create_session_factory(engine)
        try:
            await run_scans(args, base, sessions)
        finally:
            await engine.dispose()
        await planted_similarity(base.dsn, base.planted)
        if args.sample:
            await name_join_sample(base.dsn, args.sample, args.timeout)


async def run_scans(
    args: argparse.Namespace, base: cb.ClientBase, sessions: Any
) -> None:
    async def company_page() -> Any:
        async with sessions() as session:
            await _limit(session, args.timeout)
            return await dedupe.scan_company_duplicates(session, user=None, limit=50)

    async def contact_page() -> Any:
        async with sessions() as session:
            await _limit(session, args.timeout)
            return await dedupe.scan_contact_duplicates(session, user=None, limit=50)

    pairs_query = select(*_pair_columns(dedupe._company_pairs(None)))

    async def all_pairs() -> list[Any]:
        async with sessions() as session:
            await _limit(session, args.timeout)
            await _module_threshold(session)
            return list((await session.execute(pairs_query)).all())

    if args.skip_scans:
        if args.explain:
            await explain(sessions, pairs_query, args.timeout)
        return

    page, seconds = await timed("company scan", company_page())
    company_failed = page is None
    if page is not None:
        print(
            f"scan_company_duplicates (whole base, first page of 50): {seconds:.1f} s, "
            f"total pairs reported {page.total:,}",
            flush=True,
        )

    if not args.skip_contacts:
        page, seconds = await timed("contact scan", contact_page())
        if page is not None:
            print(
                f"scan_contact_duplicates (whole base, first page of 50): "
                f"{seconds:.1f} s, total pairs reported {page.total:,}",
                flush=True,
            )

    if company_failed:
        print(
            "full company pair list: skipped (the same query as the page, which failed)"
        )
        rows = None
    else:
        rows, seconds = await timed("full company pair list", all_pairs())
    if rows is not None:
        print(
            f"full company pair list (one query): {seconds:.1f} s, {len(rows):,} pairs"
        )
        compare(rows, base.planted)

    if args.explain:
        await explain(sessions, pairs_query, args.timeout)


# The name part of ``_company_pairs`` on a prefix of the table: a self-join of the
# materialized ``alive`` CTE on ``%`` (what the module generates).
NAME_JOIN_AS_WRITTEN = """
WITH alive AS MATERIALIZED (
    SELECT id, inn, name_key FROM companies
    WHERE merged_into_id IS NULL AND id <= $1)
SELECT count(*) FROM alive a JOIN alive b
    ON a.name_key % b.name_key AND b.id > a.id
WHERE a.name_key <> '' AND (a.inn IS NULL OR b.inn IS NULL OR a.inn = b.inn)
"""
# The same pairs found by probing the trigram GIN index of ``companies`` once per row.
NAME_JOIN_INDEX_PROBE = """
SELECT count(*) FROM companies a
CROSS JOIN LATERAL (
    SELECT b.id FROM companies b
    WHERE b.name_key % a.name_key AND b.id > a.id AND b.merged_into_id IS NULL
      AND (a.inn IS NULL OR b.inn IS NULL OR a.inn = b.inn)) b
WHERE a.id <= $1 AND a.merged_into_id IS NULL AND a.name_key <> ''
"""


async def name_join_sample(dsn: str, n: int, timeout: float) -> None:
    """Time both forms of the name join on n and 2n companies, and extrapolate."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
        await conn.execute(
            f"SET pg_trgm.similarity_threshold = {dedupe.NAME_SIMILARITY}"
        )
        total = await conn.fetchval(
            "SELECT count(*) FROM companies WHERE merged_into_id IS NULL"
        )
        print(f"name self-join on the first N companies (of {total:,}):")
        for label, sql, power in (
            ("as written (CTE x CTE, % as join filter)", NAME_JOIN_AS_WRITTEN, 2),
            ("per-row GIN index probe (LATERAL)", NAME_JOIN_INDEX_PROBE, 1),
        ):
            for size in (n, 2 * n):
                started = time.perf_counter()
                try:
                    pairs = await conn.fetchval(sql, size)
                except asyncpg.QueryCanceledError:
                    print(f"  {label}: N={size:,} timed out")
                    break
                seconds = time.perf_counter() - started
                whole = seconds * (total / size) ** power
                print(
                    f"  {label}: N={size:,} {seconds:.1f} s, {pairs} pairs; "
                    f"scaled to the whole base (x N^{power}): {whole:,.0f} s"
                )
        plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + NAME_JOIN_INDEX_PROBE, n
        )
        print(f"  EXPLAIN ANALYZE of the index probe, N={n:,}:")
        for (line,) in plan:
            print("     ", line)
    finally:
        await conn.close()


def _pair_columns(pairs: Any) -> list[Any]:
    return [pairs.c.a_id, pairs.c.b_id, pairs.c.reasons, pairs.c.similarity]


def compare(rows: list[Any], planted: list[tuple[int, int, str]]) -> None:
    found = {(min(r.a_id, r.b_id), max(r.a_id, r.b_id)): list(r.reasons) for r in rows}
    by_kind: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    planted_keys = set()
    for a, b, kind in planted:
        key = (min(a, b), max(a, b))
        planted_keys.add(key)
        by_kind[kind][1] += 1
        if key in found:
            by_kind[kind][0] += 1
    hits = sum(v[0] for v in by_kind.values())
    print(f"planted duplicates found: {hits} of {len(planted)}")
    for kind, (hit, total) in sorted(by_kind.items()):
        print(f"  {kind:<6} {hit:>5} of {total}")
    extra = collections.Counter(
        "+".join(sorted(reasons))
        for key, reasons in found.items()
        if key not in planted_keys
    )
    print(
        f"other pairs reported (not planted): {sum(extra.values()):,}"
        + "".join(f"; {reason} {count:,}" for reason, count in extra.most_common(6))
    )


async def explain(sessions: Any, query: Any, timeout: float) -> None:
    """The plan of the full pair query: estimated first, then with ANALYZE."""
    sql = str(
        query.compile(
            dialect=pg_asyncpg.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    for options in ("", "(ANALYZE, BUFFERS) "):
        async with sessions() as session:
            await _limit(session, timeout)
            await _module_threshold(session)
            connection = await session.connection()
            started = time.perf_counter()
            try:
                plan = await connection.exec_driver_sql(f"EXPLAIN {options}{sql}")
            except Exception as error:
                print(
                    f"EXPLAIN {options}failed after {time.perf_counter() - started:.0f} s:"
                    f" {type(error).__name__}: {str(error).splitlines()[0][:200]}"
                )
                continue
            print(f"EXPLAIN {options}of the full company pair query:")
            for (line,) in plan:
                print("   ", line)


def main() -> None:
    args = parse_args()
    cb.header()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
