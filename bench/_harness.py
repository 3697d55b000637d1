"""What both benchmarks need: a database, the service on loopback, a child process.

The service runs exactly as ``web.app.create_app`` builds it, behind a real aiohttp
runner on 127.0.0.1; only the AMI peer and the browsers live elsewhere. The AMI
simulator (and, for the pop benchmark, the websocket tabs) run in a child process so
that their CPU is not charged to the service's event loop: on a real site Asterisk
and the browsers are other machines. Both processes stamp times with
``time.monotonic()``, which on Linux is one clock for the whole machine, so stamps
taken in the child and in the service can be subtracted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import multiprocessing.process
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

from ami.simulator.scenarios import OriginateInfo
from callcenter.users.errors import ExtensionTaken, UserAlreadyExists
from callcenter.users.models import Role
from config.database import start_embedded, stop_embedded
from config.logging import setup_logging
from config.settings import Settings
from web.app import create_app
from web.keys import SERVICES, Services

PASSWORD = "bench-password-1"

# The traffic mix of ami/simulator/traffic.py (kind, weight); kept in step by hand.
MIX: tuple[tuple[str, int], ...] = (
    ("outbound", 40),
    ("answered", 25),
    ("queue", 15),
    ("missed", 10),
    ("transfer", 10),
)
CALLER_NAMES = ("Иван Петров", "Анна Смирнова", "Сергей Кузнецов", "Ольга Иванова")


# -- output ------------------------------------------------------------------------


def command_line() -> str:
    return shlex.join([Path(sys.executable).name, *sys.argv])


def machine_line() -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, load average {load}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(headers[i]), *(len(row[i]) for row in cells))
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        first, *rest = values
        return "  ".join(
            [
                first.ljust(widths[0]),
                *(v.rjust(w) for v, w in zip(rest, widths[1:], strict=True)),
            ]
        )

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print(line(row))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> list[str]:
    """p50, p90, p99, max and mean of seconds, rendered in milliseconds."""
    if not values:
        return ["-"] * 5
    figures = [
        percentile(values, 0.50),
        percentile(values, 0.90),
        percentile(values, 0.99),
        max(values),
        statistics.fmean(values),
    ]
    return [f"{value * 1000:.1f}" for value in figures]


class Budget:
    """The run's wall-clock budget, a progress line per phase, and a last resort.

    The scripts fit their waits into the budget. What they cannot bound is the
    service's own shutdown once it has fallen far behind, so a watchdog thread ends
    the process ``grace`` seconds after the budget: it kills the child, stops the
    embedded PostgreSQL, removes the scratch folder and exits with status 3.
    """

    def __init__(self, seconds: float, grace: float = 10.0) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self._watchdog = threading.Timer(seconds + grace, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.seconds - self.elapsed

    def phase(self, text: str) -> None:
        print(f"[{self.elapsed:6.1f}s] {text}", flush=True)

    def check(self, needed: float, doing: str) -> None:
        """Give up before ``doing`` if less than ``needed`` seconds are left."""
        if self.left() < needed:
            raise BudgetExhausted(
                f"{self.elapsed:.0f}s of the {self.seconds:.0f}s budget are gone"
                f" before {doing}; the machine is too busy (see the load average)"
            )

    def _expire(self) -> None:
        self.phase("budget exhausted while stopping; forcing the exit")
        for process in _CHILDREN:
            if process.is_alive():
                process.kill()
        for pg_dir, scratch in _WORKSPACES:
            if pg_dir is not None:
                with contextlib.suppress(Exception):
                    stop_embedded(pg_dir)
            shutil.rmtree(scratch, ignore_errors=True)
        sys.stdout.flush()
        os._exit(3)


# What the watchdog must clean up if the run overstays its budget.
_CHILDREN: list[multiprocessing.process.BaseProcess] = []
_WORKSPACES: list[tuple[Path | None, Path]] = []


class BudgetExhausted(RuntimeError):
    """Setup took so long that the measurement would not fit in the budget."""


def run_bounded(main: Callable[[], Any]) -> Any:
    """asyncio.run(main()), with SIGTERM cancelling it like Ctrl-C does, so that the
    embedded server is stopped and the scratch folder removed either way."""

    async def guarded() -> Any:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main()

    return asyncio.run(guarded())


# -- logging -------------------------------------------------------------------------


class WarningCounter(logging.Handler):
    """Counts the service's warnings and errors by logger and message template."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.examples: dict[tuple[str, str, str], str] = {}
        self._window: collections.Counter[tuple[str, str, str]] | None = None

    def end_of_measurement(self) -> None:
        """What was logged from here on is teardown, reported apart."""
        self._window = collections.Counter(self.counts)

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.levelname, record.name, str(record.msg))
        self.counts[key] += 1
        if key not in self.examples:
            try:
                text = record.getMessage()
            except (TypeError, ValueError):
                text = str(record.msg)
            if record.exc_info and record.exc_info[1] is not None:
                text += f" [{type(record.exc_info[1]).__name__}]"
            self.examples[key] = text

    def print_summary(self) -> None:
        window = self._window if self._window is not None else self.counts
        self._print("while measuring", window)
        if self._window is not None:
            self._print("during teardown", self.counts - self._window)

    def _print(self, when: str, counts: collections.Counter[Any]) -> None:
        if not counts:
            print(f"service log {when}: no warnings or errors")
            return
        print(f"service log {when}, warnings and errors (count, level, logger: first):")
        for key, count in counts.most_common(12):
            level, name, _ = key
            example = " ".join(self.examples[key].split())
            if len(example) > 400:
                example = example[:400] + "..."
            print(f"  {count:6d}  {level:7s} {name}: {example}")


def setup_bench_logging(console_level: str) -> WarningCounter:
    """The service's logging setup; the console shows ``console_level`` and up,
    while warnings are counted for the summary instead of flooding the figures."""
    setup_logging("WARNING" if console_level.upper() != "DEBUG" else "DEBUG")
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(console_level.upper())
    counter = WarningCounter()
    root.addHandler(counter)
    return counter


def end_of_measurement() -> None:
    """Tell the warning counter that what follows is teardown."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, WarningCounter):
            handler.end_of_measurement()


# -- database ------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    url: str
    # Scratch folder for recordings, captures and the service's data dir.
    scratch: Path
    # The embedded server's data folder; None when --database-url was given.
    pgdata: Path | None


@contextlib.asynccontextmanager
async def workspace(url: str | None) -> AsyncIterator[Workspace]:
    """The given database, or an embedded PostgreSQL in a temp dir removed on exit."""
    scratch = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    # The embedded server runs as an unprivileged user when we are root.
    os.chmod(scratch, 0o755)
    pg_dir = scratch / "pg" if url is None else None
    _WORKSPACES.append((pg_dir, scratch))
    try:
        if pg_dir is None:
            assert url is not None
            yield Workspace(url, scratch, None)
            return

        url = await asyncio.to_thread(start_embedded, pg_dir)
        try:
            yield Workspace(url, scratch, pg_dir / "pgdata")
        finally:
            await asyncio.to_thread(stop_embedded, pg_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _WORKSPACES.remove((pg_dir, scratch))


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy's ``postgresql+asyncpg://`` URL as a DSN asyncpg accepts."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


# -- CPU accounting -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name, which may contain spaces.
    return text[text.rindex(")") + 2 :].split()


def process_cpu(pid: int, *, reaped_children: bool = False) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 of stat(5): 11-14 here.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def postgres_cpu(pgdata: Path | None) -> float | None:
    """CPU seconds of an embedded server: the postmaster, its live backends, and
    (through the postmaster's child counters) the backends that already exited."""
    if pgdata is None:
        return None
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None

    total = process_cpu(postmaster, reaped_children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == postmaster:
                total += process_cpu(int(entry.name))
    return total


def loop_thread_times() -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of this thread.

    From /proc/<pid>/schedstat, which describes the main thread: the event loop.
    """
    try:
        fields = Path(f"/proc/{os.getpid()}/schedstat").read_text().split()
    except OSError:
        return 0.0, 0.0
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


class CpuMeter:
    """CPU seconds used by the service, the child and PostgreSQL between two marks,
    and how the service's event-loop thread spent the wall time."""

    _KEYS = ("service", "child", "postgres", "loop_cpu", "loop_wait", "wall")

    def __init__(self, child_pid: int, pgdata: Path | None) -> None:
        self._child_pid, self._pgdata = child_pid, pgdata
        self._start: tuple[float | None, ...] | None = None
        self.used: dict[str, float | None] = {}

    def _read(self) -> tuple[float | None, ...]:
        return (
            process_cpu(os.getpid()),
            process_cpu(self._child_pid),
            postgres_cpu(self._pgdata),
            *loop_thread_times(),
            time.monotonic(),
        )

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> None:
        assert self._start is not None
        end = self._read()
        self.used = {
            key: (b - a) if a is not None and b is not None else None
            for key, a, b in zip(self._KEYS, self._start, end, strict=True)
        }

    def loop_line(self) -> str:
        wall = self.used.get("wall") or 0.0
        running = self.used.get("loop_cpu") or 0.0
        waiting = self.used.get("loop_wait") or 0.0
        idle = max(0.0, wall - running - waiting)
        return (
            f"service event-loop thread over {wall:.1f}s: running {running / wall:.0%},"
            f" runnable but waiting for a CPU {waiting / wall:.0%},"
            f" idle (waiting for I/O) {idle / wall:.0%}"
        )

    def line(self, child_name: str) -> str:
        wall = self.used.get("wall") or 0.0
        parts = []
        for name, label in (
            ("service", "service process"),
            ("child", child_name),
            ("postgres", "PostgreSQL"),
        ):
            value = self.used.get(name)
            if value is None:
                parts.append(f"{label} n/a")
            else:
                parts.append(f"{label} {value:.1f}s ({value / wall:.0%} of a core)")
        return f"CPU over {wall:.1f}s wall: " + ", ".join(parts)


# -- the service ---------------------------------------------------------------------


def bench_settings(scratch: Path, ami_port: int, **overrides: Any) -> Settings:
    recordings = scratch / "recordings"
    recordings.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "data_dir": scratch / "var",
        "recordings_dir": recordings,
        "ami_host": "127.0.0.1",
        "ami_port": ami_port,
        "http_port": 0,
    }
    values.update(overrides)
    return dataclasses.replace(Settings(), **values)


@dataclass
class Service:
    runner: web.AppRunner
    port: int
    services: Services

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_service(settings: Settings, database_url: str) -> Service:
    """create_app behind a real runner on 127.0.0.1, with the AMI link logged in."""
    app = create_app(settings, database_url=database_url)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(
        int(address[1])
        for address in runner.addresses
        if isinstance(address, tuple) and len(address) >= 2
    )

    services = app[SERVICES]
    assert services.link is not None
    await services.link.wait_connected(timeout=15)
    return Service(runner=runner, port=port, services=services)


@dataclass(frozen=True)
class UserSpec:
    login: str
    role: Role
    extension: str | None = None


async def ensure_users(services: Services, specs: Sequence[UserSpec]) -> dict[str, int]:
    """Create the users that do not exist yet; return their ids by login.

    Concurrently: each creation hashes a password with Argon2 in a worker thread,
    which takes a second or more on a busy machine.
    """

    async def ensure(spec: UserSpec) -> int:
        existing = await services.users.find_user_by_login(spec.login)
        if existing is None:
            try:
                existing = await services.users.create_user(
                    login=spec.login,
                    full_name=f"Bench {spec.login}",
                    role=spec.role,
                    password=PASSWORD,
                    extensions=(spec.extension,) if spec.extension else (),
                )
            except (UserAlreadyExists, ExtensionTaken) as error:
                raise SystemExit(
                    f"cannot create bench user {spec.login}: {error}; "
                    "use an empty database"
                ) from None
        return existing.id

    ids = await asyncio.gather(*(ensure(spec) for spec in specs))
    await services.calls.refresh_extensions()
    return {spec.login: user_id for spec, user_id in zip(specs, ids, strict=True)}


# -- calls ------------------------------------------------------------------------


def random_mobile(rng: random.Random) -> str:
    return "79" + "".join(str(rng.randrange(10)) for _ in range(9))


def start_call(
    sim: Any, kind: str, extensions: Sequence[str], rng: random.Random
) -> Any:
    """Start one call of ``kind`` on the simulator; returns its Play.

    Mirrors ``ami.simulator.traffic``: outbound calls are click-to-calls placed by
    another AMI client (no CRM variables), inbound ones come from random mobiles.
    """
    number = random_mobile(rng)
    if kind == "outbound":
        info = OriginateInfo(
            action_id="",
            channel=f"PJSIP/{extensions[0]}",
            exten=number,
            context="from-internal",
            caller_name=f"Client {number}",
            caller_number=number,
            timeout_s=30.0,
            variables=(),
            application="",
            data="",
        )
        return sim.play_outbound(info, requester=None)

    caller_name = rng.choice(CALLER_NAMES) if rng.random() < 0.7 else None
    return sim.play_inbound(number, caller_name, None, tuple(extensions), kind)


# -- the child process ------------------------------------------------------------


class Child:
    """A child process talking over a pipe; the parent awaits its messages."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self.process = context.Process(
            target=target, args=(child_end, *args), daemon=True
        )
        self.process.start()
        _CHILDREN.append(self.process)
        child_end.close()
        self._closed = False

    def send(self, message: Any) -> None:
        if not self._closed:
            with contextlib.suppress(OSError):
                self._conn.send(message)

    async def recv(self, timeout: float) -> Any:
        ready = await asyncio.to_thread(self._conn.poll, timeout)
        if not ready:
            raise TimeoutError(f"child process silent for {timeout:.0f}s")
        try:
            message = self._conn.recv()
        except EOFError:
            raise RuntimeError("child process exited without an answer") from None
        if isinstance(message, dict) and "error" in message:
            raise RuntimeError(f"child process failed: {message['error']}")
        return message

    async def stop(self, timeout: float = 15) -> None:
        """Ask the child to finish, wait for it, kill it if it does not."""
        if self._closed:
            return
        self.send("stop")
        await asyncio.to_thread(self.process.join, timeout)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5)
        self._conn.close()
        self._closed = True


async def child_recv(conn: Connection, timeout: float | None = None) -> Any:
    """In the child: wait for the parent's next message without blocking the loop."""
    ready = await asyncio.to_thread(conn.poll, timeout)
    if not ready:
        raise TimeoutError("parent silent")
    return conn.recv()


def run_child(conn: Connection, main: Callable[..., Any], *args: Any) -> None:
    """Child entry point: run ``main(conn, *args)``; report a crash to the parent."""
    setup_logging("WARNING")
    try:
        asyncio.run(main(conn, *args))
    except BaseException as error:  # noqa: BLE001 - reported, then re-raised
        with contextlib.suppress(OSError):
            conn.send({"error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        conn.close()
