"""Search-as-you-type: p50/p99 of ``ClientSearch.search`` on the 1M-contact base.

A person looking for a client types a few letters of a name and the list answers
after each keystroke. This replays that: for random companies and contact persons of
the base, the prefixes of their ``name_key`` of 2, 3, ... 8 letters are searched one
after another (each a search of its own, as the panel sends them); in ``--typos``
of the sequences one letter of the prefix is wrong from the fourth letter on. Phones
are typed the Russian way ("8 916 123 45 67", growing from 5 digits to the whole
number), INNs digit by digit from 5 digits to the whole INN. Each search is timed
around ``ClientSearch.search`` (a session from the pool, the lookups, the phones of
the hits), as the web route calls it.

The searches run as an admin (the whole base visible) and, with ``--as-manager``, as
a manager too (visibility rule: the companies they are responsible for, ~1/24 of
the base). Printed per kind of text and prefix length: p50/p90/p99/max, how many
searches came back ``partial`` (a lookup hit the module's statement timeout), and
for whole INNs/phones and full names whether the wanted record was among the hits.

``callcenter/clients/search.py`` exists since this benchmark was written; were it
missing, this script would fail at the import rather than measure something else.

Run: ``.venv/bin/python bench/clients_search.py``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import time
from typing import Any

import _clientbase as cb
import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

from callcenter.clients import search as search_module
from callcenter.clients.search import ClientSearch, read_query
from callcenter.db import create_engine, create_session_factory
from callcenter.users.models import Role
from callcenter.users.service import UserView

RU = "абвгдежзийклмнопрстуфхцчшщыэюя"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--names", type=int, default=150, help="company names typed (2..8 letters each)"
    )
    parser.add_argument(
        "--people", type=int, default=100, help="contact surnames typed (2..8 letters)"
    )
    parser.add_argument("--phones", type=int, default=60, help="phone numbers typed")
    parser.add_argument("--inns", type=int, default=60, help="INNs typed")
    parser.add_argument(
        "--typos", type=float, default=0.25, help="share of name sequences with a typo"
    )
    parser.add_argument("--as-manager", action="store_true", help="also as a manager")
    parser.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="TEXT",
        help="EXPLAIN ANALYZE every lookup the search runs for TEXT, as an admin "
        "(repeatable); with --explain-only nothing is timed",
    )
    parser.add_argument("--explain-only", action="store_true")
    parser.add_argument("--warmup", type=int, default=50, help="untimed searches first")
    cb.add_arguments(parser)
    return parser.parse_args()


async def workload(dsn: str, args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(kind, text, wanted id or None) in typing order."""
    rng = random.Random(args.seed + 3)
    conn = await asyncpg.connect(dsn)
    try:
        top = await conn.fetchval("SELECT max(id) FROM companies")
        companies = await conn.fetch(
            "SELECT id, name_key, inn FROM companies WHERE id = ANY($1::int[])",
            rng.sample(range(1, top + 1), args.names + args.inns * 2),
        )
        top = await conn.fetchval("SELECT max(id) FROM contacts")
        people = await conn.fetch(
            "SELECT id, last_name FROM contacts WHERE id = ANY($1::int[])",
            rng.sample(range(1, top + 1), args.people),
        )
        top = await conn.fetchval("SELECT max(id) FROM phones")
        phones = await conn.fetch(
            "SELECT e164, company_id, contact_id FROM phones WHERE id = ANY($1::int[])",
            rng.sample(range(1, top + 1), args.phones),
        )
    finally:
        await conn.close()

    work: list[tuple[str, str, Any]] = []

    def type_name(kind: str, key: str, wanted: int) -> None:
        typo_at = rng.random() < args.typos
        label = f"{kind}+typo" if typo_at else kind
        typed = key
        if typo_at and len(key) >= 4 and key[3] != " ":
            # The fourth letter is wrong: prefixes of 2-3 letters are still right.
            typed = key[:3] + rng.choice([c for c in RU if c != key[3]]) + key[4:]
        for n in range(2, min(8, len(typed)) + 1):
            work.append((f"{label} {n}", typed[:n], None))
        if len(typed) > 8:
            work.append((f"{label} whole", typed, wanted))

    for row in companies[: args.names]:
        type_name("company", row["name_key"], row["id"])
    for row in people:
        type_name("surname", row["last_name"].lower(), None)
    for row in phones:
        national = row["e164"][1:]
        typed = f"8 {national[:3]} {national[3:6]} {national[6:8]} {national[8:]}"
        digits = 0
        for i, char in enumerate(typed):
            digits += char.isdigit()
            if (
                char.isdigit()
                and 5 <= digits < 11
                and i + 1 < len(typed)
                and typed[i + 1] == " "
            ):
                work.append(("phone prefix", typed[: i + 1], None))
        work.append(("phone whole", typed, row["company_id"] or row["contact_id"]))
    inns = [r for r in companies[args.names :] if r["inn"]][: args.inns]
    for row in inns:
        for n in range(5, len(row["inn"]), 2):
            work.append(("INN prefix", row["inn"][:n], None))
        work.append(("INN whole", row["inn"], row["id"]))
    return work


async def run(
    search: ClientSearch, user: UserView, work: list[tuple[str, str, Any]], warmup: int
) -> dict[str, Any]:
    for _, text, _ in work[:warmup]:
        await search.search(text, user)
    times: dict[str, list[float]] = collections.defaultdict(list)
    partial: collections.Counter[str] = collections.Counter()
    found: collections.Counter[str] = collections.Counter()
    wanted_count: collections.Counter[str] = collections.Counter()
    slow: list[tuple[float, str, str]] = []
    for kind, text, wanted in work:
        started = time.perf_counter()
        results = await search.search(text, user)
        elapsed = time.perf_counter() - started
        group = kind.split()[0]
        times[kind].append(elapsed)
        times[f"= {group}, all"].append(elapsed)
        times["= everything"].append(elapsed)
        if results.partial:
            partial[kind] += 1
            partial[f"= {group}, all"] += 1
            partial["= everything"] += 1
        if wanted is not None:
            wanted_count[kind] += 1
            ids = {h.id for h in results.companies} | {h.id for h in results.contacts}
            found[kind] += wanted in ids
        slow.append((elapsed, kind, text))
    return {
        "times": times,
        "partial": partial,
        "found": found,
        "wanted": wanted_count,
        "slow": slow,
    }


def report(label: str, result: dict[str, Any], *, show_found: bool = True) -> None:
    print(f"\n{label}")
    print(
        f"{'text typed':<28} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}  partial  found"
    )
    for kind in sorted(result["times"], key=_order):
        values = [t * 1000 for t in result["times"][kind]]
        wanted = result["wanted"].get(kind)
        found = f"{result['found'][kind]}/{wanted}" if wanted and show_found else ""
        print(
            f"{kind:<28} {len(values):>5} {cb.percentile(values, 0.5):>8.1f} "
            f"{cb.percentile(values, 0.9):>8.1f} {cb.percentile(values, 0.99):>8.1f} "
            f"{max(values):>8.1f}  {result['partial'].get(kind, 0):>7}  {found}"
        )
    print("slowest searches:")
    for elapsed, kind, text in sorted(result["slow"], reverse=True)[:8]:
        print(f"  {elapsed * 1000:8.1f} ms  {kind:<18} {text!r}")


def _order(kind: str) -> tuple[int, str, int]:
    head, _, tail = kind.rpartition(" ")
    if kind.startswith("="):
        return (1, kind, 0)
    if tail.isdigit():
        return (0, head, int(tail))
    return (0, kind, 99)


async def explain(dsn: str, raw: str, user: UserView) -> None:
    """The plans of the lookups ``search_clients`` sends for ``raw``, with the
    module's thresholds (statements built by its own private builders)."""
    query = read_query(raw)
    statements = [
        statement
        for builder in (
            search_module._company_identifiers,
            search_module._contact_identifiers,
            search_module._company_names,
            search_module._contact_names,
            search_module._equipment_models,
        )
        for statement, *_ in builder(query, user, 10)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"SET pg_trgm.similarity_threshold = {search_module.SIMILARITY_THRESHOLD};"
            " SET pg_trgm.word_similarity_threshold = "
            f"{search_module.WORD_SIMILARITY_THRESHOLD}; SET statement_timeout = 60000"
        )
        for statement in statements:
            sql = str(
                statement.compile(
                    dialect=pg_asyncpg.dialect(), compile_kwargs={"literal_binds": True}
                )
            )
            print(
                f"\nEXPLAIN (ANALYZE, BUFFERS) for {raw!r}:\n    {' '.join(sql.split())[:400]}"
            )
            try:
                for (line,) in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql):
                    print("   ", line)
            except asyncpg.QueryCanceledError:
                print("    (over 60 s)")
    finally:
        await conn.close()


async def bench(args: argparse.Namespace) -> None:
    async with cb.clientbase(args) as base:
        print(await cb.server_line(base.dsn))
        admin = UserView(0, "bench-admin", "Админ", Role.ADMIN, "ru", ())
        for raw in args.explain:
            await explain(base.dsn, raw, admin)
        if args.explain_only:
            return
        work = await workload(base.dsn, args)
        print(f"searches: {len(work)} (+{args.warmup} warm-up), one at a time")
        conn = await asyncpg.connect(base.dsn)
        try:
            manager_id = await conn.fetchval(
                "SELECT id FROM users WHERE login = 'bench-manager-1'"
            )
        finally:
            await conn.close()

        engine = create_engine(base.url, pool_size=2)
        try:
            search = ClientSearch(create_session_factory(engine))
            report(
                "as an admin (whole base):", await run(search, admin, work, args.warmup)
            )
            if args.as_manager:
                manager = UserView(
                    manager_id, "bench-manager-1", "Менеджер 1", Role.MANAGER, "ru", ()
                )
                report(
                    "as a manager (own companies only; the wanted records are mostly"
                    " not theirs, so 'found' is not shown):",
                    await run(search, manager, work, args.warmup),
                    show_found=False,
                )
        finally:
            await engine.dispose()


def main() -> None:
    args = parse_args()
    cb.header()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
