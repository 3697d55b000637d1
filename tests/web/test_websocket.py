"""The panel's websocket: who gets a call's events, the screen-pop card, catching up.

Each user connects with their own session cookie, as the browser does. The simulator
plays the captured inbound call (sip-04: ring 1.5 s, talk ~9.4 s) faster than real
time (set on the running simulator: the settings have no speed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ami.simulator import AmiSimulator
from tests.web.conftest import log_in
from web.keys import SERVICES

CALLER = "79161234567"
CALLER_NAME = "Иван Петров"
DID = "74950000000"
SIM_SPEED = 4.0
EVENT_TIMEOUT = 15.0
QUIET = 0.5

Message = dict[str, Any]
SignIn = Callable[[str], Awaitable[TestClient]]


@pytest.fixture
def fast_pbx(app: web.Application, client: TestClient) -> AmiSimulator:
    simulator = app[SERVICES].simulator
    assert simulator is not None
    simulator.speed = SIM_SPEED
    return simulator


@pytest.fixture
async def sign_in(client: TestClient) -> AsyncIterator[SignIn]:
    """More browsers on the same server, each logged in as someone."""
    others: list[TestClient] = []

    async def open_browser(login: str) -> TestClient:
        other = TestClient(client.server)
        others.append(other)
        await log_in(other, login)
        return other

    yield open_browser

    # Only the sessions: closing these clients would stop the shared server.
    for other in others:
        await other.session.close()


class Tab:
    """One open websocket and every message it has received so far."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: Message) -> None:
        self.ws = ws
        self.hello = hello
        self.messages: list[Message] = []

    @classmethod
    async def open(cls, browser: TestClient, since: int | None = None) -> Tab:
        params = {"since": str(since)} if since is not None else None
        ws = await browser.ws_connect("/ws", params=params)
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello", hello
        return cls(ws, hello)

    async def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = EVENT_TIMEOUT
    ) -> Message:
        for message in self.messages:
            if predicate(message):
                return message
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no such message; got {self.messages}")
            message = await self.ws.receive_json(timeout=remaining)
            self.messages.append(message)
            if predicate(message):
                return message

    async def drain(self, quiet: float = QUIET) -> list[Message]:
        """Everything that arrives until the socket has been quiet for ``quiet`` s."""
        while True:
            try:
                message = await self.ws.receive(timeout=quiet)
            except TimeoutError:
                return self.messages
            assert message.type is aiohttp.WSMsgType.TEXT, message
            self.messages.append(json.loads(message.data))

    def ops(self, call_id: str) -> list[str]:
        return [
            m["op"]
            for m in self.messages
            if m.get("type") == "call" and m["call"]["id"] == call_id
        ]


def is_op(op: str, call_id: str | None = None) -> Callable[[Message], bool]:
    def match(message: Message) -> bool:
        return (
            message.get("type") == "call"
            and message.get("op") == op
            and (call_id is None or message["call"]["id"] == call_id)
        )

    return match


async def ring_101(simulator: AmiSimulator, scenario: str = "answered") -> str:
    return await simulator.start_inbound(
        caller=CALLER,
        caller_name=CALLER_NAME,
        did=DID,
        extensions=("101",),
        scenario=scenario,
    )


async def test_ringing_reaches_the_rung_manager_and_supervisors_only(
    app: web.Application, fast_pbx: AmiSimulator, client: TestClient, sign_in: SignIn
) -> None:
    await log_in(client, "manager")
    manager = await Tab.open(client)
    other_manager = await Tab.open(await sign_in("manager2"))
    supervisor = await Tab.open(await sign_in("supervisor"))
    manager_id = manager.hello["user_id"]

    linkedid = await ring_101(fast_pbx)
    pop = await manager.wait_for(is_op("ringing"))
    call_id = pop["call"]["id"]
    supervisor_pop = await supervisor.wait_for(is_op("ringing", call_id))
    await manager.wait_for(is_op("ended", call_id))
    await supervisor.wait_for(is_op("ended", call_id))
    await other_manager.drain()

    assert pop["call"]["linkedid"] == linkedid
    assert pop["call"]["direction"] == "inbound"
    assert pop["call"]["number"] == CALLER
    assert pop["call"]["client_name"] == CALLER_NAME
    assert pop["leg"]["extension"] == "101"
    assert pop["leg"]["user_id"] == manager_id
    assert pop["card"]["known"] is False
    assert pop["card"]["number"] == CALLER
    assert pop["card"]["company"] is None
    assert supervisor_pop["leg"] == pop["leg"]
    assert other_manager.ops(call_id) == []
    assert [m for m in other_manager.messages if m.get("type") == "call"] == []


async def test_pop_shows_the_client_card_once_the_number_is_a_client(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    csrf = await log_in(client, "manager")
    manager = await Tab.open(client)

    await ring_101(fast_pbx)
    first = await manager.wait_for(is_op("ringing"))
    await manager.wait_for(is_op("ended", first["call"]["id"]))
    created = await client.post(
        "/api/clients",
        json={
            "company_name": "ООО Ромашка",
            "phone": "+7 (916) 123-45-67",
            "contact_name": CALLER_NAME,
            "position": "Закупщик",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status == 201, await created.text()
    company_id = (await created.json())["id"]
    await ring_101(fast_pbx)
    second = await manager.wait_for(
        lambda m: is_op("ringing")(m) and m["call"]["id"] != first["call"]["id"]
    )

    assert first["card"]["known"] is False
    card = second["card"]
    assert card["known"] is True
    assert card["company"]["name"] == "ООО Ромашка"
    assert card["company"]["id"] == company_id
    assert card["company"]["url"] == f"/clients/{company_id}"
    assert card["contact"]["name"].startswith("Иван")
    # The first call, made before the client existed, was linked to it on creation.
    assert len(card["interactions"]) == 1
    assert second["call"]["company_id"] == company_id


async def test_pop_turns_to_talking_then_closes_when_the_call_ends(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    await log_in(client, "manager")
    manager = await Tab.open(client)

    await ring_101(fast_pbx)
    pop = await manager.wait_for(is_op("ringing"))
    call_id = pop["call"]["id"]
    answered = await manager.wait_for(is_op("answered", call_id))
    closed = await manager.wait_for(is_op("closed", call_id))
    ended = await manager.wait_for(is_op("ended", call_id))

    assert answered["leg"]["id"] == pop["leg"]["id"]
    assert answered["leg"]["answered"] is True
    assert closed["leg"]["id"] == pop["leg"]["id"]
    assert closed["reason"] == "ended"
    assert ended["call"]["outcome"] == "answered"
    ops = manager.ops(call_id)
    assert ops.index("ringing") < ops.index("answered") < ops.index("closed")


async def test_pop_of_an_unanswered_call_closes_as_missed(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    await log_in(client, "manager")
    manager = await Tab.open(client)

    await ring_101(fast_pbx, scenario="missed")
    pop = await manager.wait_for(is_op("ringing"))
    call_id = pop["call"]["id"]
    closed = await manager.wait_for(is_op("closed", call_id))
    ended = await manager.wait_for(is_op("ended", call_id))

    assert closed["leg"]["id"] == pop["leg"]["id"]
    # Asterisk hangs up the rung phone just before the caller, so the call has not
    # ended yet when the pop closes: both reasons read "missed" in the panel.
    assert closed["reason"] in ("missed", "stopped_ringing")
    assert "answered" not in manager.ops(call_id)
    assert ended["call"]["outcome"] == "missed"


async def test_a_reconnecting_tab_receives_exactly_the_events_it_missed(
    fast_pbx: AmiSimulator, client: TestClient
) -> None:
    await log_in(client, "manager")
    steady = await Tab.open(client)
    flaky = await Tab.open(client)

    await ring_101(fast_pbx)
    # The flaky tab drops right after the pop, in the middle of the call.
    seen = await flaky.wait_for(is_op("ringing"))
    await flaky.ws.close()
    call_id = seen["call"]["id"]
    # The recording check is the last event of an answered call.
    await steady.wait_for(is_op("recording", call_id))
    await steady.drain()
    back = await Tab.open(client, since=seen["seq"])
    await back.drain()

    missed = [m for m in steady.messages if m["seq"] > seen["seq"]]
    assert "snapshot" not in back.hello
    assert back.hello["seq"] == steady.messages[-1]["seq"]
    assert back.messages == missed
    assert "ringing" not in back.ops(call_id)
    assert {"answered", "closed", "ended", "recording"} <= set(back.ops(call_id))
    seqs = [m["seq"] for m in back.messages]
    assert seqs == sorted(set(seqs))


async def test_a_tab_that_cannot_catch_up_gets_a_fresh_snapshot(
    client: TestClient,
) -> None:
    await log_in(client, "manager")

    # A sequence number the server never issued (it restarted since, say).
    tab = await Tab.open(client, since=10**9)
    await tab.drain()

    assert tab.hello["snapshot"] == [{"type": "live", "calls": []}]
    assert tab.messages == []


async def test_a_tab_opened_while_the_phone_rings_gets_the_pop_in_its_snapshot(
    app: web.Application, client: TestClient
) -> None:
    # Real speed: the phone rings for 1.5 s, long enough to open a second tab.
    simulator = app[SERVICES].simulator
    assert simulator is not None
    await log_in(client, "manager")
    first = await Tab.open(client)

    await ring_101(simulator)
    pop = await first.wait_for(is_op("ringing"))
    late = await Tab.open(client)

    snapshot = late.hello["snapshot"]
    pops = [item for item in snapshot if item.get("op") == "ringing"]
    assert [p["leg"]["id"] for p in pops] == [pop["leg"]["id"]]
    live = [item for item in snapshot if item["type"] == "live"]
    assert [c["id"] for c in live[0]["calls"]] == [pop["call"]["id"]]


async def test_a_cross_origin_websocket_is_refused(client: TestClient) -> None:
    await log_in(client, "manager")

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin="http://evil.example")
    same_site = await client.ws_connect(
        "/ws", origin=f"http://{client.host}:{client.port}"
    )
    hello = await same_site.receive_json(timeout=5)

    assert refused.value.status == 403
    assert hello["type"] == "hello"


async def test_a_websocket_without_a_session_is_refused(client: TestClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws")

    assert refused.value.status == 401


async def test_a_pop_for_another_managers_client_says_whose_it_is_and_no_more(
    fast_pbx: AmiSimulator, client: TestClient, sign_in: SignIn
) -> None:
    owner = TestClient(client.server)
    csrf = await log_in(owner, "manager2")
    created = await owner.post(
        "/api/clients",
        json={"company_name": "ООО Вектор", "phone": "+7 (916) 123-45-67"},
        headers={"X-CSRF-Token": csrf},
    )
    await owner.session.close()
    assert created.status == 201, await created.text()
    await log_in(client, "manager")
    manager = await Tab.open(client)
    head = await Tab.open(await sign_in("head"))

    await ring_101(fast_pbx)
    pop = await manager.wait_for(is_op("ringing"))
    head_pop = await head.wait_for(is_op("ringing", pop["call"]["id"]))
    # A tab that reconnects while it rings gets the same, restricted, pop.
    replay = await Tab.open(client, since=pop["seq"] - 1)
    replayed = await replay.wait_for(is_op("ringing", pop["call"]["id"]))

    assert pop["card"]["known"] is True
    assert pop["card"]["restricted"] is True
    assert pop["card"]["company"] == {"name": "ООО Вектор"}
    assert pop["card"]["responsible"] == "Борис Кузнецов"
    assert pop["card"]["interactions"] == []
    assert replayed["card"] == pop["card"]
    # The head of department may open every client: the whole card.
    assert head_pop["card"]["restricted"] is False
    assert head_pop["card"]["company"]["url"].startswith("/clients/")
