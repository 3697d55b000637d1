"""Tests of the AMI simulator over real TCP on 127.0.0.1.

Two kinds of clients talk to it: a raw asyncio client that reads whole messages (up to
``\\r\\n\\r\\n``) and checks the bytes, and panoramisk 1.4, the library the CRM uses.
Plays run at speed 0 (no delays) unless a test needs the call to stay up for a moment.
Every test runs under blockbuster, so any blocking call on the event loop fails it.
"""

import asyncio
import hashlib
import re
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from blockbuster import blockbuster_ctx
from panoramisk import Manager

from ami.simulator import AmiSimulator
from ami.simulator.capture import TRACES_DIR
from ami.simulator.cli import main as cli_main
from ami.simulator.protocol import encode_message, split_chunks

Message = list[tuple[str, str]]

CAPTURED_CLIENT = "79161234567"
CLIENT = "79035551234"
CLIENT_NAME = "Иван Петров"


@pytest.fixture(autouse=True)
def no_blocking_calls() -> Iterator[None]:
    with blockbuster_ctx(scanned_modules=["ami", "tests"]):
        yield


def field(message: Message, key: str) -> str:
    for name, value in message:
        if name == key:
            return value
    return ""


def event_name(message: Message) -> str:
    return field(message, "Event")


class RawClient:
    """A minimal AMI client that keeps every byte it reads."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.raw = bytearray()

    @classmethod
    async def connect(cls, port: int) -> "RawClient":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def read_banner(self) -> bytes:
        banner = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), 5)
        self.raw += banner
        return banner

    async def read_raw_message(self, timeout: float = 5) -> bytes:
        data = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        self.raw += data
        return data

    async def read_message(self, timeout: float = 5) -> Message:
        data = await self.read_raw_message(timeout)
        pairs: Message = []
        for line in data.decode("utf-8").split("\r\n"):
            if line:
                key, _, value = line.partition(": ")
                pairs.append((key, value))
        return pairs

    async def read_until(
        self, done: Callable[[Message], bool], timeout: float = 10
    ) -> list[Message]:
        messages: list[Message] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.read_message(max(0.01, remaining))
            messages.append(message)
            if done(message):
                return messages

    def send(self, *pairs: tuple[str, str]) -> None:
        self.writer.write(encode_message(pairs))

    async def login(self, secret: str = "crmsecret") -> list[Message]:
        await self.read_banner()
        self.send(
            ("Action", "Login"),
            ("ActionID", "login-1"),
            ("Username", "crm"),
            ("Secret", secret),
        )
        if secret != "crmsecret":
            return [await self.read_message()]

        return [await self.read_message() for _ in range(3)]

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


async def _simulator(tmp_path: Path, **options: Any) -> AmiSimulator:
    options.setdefault("speed", 0)
    simulator = AmiSimulator(
        host="127.0.0.1", port=0, recordings_dir=tmp_path / "recordings", **options
    )
    await simulator.start()
    return simulator


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[AmiSimulator]:
    simulator = await _simulator(tmp_path)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(simulator: AmiSimulator) -> AsyncIterator[RawClient]:
    client = await RawClient.connect(simulator.port)
    await client.login()
    yield client
    await client.close()


def originate(
    client: RawClient, action_id: str, channel: str, exten: str, **extra: str
) -> None:
    headers = [
        ("Action", "Originate"),
        ("ActionID", action_id),
        ("Channel", channel),
        ("Context", "from-internal"),
        ("Exten", exten),
        ("Priority", "1"),
        ("CallerID", f"{CLIENT_NAME} <{exten}>"),
        ("Async", "true"),
        ("Variable", "__CRM_CALL_ID=crm-42"),
        ("Variable", "CRM_MANAGER=105"),
    ]
    headers.extend(extra.items())
    client.send(*headers)


async def read_call(
    client: RawClient,
    linkedid: str = "",
    timeout: float = 10,
    known: Sequence[str] = (),
) -> list[Message]:
    """Read until every channel of the call (seen now or ``known`` before) has hung up."""
    live: set[str] = set(known)
    seen: set[str] = set(known)

    def finished(message: Message) -> bool:
        if linkedid and field(message, "Linkedid") not in ("", linkedid):
            return False
        if event_name(message) == "Newchannel":
            live.add(field(message, "Channel"))
            seen.add(field(message, "Channel"))
        elif event_name(message) == "Hangup":
            live.discard(field(message, "Channel"))
        return bool(seen) and not live

    return await client.read_until(finished, timeout)


def channels_created(messages: list[Message]) -> list[str]:
    return [field(m, "Channel") for m in messages if event_name(m) == "Newchannel"]


def channels_hung_up(messages: list[Message]) -> list[str]:
    return [field(m, "Channel") for m in messages if event_name(m) == "Hangup"]


def first(messages: list[Message], event: str) -> Message:
    return next(m for m in messages if event_name(m) == event)


async def read_wav(path: Path) -> tuple[int, float]:
    def read() -> tuple[int, float]:
        with wave.open(str(path), "rb") as recording:
            assert (recording.getnchannels(), recording.getsampwidth()) == (1, 2)
            assert recording.getframerate() == 8000
            return (
                path.stat().st_size,
                recording.getnframes() / recording.getframerate(),
            )

    return await asyncio.to_thread(read)


# -- protocol -------------------------------------------------------------------------


async def test_banner_and_login_framing(simulator: AmiSimulator) -> None:
    client = await RawClient.connect(simulator.port)

    banner = await client.read_banner()
    client.send(
        ("Action", "Login"),
        ("ActionID", "l1"),
        ("Username", "crm"),
        ("Secret", "crmsecret"),
    )
    response = await client.read_raw_message()
    booted = await client.read_message()
    auth = await client.read_message()

    assert banner == b"Asterisk Call Manager/11.0.0\r\n"
    # No blank line after the banner: the response follows directly.
    assert bytes(client.raw).startswith(banner + b"Response: Success\r\n")
    assert (
        response
        == b"Response: Success\r\nActionID: l1\r\nMessage: Authentication accepted\r\n\r\n"
    )
    assert booted[:2] == [("Event", "FullyBooted"), ("Privilege", "system,all")]
    assert field(booted, "Status") == "Fully Booted"
    assert event_name(auth) == "SuccessfulAuth"
    assert field(auth, "AccountID") == "crm"
    assert simulator.actions_received[0]["Action"] == "Login"
    await client.close()


async def test_bad_secret_is_refused_and_closed(simulator: AmiSimulator) -> None:
    client = await RawClient.connect(simulator.port)

    [response] = await client.login(secret="wrong")
    rest = await asyncio.wait_for(client.reader.read(), 5)

    assert response == [
        ("Response", "Error"),
        ("ActionID", "login-1"),
        ("Message", "Authentication failed"),
    ]
    assert rest == b""
    await client.close()


async def test_permission_denied_before_login_and_unknown_action(
    simulator: AmiSimulator,
) -> None:
    client = await RawClient.connect(simulator.port)
    await client.read_banner()

    client.send(("Action", "Ping"), ("ActionID", "p0"))
    denied = await client.read_message()
    await client.close()

    client = await RawClient.connect(simulator.port)
    await client.login()
    client.send(("action", "NoSuchThing"), ("actionid", "x1"))
    unknown = await client.read_message()

    assert denied == [
        ("Response", "Error"),
        ("ActionID", "p0"),
        ("Message", "Permission denied"),
    ]
    assert field(unknown, "Response") == "Error"
    assert field(unknown, "ActionID") == "x1"
    assert field(unknown, "Message").startswith("Invalid/unknown command: NoSuchThing.")
    await client.close()


async def test_ping_and_logoff(client: RawClient) -> None:
    client.send(("Action", "Ping"), ("ActionID", "ping-7"))
    pong = await client.read_message()
    client.send(("Action", "Logoff"), ("ActionID", "bye"))
    goodbye = await client.read_message()
    rest = await asyncio.wait_for(client.reader.read(), 5)

    assert [key for key, _ in pong] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert field(pong, "Ping") == "Pong"
    assert re.fullmatch(r"\d{10}\.\d{6}", field(pong, "Timestamp"))
    assert goodbye == [
        ("Response", "Goodbye"),
        ("ActionID", "bye"),
        ("Message", "Thanks for all the fish."),
    ]
    assert rest == b""


async def test_md5_challenge_login_and_event_mask(simulator: AmiSimulator) -> None:
    client = await RawClient.connect(simulator.port)
    await client.read_banner()

    client.send(("Action", "Challenge"), ("ActionID", "c1"), ("AuthType", "MD5"))
    challenge = field(await client.read_message(), "Challenge")
    key = hashlib.md5(
        (challenge + "crmsecret").encode(), usedforsecurity=False
    ).hexdigest()
    client.send(
        ("Action", "Login"),
        ("ActionID", "l1"),
        ("AuthType", "MD5"),
        ("Username", "crm"),
        ("Key", key),
        ("Events", "off"),
    )
    accepted = await client.read_message()
    await simulator.start_inbound(caller=CLIENT)
    await simulator.wait_idle(5)
    client.send(("Action", "Events"), ("ActionID", "e1"), ("EventMask", "on"))
    events_on = await client.read_message()

    assert challenge.isdigit()
    assert field(accepted, "Message") == "Authentication accepted"
    # Events were off: nothing of the call came before the Events response.
    assert events_on == [("Response", "Success"), ("ActionID", "e1"), ("Events", "On")]
    await client.close()


# -- click-to-call ---------------------------------------------------------------------


async def test_originate_answered_with_fresh_ids(client: RawClient) -> None:
    runs: list[list[Message]] = []
    for run in range(2):
        originate(client, f"c2c-{run}", "PJSIP/105", CLIENT)
        # Events of the previous call may still trail ahead of the response.
        queued = (await client.read_until(lambda m: field(m, "Response") != ""))[-1]
        assert queued == [
            ("Response", "Success"),
            ("ActionID", f"c2c-{run}"),
            ("Message", "Originate successfully queued"),
        ]
        runs.append(await read_call(client))

    for run, messages in enumerate(runs):
        events = [event_name(m) for m in messages]
        answer = next(
            m
            for m in messages
            if event_name(m) == "DialEnd" and field(m, "DialStatus") == "ANSWER"
        )
        response = first(messages, "OriginateResponse")
        text = "".join(encode_message(m).decode() for m in messages)

        assert events.index("Newchannel") < events.index("OriginateResponse")
        assert field(answer, "DestChannel") == field(response, "Channel")
        assert field(response, "ActionID") == f"c2c-{run}"
        assert (field(response, "Response"), field(response, "Reason")) == (
            "Success",
            "4",
        )
        assert field(response, "Channel").startswith("PJSIP/105-")
        assert sorted(channels_created(messages)) == sorted(channels_hung_up(messages))
        assert CLIENT in text and CAPTURED_CLIENT not in text
        assert "PJSIP/101" not in text
        assert CLIENT_NAME in field(response, "CallerIDName")
        varsets = {
            (field(m, "Channel"), field(m, "Variable")): field(m, "Value")
            for m in messages
            if event_name(m) == "VarSet"
        }
        assert varsets[(field(response, "Channel"), "__CRM_CALL_ID")] == "crm-42"

    def identities(messages: list[Message]) -> set[str]:
        keys = ("Uniqueid", "Linkedid", "Channel", "BridgeUniqueid")
        return {field(m, key) for m in messages for key in keys if field(m, key)}

    assert not identities(runs[0]) & identities(runs[1])


async def test_originate_with_panoramisk(simulator: AmiSimulator) -> None:
    logged_in = asyncio.get_running_loop().create_future()
    events: list[str] = []
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=simulator.port,
        username="crm",
        secret="crmsecret",
        ping_delay=60,
        on_login=lambda _: logged_in.set_result(True),
    )
    manager.register_event("*", lambda _, event: events.append(event["Event"]))
    await manager.connect()
    await asyncio.wait_for(logged_in, 5)

    result = await asyncio.wait_for(
        manager.send_action(
            {
                "Action": "Originate",
                "Channel": "PJSIP/101",
                "Context": "from-internal",
                "Exten": CLIENT,
                "Priority": "1",
                "CallerID": f"Client <{CLIENT}>",
                "Async": "true",
                "Variable": ["__CRM_CALL_ID=p-1", "CRM_MANAGER=101"],
            }
        ),
        5,
    )
    await simulator.wait_idle(5)
    await asyncio.sleep(0.05)
    manager.close()

    queued, answered = result
    assert queued["Message"] == "Originate successfully queued"
    assert (answered["Event"], answered["Response"], answered["Reason"]) == (
        "OriginateResponse",
        "Success",
        "4",
    )
    assert answered["ActionID"] == queued["ActionID"]
    assert events.count("Hangup") == 2
    assert "OriginateResponse" not in events


async def test_synchronous_originate_answers_late(client: RawClient) -> None:
    client.send(
        ("Action", "Originate"),
        ("ActionID", "sync-1"),
        ("Channel", "PJSIP/101"),
        ("Context", "from-internal"),
        ("Exten", CLIENT),
        ("Priority", "1"),
    )
    answered = await client.read_until(lambda m: field(m, "ActionID") == "sync-1")
    client.send(
        ("Action", "Originate"),
        ("ActionID", "sync-2"),
        ("Channel", "PJSIP/109"),
        ("Context", "from-internal"),
        ("Exten", CLIENT),
        ("Priority", "1"),
    )
    failed = await client.read_until(lambda m: field(m, "ActionID") == "sync-2")

    # Asterisk answers a synchronous Originate only once the phone answered (or not),
    # and sends no OriginateResponse event for it.
    assert any(event_name(m) == "Newchannel" for m in answered)
    assert field(answered[-1], "Message") == "Originate successfully queued"
    assert failed[-1] == [
        ("Response", "Error"),
        ("ActionID", "sync-2"),
        ("Message", "Originate failed"),
    ]
    assert not any(event_name(m) == "OriginateResponse" for m in answered + failed)


async def test_client_busy(client: RawClient) -> None:
    originate(client, "busy-1", "PJSIP/101", "79035551230")
    await client.read_message()
    messages = await read_call(client)

    dial_ends = [field(m, "DialStatus") for m in messages if event_name(m) == "DialEnd"]
    causes = {
        field(m, "Channel"): field(m, "Cause")
        for m in messages
        if event_name(m) == "Hangup"
    }

    assert "BUSY" in dial_ends
    assert "17" in causes.values()


async def test_manager_absent_times_out(client: RawClient) -> None:
    originate(client, "absent-1", "PJSIP/109", CLIENT, Timeout="3000")
    await client.read_message()
    messages = await read_call(client)

    response = first(messages, "OriginateResponse")
    hangup = first(messages, "Hangup")

    assert field(response, "ActionID") == "absent-1"
    assert (field(response, "Response"), field(response, "Reason")) == ("Failure", "3")
    assert field(response, "Channel") == "PJSIP/109"
    assert field(response, "Uniqueid") == "<unknown>"
    assert field(hangup, "Cause") == "19"


async def test_absent_manager_uses_the_originate_timeout(tmp_path: Path) -> None:
    simulator = await _simulator(tmp_path, speed=10)
    client = await RawClient.connect(simulator.port)
    await client.login()

    started = time.monotonic()
    originate(client, "absent-2", "PJSIP/109", CLIENT, Timeout="2000")
    messages = await client.read_until(
        lambda m: event_name(m) == "OriginateResponse", 5
    )
    elapsed = time.monotonic() - started

    # The capture timed out after 15 s (1.5 s at speed 10); 2 s at speed 10 is 0.2 s.
    assert field(messages[-1], "Reason") == "3"
    assert 0.15 < elapsed < 1.0
    await client.close()
    await simulator.stop()


async def test_local_flavour_has_pairs(client: RawClient) -> None:
    originate(client, "local-1", "Local/102@phones", CLIENT)
    await client.read_message()
    messages = await read_call(client)

    created = channels_created(messages)
    halves = {name.rsplit(";", 1)[0] for name in created}
    response = first(messages, "OriginateResponse")

    assert all(name.endswith((";1", ";2")) for name in created)
    assert len(created) == 2 * len(halves)
    assert any(name.startswith("Local/102@phones-") for name in halves)
    assert any(event_name(m) == "LocalBridge" for m in messages)
    assert field(response, "Channel").endswith(";1")


# -- inbound ----------------------------------------------------------------------------


async def test_inbound_answered(simulator: AmiSimulator, client: RawClient) -> None:
    linkedid = await simulator.start_inbound(
        caller=CLIENT, caller_name=CLIENT_NAME, did="74951112233", extensions=("107",)
    )
    messages = await read_call(client, linkedid)

    trunk = first(messages, "Newchannel")
    answered = [
        m
        for m in messages
        if event_name(m) == "DialEnd" and field(m, "DialStatus") == "ANSWER"
    ]

    assert field(trunk, "Uniqueid") == linkedid
    assert field(trunk, "CallerIDNum") == CLIENT
    assert field(trunk, "CallerIDName") == CLIENT_NAME
    assert field(trunk, "Exten") == "74951112233"
    assert field(answered[0], "DestChannel").startswith("PJSIP/107-")
    assert {field(m, "Linkedid") for m in messages if field(m, "Linkedid")} == {
        linkedid
    }


async def test_inbound_missed(simulator: AmiSimulator, client: RawClient) -> None:
    linkedid = await simulator.start_inbound(
        caller=CLIENT, scenario="missed", extensions=("104",)
    )
    # The city side's failed OriginateResponse comes after the last Hangup.
    messages = await client.read_until(lambda m: event_name(m) == "OriginateResponse")

    dial_end = first(messages, "DialEnd")
    foreign = first(messages, "OriginateResponse")

    assert field(dial_end, "DialStatus") == "NOANSWER"
    assert {field(m, "Linkedid") for m in messages if field(m, "Linkedid")} == {
        linkedid
    }
    assert field(dial_end, "DestChannel").startswith("PJSIP/104-")
    # The city side's Originate belongs to another AMI client.
    assert field(foreign, "ActionID").startswith("sim-foreign-")


async def test_inbound_queue(simulator: AmiSimulator, client: RawClient) -> None:
    linkedid = await simulator.start_inbound(
        caller=CLIENT, scenario="queue", extensions=("111", "112")
    )
    messages = await read_call(client, linkedid)

    connect = first(messages, "AgentConnect")
    called = [field(m, "Interface") for m in messages if event_name(m) == "AgentCalled"]
    causes = [field(m, "Cause") for m in messages if event_name(m) == "Hangup"]

    assert sorted(called) == ["PJSIP/111", "PJSIP/112"]
    assert field(connect, "Interface") == "PJSIP/111"
    assert "26" in causes
    assert any(event_name(m) == "QueueCallerJoin" for m in messages)


async def test_local_flavour_inbound_queue(tmp_path: Path) -> None:
    simulator = await _simulator(tmp_path, flavour="local")
    client = await RawClient.connect(simulator.port)
    await client.login()

    linkedid = await simulator.start_inbound(caller=CLIENT, scenario="queue")
    messages = await read_call(client, linkedid)

    assert all(name.endswith((";1", ";2")) for name in channels_created(messages))
    assert sum(event_name(m) == "LocalBridge" for m in messages) == 3
    await client.close()
    await simulator.stop()


# -- recordings and framing -------------------------------------------------------------


async def test_recordings_have_the_bridged_duration(
    simulator: AmiSimulator, client: RawClient
) -> None:
    originate(client, "rec-1", "PJSIP/101", CLIENT)
    await client.read_message()
    answered = await read_call(client)
    missed_id = await simulator.start_inbound(caller=CLIENT, scenario="missed")
    await read_call(client, missed_id)
    await simulator.wait_idle(5)

    assert simulator.recordings_dir is not None
    uniqueid = field(first(answered, "OriginateResponse"), "Uniqueid")
    size, seconds = await read_wav(simulator.recordings_dir / f"{uniqueid}.wav")
    missed_size, missed_seconds = await read_wav(
        simulator.recordings_dir / f"{missed_id}.wav"
    )

    # BridgeEnter 4.519 → BridgeLeave 11.945 in the capture, whatever the speed.
    assert seconds == pytest.approx(7.426, abs=0.01)
    assert size == 44 + round(seconds * 8000) * 2
    assert (missed_size, missed_seconds) == (44, 0)


async def test_write_chunk_size_splits_utf8(tmp_path: Path) -> None:
    simulator = await _simulator(tmp_path, write_chunk_size=7)
    client = await RawClient.connect(simulator.port)
    await client.login()

    linkedid = await simulator.start_inbound(caller=CLIENT, caller_name=CLIENT_NAME)
    await read_call(client, linkedid)
    text = bytes(client.raw).decode("utf-8")
    sample = encode_message([("CallerIDName", CLIENT_NAME)])
    pieces = split_chunks(sample, 7)

    assert f"CallerIDName: {CLIENT_NAME}\r\n" in text
    assert b"".join(pieces) == sample
    assert max(len(piece) for piece in pieces) == 7
    with pytest.raises(UnicodeDecodeError):
        # The 7-byte cut falls inside a two-byte Cyrillic letter.
        for piece in pieces:
            piece.decode("utf-8")
    await client.close()
    await simulator.stop()


# -- acting on live calls ---------------------------------------------------------------


async def _answered_inbound(
    tmp_path: Path, speed: float
) -> tuple[AmiSimulator, RawClient, str, list[Message]]:
    simulator = await _simulator(tmp_path, speed=speed)
    client = await RawClient.connect(simulator.port)
    await client.login()
    linkedid = await simulator.start_inbound(caller=CLIENT, extensions=("101",))
    bridged = 0

    def both_bridged(message: Message) -> bool:
        nonlocal bridged
        bridged += event_name(message) == "BridgeEnter"
        return bridged == 2

    messages = await client.read_until(both_bridged, 5)
    return simulator, client, linkedid, messages


async def test_core_show_channels_during_a_call(tmp_path: Path) -> None:
    simulator, client, linkedid, _ = await _answered_inbound(tmp_path, speed=5)

    client.send(("Action", "CoreShowChannels"), ("ActionID", "csc"))
    messages = await client.read_until(
        lambda m: event_name(m) == "CoreShowChannelsComplete"
    )
    # Call events still in flight may come before the list.
    listack = next(m for m in messages if field(m, "Response"))
    listed = [m for m in messages if event_name(m) == "CoreShowChannel"]

    assert listack == [
        ("Response", "Success"),
        ("ActionID", "csc"),
        ("EventList", "start"),
        ("Message", "Channels will follow"),
    ]
    assert len(listed) == 2
    assert {field(m, "Linkedid") for m in listed} == {linkedid}
    assert all(
        field(m, "ChannelStateDesc") == "Up" and field(m, "BridgeId") for m in listed
    )
    assert [key for key, _ in listed[0]][:3] == ["Event", "ActionID", "Channel"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", field(listed[0], "Duration"))
    assert field(messages[-1], "ListItems") == "2"
    await client.close()
    await simulator.stop()


async def test_hangup_action_cuts_the_call(tmp_path: Path) -> None:
    simulator, client, linkedid, messages = await _answered_inbound(tmp_path, speed=5)
    trunk = field(first(messages, "Newchannel"), "Channel")

    started = time.monotonic()
    client.send(("Action", "Hangup"), ("ActionID", "h1"), ("Channel", trunk))
    rest = await read_call(
        client, linkedid, timeout=5, known=channels_created(messages)
    )
    elapsed = time.monotonic() - started
    await simulator.wait_idle(5)
    client.send(("Action", "Hangup"), ("ActionID", "h2"), ("Channel", trunk))
    again = (await client.read_until(lambda m: field(m, "ActionID") == "h2"))[-1]
    hung = next(m for m in rest if field(m, "ActionID") == "h1")

    assert hung == [
        ("Response", "Success"),
        ("ActionID", "h1"),
        ("Message", "Channel Hungup"),
    ]
    assert {field(m, "Cause") for m in rest if event_name(m) == "Hangup"} == {"16"}
    assert len(channels_hung_up(rest)) == 2
    # The captured call would have gone on for another ~1.9 s at speed 5.
    assert elapsed < 1.0
    assert again == [
        ("Response", "Error"),
        ("ActionID", "h2"),
        ("Message", "No such channel"),
    ]
    assert simulator.registry.all() == []
    assert simulator.recordings_dir is not None
    _, seconds = await read_wav(simulator.recordings_dir / f"{linkedid}.wav")
    assert 0 < seconds < 9.4
    await client.close()
    await simulator.stop()


async def test_blind_transfer_continues_the_call(tmp_path: Path) -> None:
    simulator, client, linkedid, messages = await _answered_inbound(tmp_path, speed=20)
    manager = channels_created(messages)[1]

    client.send(
        ("Action", "BlindTransfer"),
        ("ActionID", "t1"),
        ("Channel", manager),
        ("Context", "from-internal"),
        ("Exten", "106"),
    )
    rest = await read_call(
        client, linkedid, timeout=10, known=channels_created(messages)
    )
    await simulator.wait_idle(5)

    transfer = first(rest, "BlindTransfer")
    new_channels = channels_created(rest)
    response = next(m for m in rest if field(m, "ActionID") == "t1")

    assert response == [
        ("Response", "Success"),
        ("ActionID", "t1"),
        ("Message", "Transfer succeeded"),
    ]
    assert field(transfer, "TransfererChannel") == manager
    assert field(transfer, "Extension") == "106"
    assert [name.rsplit("-", 1)[0] for name in new_channels] == ["PJSIP/106"]
    assert {field(m, "Linkedid") for m in rest if field(m, "Linkedid")} == {linkedid}
    assert manager in channels_hung_up(rest)
    await client.close()
    await simulator.stop()


async def test_chanspy_listens_until_the_call_ends(tmp_path: Path) -> None:
    simulator = await _simulator(tmp_path, speed=20)
    client = await RawClient.connect(simulator.port)
    await client.login()
    originate(client, "long-1", "PJSIP/101", "79035551238")
    call = await client.read_until(lambda m: event_name(m) == "OriginateResponse", 5)
    spyee = field(call[-1], "Channel")

    client.send(
        ("Action", "Originate"),
        ("ActionID", "spy-1"),
        ("Channel", "PJSIP/103"),
        ("Application", "ChanSpy"),
        ("Data", f"{spyee},qE"),
        ("CallerID", "Listen <103>"),
        ("Async", "true"),
    )
    rest = await client.read_until(lambda m: event_name(m) == "ChanSpyStop", 10)
    await simulator.wait_idle(10)

    start = first(rest, "ChanSpyStart")
    assert field(start, "SpyeeChannel") == spyee
    assert field(start, "SpyerChannel").startswith("PJSIP/103-")
    assert field(start, "SpyerLinkedid") == field(start, "SpyerUniqueid")
    assert field(start, "SpyerLinkedid") != field(start, "SpyeeLinkedid")
    assert spyee in channels_hung_up(rest)
    await client.close()
    await simulator.stop()


async def test_speed_zero_plays_fast(
    simulator: AmiSimulator, client: RawClient
) -> None:
    started = time.monotonic()
    for index in range(5):
        originate(client, f"fast-{index}", "PJSIP/101", CLIENT)
    await simulator.wait_idle(5)

    # Five calls that took ~11 s each on the real PBX.
    assert time.monotonic() - started < 2


# -- operating the simulator ------------------------------------------------------------


async def test_paused_and_dropped_connections(
    simulator: AmiSimulator, client: RawClient
) -> None:
    simulator.paused = True
    client.send(("Action", "Ping"), ("ActionID", "p1"))
    with pytest.raises(TimeoutError):
        await client.read_message(timeout=0.3)
    simulator.paused = False
    client.send(("Action", "Ping"), ("ActionID", "p2"))
    pong = await client.read_message()

    await simulator.drop_connections()
    rest = await asyncio.wait_for(client.reader.read(), 5)

    assert field(pong, "ActionID") == "p2"
    assert rest == b""


async def test_replay_file_sends_the_capture_as_is(
    simulator: AmiSimulator, client: RawClient
) -> None:
    await simulator.replay_file(
        TRACES_DIR / "sip-03-click2call-manager-noanswer.timeline.jsonl"
    )
    messages = await client.read_until(lambda m: event_name(m) == "Hangup")

    assert field(first(messages, "Newchannel"), "Uniqueid") == "1796397568.121"
    assert not any(field(m, "Response") == "Goodbye" for m in messages)


async def test_run_traffic_makes_calls(
    simulator: AmiSimulator, client: RawClient
) -> None:
    await simulator.run_traffic(managers=4, calls_per_minute=1200, duration=0.3)
    await simulator.wait_idle(10)

    names: list[str] = []
    while True:
        try:
            message = await client.read_message(timeout=0.2)
        except TimeoutError:
            break
        if event_name(message) == "Newchannel":
            names.append(field(message, "Channel"))

    assert len(names) >= 4
    assert not any(name.startswith(("PJSIP/108-", "PJSIP/109-")) for name in names)


async def test_control_api(tmp_path: Path) -> None:
    simulator = await _simulator(tmp_path, control_port=0, speed=0)
    base = f"http://127.0.0.1:{simulator.control_port}"

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/health") as response:
            health = await response.json()
        async with http.post(
            f"{base}/inbound", json={"caller": CLIENT, "caller_name": CLIENT_NAME}
        ) as response:
            created = await response.json()
        async with http.post(f"{base}/inbound", json={"scenario": "queue"}) as response:
            refused = response.status
        async with http.get(f"{base}/channels") as response:
            channels = await response.json()
    await simulator.wait_idle(5)

    assert health["status"] == "ok"
    assert re.fullmatch(r"\d+\.\d+", created["linkedid"])
    assert refused == 400
    assert isinstance(channels["channels"], list)
    await simulator.stop()


def test_cli_runs_for_a_duration() -> None:
    assert (
        cli_main(
            [
                "--port",
                "0",
                "--speed",
                "0",
                "--duration",
                "0.2",
                "--log-level",
                "WARNING",
            ]
        )
        == 0
    )
