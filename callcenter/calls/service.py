"""The call service: AMI events in, call records and browser notifications out.

Flow of one event: the AMI adapter translates it and calls :meth:`CallService.handle`;
the tracker updates the live call; the writer is told the call changed (it commits in
the background); notifications for browsers are queued to go out after that commit.
Click-to-call enters through :meth:`CallService.click_to_call`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from callcenter.calls.errors import (
    InvalidCallRequest,
    NoExtension,
    NoSuchCall,
    OriginateInProgress,
    PbxUnavailable,
)
from callcenter.calls.events import ChannelRef, ChannelUpdated, RawEvent, TelephonyEvent
from callcenter.calls.models import (
    AmiEvent,
    Call,
    CallLeg,
    CallStatus,
    Direction,
    LegKind,
    Outcome,
    Recording,
    RecordingStatus,
)
from callcenter.calls.tracker import (
    CallAnswered,
    CallEnded,
    CallState,
    CallTracker,
    ClientNumberKnown,
    LegAnswered,
    LegEnded,
    LegRinging,
    LegState,
    Notification,
    OriginateProgress,
    OriginateRequest,
)
from callcenter.calls.writer import CallWriter, call_row
from callcenter.clients.access import visible_companies
from callcenter.clients.models import Company
from callcenter.clients.service import ClientCard, ClientService, call_summary
from callcenter.db import SessionFactory, transaction, utcnow
from callcenter.events import EventPublisher, Payload, Restriction
from callcenter.interactions.models import Interaction, InteractionKind
from callcenter.phones import (
    InvalidPhoneNumber,
    check_dialable,
    format_phone,
    parse_phone,
)
from callcenter.ports import (
    OriginateSpec,
    RecordingState,
    RecordingStore,
    Telephony,
    TelephonyError,
    TelephonyUnavailable,
)
from callcenter.users.models import Extension, User
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

_RECENT_LINKEDIDS = 20000
_PROBE_CONCURRENCY = 4
_LOOKUP_CONCURRENCY = 6
_ORIGINATE_GRACE = dt.timedelta(seconds=20)


@dataclass(frozen=True, slots=True)
class DialPlan:
    """How the panel's click-to-call is placed on the PBX (from settings)."""

    channel_template: str = "PJSIP/{extension}"
    context: str = "from-internal"
    timeout_ms: int = 30000
    caller_id_template: str = "{name} <{number}>"


@dataclass(frozen=True, slots=True)
class CallFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    manager_id: int | None = None
    company_id: int | None = None
    direction: Direction | None = None
    outcome: Outcome | None = None
    number: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(slots=True)
class _Lookup:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    card: ClientCard | None = None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def leg_payload(leg: LegState) -> dict[str, Any]:
    return {
        "id": str(leg.id),
        "kind": leg.kind.value,
        "extension": leg.extension,
        "user_id": leg.user_id,
        "answered": leg.answered_at is not None,
    }


def call_fields(call: CallState | Call) -> dict[str, Any]:
    """The fields of a call as JSON; a live ``CallState`` and a stored ``Call`` alike."""
    return {
        "id": str(call.id),
        "linkedid": call.linkedid,
        "direction": call.direction.value,
        "status": call.status.value,
        "outcome": call.outcome.value if call.outcome else None,
        "failure_stage": call.failure_stage,
        "number": call.client_number,
        "number_display": format_phone(call.client_number)
        if call.client_number
        else None,
        "client_name": call.client_name,
        "did": call.did,
        "queue": call.queue,
        "company_id": call.company_id,
        "contact_id": call.contact_id,
        "manager_id": call.manager_id,
        "manager_extension": call.manager_extension,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
        "hangup_cause": call.hangup_cause,
        "hangup_cause_text": call.hangup_cause_text,
        "transferred": call.transferred,
        "end_inferred": call.end_inferred,
    }


def call_payload(call: CallState) -> dict[str, Any]:
    """A live call as browsers receive it."""
    return {
        **call_fields(call),
        "legs": [leg_payload(leg) for leg in call.legs.values()],
    }


class CallService:
    def __init__(
        self,
        sessions: SessionFactory,
        tracker: CallTracker,
        clients: ClientService,
        publisher: EventPublisher,
        *,
        telephony: Telephony | None = None,
        recordings: RecordingStore | None = None,
        dial_plan: DialPlan | None = None,
        region: str = "RU",
    ) -> None:
        self._sessions = sessions
        self.tracker = tracker
        self._clients = clients
        self._publisher = publisher
        self._telephony = telephony
        self._recordings = recordings
        self._dial_plan = dial_plan or DialPlan()
        self._region = region
        self.writer = CallWriter(sessions, on_persisted=self._on_persisted)
        self._lookups: dict[uuid.UUID, _Lookup] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._probe_slots = asyncio.Semaphore(_PROBE_CONCURRENCY)
        # Lookups must leave database connections to the writer: never lose a call
        # record to a burst of screen-pops.
        self._lookup_slots = asyncio.Semaphore(_LOOKUP_CONCURRENCY)
        self._closing = False
        self.events_handled = 0

    def set_telephony(self, telephony: Telephony) -> None:
        self._telephony = telephony

    # -- lifecycle -----------------------------------------------------------------

    async def refresh_extensions(self) -> None:
        """Reload which user owns which extension (users change from the CLI too)."""
        async with self._sessions() as session:
            rows = await session.execute(select(Extension.number, Extension.user_id))
            self.tracker.set_extension_owners({number: user for number, user in rows})

    async def run_housekeeping(self, interval: float = 5.0) -> None:
        """Expire Originates Asterisk never answered; runs until cancelled."""
        max_age = (
            dt.timedelta(milliseconds=self._dial_plan.timeout_ms) + _ORIGINATE_GRACE
        )
        while True:
            await asyncio.sleep(interval)
            self._dispatch(self.tracker.expire_originates(utcnow(), max_age))

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> None:
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "call service task failed task=%s",
                task.get_name(),
                exc_info=task.exception(),
            )

    # -- AMI intake ------------------------------------------------------------------

    def handle(self, event: TelephonyEvent) -> None:
        """Apply one telephony event. Synchronous: the AMI reader never waits on I/O."""
        self.events_handled += 1
        self._dispatch(self.tracker.apply(event))

    def keep_raw(self, raw: RawEvent) -> None:
        """Store an AMI event for audit if it belongs to a call we log."""
        linkedid = raw.linkedid
        if not self.tracker.is_tracked(linkedid) and linkedid not in self._recent:
            linkedid = self.tracker.linkedid_of(raw.uniqueid)
            if linkedid is None:
                if raw.name != "OriginateResponse":
                    return
                linkedid = None
        self.writer.add_event(raw, linkedid)

    async def reconcile(self) -> None:
        """After (re)connecting: align the live calls with what Asterisk has now."""
        if self._telephony is None:
            return

        channels = await self._telephony.list_channels()
        now = utcnow()
        for channel in channels:
            if self.tracker.linkedid_of(channel.uniqueid) is None:
                started = now - dt.timedelta(seconds=channel.seconds or 0)
                ref = ChannelRef(
                    channel=channel.channel,
                    uniqueid=channel.uniqueid,
                    linkedid=channel.linkedid,
                    state=channel.state,
                    caller_num=channel.caller_num,
                    exten=channel.exten,
                )
                self.handle(ChannelUpdated(at=started, ref=ref))

        live = {channel.uniqueid for channel in channels}
        self._dispatch(self.tracker.end_missing_channels(live, now))
        await self._end_orphaned_calls({c.linkedid for c in channels})
        logger.info("calls reconciled with the PBX live_channels=%s", len(channels))

    async def _end_orphaned_calls(self, live_linkedids: set[str]) -> None:
        """Calls left open in the database by a crash or an outage are closed."""
        tracked = {call.id for call in self.tracker.calls.values()}
        tracked |= {r.call_id for r in self.tracker.pending_originates()}
        async with transaction(self._sessions) as session:
            open_calls = (
                await session.scalars(
                    select(Call).where(Call.status != CallStatus.ENDED)
                )
            ).all()
            closed = 0
            for call in open_calls:
                if call.id in tracked or (call.linkedid in live_linkedids):
                    continue

                last_event = await session.scalar(
                    select(func.max(AmiEvent.received_at)).where(
                        AmiEvent.linkedid == call.linkedid
                    )
                )
                call.ended_at = last_event or call.started_at
                call.status = CallStatus.ENDED
                call.end_inferred = True
                if call.answered_at is not None:
                    call.outcome = Outcome.ANSWERED
                    call.talk_seconds = round(
                        (call.ended_at - call.answered_at).total_seconds()
                    )
                elif call.direction is Direction.INBOUND:
                    call.outcome = Outcome.MISSED
                else:
                    call.outcome = Outcome.FAILED
                closed += 1
        if closed:
            logger.warning("closed calls left open by an outage count=%s", closed)

    # -- notifications -------------------------------------------------------------

    def _dispatch(self, notifications: list[Notification]) -> None:
        touched: dict[uuid.UUID, CallState] = {}
        for note in notifications:
            touched[note.call.id] = note.call
            match note:
                case ClientNumberKnown(call=call):
                    self._start_lookup(call)
                case LegRinging(call=call, leg=leg):
                    self._notify_ringing(call, leg)
                case LegAnswered(call=call, leg=leg):
                    if leg.kind is LegKind.MANAGER and not leg.is_caller:
                        self._notify(call, "answered", [leg.user_id], leg=leg)
                case LegEnded(call=call, leg=leg):
                    if leg.kind is LegKind.MANAGER and not leg.is_caller:
                        self._notify_leg_closed(call, leg)
                case CallAnswered(call=call):
                    self._notify(call, "connected", self._call_users(call))
                case CallEnded(call=call):
                    self._on_call_ended(call)
                case OriginateProgress(call=call, stage=stage):
                    self._notify(call, "originate", [call.requested_by_id], stage=stage)
        for call in touched.values():
            self.writer.mark(call)

    def _call_users(self, call: CallState) -> list[int | None]:
        users = {leg.user_id for leg in call.manager_legs()}
        users.add(call.manager_id)
        users.add(call.requested_by_id)
        return list(users)

    def _notify(
        self,
        call: CallState,
        op: str,
        users: Collection[int | None],
        *,
        leg: LegState | None = None,
        **extra: Any,
    ) -> None:
        payload: Payload = {
            "type": "call",
            "op": op,
            "call": call_payload(call),
            **extra,
        }
        if leg is not None:
            payload["leg"] = leg_payload(leg)
        restricted: Restriction | None = None
        lookup = self._lookups.get(call.id)
        if lookup is not None and lookup.card is not None:
            card = lookup.card
            payload["card"] = card.as_dict()
            if card.audience is not None:
                # A manager answering another manager's client learns who is
                # calling and whose client it is; the card stays with its owners.
                restricted = (card.audience, {**payload, "card": card.limited_dict()})
        recipients = [u for u in users if u is not None]
        self.writer.after_commit(
            lambda: self._publisher.publish(
                payload, users=recipients, supervisors=True, restricted=restricted
            )
        )

    def _notify_ringing(self, call: CallState, leg: LegState) -> None:
        lookup = self._lookups.get(call.id)
        if lookup is None or lookup.done.is_set():
            self._notify(call, "ringing", [leg.user_id], leg=leg)
            return

        async def when_known() -> None:
            try:
                await asyncio.wait_for(lookup.done.wait(), timeout=2.0)
            except TimeoutError:
                logger.warning(
                    "client lookup slow, popping without card call_id=%s", call.id
                )
            self._notify(call, "ringing", [leg.user_id], leg=leg)

        self._spawn(when_known(), f"pop-{call.id}")

    def _notify_leg_closed(self, call: CallState, leg: LegState) -> None:
        if leg.answered_at is not None:
            reason = "ended"
        elif call.answered_at is not None:
            reason = "answered_elsewhere"
        else:
            reason = "missed" if call.status is CallStatus.ENDED else "stopped_ringing"
        self._notify(call, "closed", [leg.user_id], leg=leg, reason=reason)

    def _start_lookup(self, call: CallState) -> None:
        if call.client_number is None or call.id in self._lookups:
            return

        lookup = _Lookup()
        self._lookups[call.id] = lookup
        self._spawn(self._lookup_client(call, lookup), f"lookup-{call.id}")

    async def _lookup_client(self, call: CallState, lookup: _Lookup) -> None:
        number = call.client_number
        try:
            async with self._lookup_slots:
                if call.company_id is None and call.contact_id is None and number:
                    match = await self._clients.find_by_phone(number)
                    if match is not None:
                        call.company_id = match.company_id
                        call.contact_id = match.contact_id
                        self.writer.mark(call)
                lookup.card = await self._clients.build_card(
                    number, call.company_id, call.contact_id
                )
        except Exception:
            logger.exception("client lookup failed call_id=%s", call.id)
            lookup.card = ClientCard(number=number)
        finally:
            lookup.done.set()

    def _on_call_ended(self, call: CallState) -> None:
        self._notify(call, "ended", self._call_users(call))
        if call.direction is Direction.LISTEN:
            # Listening in is supervision, not a contact with the client.
            self._lookups.pop(call.id, None)
            return
        lookup = self._lookups.get(call.id)
        if call.company_id is None and call.contact_id is None and call.client_number:
            self._spawn(self._record_after_lookup(call, lookup), f"end-{call.id}")
        elif lookup is not None and not lookup.done.is_set():
            self._spawn(self._record_after_lookup(call, lookup), f"end-{call.id}")
        else:
            self._record_history(call)

    async def _record_after_lookup(
        self, call: CallState, lookup: _Lookup | None
    ) -> None:
        """Record history once the client is known; the client may have been created
        while the call was going on (from the screen-pop), so look again."""
        try:
            if lookup is not None:
                await asyncio.wait_for(lookup.done.wait(), timeout=30)
            if (
                call.company_id is None
                and call.contact_id is None
                and call.client_number
            ):
                async with self._lookup_slots:
                    match = await self._clients.find_by_phone(call.client_number)
                if match is not None:
                    call.company_id, call.contact_id = (
                        match.company_id,
                        match.contact_id,
                    )
                    self.writer.mark(call)
        except Exception as error:  # noqa: BLE001 - the call is recorded anyway
            logger.warning(
                "client lookup at call end failed call_id=%s: %s", call.id, error
            )
        finally:
            self._record_history(call)

    def _record_history(self, call: CallState) -> None:
        """Link the ended call to the client's history and its recording."""
        self._lookups.pop(call.id, None)
        snapshot = call_row(call)
        if call.company_id is not None or call.contact_id is not None:
            self.writer.add_operation(lambda s: _upsert_interaction(s, snapshot))

        if call.outcome is Outcome.ANSWERED and call.recording_file:
            file_name = call.recording_file
            self.writer.add_operation(
                lambda s: _upsert_recording(
                    s, snapshot["id"], file_name, RecordingStatus.PENDING
                )
            )
            if self._recordings is not None:
                self._spawn(self._probe_recording(call, file_name), f"probe-{call.id}")

    async def _probe_recording(self, call: CallState, file_name: str) -> None:
        assert self._recordings is not None
        async with self._probe_slots:
            probe = await self._recordings.probe(file_name)

        status = {
            RecordingState.READY: RecordingStatus.READY,
            RecordingState.EMPTY: RecordingStatus.EMPTY,
            RecordingState.MISSING: RecordingStatus.MISSING,
        }[probe.state]
        call_id = call.id
        self.writer.add_operation(
            lambda s: _upsert_recording(
                s, call_id, file_name, status, probe.size_bytes, probe.duration_seconds
            )
        )
        logger.info(
            "recording checked call_id=%s file=%s status=%s duration=%s",
            call_id,
            file_name,
            status,
            probe.duration_seconds,
        )
        self._notify(
            call,
            "recording",
            self._call_users(call),
            recording={
                "status": status.value,
                "duration_seconds": probe.duration_seconds,
            },
        )

    def _on_persisted(self, call: CallState) -> None:
        if call.status is CallStatus.ENDED and call.linkedid in self.tracker.calls:
            self.tracker.evict(call)
            self._remember(call.linkedid)

    def _remember(self, linkedid: str | None) -> None:
        if linkedid is None:
            return
        self._recent[linkedid] = None
        while len(self._recent) > _RECENT_LINKEDIDS:
            self._recent.popitem(last=False)

    # -- click-to-call ---------------------------------------------------------------

    async def click_to_call(
        self,
        user: UserView,
        number: str,
        *,
        extension: str | None = None,
        company_id: int | None = None,
        contact_id: int | None = None,
    ) -> dict[str, Any]:
        """Ring the manager's phone, then the client; returns the new call."""
        try:
            dialled = check_dialable(parse_phone(number, self._region).e164)
        except InvalidPhoneNumber as error:
            raise InvalidCallRequest("number", error.reason) from None
        extension = self._check_can_originate(user, extension)

        if company_id is None and contact_id is None:
            match = await self._clients.find_by_phone(dialled)
            if match is not None:
                company_id, contact_id = match.company_id, match.contact_id
        call_id = uuid.uuid4()
        request = OriginateRequest(
            call_id=call_id,
            action_id=f"crm-{call_id}",
            user_id=user.id,
            extension=extension,
            number=dialled,
            created_at=utcnow(),
            company_id=company_id,
            contact_id=contact_id,
        )
        spec = OriginateSpec(
            action_id=request.action_id,
            channel=self._dial_plan.channel_template.format(extension=extension),
            context=self._dial_plan.context,
            exten=dialled,
            caller_id=self._dial_plan.caller_id_template.format(
                name=dialled, number=dialled
            ),
            timeout_ms=self._dial_plan.timeout_ms,
            variables={"__CRM_CALL_ID": str(call_id), "CRM_MANAGER": extension},
        )
        await self._originate(user, request, spec)
        return {
            "id": str(call_id),
            "status": CallStatus.ORIGINATING.value,
            "number": dialled,
        }

    async def listen(
        self, user: UserView, call_id: uuid.UUID, *, extension: str | None = None
    ) -> dict[str, Any]:
        """A supervisor listens in (ChanSpy, muted) to a manager in a live call."""
        if not user.sees_all_calls:
            raise NoSuchCall(f"call {call_id} not found")
        call = next((c for c in self.tracker.calls.values() if c.id == call_id), None)
        if call is None or call.status is not CallStatus.ACTIVE:
            raise InvalidCallRequest("call_id", "звонок уже не идёт")
        target = next(
            (
                leg
                for leg in call.manager_legs()
                if leg.answered_at is not None and leg.ended_at is None
            ),
            None,
        )
        if target is None:
            raise InvalidCallRequest("call_id", "в этом звонке сейчас никто не говорит")
        extension = self._check_can_originate(user, extension)

        listen_id = uuid.uuid4()
        request = OriginateRequest(
            call_id=listen_id,
            action_id=f"crm-{listen_id}",
            user_id=user.id,
            extension=extension,
            number=call.client_number or "",
            created_at=utcnow(),
            direction=Direction.LISTEN,
        )
        # ChanSpy wants a channel name: a Local pair is spied on through its ;1 half.
        spyee = target.key + ";1" if target.key.startswith("Local/") else target.key
        spec = OriginateSpec(
            action_id=request.action_id,
            channel=self._dial_plan.channel_template.format(extension=extension),
            application="ChanSpy",
            data=f"{spyee},qE",
            caller_id=f"Listen {target.extension} <{extension}>",
            timeout_ms=self._dial_plan.timeout_ms,
            variables={"__CRM_CALL_ID": str(listen_id)},
        )
        await self._originate(user, request, spec)
        logger.info(
            "listen requested call_id=%s listen_id=%s user_id=%s",
            call.id,
            listen_id,
            user.id,
        )
        return {"id": str(listen_id), "status": CallStatus.ORIGINATING.value}

    def _check_can_originate(self, user: UserView, extension: str | None) -> str:
        if extension is None:
            if not user.extensions:
                raise NoExtension("no phone extension is assigned to this user")
            extension = user.extensions[0]
        elif extension not in user.extensions:
            raise InvalidCallRequest("extension", "это не ваш добавочный номер")
        if self._telephony is None or not self._telephony.connected:
            raise PbxUnavailable("the PBX is not connected; the call was not placed")
        if self.tracker.is_originating(extension):
            raise OriginateInProgress(
                f"a call from extension {extension} is being placed"
            )
        return extension

    async def _originate(
        self, user: UserView, request: OriginateRequest, spec: OriginateSpec
    ) -> None:
        """Record the request, then ask the PBX; a refusal ends the record as failed."""
        placeholder = CallState(
            id=request.call_id,
            linkedid=None,
            direction=request.direction,
            started_at=request.created_at,
            status=CallStatus.ORIGINATING,
            client_number=request.number or None,
            company_id=request.company_id,
            contact_id=request.contact_id,
            manager_id=user.id,
            manager_extension=request.extension,
            requested_by_id=user.id,
            originate_action_id=request.action_id,
        )
        async with transaction(self._sessions) as session:
            await session.execute(insert(Call).values(call_row(placeholder)))

        self.tracker.expect_originate(request)
        assert self._telephony is not None
        try:
            await self._telephony.originate(spec)
        except TelephonyError as error:
            self.tracker.forget_originate(request.action_id)
            await self._fail_placeholder(request.call_id)
            logger.warning(
                "originate refused call_id=%s user_id=%s: %s",
                request.call_id,
                user.id,
                error,
            )
            if isinstance(error, TelephonyUnavailable):
                raise PbxUnavailable(
                    "the PBX link was lost; the call was not placed"
                ) from None
            raise PbxUnavailable(f"the PBX refused the call: {error}") from None

        logger.info(
            "originate queued call_id=%s user_id=%s extension=%s direction=%s",
            request.call_id,
            user.id,
            request.extension,
            request.direction,
        )

    async def _fail_placeholder(self, call_id: uuid.UUID) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                update(Call)
                .where(Call.id == call_id)
                .values(
                    status=CallStatus.ENDED,
                    outcome=Outcome.FAILED,
                    failure_stage="pbx",
                    ended_at=utcnow(),
                )
            )

    # -- reads -------------------------------------------------------------------------

    def live_calls(self, user: UserView) -> list[dict[str, Any]]:
        calls = [
            c for c in self.tracker.calls.values() if c.status is not CallStatus.ENDED
        ]
        if not user.sees_all_calls:
            calls = [c for c in calls if user.id in self._call_users(c)]
        return [call_payload(c) for c in sorted(calls, key=lambda c: c.started_at)]

    def ringing_for(self, user: UserView) -> list[Payload]:
        """Pops that should be on screen right now (a tab that just opened)."""
        pops = []
        for call in self.tracker.calls.values():
            if call.status is not CallStatus.RINGING:
                continue
            for leg in call.manager_legs():
                if (
                    leg.user_id == user.id
                    and not leg.is_caller
                    and leg.ended_at is None
                ):
                    payload: Payload = {
                        "type": "call",
                        "op": "ringing",
                        "call": call_payload(call),
                        "leg": leg_payload(leg),
                    }
                    lookup = self._lookups.get(call.id)
                    if lookup is not None and lookup.card is not None:
                        payload["card"] = lookup.card.for_user(user.id)
                    pops.append(payload)
        return pops

    async def list_calls(
        self, user: UserView, filters: CallFilters
    ) -> list[dict[str, Any]]:
        stmt = (
            select(
                Call,
                User.full_name,
                Company.name,
                Recording.status,
                Recording.duration_seconds,
            )
            .outerjoin(User, User.id == Call.manager_id)
            .outerjoin(Company, Company.id == Call.company_id)
            .outerjoin(Recording, Recording.call_id == Call.id)
            .where(_visible(user))
            .order_by(Call.started_at.desc())
            .limit(min(max(filters.limit, 1), 500))
            .offset(max(filters.offset, 0))
        )
        if filters.since is not None:
            stmt = stmt.where(Call.started_at >= filters.since)
        if filters.until is not None:
            stmt = stmt.where(Call.started_at < filters.until)
        if filters.manager_id is not None:
            stmt = stmt.where(Call.manager_id == filters.manager_id)
        if filters.company_id is not None:
            stmt = stmt.where(Call.company_id == filters.company_id)
        if filters.direction is not None:
            stmt = stmt.where(Call.direction == filters.direction)
        if filters.outcome is not None:
            stmt = stmt.where(Call.outcome == filters.outcome)
        if filters.number:
            digits = "".join(c for c in filters.number if c.isdigit())
            try:
                number = parse_phone(filters.number, self._region).e164
            except InvalidPhoneNumber as error:
                if len(digits) < 3 or len(digits) != len(filters.number.strip()):
                    raise InvalidCallRequest("number", error.reason) from None
                # A part of a number ("4567"): match it anywhere in the stored digits.
                stmt = stmt.where(Call.client_number.contains(digits))
            else:
                stmt = stmt.where(Call.client_number == number)

        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [
            _call_dict(call, manager, company, rec_status, rec_duration)
            for call, manager, company, rec_status, rec_duration in rows
        ]

    async def get_call(self, user: UserView, call_id: uuid.UUID) -> dict[str, Any]:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Call, User.full_name, Company.name)
                    .outerjoin(User, User.id == Call.manager_id)
                    .outerjoin(Company, Company.id == Call.company_id)
                    .options(selectinload(Call.legs), selectinload(Call.recording))
                    .where(Call.id == call_id, _visible(user))
                )
            ).first()
            if row is None:
                raise NoSuchCall(f"call {call_id} not found")
            call, manager, company = row
            event_count = (
                await session.scalar(
                    select(func.count())
                    .select_from(AmiEvent)
                    .where(AmiEvent.linkedid == call.linkedid)
                )
                if call.linkedid
                else 0
            )

        recording = call.recording
        result = _call_dict(
            call,
            manager,
            company,
            recording.status if recording else None,
            recording.duration_seconds if recording else None,
        )
        result["legs"] = [
            {
                "id": str(leg.id),
                "uniqueid": leg.uniqueid,
                "channel": leg.channel,
                "kind": leg.kind.value,
                "extension": leg.extension,
                "user_id": leg.user_id,
                "number": leg.number,
                "started_at": _iso(leg.started_at),
                "answered_at": _iso(leg.answered_at),
                "ended_at": _iso(leg.ended_at),
                "ring_seconds": leg.ring_seconds,
                "talk_seconds": leg.talk_seconds,
                "dial_status": leg.dial_status,
                "hangup_cause": leg.hangup_cause,
                "hangup_cause_text": leg.hangup_cause_text,
            }
            for leg in call.legs
        ]
        result["ami_event_count"] = event_count
        return result

    async def call_events(
        self, user: UserView, call_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            linkedid = await session.scalar(
                select(Call.linkedid).where(Call.id == call_id, _visible(user))
            )
            if linkedid is None:
                raise NoSuchCall(f"call {call_id} not found")
            events = (
                await session.scalars(
                    select(AmiEvent)
                    .where(AmiEvent.linkedid == linkedid)
                    .order_by(AmiEvent.id)
                )
            ).all()
        return [
            {
                "id": e.id,
                "received_at": _iso(e.received_at),
                "name": e.name,
                "headers": e.payload,
            }
            for e in events
        ]

    async def recording_path(self, file_name: str) -> Path | None:
        """Where a recording is on disk; None if it is absent or outside the folder."""
        if self._recordings is None:
            return None
        return await asyncio.to_thread(self._recordings.path_of, file_name)

    async def recording_file(self, user: UserView, call_id: uuid.UUID) -> str:
        """The recording's bare file name, if this user may listen to it."""
        async with self._sessions() as session:
            file_name = await session.scalar(
                select(Recording.file_name)
                .join(Call, Call.id == Recording.call_id)
                .where(Call.id == call_id, _visible(user))
            )
        if file_name is None:
            raise NoSuchCall(f"no recording for call {call_id}")
        return file_name


def _visible(user: UserView) -> Any:
    """SQL condition: calls this user may see (their own, or their clients')."""
    if user.sees_all_calls:
        return True
    # The card's telephony follows the client base's rules (own, shared, team).
    own_clients = select(Company.id).where(visible_companies(user))
    return or_(
        Call.manager_id == user.id,
        Call.requested_by_id == user.id,
        Call.company_id.in_(own_clients),
        Call.id.in_(select(CallLeg.call_id).where(CallLeg.user_id == user.id)),
    )


def _call_dict(
    call: Call,
    manager: str | None,
    company: str | None,
    recording_status: RecordingStatus | None,
    recording_duration: float | None,
) -> dict[str, Any]:
    recording = None
    if recording_status is not None:
        recording = {
            "status": recording_status.value,
            "duration_seconds": recording_duration,
            "url": f"/api/calls/{call.id}/recording",
        }
    return {
        **call_fields(call),
        "company_name": company,
        "manager_name": manager,
        "recording": recording,
    }


async def _upsert_interaction(session: AsyncSession, call: dict[str, Any]) -> None:
    stmt = insert(Interaction).values(
        kind=InteractionKind.CALL,
        company_id=call["company_id"],
        contact_id=call["contact_id"],
        user_id=call["manager_id"],
        call_id=call["id"],
        occurred_at=call["started_at"],
        summary=call_summary(call["direction"].value, call["talk_seconds"]),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Interaction.call_id],
        set_={"summary": stmt.excluded.summary, "company_id": stmt.excluded.company_id},
    )
    await session.execute(stmt)


async def _upsert_recording(
    session: AsyncSession,
    call_id: uuid.UUID,
    file_name: str,
    status: RecordingStatus,
    size_bytes: int | None = None,
    duration_seconds: float | None = None,
) -> None:
    stmt = insert(Recording).values(
        call_id=call_id,
        file_name=file_name,
        status=status,
        size_bytes=size_bytes,
        duration_seconds=duration_seconds,
        checked_at=utcnow() if status is not RecordingStatus.PENDING else None,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Recording.call_id],
        set_={
            "status": stmt.excluded.status,
            "size_bytes": stmt.excluded.size_bytes,
            "duration_seconds": stmt.excluded.duration_seconds,
            "checked_at": stmt.excluded.checked_at,
        },
    )
    await session.execute(stmt)
