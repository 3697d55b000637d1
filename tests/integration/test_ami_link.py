"""The AMI link against the simulator over real TCP: the panoramisk traps stay closed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ami.connection import AmiLink
from ami.simulator import AmiSimulator
from ami.telephony import AmiTelephony, UnsafeActionValue, build_originate
from callcenter.ports import OriginateSpec, TelephonyUnavailable


class Sink:
    """Collects events the link delivers; can be told to fail on some of them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_on: set[str] = set()
        self.arrived = asyncio.Event()

    def __call__(self, message: Any, received_at: dt.datetime) -> None:
        name = message.get("Event")
        self.events.append(dict(message.items()))
        self.arrived.set()
        if name in self.fail_on:
            raise RuntimeError(f"handler bug on {name}")

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("Event") == name]

    async def wait_for(self, name: str, timeout: float = 10.0, count: int = 1) -> None:
        async def wait() -> None:
            while len(self.named(name)) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def simulator() -> AsyncIterator[AmiSimulator]:
    sim = AmiSimulator(host="127.0.0.1", port=0, speed=20.0)
    await sim.start()
    yield sim
    await sim.stop()


def make_link(sim: AmiSimulator, sink: Sink, secret: str = "crmsecret") -> AmiLink:
    return AmiLink(
        host="127.0.0.1",
        port=sim.port,
        username="crm",
        secret=secret,
        on_event=sink,
        ping_interval=0.3,
        ping_timeout=0.3,
        reconnect_max_delay=0.5,
        action_timeout=2.0,
    )


@pytest.fixture
async def link(simulator: AmiSimulator) -> AsyncIterator[tuple[AmiLink, Sink]]:
    sink = Sink()
    ami = make_link(simulator, sink)
    await ami.start()
    await ami.wait_connected(5)
    yield ami, sink
    await ami.stop()


def originate(action_id: str, number: str = "79161234567") -> OriginateSpec:
    return OriginateSpec(
        action_id=action_id,
        channel="PJSIP/101",
        context="from-internal",
        exten=number,
        caller_id=f"{number} <{number}>",
        timeout_ms=30000,
        variables={"__CRM_CALL_ID": action_id},
    )


def originates(sim: AmiSimulator) -> list[dict[str, Any]]:
    return [
        a for a in sim.actions_received if str(a.get("Action")).lower() == "originate"
    ]


async def test_originate_response_reaches_the_event_handlers(
    link: tuple[AmiLink, Sink],
) -> None:
    ami, sink = link

    await AmiTelephony(ami).originate(originate("crm-test-1"))
    await sink.wait_for("OriginateResponse")

    (response,) = sink.named("OriginateResponse")
    assert response["ActionID"] == "crm-test-1"
    assert response["Response"] == "Success"
    assert response["Reason"] == "4"


async def test_reconnects_after_the_connection_drops(
    simulator: AmiSimulator, link: tuple[AmiLink, Sink]
) -> None:
    ami, _ = link

    await simulator.drop_connections()
    await asyncio.sleep(0.05)
    assert not ami.connected
    await ami.wait_connected(5)

    assert ami.connected
    assert ami.logins == 2


async def test_a_silent_link_is_noticed_and_replaced(
    simulator: AmiSimulator, link: tuple[AmiLink, Sink]
) -> None:
    ami, _ = link
    loop = asyncio.get_running_loop()

    simulator.paused = True
    started = loop.time()
    while ami.connected and loop.time() - started < 5:
        await asyncio.sleep(0.05)
    noticed_after = loop.time() - started
    simulator.paused = False
    await ami.wait_connected(5)

    # ping every 0.3 s with a 0.3 s deadline: the dead link is dropped within ~0.6 s
    assert noticed_after < 1.5
    assert ami.logins >= 2


async def test_an_unanswered_originate_fails_and_is_never_resent(
    simulator: AmiSimulator, link: tuple[AmiLink, Sink]
) -> None:
    ami, _ = link
    telephony = AmiTelephony(ami)

    simulator.paused = True
    attempt = asyncio.ensure_future(telephony.originate(originate("crm-test-2")))
    await asyncio.sleep(0.1)
    await simulator.drop_connections()
    with pytest.raises(TelephonyUnavailable):
        await attempt
    sent_before_reconnect = len(originates(simulator))
    simulator.paused = False
    await ami.wait_connected(5)
    await asyncio.sleep(0.5)

    assert ami.logins == 2
    assert len(originates(simulator)) == sent_before_reconnect


async def test_originate_fails_fast_when_not_connected(simulator: AmiSimulator) -> None:
    sink = Sink()
    ami = make_link(simulator, sink)

    with pytest.raises(TelephonyUnavailable):
        await AmiTelephony(ami).originate(originate("crm-test-3"))

    assert originates(simulator) == []


async def test_cyrillic_name_split_across_reads_arrives_intact() -> None:
    sim = AmiSimulator(host="127.0.0.1", port=0, speed=50.0, write_chunk_size=7)
    await sim.start()
    sink = Sink()
    ami = make_link(sim, sink)
    try:
        await ami.start()
        await ami.wait_connected(5)

        await sim.start_inbound(
            caller="79161234567",
            caller_name="Иван Петров",
            did="74950000000",
            extensions=("101",),
            scenario="answered",
        )
        await sink.wait_for("Hangup", count=2)
    finally:
        await ami.stop()
        await sim.stop()

    names = {e.get("CallerIDName") for e in sink.named("Newchannel")}
    assert "Иван Петров" in names
    assert not any("\ufffd" in str(v) for e in sink.events for v in e.values())


async def test_a_failing_handler_does_not_stop_the_link(
    simulator: AmiSimulator, link: tuple[AmiLink, Sink]
) -> None:
    ami, sink = link
    sink.fail_on = {"Newchannel"}

    await simulator.start_inbound(
        caller="79161234567",
        did="74950000000",
        extensions=("101",),
        scenario="answered",
    )
    await sink.wait_for("Hangup", count=2)

    assert ami.handler_errors >= 2
    assert ami.connected
    assert len(sink.named("Newchannel")) == 2  # both channels, despite both failures


async def test_wrong_secret_is_refused_and_retried(simulator: AmiSimulator) -> None:
    sink = Sink()
    ami = make_link(simulator, sink, secret="wrong")
    await ami.start()
    try:
        await asyncio.sleep(1.0)
        assert not ami.connected
        assert ami.logins == 0
    finally:
        await ami.stop()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exten", "79161234567\r\nAction: Hangup"),
        ("exten", "7916abc"),
        ("channel", "PJSIP/101\nAction: Originate"),
        ("caller_id", "Client\r\n\r\nAction: Logoff"),
        ("action_id", "x\ny"),
    ],
)
def test_values_with_line_breaks_never_reach_an_action(field: str, value: str) -> None:
    spec = dataclasses.replace(originate("crm-test-4"), **{field: value})

    with pytest.raises(UnsafeActionValue):
        build_originate(spec)


def test_a_clean_originate_is_built_as_asterisk_expects() -> None:
    action = build_originate(originate("crm-test-5"))

    assert action == {
        "Action": "Originate",
        "ActionID": "crm-test-5",
        "Channel": "PJSIP/101",
        "CallerID": "79161234567 <79161234567>",
        "Timeout": "30000",
        "Async": "true",
        "Context": "from-internal",
        "Exten": "79161234567",
        "Priority": "1",
        "Variable": ["__CRM_CALL_ID=crm-test-5"],
    }
