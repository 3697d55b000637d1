"""Ports: what the domain needs from the outside, implemented by adapters.

``Telephony`` is implemented by ``ami.telephony.AmiTelephony`` (and fakes in tests);
``RecordingStore`` by ``recordings.store.FileRecordingStore``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class TelephonyError(Exception):
    """Base of the errors a Telephony adapter raises."""


class TelephonyUnavailable(TelephonyError):
    """No working link to the PBX right now; nothing was sent."""


class TelephonyRejected(TelephonyError):
    """The PBX answered the action with an error."""


@dataclass(frozen=True, slots=True)
class OriginateSpec:
    action_id: str
    channel: str  # the manager's device, rung first
    caller_id: str
    timeout_ms: int
    context: str | None = None  # then Exten/Priority 1 in that context
    exten: str | None = None
    application: str | None = None  # or an application with its data
    data: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveChannel:
    channel: str
    uniqueid: str
    linkedid: str
    state: int | None
    caller_num: str | None
    exten: str | None
    seconds: int | None


class Telephony(Protocol):
    @property
    def connected(self) -> bool: ...

    async def originate(self, spec: OriginateSpec) -> None:
        """Queue an async Originate; raise TelephonyError if it was not accepted."""

    async def list_channels(self) -> list[LiveChannel]: ...


class RecordingState(enum.StrEnum):
    READY = "ready"
    EMPTY = "empty"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class RecordingProbe:
    state: RecordingState
    size_bytes: int | None = None
    duration_seconds: float | None = None


class RecordingStore(Protocol):
    async def probe(self, file_name: str) -> RecordingProbe:
        """Wait for the file to be complete, then measure it."""

    def path_of(self, file_name: str) -> Path | None:
        """The file's path inside the recordings folder, or None if unsafe/absent.

        Blocking: it touches the disk, so call it from a worker thread.
        """
