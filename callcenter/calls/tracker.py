"""The state machine that turns channel events into call records.

Asterisk reports channels, not calls. This module groups them:

- a call is every channel sharing one Linkedid (the Uniqueid of the call's first
  channel, copied to every channel created from it, transfer targets included);
- a leg is one party's device: the two halves of a Local channel (``;1`` and ``;2``)
  have two Uniqueids but are one leg;
- a click-to-call is tied to the panel's request by the ``__CRM_CALL_ID`` variable the
  Originate sets, and by the Originate's ActionID on the OriginateResponse event.

The tracker holds only the calls still in progress and does no I/O: ``apply`` mutates
state and returns notifications; the call service persists and publishes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callcenter.calls.events import (
    AgentConnected,
    BlindTransferred,
    BridgeEntered,
    BridgeLeft,
    CdrReported,
    ChannelCreated,
    ChannelHungUp,
    ChannelRef,
    ChannelStateChanged,
    ChannelUpdated,
    ChannelVariableSet,
    DialEnded,
    DialStarted,
    OriginateResult,
    QueueCallerJoined,
    SpyStarted,
    TelephonyEvent,
)
from callcenter.calls.models import CallStatus, Direction, LegKind, Outcome
from callcenter.phones import normalize_caller

logger = logging.getLogger(__name__)

CALL_ID_VARIABLE = "CRM_CALL_ID"
STATE_UP = 6

_LOCAL_RE = re.compile(
    r"^Local/(?P<exten>[^@]+)@(?P<context>.+)-(?P<seq>[0-9a-f]+);[12]$"
)
_CHANNEL_RE = re.compile(
    r"^(?P<tech>[A-Za-z0-9_]+)/(?P<resource>.+)-(?P<seq>[0-9a-f]+)$"
)
# MixMonitor file names we accept: a bare name, no directory parts.
_RECORDING_NAME_RE = re.compile(r"^[\w.\-]{1,150}\.(wav|WAV|gsm|mp3|ogg|wav49)\Z")

_BUSY_CAUSES = frozenset({17})
_NO_ANSWER_CAUSES = frozenset({18, 19, 21})
_FAILED_CAUSES = frozenset({1, 3, 20, 27, 28, 31, 34, 38, 41, 42, 44, 58, 88})
_DIAL_OUTCOMES = {
    "BUSY": Outcome.BUSY,
    "NOANSWER": Outcome.NO_ANSWER,
    "CONGESTION": Outcome.FAILED,
    "CHANUNAVAIL": Outcome.FAILED,
    "CANCEL": Outcome.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class ChannelClass:
    leg_key: str
    kind: LegKind
    extension: str | None = None  # manager legs
    dialled: str | None = None  # client legs reached by dialling: the number dialled


class ChannelClassifier:
    """Decides from a channel name whose device it is (rules come from settings)."""

    def __init__(
        self,
        *,
        trunk_endpoints: Iterable[str],
        trunk_local_contexts: Iterable[str],
        phone_local_contexts: Iterable[str],
        internal_extension_pattern: str,
    ) -> None:
        self._trunks = frozenset(trunk_endpoints)
        self._trunk_contexts = frozenset(trunk_local_contexts)
        self._phone_contexts = frozenset(phone_local_contexts)
        self._internal = re.compile(internal_extension_pattern)

    def classify(self, channel: str) -> ChannelClass:
        local = _LOCAL_RE.match(channel)
        if local:
            key = channel[: channel.rindex(";")]
            exten, context = local["exten"], local["context"]
            if context in self._phone_contexts:
                return ChannelClass(key, LegKind.MANAGER, extension=exten)
            if context in self._trunk_contexts:
                return ChannelClass(key, LegKind.CLIENT, dialled=exten)
            return ChannelClass(key, LegKind.OTHER)

        match = _CHANNEL_RE.match(channel)
        if match:
            resource = match["resource"]
            if resource in self._trunks:
                return ChannelClass(channel, LegKind.CLIENT)
            if self._internal.match(resource):
                return ChannelClass(channel, LegKind.MANAGER, extension=resource)
        return ChannelClass(channel, LegKind.OTHER)

    def extension_of_dial_string(self, dial_string: str) -> str | None:
        """``PJSIP/109`` or ``Local/109@phones`` (an Originate's Channel) -> ``109``."""
        tech, _, rest = dial_string.partition("/")
        if not rest:
            return None
        resource = rest.split("@", 1)[0]
        return resource if self._internal.match(resource) else None


@dataclass(slots=True)
class OriginateRequest:
    """A call the panel asked Asterisk to place, waiting to be seen on AMI."""

    call_id: uuid.UUID
    action_id: str
    user_id: int
    extension: str
    number: str
    created_at: dt.datetime
    direction: Direction = Direction.ORIGINATED
    company_id: int | None = None
    contact_id: int | None = None
    client_name: str | None = None
    linked: bool = False
    # The value of the __CRM_CALL_ID variable the Originate sets (the call id).
    tag: str = ""

    def __post_init__(self) -> None:
        self.tag = self.tag or str(self.call_id)


@dataclass(slots=True)
class LegState:
    id: uuid.UUID
    key: str
    uniqueid: str
    channel: str
    kind: LegKind
    started_at: dt.datetime
    is_caller: bool
    extension: str | None = None
    user_id: int | None = None
    number: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    dial_status: str | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    live: set[str] = field(default_factory=set)

    @property
    def ring_seconds(self) -> int | None:
        until = self.answered_at or self.ended_at
        return _seconds(self.started_at, until) if until else None

    @property
    def talk_seconds(self) -> int | None:
        if self.answered_at is None:
            return 0 if self.ended_at else None
        return _seconds(self.answered_at, self.ended_at) if self.ended_at else None


@dataclass(slots=True)
class CallState:
    id: uuid.UUID
    linkedid: str | None
    direction: Direction
    started_at: dt.datetime
    status: CallStatus = CallStatus.RINGING
    outcome: Outcome | None = None
    failure_stage: str | None = None
    client_number: str | None = None
    client_name: str | None = None
    did: str | None = None
    queue: str | None = None
    company_id: int | None = None
    contact_id: int | None = None
    manager_id: int | None = None
    manager_extension: str | None = None
    requested_by_id: int | None = None
    originate_action_id: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    transferred: bool = False
    end_inferred: bool = False
    recording_file: str | None = None
    originate_reason: int | None = None
    legs: dict[str, LegState] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    # True once a row for this id may exist in the database.
    persisted: bool = False
    # Placeholder rows (a click-to-call request) superseded by this call.
    superseded_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def ring_seconds(self) -> int | None:
        until = self.answered_at or self.ended_at
        return _seconds(self.started_at, until) if until else None

    @property
    def talk_seconds(self) -> int | None:
        if self.answered_at is None:
            return 0 if self.ended_at else None
        return _seconds(self.answered_at, self.ended_at) if self.ended_at else None

    def manager_legs(self) -> list[LegState]:
        return [leg for leg in self.legs.values() if leg.kind is LegKind.MANAGER]

    def client_legs(self) -> list[LegState]:
        return [leg for leg in self.legs.values() if leg.kind is LegKind.CLIENT]


# Notifications returned by CallTracker.apply, in the order they happened.


@dataclass(frozen=True, slots=True)
class LegRinging:
    call: CallState
    leg: LegState


@dataclass(frozen=True, slots=True)
class LegAnswered:
    call: CallState
    leg: LegState


@dataclass(frozen=True, slots=True)
class LegEnded:
    call: CallState
    leg: LegState


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call: CallState


@dataclass(frozen=True, slots=True)
class CallEnded:
    call: CallState


@dataclass(frozen=True, slots=True)
class ClientNumberKnown:
    call: CallState


@dataclass(frozen=True, slots=True)
class OriginateProgress:
    """A click-to-call moved on: ``manager_ringing``, ``manager_answered``, ``failed``."""

    call: CallState
    stage: str


Notification = (
    LegRinging
    | LegAnswered
    | LegEnded
    | CallAnswered
    | CallEnded
    | ClientNumberKnown
    | OriginateProgress
)


def _seconds(start: dt.datetime, end: dt.datetime | None) -> int | None:
    if end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _outcome_from_cause(cause: int | None) -> Outcome:
    if cause in _BUSY_CAUSES:
        return Outcome.BUSY
    if cause in _FAILED_CAUSES:
        return Outcome.FAILED
    return Outcome.NO_ANSWER


class CallTracker:
    def __init__(
        self,
        classifier: ChannelClassifier,
        *,
        extension_owners: Mapping[str, int] | None = None,
        region: str = "RU",
    ) -> None:
        self._classifier = classifier
        self._owners: dict[str, int] = dict(extension_owners or {})
        self._region = region
        self.calls: dict[str, CallState] = {}  # by Linkedid
        self._channel_calls: dict[str, str] = {}  # Uniqueid -> Linkedid
        self._channel_legs: dict[str, str] = {}  # Uniqueid -> leg key
        self._channel_names: dict[str, str] = {}  # channel name -> Uniqueid
        self._originates: dict[str, OriginateRequest] = {}  # by ActionID
        self._originates_by_tag: dict[str, OriginateRequest] = {}

    # -- configuration ---------------------------------------------------------

    def set_extension_owners(self, owners: Mapping[str, int]) -> None:
        self._owners = dict(owners)

    def expect_originate(self, request: OriginateRequest) -> None:
        self._originates[request.action_id] = request
        self._originates_by_tag[request.tag] = request

    def forget_originate(self, action_id: str) -> OriginateRequest | None:
        request = self._originates.pop(action_id, None)
        if request is not None:
            self._originates_by_tag.pop(request.tag, None)
        return request

    def pending_originates(self) -> list[OriginateRequest]:
        return list(self._originates.values())

    def is_originating(self, extension: str) -> bool:
        return any(r.extension == extension for r in self._originates.values())

    def expire_originates(
        self, now: dt.datetime, max_age: dt.timedelta
    ) -> list[Notification]:
        """Give up on Originates Asterisk never answered (lost link, lost event)."""
        out: list[Notification] = []
        for request in list(self._originates.values()):
            if now - request.created_at < max_age:
                continue

            self.forget_originate(request.action_id)
            if request.linked:
                continue  # its channels exist; their hangups will end the call
            call = CallState(
                id=request.call_id,
                linkedid=None,
                direction=request.direction,
                started_at=request.created_at,
            )
            self._link_originate(call, request)
            self._finish(call, now, out)
        return out

    # -- lookups ---------------------------------------------------------------

    def linkedid_of(self, uniqueid: str | None) -> str | None:
        return self._channel_calls.get(uniqueid) if uniqueid else None

    def is_tracked(self, linkedid: str | None) -> bool:
        return linkedid is not None and linkedid in self.calls

    def live_uniqueids(self) -> set[str]:
        return set(self._channel_calls)

    def evict(self, call: CallState) -> None:
        """Drop an ended call from memory once it has been persisted."""
        if call.linkedid is not None and self.calls.get(call.linkedid) is call:
            del self.calls[call.linkedid]

    # -- event intake ------------------------------------------------------------

    def apply(self, event: TelephonyEvent) -> list[Notification]:
        out: list[Notification] = []
        match event:
            case ChannelCreated(ref=ref):
                self._on_channel(ref, event.at, out, created=True)
            case ChannelStateChanged(ref=ref):
                leg = self._on_channel(ref, event.at, out)
                if leg is not None and ref.state == STATE_UP:
                    self._leg_answered(self._call_of(ref.uniqueid), leg, event.at, out)
            case ChannelUpdated(ref=ref):
                self._on_channel(ref, event.at, out)
            case ChannelVariableSet(ref=ref, variable=variable, value=value):
                self._on_variable(ref, variable, value, event.at, out)
            case DialStarted(dest=dest, caller=caller, dial_string=dial_string):
                self._on_dial_started(dest, caller, dial_string, event.at, out)
            case DialEnded(dest=dest, caller=caller, dial_status=status):
                self._on_dial_ended(dest, caller, status, event.at, out)
            case BridgeEntered(ref=ref):
                leg = self._on_channel(ref, event.at, out)
                if leg is not None:
                    self._leg_answered(self._call_of(ref.uniqueid), leg, event.at, out)
            case BridgeLeft(ref=ref):
                self._on_channel(ref, event.at, out)
            case ChannelHungUp(ref=ref, cause=cause, cause_text=cause_text):
                self._on_hangup(ref, cause, cause_text, event.at, out)
            case OriginateResult():
                self._on_originate_result(event, out)
            case QueueCallerJoined(ref=ref, queue=queue):
                self._on_channel(ref, event.at, out)
                call = self._call_of(ref.uniqueid)
                if call is not None:
                    call.queue = queue
            case AgentConnected(member=member, queue=queue):
                leg = self._on_channel(member, event.at, out)
                call = self._call_of(member.uniqueid)
                if call is not None and leg is not None:
                    call.queue = queue
                    self._leg_answered(call, leg, event.at, out)
            case BlindTransferred(transferer=transferer):
                call = self._call_of(transferer.uniqueid)
                if call is not None:
                    call.transferred = True
            case SpyStarted(spyer=spyer):
                self._on_channel(spyer, event.at, out)
                call = self._call_of(spyer.uniqueid)
                if call is not None:
                    call.direction = Direction.LISTEN
            case CdrReported(uniqueid=uniqueid, recording_file=recording_file):
                call = self._call_of(uniqueid)
                if call is not None and call.recording_file is None and recording_file:
                    call.recording_file = _recording_name(recording_file)
        return out

    def end_missing_channels(
        self, live: set[str], at: dt.datetime
    ) -> list[Notification]:
        """After a reconnect: every channel Asterisk no longer lists has hung up."""
        out: list[Notification] = []
        for uniqueid in list(self._channel_calls):
            if uniqueid in live:
                continue

            call = self._call_of(uniqueid)
            if call is not None:
                call.end_inferred = True
            name = next(
                (n for n, u in self._channel_names.items() if u == uniqueid), ""
            )
            ref = ChannelRef(
                channel=name, uniqueid=uniqueid, linkedid=call.linkedid or ""
            )
            self._on_hangup(ref, None, None, at, out)
        return out

    # -- channels ----------------------------------------------------------------

    def _call_of(self, uniqueid: str) -> CallState | None:
        linkedid = self._channel_calls.get(uniqueid)
        return self.calls.get(linkedid) if linkedid else None

    def _on_channel(
        self,
        ref: ChannelRef,
        at: dt.datetime,
        out: list[Notification],
        *,
        created: bool = False,
    ) -> LegState | None:
        """Register a channel the first time it is seen; return its leg."""
        if not ref.uniqueid or not ref.linkedid:
            return None

        if ref.uniqueid in self._channel_calls:
            call = self.calls[self._channel_calls[ref.uniqueid]]
            leg = call.legs[self._channel_legs[ref.uniqueid]]
            self._learn_numbers(call, leg, ref, out)
            return leg
        call = self.calls.get(ref.linkedid)
        is_first = call is None
        if call is None:
            call = self._open_call(ref, at)

        klass = self._classifier.classify(ref.channel)
        leg = call.legs.get(klass.leg_key)
        new_leg = leg is None
        if leg is None:
            leg = LegState(
                id=uuid.uuid4(),
                key=klass.leg_key,
                uniqueid=ref.uniqueid,
                channel=klass.leg_key,
                kind=klass.kind,
                started_at=at,
                is_caller=is_first,
                extension=klass.extension,
                user_id=self._owners.get(klass.extension or ""),
                number=klass.dialled if klass.kind is LegKind.CLIENT else None,
            )
            call.legs[leg.key] = leg

        leg.live.add(ref.uniqueid)
        call.live.add(ref.uniqueid)
        self._channel_calls[ref.uniqueid] = ref.linkedid
        self._channel_legs[ref.uniqueid] = leg.key
        self._channel_names[ref.channel] = ref.uniqueid

        if is_first:
            self._start_direction(call, leg, ref)
        self._learn_numbers(call, leg, ref, out)
        if new_leg:
            self._leg_opened(call, leg, out)
        return leg

    def _open_call(self, ref: ChannelRef, at: dt.datetime) -> CallState:
        call = CallState(
            id=uuid.uuid4(),
            linkedid=ref.linkedid,
            direction=Direction.OUTBOUND,
            started_at=at,
        )
        self.calls[ref.linkedid] = call
        logger.debug("call opened linkedid=%s channel=%s", ref.linkedid, ref.channel)
        return call

    def _start_direction(self, call: CallState, leg: LegState, ref: ChannelRef) -> None:
        if leg.kind is LegKind.CLIENT:
            call.direction = Direction.INBOUND
            call.did = ref.exten if ref.exten and ref.exten.isdigit() else leg.number
            leg.number = None
            return

        if leg.kind is LegKind.MANAGER:
            call.manager_id = leg.user_id
            call.manager_extension = leg.extension

        if leg.kind is LegKind.MANAGER and leg.extension and ref.state == 0:
            # An Originate we sent rings the manager's phone first: its channel is
            # born Down (a call dialled on the phone starts in Ring). Claim it now, so
            # the call keeps the id the panel already showed the manager; the
            # __CRM_CALL_ID variable that follows confirms it.
            request = next(
                (
                    r
                    for r in self._originates.values()
                    if r.extension == leg.extension and not r.linked
                ),
                None,
            )
            if request is not None:
                self._link_originate(call, request)

    def _learn_numbers(
        self, call: CallState, leg: LegState, ref: ChannelRef, out: list[Notification]
    ) -> None:
        if call.client_number is not None:
            return

        number: str | None = None
        if call.direction is Direction.INBOUND:
            if leg.kind is LegKind.CLIENT and leg.is_caller:
                number = ref.caller_num
                if ref.caller_name and not call.client_name:
                    call.client_name = ref.caller_name
            elif leg.kind is LegKind.MANAGER:
                # Dialled members carry the caller's id as their CallerIDNum.
                number = ref.caller_num
        elif leg.kind is LegKind.CLIENT and not leg.is_caller:
            number = leg.number or ref.exten

        normalized = normalize_caller(number, self._region)
        if normalized and normalized != call.did:
            call.client_number = normalized
            if leg.kind is LegKind.CLIENT and not leg.is_caller:
                leg.number = normalized
            out.append(ClientNumberKnown(call))

    def _leg_opened(
        self, call: CallState, leg: LegState, out: list[Notification]
    ) -> None:
        if leg.kind is not LegKind.MANAGER or leg.is_caller:
            return

        if call.direction is Direction.OUTBOUND and any(
            other.is_caller and other.kind is LegKind.MANAGER
            for other in call.legs.values()
        ):
            call.direction = Direction.INTERNAL
        if call.manager_id is None and call.direction is Direction.INBOUND:
            call.manager_id = leg.user_id
            call.manager_extension = leg.extension
        out.append(LegRinging(call, leg))

    def _leg_answered(
        self,
        call: CallState | None,
        leg: LegState,
        at: dt.datetime,
        out: list[Notification],
    ) -> None:
        if call is None or leg.answered_at is not None or leg.ended_at is not None:
            return

        leg.answered_at = at
        out.append(LegAnswered(call, leg))
        if call.direction is Direction.ORIGINATED and leg.is_caller:
            out.append(OriginateProgress(call, "manager_answered"))

        connects = (
            (
                call.direction in (Direction.INBOUND, Direction.INTERNAL)
                and leg.kind is LegKind.MANAGER
                and not leg.is_caller
            )
            or (
                call.direction in (Direction.OUTBOUND, Direction.ORIGINATED)
                and leg.kind is LegKind.CLIENT
                and not leg.is_caller
            )
            or (call.direction is Direction.LISTEN and leg.is_caller)
        )
        if connects and call.answered_at is None:
            call.answered_at = at
            call.status = CallStatus.ACTIVE
            if leg.kind is LegKind.MANAGER:
                call.manager_id = leg.user_id
                call.manager_extension = leg.extension
            out.append(CallAnswered(call))

    def _on_variable(
        self,
        ref: ChannelRef,
        variable: str,
        value: str,
        at: dt.datetime,
        out: list[Notification],
    ) -> None:
        self._on_channel(ref, at, out)
        call = self._call_of(ref.uniqueid)
        if call is None:
            return

        name = variable.lstrip("_")
        if name == CALL_ID_VARIABLE:
            request = self._originates_by_tag.get(value)
            if request is not None and not request.linked:
                self._link_originate(call, request)
                out.append(OriginateProgress(call, "manager_ringing"))
        elif name == "MIXMONITOR_FILENAME" and call.recording_file is None:
            call.recording_file = _recording_name(value)

    def _link_originate(self, call: CallState, request: OriginateRequest) -> None:
        if call.persisted:
            call.superseded_ids.append(request.call_id)
        else:
            call.id = request.call_id
        call.direction = request.direction
        call.originate_action_id = request.action_id
        call.requested_by_id = request.user_id
        call.manager_id = request.user_id
        call.manager_extension = request.extension
        call.client_number = request.number
        call.client_name = request.client_name
        call.company_id = request.company_id
        call.contact_id = request.contact_id
        request.linked = True
        logger.debug(
            "originate linked call_id=%s linkedid=%s action_id=%s",
            call.id,
            call.linkedid,
            request.action_id,
        )

    # -- dialling ----------------------------------------------------------------

    def _on_dial_started(
        self,
        dest: ChannelRef,
        caller: ChannelRef | None,
        dial_string: str | None,
        at: dt.datetime,
        out: list[Notification],
    ) -> None:
        if caller is not None:
            self._on_channel(caller, at, out)
        leg = self._on_channel(dest, at, out)
        call = self._call_of(dest.uniqueid)
        if leg is None or call is None:
            return

        if leg.kind is LegKind.CLIENT and not leg.is_caller and dial_string:
            number = normalize_caller(dial_string.split("@", 1)[0], self._region)
            if number:
                leg.number = number
                if call.client_number is None:
                    call.client_number = number
                    out.append(ClientNumberKnown(call))

    def _on_dial_ended(
        self,
        dest: ChannelRef,
        caller: ChannelRef | None,
        status: str,
        at: dt.datetime,
        out: list[Notification],
    ) -> None:
        leg = self._on_channel(dest, at, out)
        call = self._call_of(dest.uniqueid)
        if leg is None or call is None:
            return

        # A queue repeats DialEnd CANCEL for the member that lost; keep the first word.
        if leg.dial_status is None or status == "ANSWER":
            leg.dial_status = status
        if status == "ANSWER":
            self._leg_answered(call, leg, at, out)

    # -- hangups -----------------------------------------------------------------

    def _on_hangup(
        self,
        ref: ChannelRef,
        cause: int | None,
        cause_text: str | None,
        at: dt.datetime,
        out: list[Notification],
    ) -> None:
        leg = self._on_channel(ref, at, out)
        call = self._call_of(ref.uniqueid)
        if leg is None or call is None:
            return

        leg.live.discard(ref.uniqueid)
        call.live.discard(ref.uniqueid)
        self._channel_calls.pop(ref.uniqueid, None)
        self._channel_legs.pop(ref.uniqueid, None)
        self._channel_names.pop(ref.channel, None)
        if leg.hangup_cause is None and cause is not None:
            leg.hangup_cause = cause
            leg.hangup_cause_text = cause_text

        if not leg.live and leg.ended_at is None:
            leg.ended_at = at
            out.append(LegEnded(call, leg))
        if not call.live:
            self._finish(call, at, out)

    def _on_originate_result(
        self, event: OriginateResult, out: list[Notification]
    ) -> None:
        request = self._originates.get(event.action_id)
        if request is None:
            return  # another AMI client's originate: not ours to act on

        call = self._call_of(event.uniqueid or "") or next(
            (
                c
                for c in self.calls.values()
                if c.originate_action_id == event.action_id
            ),
            None,
        )
        self.forget_originate(event.action_id)
        if event.success:
            if call is not None and not request.linked:
                self._link_originate(call, request)
            return

        if call is None:
            # Asterisk gave up before any channel existed (unknown endpoint, ...).
            call = CallState(
                id=request.call_id,
                linkedid=None,
                direction=request.direction,
                started_at=request.created_at,
            )
            self._link_originate(call, request)
            call.originate_reason = event.reason
            self._finish(call, event.at, out)
            return

        call.originate_reason = event.reason
        if not call.live:
            self._finish(call, event.at, out)

    def _finish(
        self, call: CallState, at: dt.datetime, out: list[Notification]
    ) -> None:
        if call.status is CallStatus.ENDED:
            return

        call.ended_at = at
        call.status = CallStatus.ENDED
        if call.direction is Direction.OUTBOUND and not call.client_legs():
            call.direction = Direction.INTERNAL
        call.outcome, call.failure_stage, cause_leg = self._judge(call)
        if cause_leg is not None and cause_leg.hangup_cause is not None:
            call.hangup_cause = cause_leg.hangup_cause
            call.hangup_cause_text = cause_leg.hangup_cause_text
        for leg in call.legs.values():
            if leg.ended_at is None:
                leg.ended_at = at

        logger.debug(
            "call ended call_id=%s linkedid=%s outcome=%s",
            call.id,
            call.linkedid,
            call.outcome,
        )
        if (
            call.direction is Direction.ORIGINATED
            and call.outcome is not Outcome.ANSWERED
        ):
            out.append(OriginateProgress(call, "failed"))
        out.append(CallEnded(call))

    def _judge(self, call: CallState) -> tuple[Outcome, str | None, LegState | None]:
        """Outcome, failure stage and the leg whose hangup cause explains the end."""
        legs = sorted(call.legs.values(), key=lambda leg: leg.started_at)
        callers = [leg for leg in legs if leg.is_caller]
        callees = [
            leg for leg in legs if not leg.is_caller and leg.kind is not LegKind.OTHER
        ]

        if call.answered_at is not None:
            talked = [leg for leg in legs if leg.answered_at is not None]
            first_out = min(
                talked, key=lambda leg: leg.ended_at or call.ended_at or leg.started_at
            )
            return Outcome.ANSWERED, None, first_out

        if call.direction is Direction.LISTEN:
            spyer = callers[0] if callers else None
            if spyer is not None and spyer.answered_at is not None:
                return Outcome.ANSWERED, None, spyer
            return Outcome.NO_ANSWER, "manager", spyer

        if call.direction is Direction.INBOUND:
            return Outcome.MISSED, None, callers[0] if callers else None

        caller = callers[0] if callers else None
        if call.direction is Direction.ORIGINATED and (
            caller is None or caller.answered_at is None
        ):
            # The manager's own phone never answered the Originate.
            cause = caller.hangup_cause if caller else None
            if call.originate_reason == 5 or cause in _BUSY_CAUSES:
                return Outcome.BUSY, "manager", caller
            if caller is None and call.originate_reason not in (3, 5):
                return Outcome.FAILED, "manager", None
            if cause in _FAILED_CAUSES:
                return Outcome.FAILED, "manager", caller
            return Outcome.NO_ANSWER, "manager", caller

        callee = callees[0] if callees else None
        if callee is None:
            return Outcome.CANCELLED, "client", caller
        if callee.dial_status in _DIAL_OUTCOMES:
            return _DIAL_OUTCOMES[callee.dial_status], "client", callee
        return _outcome_from_cause(callee.hangup_cause), "client", callee


def _recording_name(value: str) -> str | None:
    """The bare file name of a MixMonitor path, or None if it is not a safe name."""
    name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name if _RECORDING_NAME_RE.match(name) else None
