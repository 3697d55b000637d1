"""Ingest throughput: calls and AMI events stored per second, and the parsing ceiling.

The service (``web.app.create_app`` behind a real aiohttp runner on 127.0.0.1, with
PostgreSQL) takes its AMI stream from the simulator, which runs in a child process at
speed 0 (no delays inside a call) and plays ``--calls`` calls of the traffic mix of
``ami/simulator/traffic.py``, ``--concurrency`` at a time, as fast as it can or
``--rate`` calls per second. The clock starts when the simulator is told to go. It
stops for calls when ``calls`` holds ``--calls`` rows with status ``ended``, and for
events when the ``ami_events`` count stops growing; both are polled every ``--poll``
seconds. A timeline of those polls, with the service's backlog, its live calls, its
asyncio task count and its PostgreSQL connections, shows how it got there.

A second, passive AMI session in the child records the bytes the simulator sends
(the same broadcast stream the service gets). After the service has stopped, the first
``--ceiling-messages`` of them are split and parsed again in this process with
nothing else running: the ceiling, what the AMI front end alone could take.

Run: ``.venv/bin/python bench/ingest.py --calls 2000 --concurrency 20``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import datetime as dt
import io
import pstats
import random
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import _harness as h
import asyncpg
from panoramisk.message import Message

from ami.simulator import AmiSimulator
from ami.translate import TRANSLATORS, raw_event, translate
from callcenter.calls.tracker import CallTracker, ChannelClassifier
from callcenter.users.models import Role
from config.settings import Settings
from web.keys import Services

EOM = b"\r\n\r\n"
FLUSH_ID = b"recorder-flush"
# Managers' phones; a call takes one or two of them at random (they may overlap).
EXTENSIONS = tuple(str(101 + i) for i in range(10))


# -- the child: simulator, traffic driver and byte recorder -------------------------


class Recorder(asyncio.Protocol):
    """A passive AMI session that keeps every byte the simulator sends it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.logged_in = asyncio.Event()
        self.flushed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        if not self.logged_in.is_set() and b"Authentication accepted" in self.data:
            self.logged_in.set()
        if self.data.find(FLUSH_ID, max(0, len(self.data) - len(data) - 64)) >= 0:
            self.flushed.set()


async def simulator_main(
    conn: Connection, recordings_dir: str, capture_path: str
) -> None:
    sim = AmiSimulator(
        host="127.0.0.1", port=0, speed=0, recordings_dir=Path(recordings_dir)
    )
    await sim.start()
    loop = asyncio.get_running_loop()
    transport, recorder = await loop.create_connection(Recorder, "127.0.0.1", sim.port)
    transport.write(
        b"Action: Login\r\nUsername: crm\r\nSecret: crmsecret\r\nEvents: on\r\n\r\n"
    )
    await asyncio.wait_for(recorder.logged_in.wait(), 10)
    conn.send({"port": sim.port})

    order = await h.child_recv(conn, timeout=300)
    recorder.data.clear()
    started = time.monotonic()
    kinds = await drive(sim, **order)
    generated = time.monotonic()

    # A session's output is one FIFO queue: once the Ping's answer is back, the
    # recorder holds everything that was broadcast before it.
    transport.write(b"Action: Ping\r\nActionID: " + FLUSH_ID + b"\r\n\r\n")
    await asyncio.wait_for(recorder.flushed.wait(), 120)
    cut = recorder.data.rfind(b"Response: Success\r\nActionID: " + FLUSH_ID)
    capture = bytes(recorder.data[:cut])
    await asyncio.to_thread(Path(capture_path).write_bytes, capture)
    conn.send(
        {
            "started": started,
            "generated": generated,
            "kinds": kinds,
            "bytes": len(capture),
            "messages": capture.count(EOM),
        }
    )

    await h.child_recv(conn, timeout=600)
    transport.close()
    await sim.stop()


async def drive(
    sim: AmiSimulator, *, calls: int, concurrency: int, rate: float, seed: int
) -> dict[str, int]:
    """Play ``calls`` calls of the mix, at most ``concurrency`` in flight, started
    ``rate`` per second (0: each as soon as a slot is free)."""
    rng = random.Random(seed)
    pool = list(EXTENSIONS)
    kinds = [kind for kind, _ in h.MIX]
    weights = [weight for _, weight in h.MIX]
    counts = dict.fromkeys(kinds, 0)
    slots = asyncio.Semaphore(concurrency)
    plays: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    for number in range(calls):
        if rate > 0:
            await asyncio.sleep(max(0.0, start + number / rate - loop.time()))
        await slots.acquire()

        kind = rng.choices(kinds, weights)[0]
        needed = 2 if kind in ("queue", "transfer") else 1
        play = h.start_call(sim, kind, rng.sample(pool, needed), rng)
        counts[kind] += 1
        assert play.task is not None
        play.task.add_done_callback(lambda _: slots.release())
        plays.append(play.task)

    await asyncio.gather(*plays, return_exceptions=True)
    return counts


# -- the parent: the service and the stopwatch ------------------------------------


@dataclass(frozen=True)
class Sample:
    t: float
    ended: int
    events: int
    received: int
    backlog: int
    live_calls: int
    tasks: int
    pg_busy: int
    pg_connections: int


class Probe:
    """Reads the figures from PostgreSQL on its own connection (not the service's)."""

    _QUERY = """
        select
            (select count(*) from calls where status = 'ended'),
            (select count(*) from calls),
            (select count(*) from ami_events),
            (select count(*) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()
                and state <> 'idle'),
            (select count(*) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid())
    """

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Probe:
        self._conn = await asyncpg.connect(self._dsn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._conn.close()

    async def read(self) -> tuple[int, ...]:
        """(calls ended, calls, ami_events, busy connections, all connections)."""
        assert self._conn is not None
        row = await self._conn.fetchrow(self._QUERY)
        assert row is not None
        return tuple(int(value) for value in row)


@dataclass
class Run:
    t0: float = 0.0
    sim: dict[str, Any] | None = None
    ended: int = 0
    events: int = 0
    calls_rows: int = 0
    calls_done: float | None = None
    events_done: float | None = None
    stopped: float = 0.0
    timed_out: bool = False
    waited: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    task_names: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    shutdown_seconds: float = 0.0
    capture: bytes = b""
    cpu: h.CpuMeter | None = None
    profile: cProfile.Profile | None = None


async def ingest(args: argparse.Namespace) -> None:
    """Measure and print; the ceiling comes last, once nothing else is running."""
    budget = args.budget
    async with h.workspace(args.database_url) as workspace:
        budget.phase("database ready")
        capture = workspace.scratch / "capture.ami"
        child = h.Child(
            h.run_child,
            simulator_main,
            str(workspace.scratch / "recordings"),
            str(capture),
        )
        try:
            run = await _measure(args, workspace, child)
        finally:
            await child.stop()

        if capture.exists():
            run.capture = await asyncio.to_thread(capture.read_bytes)
        budget.phase("service and simulator stopped")
    budget.phase("database stopped")
    report_ceiling(args, run)


async def _measure(
    args: argparse.Namespace, workspace: h.Workspace, child: h.Child
) -> Run:
    run = Run(cpu=h.CpuMeter(child.process.pid, workspace.pgdata))
    budget = args.budget
    port = (await child.recv(timeout=60))["port"]
    service = await h.start_service(
        h.bench_settings(workspace.scratch, port), workspace.url
    )
    services = service.services
    try:
        users = [h.UserSpec(f"bench{ext}", Role.MANAGER, ext) for ext in EXTENSIONS]
        users.append(h.UserSpec("benchsup", Role.SUPERVISOR))
        await h.ensure_users(services, users)
        budget.phase(f"service up, AMI link logged in, {len(users)} users")
        budget.check(60, "the traffic")

        async with Probe(h.asyncpg_dsn(workspace.url)) as probe:
            base = await probe.read()
            if args.profile:
                run.profile = cProfile.Profile()
                run.profile.enable()
            run.cpu.start()
            run.t0 = time.monotonic()
            child.send(
                {
                    "calls": args.calls,
                    "concurrency": args.concurrency,
                    "rate": args.rate,
                    "seed": args.seed,
                }
            )
            budget.phase("traffic started")
            await _wait_stored(args, run, probe, services, base)
            budget.phase("measurement done")

            run.cpu.stop()
            h.end_of_measurement()
            if run.profile is not None:
                run.profile.disable()
            with contextlib.suppress(TimeoutError):
                wait = min(60.0, budget.left() - 45)
                run.sim = await child.recv(timeout=max(1.0, wait))
            run.calls_rows = (await probe.read())[1] - base[1]

        assert services.link is not None
        run.counters = {
            "link events_received": services.link.events_received,
            "link handler_errors": services.link.handler_errors,
            "events translated for the tracker": services.calls.events_handled,
            "writer batches": services.calls.writer.batches_written,
        }
        # Printed before the shutdown: a service that fell far behind may take
        # long to stop, and the budget's watchdog may have to cut that short.
        report(args, run)
    finally:
        budget.phase("stopping the service")
        stopping = time.monotonic()
        done, _ = await asyncio.wait(
            [asyncio.ensure_future(service.runner.cleanup())],
            timeout=max(5.0, budget.left() - 30),
        )
        run.shutdown_seconds = time.monotonic() - stopping
        if not done:
            budget.phase("service shutdown still running; not waiting any longer")
    return run


async def _wait_stored(
    args: argparse.Namespace,
    run: Run,
    probe: Probe,
    services: Services,
    base: tuple[int, ...],
) -> None:
    """Poll until every call is ended in the database and ami_events stops growing."""
    # Leave time for the ceiling and the teardown inside the run's overall budget.
    deadline = min(run.t0 + args.timeout, run.t0 + args.budget.left() - 50)
    last_events, last_change = -1, run.t0

    while True:
        await asyncio.sleep(args.poll)
        now = time.monotonic()
        ended, _, events, pg_busy, pg_connections = await probe.read()
        run.ended, run.events = ended - base[0], events - base[2]
        assert services.link is not None
        run.samples.append(
            Sample(
                t=now - run.t0,
                ended=run.ended,
                events=run.events,
                received=services.link.events_received,
                backlog=services.calls.writer.backlog,
                live_calls=len(services.calls.tracker.calls),
                tasks=len(asyncio.all_tasks()),
                pg_busy=pg_busy,
                pg_connections=pg_connections,
            )
        )

        if run.events != last_events:
            last_events, last_change = run.events, now
        if run.calls_done is None and run.ended >= args.calls:
            run.calls_done = now
        idle = services.calls.writer.backlog == 0
        if run.calls_done is not None and idle and now - last_change >= 2 * args.poll:
            # The count was final from the first poll that saw it.
            run.events_done = last_change
            break
        if now > deadline:
            run.timed_out = True
            run.waited = now - run.t0
            break

    run.stopped = time.monotonic()
    names = collections.Counter(
        task.get_name().split("-", 1)[0] for task in asyncio.all_tasks()
    )
    run.task_names = ", ".join(
        f"{name}-* {count}" for name, count in names.most_common(6)
    )


# -- the ceiling: the same bytes, parsed with nothing else running -----------------


def event_mix(capture: bytes, top: int = 10) -> str:
    """The most frequent event names in the stream, with their share."""
    names = collections.Counter(
        raw.partition(b"\r\n")[0].removeprefix(b"Event: ").decode("utf-8", "replace")
        for raw in capture.split(EOM)
        if raw.startswith(b"Event: ")
    )
    total = sum(names.values()) or 1
    parts = []
    for name, count in names.most_common(top):
        mark = "*" if name.lower() in TRANSLATORS else ""
        parts.append(f"{name}{mark} {count / total:.0%}")
    return ", ".join(parts)


def _messages(capture: bytes, limit: int) -> list[bytes]:
    raws = capture.split(EOM, limit)
    return raws[:limit]


def ceiling(capture: bytes, limit: int, seconds: float) -> list[tuple[str, int, float]]:
    """(stage, messages, seconds) for cumulative stages of the AMI front end, over
    the first ``limit`` messages of the stream or what ``seconds`` allow."""
    defaults = Settings()
    tracker = CallTracker(
        ChannelClassifier(
            trunk_endpoints=defaults.trunk_endpoints,
            trunk_local_contexts=defaults.trunk_local_contexts,
            phone_local_contexts=defaults.phone_local_contexts,
            internal_extension_pattern=defaults.internal_extension_pattern,
        )
    )
    received_at = dt.datetime.now(dt.UTC)
    spent = [0.0, 0.0, 0.0, 0.0]
    done = 0
    raws = _messages(capture, limit)
    stop_at = time.perf_counter() + seconds

    for start in range(0, len(raws), 5000):
        chunk = EOM.join(raws[start : start + 5000])
        t0 = time.perf_counter()
        texts = chunk.decode("utf-8", errors="replace").split("\r\n\r\n")
        messages = [m for m in (Message.from_line(t.strip()) for t in texts) if m]
        t1 = time.perf_counter()
        events = [translate(message, received_at) for message in messages]
        t2 = time.perf_counter()
        for message in messages:
            raw_event(message, received_at)
        t3 = time.perf_counter()
        for event in events:
            if event is not None:
                tracker.apply(event)
        t4 = time.perf_counter()

        for index, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
            spent[index] += b - a
        done += len(messages)
        if t4 > stop_at:
            break

    names = (
        "split + Message.from_line",
        "  + translate",
        "  + raw_event (audit copy)",
        "  + CallTracker.apply",
    )
    return [(name, done, sum(spent[: i + 1])) for i, name in enumerate(names)]


# -- report ----------------------------------------------------------------------


def _rate(count: int, seconds: float | None, unit: str) -> list[str]:
    if seconds is None or seconds <= 0:
        return [f"{count:,}", "-", "-"]
    return [f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f} {unit}/s"]


def report(args: argparse.Namespace, run: Run) -> None:
    sim = run.sim
    print()
    if sim is not None:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sim["kinds"].items())
        print(f"traffic: {args.calls} calls ({kinds})")
        print(
            f"AMI stream: {sim['messages']:,} messages, {sim['bytes'] / 1e6:.1f} MB"
            f" ({sim['messages'] / args.calls:.0f} messages per call)"
        )
    else:
        print("traffic: the simulator had not finished sending when the clock stopped")
    if run.timed_out:
        print(
            f"TIMEOUT: after {run.waited:.0f}s only {run.ended}/{args.calls} calls"
            " were stored as ended; the rates below are what was stored by then"
        )
    print()

    rows: list[list[str]] = []
    if sim is not None:
        generated = sim["generated"] - run.t0
        rows.append(
            ["simulator: calls generated", *_rate(args.calls, generated, "calls")]
        )
        rows.append(
            ["simulator: messages sent", *_rate(sim["messages"], generated, "msg")]
        )
    end_calls = run.calls_done or run.stopped
    end_events = run.events_done or run.stopped
    rows.append(
        [
            "stored: calls ended (calls table)",
            *_rate(run.ended, end_calls - run.t0, "calls"),
        ]
    )
    rows.append(
        ["stored: ami_events rows", *_rate(run.events, end_events - run.t0, "events")]
    )
    received = run.counters["link events_received"]
    rows.append(
        ["received: AMI messages (link)", *_rate(received, end_events - run.t0, "msg")]
    )
    h.print_table(["figure", "count", "seconds", "rate"], rows)

    print()
    print(
        "timeline (t from the go; backlog = writer queue; pg = busy/open connections)"
    )
    _print_timeline(run.samples)
    print(f"asyncio tasks alive when the clock stopped, by name: {run.task_names}")

    print()
    counters = " ".join(f"{key}={value}" for key, value in run.counters.items())
    print(f"service counters: {counters}; calls rows={run.calls_rows}")
    if sim is not None and run.events_done is not None:
        lag = run.events_done - sim["generated"]
        print(
            f"the last event was committed {lag:.1f}s after the simulator had sent"
            " its last one (near 0: the simulator set the pace, not the service)"
        )
    assert run.cpu is not None
    service_cpu = run.cpu.used.get("service") or 0.0
    if run.ended and received:
        print(
            f"service CPU per call stored: {service_cpu / run.ended * 1000:.1f} ms,"
            f" per AMI message received: {service_cpu / received * 1e6:.0f} us"
            " (less sensitive to a busy machine than the rates)"
        )
    print(run.cpu.line("simulator process"))
    print(run.cpu.loop_line())
    print(f"machine now: {h.machine_line()}")
    print(flush=True)


def report_ceiling(args: argparse.Namespace, run: Run) -> None:
    print()
    print(f"service shutdown took {run.shutdown_seconds:.1f}s")
    if not run.capture:
        print("ceiling: no recorded stream (the simulator did not finish)")
        return

    print(f"top events (* = translated for the tracker): {event_mix(run.capture)}")
    room = max(2.0, args.budget.left() - 5)
    rows = [
        [f"ceiling: {stage}", *_rate(count, seconds, "msg")]
        for stage, count, seconds in ceiling(
            run.capture, args.ceiling_messages, min(15.0, room)
        )
    ]
    h.print_table(
        ["figure (parsing only, nothing else running)", "count", "seconds", "rate"],
        rows,
    )

    if run.profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(run.profile, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        Path(args.profile).write_text(out.getvalue(), encoding="utf-8")
        run.profile.dump_stats(f"{args.profile}.pstats")
        print(f"cProfile of the service process: {args.profile} (+ .pstats)")


def _print_timeline(samples: list[Sample], rows: int = 12) -> None:
    if not samples:
        return
    step = max(1.0, samples[-1].t / rows)
    chosen, next_t = [], 0.0
    for sample in samples:
        if sample.t >= next_t or sample is samples[-1]:
            chosen.append(sample)
            next_t = sample.t + step
    h.print_table(
        ["t s", "ended", "events", "received", "backlog", "live", "tasks", "pg"],
        [
            [
                f"{s.t:.1f}",
                s.ended,
                s.events,
                s.received,
                s.backlog,
                s.live_calls,
                s.tasks,
                f"{s.pg_busy}/{s.pg_connections}",
            ]
            for s in chosen
        ],
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls to play")
    parser.add_argument(
        "--concurrency", type=int, default=20, help="plays in flight at once"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="calls started per second (default 0: as fast as the simulator can)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL to use (default: embedded server in a temp dir)",
    )
    parser.add_argument("--seed", type=int, default=1, help="traffic mix seed")
    parser.add_argument(
        "--poll", type=float, default=0.2, help="database poll interval, seconds"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=90,
        help="stop waiting for the database after this many seconds",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=165,
        help="the whole run stays within this many seconds (waits are cut to fit)",
    )
    parser.add_argument(
        "--ceiling-messages",
        type=int,
        default=50_000,
        help="messages of the recorded stream to parse for the ceiling",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile the service process during ingest, write the top to FILE",
    )
    parser.add_argument(
        "--log-level",
        default="CRITICAL",
        help="console log level; warnings and errors are counted in the summary",
    )
    args = parser.parse_args()
    args.budget = h.Budget(args.budget)
    if args.calls < 1 or args.concurrency < 1 or args.rate < 0:
        parser.error("--calls and --concurrency must be >= 1, --rate >= 0")
    return args


def main() -> None:
    args = parse_args()
    warnings = h.setup_bench_logging(args.log_level)
    print(f"$ {h.command_line()}")
    print(f"machine: {h.machine_line()}")
    print(
        "database: "
        + ("the one given" if args.database_url else "embedded PostgreSQL, temp dir")
    )
    pace = f"{args.rate:g} calls/s" if args.rate else "as fast as it can"
    print(
        f"simulator: child process, speed 0, {args.concurrency} calls in flight,"
        f" started {pace}; service: this process"
    )
    sys.stdout.flush()

    try:
        h.run_bounded(lambda: ingest(args))
    except (h.BudgetExhausted, asyncio.CancelledError, KeyboardInterrupt) as error:
        print(f"ABORTED: {str(error) or type(error).__name__}")
        warnings.print_summary()
        raise SystemExit(2) from None
    warnings.print_summary()


if __name__ == "__main__":
    main()
