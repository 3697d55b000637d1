"""The simulator's view of live channels and bridges, fed by the events it emits.

Asterisk builds CoreShowChannels from its channel snapshots; the simulator keeps the
same snapshot fields, updated from every channel event it sends (Newchannel creates a
channel, Newstate/Newexten/NewCallerid... update it, Hangup removes it). The registry
also measures, in capture time, how long each recorded channel sat in a bridge: that
is what a MixMonitor with option ``b`` writes to disk.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ami.simulator.protocol import Headers
from ami.simulator.rewrite import SNAPSHOT_KEYS

logger = logging.getLogger(__name__)


@dataclass
class LiveChannel:
    name: str
    # The play that created the channel and may cut it short.
    owner: object
    created: float
    fields: dict[str, str]
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""
    recording: str | None = None
    bridged_since: float | None = None
    bridged_seconds: float = 0.0
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    def snapshot(self, prefix: str = "") -> Headers:
        """Channel snapshot headers in Asterisk's order, optionally prefixed (``Spyee``)."""
        return [(prefix + key, self.fields.get(key, "")) for key in SNAPSHOT_KEYS]

    def fold_bridge_time(self, capture_t: float) -> None:
        if self.bridged_since is not None:
            self.bridged_seconds += max(0.0, capture_t - self.bridged_since)
            self.bridged_since = None


@dataclass(frozen=True)
class FinishedRecording:
    channel: str
    path: str
    seconds: float


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, LiveChannel] = {}
        self._bridges: dict[str, list[str]] = {}

    def get(self, name: str) -> LiveChannel | None:
        return self._channels.get(name)

    def find(self, name_or_prefix: str) -> LiveChannel | None:
        """Exact name first, then the first channel starting with it (ChanSpy style)."""
        if name_or_prefix in self._channels:
            return self._channels[name_or_prefix]

        for name, channel in self._channels.items():
            if name.startswith(name_or_prefix):
                return channel

        return None

    def all(self) -> list[LiveChannel]:
        return list(self._channels.values())

    def owned_by(self, owner: object) -> list[LiveChannel]:
        return [
            channel for channel in self._channels.values() if channel.owner is owner
        ]

    def bridge_members(self, bridge_id: str) -> list[str]:
        return list(self._bridges.get(bridge_id, ()))

    def hand_over(self, old_owner: object, new_owner: object, capture_t: float) -> None:
        """A call continues in another capture: close open bridge intervals, move owners."""
        for channel in self.owned_by(old_owner):
            channel.fold_bridge_time(capture_t)
            channel.owner = new_owner

    def observe(
        self,
        headers: Sequence[tuple[str, str]],
        owner: object,
        capture_t: float,
        now: float,
    ) -> FinishedRecording | None:
        # Exact spelling on purpose: CEL and Cdr say "UniqueID", only channel
        # snapshots say "Uniqueid", and only those describe the channel's state.
        index = dict(headers)
        event = index.get("Event", "")
        name = index.get("Channel", "")
        bridge_id = index.get("BridgeUniqueid", "")

        if event == "Newchannel" and name:
            fields = {key: index.get(key, "") for key in SNAPSHOT_KEYS}
            self._channels[name] = LiveChannel(
                name=name, owner=owner, created=now, fields=fields
            )
            return None

        if event == "BridgeCreate":
            self._bridges.setdefault(bridge_id, [])
        elif event == "BridgeDestroy":
            self._bridges.pop(bridge_id, None)

        channel = self._channels.get(name) if name else None
        if channel is None:
            return None

        if "Uniqueid" in index:
            for key in SNAPSHOT_KEYS:
                if key in index:
                    channel.fields[key] = index[key]

        return self._apply(channel, event, index, bridge_id, capture_t)

    def _apply(
        self,
        channel: LiveChannel,
        event: str,
        index: dict[str, str],
        bridge_id: str,
        capture_t: float,
    ) -> FinishedRecording | None:
        if event == "Newexten":
            channel.application = index.get("Application", "")
            channel.app_data = index.get("AppData", "")
        elif event == "VarSet" and index.get("Variable") == "MIXMONITOR_FILENAME":
            channel.recording = index.get("Value") or None
        elif event == "BridgeEnter":
            channel.bridge_id = bridge_id
            self._bridges.setdefault(bridge_id, []).append(channel.name)
            channel.bridged_since = capture_t
        elif event == "BridgeLeave":
            self._leave_bridge(channel)
            channel.fold_bridge_time(capture_t)
        elif event == "Hangup":
            return self.remove(channel, capture_t)

        return None

    def _leave_bridge(self, channel: LiveChannel) -> None:
        members = self._bridges.get(channel.bridge_id)
        if members and channel.name in members:
            members.remove(channel.name)
        channel.bridge_id = ""

    def remove(
        self, channel: LiveChannel, capture_t: float
    ) -> FinishedRecording | None:
        """The channel hung up: forget it and report its recording, if it had one."""
        channel.fold_bridge_time(capture_t)
        self._leave_bridge(channel)
        self._channels.pop(channel.name, None)
        channel.gone.set()
        if channel.recording is None:
            return None

        return FinishedRecording(
            channel.name, channel.recording, channel.bridged_seconds
        )
