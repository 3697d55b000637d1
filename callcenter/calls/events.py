"""Typed telephony events, as the AMI adapter hands them to the call service.

Field names are ours (snake_case); the adapter converts Asterisk's spellings
(``Uniqueid``/``UniqueID``, ``CallerIDNum``/``CallerIDnum``) at the boundary. Values
Asterisk reports as ``<unknown>`` or empty arrive as None.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ChannelRef:
    channel: str
    uniqueid: str
    linkedid: str
    state: int | None = None
    caller_num: str | None = None
    caller_name: str | None = None
    connected_num: str | None = None
    exten: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class TelephonyEvent:
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ChannelCreated(TelephonyEvent):
    ref: ChannelRef


@dataclass(frozen=True, slots=True)
class ChannelStateChanged(TelephonyEvent):
    ref: ChannelRef


@dataclass(frozen=True, slots=True)
class ChannelUpdated(TelephonyEvent):
    """Any other event about a channel (caller id, dialplan step): refreshes what we know."""

    ref: ChannelRef


@dataclass(frozen=True, slots=True)
class ChannelVariableSet(TelephonyEvent):
    ref: ChannelRef
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class DialStarted(TelephonyEvent):
    dest: ChannelRef
    caller: ChannelRef | None  # None for the first dial of an Originate
    dial_string: str | None = None


@dataclass(frozen=True, slots=True)
class DialEnded(TelephonyEvent):
    dest: ChannelRef
    caller: ChannelRef | None
    dial_status: str


@dataclass(frozen=True, slots=True)
class BridgeEntered(TelephonyEvent):
    ref: ChannelRef
    bridge_id: str


@dataclass(frozen=True, slots=True)
class BridgeLeft(TelephonyEvent):
    ref: ChannelRef
    bridge_id: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp(TelephonyEvent):
    ref: ChannelRef
    cause: int | None
    cause_text: str | None


@dataclass(frozen=True, slots=True)
class OriginateResult(TelephonyEvent):
    action_id: str
    success: bool
    reason: int | None
    channel: str | None
    uniqueid: str | None


@dataclass(frozen=True, slots=True)
class QueueCallerJoined(TelephonyEvent):
    ref: ChannelRef
    queue: str


@dataclass(frozen=True, slots=True)
class AgentConnected(TelephonyEvent):
    caller: ChannelRef
    member: ChannelRef
    queue: str
    hold_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class BlindTransferred(TelephonyEvent):
    transferer: ChannelRef
    transferee: ChannelRef | None
    extension: str | None


@dataclass(frozen=True, slots=True)
class SpyStarted(TelephonyEvent):
    spyer: ChannelRef
    spyee_channel: str


@dataclass(frozen=True, slots=True)
class CdrReported(TelephonyEvent):
    uniqueid: str
    disposition: str | None
    recording_file: str | None = None


@dataclass(frozen=True, slots=True)
class RawEvent:
    """An AMI event kept for audit: its name and headers exactly as received."""

    at: dt.datetime
    name: str
    linkedid: str | None
    uniqueid: str | None
    headers: dict[str, str | list[str]] = field(default_factory=dict)
