"""The whole call path on real parts: simulator -> TCP -> AMI link -> call service ->
PostgreSQL, including a lost AMI link and a database outage in the middle of calls."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from sqlalchemy import func, select

from ami.connection import AmiLink
from ami.handlers import AmiEventHandler
from ami.simulator import AmiSimulator
from ami.telephony import AmiTelephony
from callcenter.calls.errors import NoSuchCall, PbxUnavailable
from callcenter.calls.models import AmiEvent, Call, CallLeg, Recording
from callcenter.calls.service import CallService, DialPlan
from callcenter.calls.tracker import CallTracker, ChannelClassifier
from callcenter.clients.service import ClientService, NewClient
from callcenter.db import SessionFactory
from callcenter.interactions.models import Interaction
from callcenter.users.models import Role
from callcenter.users.service import UserService, UserView
from recordings.store import FileRecordingStore
from tests.conftest import PgServer


@dataclass
class Published:
    payloads: list[tuple[dict[str, Any], frozenset[int]]] = field(default_factory=list)
    restricted: list[tuple[frozenset[int], dict[str, Any]]] = field(
        default_factory=list
    )

    def publish(
        self,
        payload: dict[str, Any],
        *,
        users: Collection[int],
        supervisors: bool = True,
        restricted: tuple[frozenset[int], dict[str, Any]] | None = None,
    ) -> None:
        self.payloads.append((payload, frozenset(users)))
        if restricted is not None:
            self.restricted.append(restricted)

    def ops(self, op: str) -> list[tuple[dict[str, Any], frozenset[int]]]:
        return [(p, u) for p, u in self.payloads if p.get("op") == op]


@dataclass
class Pipeline:
    sessions: SessionFactory
    simulator: AmiSimulator
    link: AmiLink
    calls: CallService
    clients: ClientService
    users: dict[str, UserView]
    published: Published

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait for the simulator to finish its calls and the writer to commit them."""
        await self.simulator.wait_idle(timeout=timeout)
        await asyncio.sleep(0.2)
        await asyncio.wait_for(self.calls.writer.wait_idle(), timeout)

    async def call_rows(self) -> list[Call]:
        async with self.sessions() as session:
            return list(
                (await session.scalars(select(Call).order_by(Call.started_at))).all()
            )


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


@pytest.fixture
async def pipeline(sessions: SessionFactory, tmp_path: Path) -> AsyncIterator[Pipeline]:
    users_service = UserService(sessions, session_max_age=dt.timedelta(hours=1))
    users = {}
    for login, extension, role in (
        ("anna", "101", Role.MANAGER),
        ("boris", "102", Role.MANAGER),
        ("petr", "109", Role.MANAGER),
        ("olga", "103", Role.SUPERVISOR),
    ):
        users[login] = await users_service.create_user(
            login=login,
            full_name=login.title(),
            role=role,
            password="password-123",
            extensions=(extension,),
        )

    simulator = AmiSimulator(
        host="127.0.0.1", port=0, speed=10.0, recordings_dir=tmp_path
    )
    await simulator.start()
    clients = ClientService(sessions)
    published = Published()
    classifier = ChannelClassifier(
        trunk_endpoints=["pstn"],
        trunk_local_contexts=["from-pstn", "pstn-sim"],
        phone_local_contexts=["phones"],
        internal_extension_pattern=r"^\d{2,5}$",
    )
    calls = CallService(
        sessions,
        CallTracker(classifier),
        clients,
        published,
        recordings=FileRecordingStore(tmp_path, settle_seconds=0.1, wait_seconds=10),
        dial_plan=DialPlan(timeout_ms=3000),
    )
    await calls.refresh_extensions()
    link = AmiLink(
        host="127.0.0.1",
        port=simulator.port,
        username="crm",
        secret="crmsecret",
        on_event=AmiEventHandler(calls),
        on_login=calls.reconcile,
        ping_interval=0.3,
        ping_timeout=0.3,
        reconnect_max_delay=0.3,
    )
    calls.set_telephony(AmiTelephony(link))
    writer = asyncio.get_running_loop().create_task(calls.writer.run())
    await link.start()
    await link.wait_connected(5)

    yield Pipeline(sessions, simulator, link, calls, clients, users, published)

    await link.stop()
    await simulator.stop()
    await calls.close()
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


async def add_client(pipeline: Pipeline, name: str, phone: str) -> int:
    return await pipeline.clients.create_client(
        NewClient(company_name=name, phone=phone, contact_name="Петров Иван"),
        user=pipeline.users["anna"],
    )


async def test_inbound_call_from_a_known_client_is_logged_whole(
    pipeline: Pipeline,
) -> None:
    company_id = await add_client(pipeline, "ООО «Ромашка»", "8 (916) 123-45-67")

    linkedid = await pipeline.simulator.start_inbound(
        caller="79161234567",
        did="74950000000",
        extensions=("101",),
        scenario="answered",
    )
    await pipeline.settle()

    (call,) = await pipeline.call_rows()
    assert call.linkedid == linkedid
    assert call.direction.value == "inbound"
    assert call.outcome.value == "answered"
    assert call.company_id == company_id
    assert call.manager_id == pipeline.users["anna"].id
    assert call.client_number == "79161234567"
    async with pipeline.sessions() as session:
        legs = (
            await session.scalars(select(CallLeg).where(CallLeg.call_id == call.id))
        ).all()
        events = (
            await session.scalars(
                select(AmiEvent.name).where(AmiEvent.linkedid == linkedid)
            )
        ).all()
        history = (
            await session.scalars(
                select(Interaction).where(Interaction.call_id == call.id)
            )
        ).all()
    assert sorted(leg.kind.value for leg in legs) == ["client", "manager"]
    assert {"Newchannel", "DialBegin", "DialEnd", "Hangup"} <= set(events)
    assert events.count("Hangup") == 2
    assert [h.company_id for h in history] == [company_id]
    ringing = pipeline.published.ops("ringing")
    assert [users for _, users in ringing] == [frozenset({pipeline.users["anna"].id})]
    assert ringing[0][0]["card"]["company"]["name"] == "ООО «Ромашка»"


async def test_recording_is_found_and_measured(pipeline: Pipeline) -> None:
    await pipeline.simulator.start_inbound(
        caller="79161234567",
        did="74950000000",
        extensions=("101",),
        scenario="answered",
    )
    await pipeline.settle()
    await wait_until(lambda: _recording_checked(pipeline))

    async with pipeline.sessions() as session:
        recording = await session.scalar(select(Recording))
        call = await session.scalar(select(Call))
    assert recording is not None and call is not None
    assert recording.status.value == "ready"
    assert recording.file_name == f"{call.linkedid}.wav"
    # The simulator writes as much audio as the captured call was bridged (about 9 s).
    assert recording.duration_seconds == pytest.approx(9.4, abs=0.6)


async def _recording_checked(pipeline: Pipeline) -> bool:
    async with pipeline.sessions() as session:
        status = await session.scalar(select(Recording.status))
    return status is not None and status.value != "pending"


async def test_unknown_caller_is_kept_and_linked_when_the_client_is_created(
    pipeline: Pipeline,
) -> None:
    await pipeline.simulator.start_inbound(
        caller="79035550011", did="74950000000", extensions=("101",), scenario="missed"
    )
    await pipeline.settle()
    (call,) = await pipeline.call_rows()
    assert call.company_id is None
    assert call.outcome.value == "missed"
    assert pipeline.published.ops("ringing")[0][0]["card"]["known"] is False

    company_id = await add_client(pipeline, "ИП Сидоров", "+7 903 555-00-11")

    (call,) = await pipeline.call_rows()
    assert call.company_id == company_id
    async with pipeline.sessions() as session:
        summaries = (
            await session.scalars(
                select(Interaction.summary).where(Interaction.company_id == company_id)
            )
        ).all()
    assert summaries == ["Входящий звонок, без ответа"]


@pytest.mark.parametrize(
    ("number", "extension", "outcome", "stage"),
    [
        ("79161234567", "anna", "answered", None),
        ("79161234560", "anna", "busy", "client"),
        ("79161234567", "petr", "no_answer", "manager"),
    ],
)
async def test_click_to_call_outcomes(
    pipeline: Pipeline, number: str, extension: str, outcome: str, stage: str | None
) -> None:
    user = pipeline.users[extension]

    placed = await pipeline.calls.click_to_call(user, number)
    await pipeline.settle()

    (call,) = await pipeline.call_rows()
    assert str(call.id) == placed["id"]
    assert call.direction.value == "originated"
    assert call.outcome.value == outcome
    assert call.failure_stage == stage
    assert call.requested_by_id == user.id
    assert call.linkedid is not None
    stages = [p["stage"] for p, _ in pipeline.published.ops("originate")]
    assert stages[-1] == ("manager_answered" if outcome == "answered" else "failed")


async def test_click_to_call_refused_without_the_pbx(pipeline: Pipeline) -> None:
    await pipeline.link.stop()

    with pytest.raises(PbxUnavailable):
        await pipeline.calls.click_to_call(pipeline.users["anna"], "79161234567")

    assert await pipeline.call_rows() == []


async def test_a_call_that_ends_while_the_link_is_down_is_closed_on_reconnect(
    pipeline: Pipeline,
) -> None:
    simulator = pipeline.simulator
    simulator.speed = 4.0
    await simulator.start_inbound(
        caller="79161234567",
        did="74950000000",
        extensions=("101",),
        scenario="answered",
    )
    await wait_until(lambda: _status_is(pipeline, "active"))

    simulator.paused = True  # Asterisk goes silent: no events, no Pong
    await wait_until(_negate(lambda: pipeline.link.connected), timeout=5)
    await simulator.wait_idle(timeout=20)  # the call ends while we are blind
    simulator.paused = False
    await pipeline.link.wait_connected(10)
    await wait_until(lambda: _status_is(pipeline, "ended"))

    (call,) = await pipeline.call_rows()
    assert call.end_inferred
    assert call.outcome.value == "answered"
    assert call.answered_at is not None


def _negate(predicate: Any) -> Any:
    async def negated() -> bool:
        return not predicate()

    return negated


async def _status_is(pipeline: Pipeline, status: str) -> bool:
    await pipeline.calls.writer.wait_idle()
    rows = await pipeline.call_rows()
    return bool(rows) and rows[0].status.value == status


async def test_calls_survive_a_database_outage(
    pipeline: Pipeline, pg_server: PgServer, database_url: str
) -> None:
    database = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )

        await pipeline.simulator.start_inbound(
            caller="79161234567",
            did="74950000000",
            extensions=("101",),
            scenario="answered",
        )
        await pipeline.simulator.wait_idle(timeout=20)
        await asyncio.sleep(0.5)
        assert pipeline.calls.writer.failing_since is not None
        assert pipeline.calls.writer.backlog > 0
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()

    await asyncio.wait_for(pipeline.calls.writer.wait_idle(), timeout=30)
    (call,) = await pipeline.call_rows()
    assert call.outcome.value == "answered"
    assert pipeline.calls.writer.failing_since is None
    async with pipeline.sessions() as session:
        kept = await session.scalar(
            select(func.count())
            .select_from(AmiEvent)
            .where(AmiEvent.linkedid == call.linkedid)
        )
    assert kept and kept > 20


async def test_supervisor_listens_in_to_a_live_call(pipeline: Pipeline) -> None:
    placed = await pipeline.calls.click_to_call(pipeline.users["anna"], "79161234568")
    await wait_until(lambda: _status_is(pipeline, "active"))

    with pytest.raises(NoSuchCall):
        await pipeline.calls.listen(pipeline.users["boris"], uuid.UUID(placed["id"]))
    listening = await pipeline.calls.listen(
        pipeline.users["olga"], uuid.UUID(placed["id"])
    )
    await pipeline.settle()

    spy = [
        a
        for a in pipeline.simulator.actions_received
        if a.get("Application") == "ChanSpy"
    ]
    assert len(spy) == 1
    assert spy[0]["Channel"] == "PJSIP/103"
    assert re.fullmatch(r"PJSIP/101-[0-9a-f]{8},qE", spy[0]["Data"])
    rows = {str(call.id): call for call in await pipeline.call_rows()}
    assert rows[listening["id"]].direction.value == "listen"
    assert rows[listening["id"]].outcome.value == "answered"
    assert rows[listening["id"]].linkedid != rows[placed["id"]].linkedid
    assert rows[placed["id"]].outcome.value == "answered"


async def test_client_created_during_the_call_gets_the_call_when_it_ends(
    pipeline: Pipeline,
) -> None:
    pipeline.simulator.speed = 4.0
    await pipeline.simulator.start_inbound(
        caller="79035550022",
        did="74950000000",
        extensions=("101",),
        scenario="answered",
    )
    await wait_until(lambda: _status_is(pipeline, "active"))

    company_id = await add_client(pipeline, "ООО «Новый»", "+7 903 555-00-22")
    await pipeline.settle()
    await asyncio.wait_for(pipeline.calls.writer.wait_idle(), 10)

    (call,) = await pipeline.call_rows()
    assert call.company_id == company_id
    assert call.outcome.value == "answered"
    async with pipeline.sessions() as session:
        summaries = (
            await session.scalars(
                select(Interaction.summary).where(Interaction.company_id == company_id)
            )
        ).all()
    assert len(summaries) == 1
    assert summaries[0].startswith(
        "Входящий звонок, 0:"
    )  # answered, with its talk time


async def test_listening_in_is_not_a_contact_with_the_client(
    pipeline: Pipeline,
) -> None:
    company_id = await add_client(pipeline, "ООО «Ромашка»", "8 (916) 123-45-68")
    placed = await pipeline.calls.click_to_call(pipeline.users["anna"], "79161234568")
    await wait_until(lambda: _status_is(pipeline, "active"))

    await pipeline.calls.listen(pipeline.users["olga"], uuid.UUID(placed["id"]))
    await pipeline.settle()

    async with pipeline.sessions() as session:
        history = (
            await session.scalars(
                select(Interaction.call_id).where(Interaction.company_id == company_id)
            )
        ).all()
    assert [str(call_id) for call_id in history] == [placed["id"]]


async def test_a_call_from_another_managers_client_pops_who_it_is_and_no_more(
    pipeline: Pipeline,
) -> None:
    await pipeline.clients.create_client(
        NewClient(company_name="ООО «Вектор»", phone="+7 916 777-66-55", inn=""),
        user=pipeline.users["boris"],
    )

    await pipeline.simulator.start_inbound(
        caller="79167776655", did="74950000000", extensions=("101",), scenario="missed"
    )
    await pipeline.settle()

    (ringing, users), *_ = pipeline.published.ops("ringing")
    assert users == frozenset({pipeline.users["anna"].id})
    assert ringing["card"]["company"]["url"].startswith("/clients/")
    (audience, limited), *_ = pipeline.published.restricted
    # Boris's client: only Boris may open it (no supervisor, nothing shared).
    assert audience == frozenset({pipeline.users["boris"].id})
    assert limited["card"]["company"] == {"name": "ООО «Вектор»"}
    assert limited["card"]["responsible"] == "Boris"
    assert limited["card"]["restricted"] is True
    assert limited["card"]["interactions"] == []
    assert limited["call"] == ringing["call"]
