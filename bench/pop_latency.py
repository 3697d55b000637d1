"""Pop latency: from the AMI event leaving the simulator to the card in each tab.

The service (``web.app.create_app`` behind a real aiohttp runner on 127.0.0.1, with
PostgreSQL) runs in this process. A child process runs the AMI simulator and
``--tabs`` websocket "tabs": managers 101.. and supervisors, each logged in once
through ``POST /login`` and sharing that session cookie among their tabs, as the tabs
of one browser do. The child then starts ``--calls`` inbound calls one after another
(``AmiSimulator.start_inbound``, real-time pacing unless ``--speed`` says otherwise);
the next call starts ``--interval`` seconds after the previous pop has reached every
tab that should get it, or after ``--pop-timeout``.

What is measured, per call and per tab that should show the pop (the tabs of the
called manager and of every supervisor, to whom the hub copies every pop):

- start: the simulator's ``write()`` of the bytes holding the call's first event
  (its first ``Newchannel``) to the service's AMI socket, and of the bytes holding
  the first event naming the manager's channel (``PJSIP/<ext>-...``, the event that
  makes the service decide to pop). The child wraps the ``write`` of the simulator's
  session with the service, on login, to stamp those moments;
- end: the moment the tab's socket delivered the bytes that complete the
  ``{"type": "call", "op": "ringing"}`` frame for that call. Tabs are minimal
  websocket clients that only stamp and store bytes when they arrive and parse them
  a moment later, so the stamp of one tab is not delayed by decoding the others.

Stamps are ``time.monotonic()`` in both processes (one clock on Linux). To split
the delay into stages, a few instance attributes of the service's objects are
wrapped (see ``ServiceStamps``); the product code runs unchanged.

Run: ``.venv/bin/python bench/pop_latency.py --tabs 200 --calls 100``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import time
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import _harness as h
import aiohttp

from ami.simulator import AmiSimulator
from callcenter.clients.service import NewClient
from callcenter.users.models import Role
from web.auth import SESSION_COOKIE

EOM = b"\r\n\r\n"
# Only a manager's phone: PJSIP/101-0000002a (not the trunk, PJSIP/pstn-...).
MANAGER_CHANNEL = re.compile(r"^(PJSIP|SIP)/\d+-")


# -- the tabs: minimal websocket clients -----------------------------------------


class Tab(asyncio.Protocol):
    """One panel tab: stamps every arrival at once, decodes frames later."""

    def __init__(self, index: int, login: str, request: bytes, pump: Pump):
        self.index, self.login = index, login
        self._request = request
        self._pump = pump
        self._arrivals: list[tuple[float, bytes]] = []
        self._buffer = bytearray()
        self._upgraded = False
        self._inflater: Any = None
        self._fragments: list[bytes] = []
        self._compressed = False
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pops: dict[str, float] = {}
        self.messages = 0
        self.deflate = False

    # Callbacks: as little work as possible, so that other tabs are not delayed.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._arrivals.append((time.monotonic(), data))
        self._pump.mark(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(
                ConnectionError(f"tab {self.index} closed: {exc}")
            )

    # Decoding, called by the pump.

    def process(self) -> None:
        arrivals, self._arrivals = self._arrivals, []
        for stamp, data in arrivals:
            self._buffer += data
            if not self._upgraded and not self._upgrade():
                continue
            self._frames(stamp)

    def _upgrade(self) -> bool:
        end = self._buffer.find(EOM)
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + len(EOM)]
        if " 101 " not in head.split("\r\n", 1)[0]:
            error = ConnectionError(f"tab {self.index}: {head.splitlines()[0]}")
            if not self.opened.done():
                self.opened.set_exception(error)
            return False
        if "permessage-deflate" in head.lower():
            self.deflate = True
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._upgraded = True
        return True

    def _frames(self, stamp: float) -> None:
        buf = self._buffer
        while len(buf) >= 2:
            first, second = buf[0], buf[1]
            length, pos = second & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, pos = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + length:
                return
            payload = bytes(buf[pos : pos + length])
            del buf[: pos + length]
            self._frame(first, payload, stamp)

    def _frame(self, first: int, payload: bytes, stamp: float) -> None:
        opcode = first & 0x0F
        if opcode == 0x9:  # ping: a pong keeps the server's heartbeat happy
            self._send(0xA, payload)
            return
        if opcode == 0x8:  # the server says goodbye: answer, as a browser does
            self._send(0x8, payload[:2])
            if self.transport is not None:
                self.transport.close()
            return
        if opcode in (0x1, 0x2):
            self._fragments, self._compressed = [payload], bool(first & 0x40)
        elif opcode == 0x0:
            self._fragments.append(payload)
        else:
            return
        if not first & 0x80:
            return

        message = b"".join(self._fragments)
        if self._compressed:
            message = self._inflater.decompress(message + b"\x00\x00\xff\xff")
        self._message(message, stamp)

    def _message(self, message: bytes, stamp: float) -> None:
        self.messages += 1
        if not self.opened.done():
            self.opened.set_result(stamp)  # the hello
            return
        if b'"ringing"' in message:
            payload = json.loads(message)
            if payload.get("type") == "call" and payload.get("op") == "ringing":
                self.pops.setdefault(payload["call"]["linkedid"], stamp)

    def _send(self, opcode: int, payload: bytes) -> None:
        # Client frames are masked (RFC 6455 5.3); control payloads are < 126 bytes.
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked
            )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Pump:
    """Decodes what the tabs received, shortly after a burst of arrivals, a few tabs
    at a time so that sockets still being read get their stamps first."""

    def __init__(self) -> None:
        self._dirty: set[Tab] = set()
        self._wake = asyncio.Event()

    def mark(self, tab: Tab) -> None:
        self._dirty.add(tab)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.001)
            batch = list(self._dirty)
            self._dirty.clear()
            for number, tab in enumerate(batch, 1):
                tab.process()
                if number % 16 == 0:
                    await asyncio.sleep(0)


def upgrade_request(port: int, token: str, deflate: bool) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: http://127.0.0.1:{port}",
        f"Cookie: {SESSION_COOKIE}={token}",
    ]
    if deflate:
        # What Chromium and Firefox offer.
        lines.append(
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
        )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- the child: simulator, tabs and the calls ------------------------------------


@dataclass
class Marks:
    """Stamps of one call on the simulator side."""

    linkedid: str
    extension: str
    expected: list[int]
    started: float = 0.0
    first_write: float | None = None
    trigger_write: float | None = None

    def __post_init__(self) -> None:
        # With its line end: 1764000000.12 must not match 1764000000.123.
        self._id = b"Linkedid: " + self.linkedid.encode() + b"\r\n"
        self._channel = f"Channel: PJSIP/{self.extension}-".encode()

    def observe(self, stamp: float, data: bytes) -> None:
        if self._id not in data:
            return
        for message in data.split(EOM):
            if self._id not in message:
                continue
            if self.first_write is None:
                self.first_write = stamp
            if self._channel in message:
                self.trigger_write = stamp
                return


class TimedSimulator(AmiSimulator):
    """The simulator, with the writes to each logged-in session stamped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watched: list[Marks] = []

    def session_logged_in(self, session: Any) -> None:
        super().session_logged_in(session)
        writer = session.writer
        original = writer.write

        def write(data: bytes) -> None:
            stamp = time.monotonic()
            original(data)
            for marks in self.watched:
                if marks.trigger_write is None:
                    marks.observe(stamp, data)

        writer.write = write


async def load_main(conn: Connection, recordings_dir: str, speed: float) -> None:
    sim = TimedSimulator(
        host="127.0.0.1", port=0, speed=speed, recordings_dir=Path(recordings_dir)
    )
    await sim.start()
    conn.send({"port": sim.port})

    plan = await h.child_recv(conn, timeout=120)
    pump = Pump()
    pumping = asyncio.get_running_loop().create_task(pump.run())
    tabs: list[Tab] = []
    try:
        opened = time.monotonic()
        tabs = await open_tabs(plan, pump)
        conn.send({"tabs": len(tabs), "open_seconds": time.monotonic() - opened})

        await h.child_recv(conn, timeout=60)
        calls = await place_calls(sim, tabs, plan)
        conn.send(
            {
                "calls": [
                    {
                        "linkedid": m.linkedid,
                        "extension": m.extension,
                        "started": m.started,
                        "first_write": m.first_write,
                        "trigger_write": m.trigger_write,
                        "received": [tabs[i].pops.get(m.linkedid) for i in m.expected],
                    }
                    for m in calls
                ],
                "deflate": sum(tab.deflate for tab in tabs),
                "stray_pops": _stray_pops(tabs, calls),
                "messages": sum(tab.messages for tab in tabs),
            }
        )
        await h.child_recv(conn, timeout=300)
    finally:
        for tab in tabs:
            tab.close()
        pumping.cancel()
        await sim.stop()


async def open_tabs(plan: dict[str, Any], pump: Pump) -> list[Tab]:
    loop = asyncio.get_running_loop()
    port, users = plan["http_port"], plan["users"]
    async with aiohttp.ClientSession() as http:

        async def log_in(login: str) -> str:
            async with http.post(
                f"http://127.0.0.1:{port}/login",
                data={"login": login, "password": plan["password"]},
                allow_redirects=False,
            ) as response:
                cookie = response.cookies.get(SESSION_COOKIE)
                if response.status != 302 or cookie is None:
                    raise RuntimeError(f"login {login} failed: {response.status}")
                return cookie.value

        # Concurrently: each login verifies an Argon2 hash in a worker thread.
        tokens = dict(
            zip(users, await asyncio.gather(*map(log_in, users)), strict=True)
        )

    tabs: list[Tab] = []
    for start in range(0, plan["tabs"], 20):
        batch = []
        for index in range(start, min(start + 20, plan["tabs"])):
            login = users[index % len(users)]
            request = upgrade_request(port, tokens[login], plan["deflate"])
            _, tab = await loop.create_connection(
                lambda i=index, u=login, r=request: Tab(i, u, r, pump),
                "127.0.0.1",
                port,
            )
            batch.append(tab)
        await asyncio.wait_for(asyncio.gather(*(tab.opened for tab in batch)), 30)
        tabs.extend(batch)
    return tabs


async def place_calls(
    sim: TimedSimulator, tabs: list[Tab], plan: dict[str, Any]
) -> list[Marks]:
    supervisors = set(plan["supervisors"])
    owners = plan["extensions"]  # extension -> manager login
    rng = random.Random(plan["seed"])
    calls: list[Marks] = []
    stop_at = plan["stop_at"]

    for number, caller in enumerate(plan["callers"]):
        if time.monotonic() > stop_at:
            break
        extension = list(owners)[number % len(owners)]
        expected = [
            tab.index
            for tab in tabs
            if tab.login == owners[extension] or tab.login in supervisors
        ]
        started = time.monotonic()
        linkedid = await sim.start_inbound(
            caller=caller,
            caller_name=rng.choice(h.CALLER_NAMES),
            extensions=(extension,),
            scenario=plan["scenario"],
        )
        # start_inbound does not yield: nothing of this call has been written yet.
        marks = Marks(linkedid, extension, expected, started=started)
        sim.watched.append(marks)
        calls.append(marks)

        deadline = started + plan["pop_timeout"]
        while time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            if all(linkedid in tabs[i].pops for i in expected):
                break
        sim.watched.remove(marks)
        await asyncio.sleep(plan["interval"])
    return calls


def _stray_pops(tabs: list[Tab], calls: list[Marks]) -> int:
    """Pops that reached a tab not expected to show them (should be 0)."""
    expected = {(m.linkedid, i) for m in calls for i in m.expected}
    return sum(
        1
        for tab in tabs
        for linkedid in tab.pops
        if (linkedid, tab.index) not in expected
    )


# -- the parent: the service and its stage stamps -----------------------------------


@dataclass
class ServiceStamps:
    """First moments, per Linkedid, seen inside the service."""

    manager_handled: dict[str, float] = field(default_factory=dict)
    queued: dict[str, float] = field(default_factory=dict)
    published: dict[str, float] = field(default_factory=dict)
    enqueued: dict[str, float] = field(default_factory=dict)
    lookups: list[float] = field(default_factory=list)
    _running_since: float | None = None

    def install(self, services: Any) -> None:
        """Wrap instance attributes: ``CallService.handle`` (an event reaches the
        call service), ``ClientService.find_by_phone`` and ``build_card`` (the client
        lookup), ``CallWriter.after_commit`` (a notification is queued to go out after
        the next commit) and ``WebsocketHub.publish``."""
        calls, writer, hub = services.calls, services.calls.writer, services.hub
        handle, after_commit, publish = calls.handle, writer.after_commit, hub.publish
        clients = services.clients
        find_by_phone, build_card = clients.find_by_phone, clients.build_card
        lookup_started: dict[str, float] = {}

        async def timed_find_by_phone(number: str, *args: Any, **kwargs: Any) -> Any:
            lookup_started[number] = time.monotonic()
            return await find_by_phone(number, *args, **kwargs)

        async def timed_build_card(number: Any, *args: Any, **kwargs: Any) -> Any:
            card = await build_card(number, *args, **kwargs)
            started = lookup_started.pop(number, None)
            if started is not None:
                self.lookups.append(time.monotonic() - started)
            return card

        def timed_handle(event: Any) -> None:
            ref = getattr(event, "ref", None)
            if ref is not None and MANAGER_CHANNEL.match(ref.channel):
                self.manager_handled.setdefault(ref.linkedid, time.monotonic())
            handle(event)

        def timed_after_commit(callback: Any) -> None:
            queued = time.monotonic()

            def run() -> None:
                self._running_since = queued
                try:
                    callback()
                finally:
                    self._running_since = None

            after_commit(run)

        def timed_publish(
            payload: dict[str, Any],
            *,
            users: Any,
            supervisors: bool = True,
            restricted: Any = None,
        ) -> None:
            ringing = payload.get("op") == "ringing"
            if ringing:
                linkedid = payload["call"]["linkedid"]
                self.published.setdefault(linkedid, time.monotonic())
                if self._running_since is not None:
                    self.queued.setdefault(linkedid, self._running_since)
            publish(
                payload, users=users, supervisors=supervisors, restricted=restricted
            )
            if ringing:
                self.enqueued.setdefault(linkedid, time.monotonic())

        calls.handle = timed_handle
        clients.find_by_phone = timed_find_by_phone
        clients.build_card = timed_build_card
        writer.after_commit = timed_after_commit
        hub.publish = timed_publish


async def pop_latency(args: argparse.Namespace) -> None:
    async with h.workspace(args.database_url) as workspace:
        args.budget.phase("database ready")
        child = h.Child(
            h.run_child, load_main, str(workspace.scratch / "recordings"), args.speed
        )
        try:
            await _measure(args, workspace, child)
        finally:
            await child.stop()
            args.budget.phase("stopping the database")


async def _measure(
    args: argparse.Namespace, workspace: h.Workspace, child: h.Child
) -> None:
    budget = args.budget
    port = (await child.recv(timeout=60))["port"]
    service = await h.start_service(
        h.bench_settings(workspace.scratch, port), workspace.url
    )
    services = service.services
    meter = h.CpuMeter(child.process.pid, workspace.pgdata)
    try:
        extensions = {str(101 + i): f"popmgr{101 + i}" for i in range(args.managers)}
        supervisors = [f"popsup{i + 1}" for i in range(args.supervisors)]
        specs = [
            h.UserSpec(login, Role.MANAGER, ext) for ext, login in extensions.items()
        ]
        specs += [h.UserSpec(login, Role.SUPERVISOR) for login in supervisors]
        await h.ensure_users(services, specs)
        budget.phase(f"service up, {len(specs)} users created")
        callers = await _known_callers(args, services, extensions)
        budget.phase(f"{len(callers)} client companies created")
        budget.check(60, "opening the tabs")

        stamps = ServiceStamps()
        stamps.install(services)
        child.send(
            {
                "http_port": service.port,
                "users": [*extensions.values(), *supervisors],
                "password": h.PASSWORD,
                "extensions": extensions,
                "supervisors": supervisors,
                "tabs": args.tabs,
                "deflate": not args.no_deflate,
                "callers": callers,
                "scenario": args.scenario,
                "interval": args.interval,
                "pop_timeout": args.pop_timeout,
                # No call starts after this (the clock is shared with the child),
                # so that the teardown still fits in the budget.
                "stop_at": time.monotonic() + budget.left() - 40,
                "seed": args.seed,
            }
        )
        opened = await child.recv(timeout=max(10, budget.left() - 30))
        budget.phase(f"{opened['tabs']} tabs open")
        deadline = time.monotonic() + 10
        while services.hub.connection_count < args.tabs:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {services.hub.connection_count} of {args.tabs} tabs registered"
                )
            await asyncio.sleep(0.05)

        meter.start()
        budget.phase("calls started")
        child.send("go")
        result = await child.recv(timeout=max(10, budget.left() - 10))
        budget.phase(f"{len(result['calls'])} calls done")
        meter.stop()
        h.end_of_measurement()
        still_open = services.hub.connection_count

        # The tabs leave before the service stops: aiohttp's graceful shutdown waits
        # for open websocket handlers (up to 60 s) before the hub closes them.
        await child.stop()
        outcome = {
            "opened": opened,
            "child": result,
            "stamps": stamps,
            "cpu": meter,
            "still_open": still_open,
        }
        report(args, outcome)
    finally:
        budget.phase("stopping the service")
        await asyncio.wait(
            [asyncio.ensure_future(service.runner.cleanup())],
            timeout=max(5.0, budget.left() - 15),
        )


async def _known_callers(
    args: argparse.Namespace, services: Any, extensions: dict[str, str]
) -> list[str]:
    """One client company per call, so every pop carries a real card (the lookup
    finds the number and the card is built from the company and its contact)."""
    rng = random.Random(args.seed)
    owner = await services.users.find_user_by_login(next(iter(extensions.values())))
    callers = []
    for number in range(args.calls):
        caller = h.random_mobile(rng)
        await services.clients.create_client(
            NewClient(
                company_name=f"ООО Бенч {number}",
                phone=f"+{caller}",
                contact_name=rng.choice(h.CALLER_NAMES),
            ),
            user=owner,
            # Fixture data: the duplicate check would flag these look-alikes.
            force=True,
        )
        callers.append(caller)
    return callers


# -- report ----------------------------------------------------------------------


def report(args: argparse.Namespace, outcome: dict[str, Any]) -> None:
    result, stamps = outcome["child"], outcome["stamps"]
    calls = result["calls"]
    from_first: list[float] = []
    from_trigger: list[float] = []
    missing = 0
    stages: dict[str, list[float]] = {
        "simulator write -> service handled the manager's event": [],
        "handled -> pop queued for after-commit (client lookup)": [],
        "queued -> writer committed, hub.publish called": [],
        "hub.publish -> returned (queued for every tab)": [],
        "hub.publish -> first tab received": [],
        "hub.publish -> last tab received": [],
    }
    keys = list(stages)

    for call in calls:
        received = [t for t in call["received"] if t is not None]
        missing += len(call["received"]) - len(received)
        if call["first_write"] is not None:
            from_first += [t - call["first_write"] for t in received]
        if call["trigger_write"] is not None:
            from_trigger += [t - call["trigger_write"] for t in received]

        linkedid = call["linkedid"]
        handled = stamps.manager_handled.get(linkedid)
        queued = stamps.queued.get(linkedid)
        published = stamps.published.get(linkedid)
        if call["trigger_write"] is not None and handled is not None:
            stages[keys[0]].append(handled - call["trigger_write"])
        if handled is not None and queued is not None:
            stages[keys[1]].append(queued - handled)
        if queued is not None and published is not None:
            stages[keys[2]].append(published - queued)
        if published is not None and received:
            stages[keys[3]].append(stamps.enqueued[linkedid] - published)
            stages[keys[4]].append(min(received) - published)
            stages[keys[5]].append(max(received) - published)

    expected = sum(len(call["received"]) for call in calls)
    print()
    print(
        f"tabs: {args.tabs} open ({result['deflate']} with permessage-deflate),"
        f" opened in {outcome['opened']['open_seconds']:.1f}s; users:"
        f" {args.managers} managers, {args.supervisors} supervisors"
    )
    print(
        f"calls: {len(calls)} inbound '{args.scenario}' calls, speed {args.speed:g},"
        f" {args.interval:g}s apart; each pop is due in"
        f" {expected / max(len(calls), 1):.0f} tabs (its manager's and the supervisors')"
    )
    if len(calls) < args.calls:
        print(f"STOPPED by --budget: {len(calls)} of {args.calls} calls placed")
    print(
        f"tabs still registered in the hub after the last call: {outcome['still_open']}"
    )
    print(
        f"deliveries: {expected - missing} of {expected} due arrived within"
        f" {args.pop_timeout:g}s; missing {missing}; stray pops {result['stray_pops']}"
    )
    print()
    h.print_table(
        [
            "latency to the ringing pop in a tab (ms)",
            "n",
            "p50",
            "p90",
            "p99",
            "max",
            "mean",
        ],
        [
            [
                "from the call's first event written",
                len(from_first),
                *h.summary_ms(from_first),
            ],
            [
                "from the manager-leg event written",
                len(from_trigger),
                *h.summary_ms(from_trigger),
            ],
        ],
    )
    print()
    h.print_table(
        ["stages, one value per call (ms)", "n", "p50", "p90", "p99", "max", "mean"],
        [[name, len(values), *h.summary_ms(values)] for name, values in stages.items()],
    )
    lookups = stamps.lookups
    print(
        "client lookup itself (find_by_phone + build_card, started on the call's"
        f" first channel): p50 {h.summary_ms(lookups)[0]} ms,"
        f" p99 {h.summary_ms(lookups)[2]} ms, n={len(lookups)}"
    )
    print()
    print(outcome["cpu"].line("simulator + tabs process"))
    print(outcome["cpu"].loop_line())
    print(f"machine now: {h.machine_line()}")
    print(flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=200, help="websocket tabs open")
    parser.add_argument("--calls", type=int, default=100, help="inbound calls to place")
    parser.add_argument(
        "--managers", type=int, default=10, help="managers (extensions 101..)"
    )
    parser.add_argument(
        "--supervisors", type=int, default=2, help="supervisors (get every pop)"
    )
    parser.add_argument(
        "--scenario", choices=("answered", "missed"), default="answered"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulator speed (0: no delays)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.3,
        help="pause after a pop has reached its tabs before the next call, seconds",
    )
    parser.add_argument(
        "--pop-timeout", type=float, default=5.0, help="give up on a pop after this"
    )
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="tabs do not offer permessage-deflate (browsers do)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=165,
        help="the whole run stays within this many seconds (fewer calls if need be)",
    )
    parser.add_argument("--database-url", help="PostgreSQL to use (default: embedded)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--log-level",
        default="CRITICAL",
        help="console log level; warnings and errors are counted in the summary",
    )
    args = parser.parse_args()
    args.budget = h.Budget(args.budget)
    if min(args.tabs, args.calls, args.managers) < 1 or args.supervisors < 0:
        parser.error("--tabs, --calls, --managers must be >= 1, --supervisors >= 0")
    return args


def main() -> None:
    args = parse_args()
    warnings = h.setup_bench_logging(args.log_level)
    print(f"$ {h.command_line()}")
    print(f"machine: {h.machine_line()}")
    print(
        "service: this process; simulator and tabs: one child process;"
        " database: "
        + ("the one given" if args.database_url else "embedded PostgreSQL")
    )
    sys.stdout.flush()

    try:
        h.run_bounded(lambda: pop_latency(args))
    except (h.BudgetExhausted, asyncio.CancelledError, KeyboardInterrupt) as error:
        print(f"ABORTED: {str(error) or type(error).__name__}")
        warnings.print_summary()
        raise SystemExit(2) from None
    warnings.print_summary()


if __name__ == "__main__":
    main()
