"""The domain's ``Telephony`` port implemented with AMI actions.

Every value that goes into an action is checked here once more, whatever the caller
checked: AMI is a line protocol, so a CR or LF inside a value would start a new
header or a new action (injection). Values are also limited to what the action needs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ami.connection import AmiLink, check_response
from callcenter.ports import LiveChannel, OriginateSpec, TelephonyRejected

logger = logging.getLogger(__name__)

_CHANNEL_RE = re.compile(r"^[A-Za-z0-9_]+/[A-Za-z0-9_.@+\-;]{1,80}\Z")
_EXTEN_RE = re.compile(r"^\+?[0-9]{1,20}\Z")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,80}\Z")
_VARIABLE_RE = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]{0,40}\Z")
_FORBIDDEN = ("\r", "\n", "\0")


class UnsafeActionValue(TelephonyRejected):
    """A value for an AMI action failed validation; nothing was sent."""


def _check(name: str, value: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or any(c in value for c in _FORBIDDEN):
        raise UnsafeActionValue(f"{name}: control characters are not allowed")
    if pattern is not None and not pattern.match(value):
        raise UnsafeActionValue(f"{name}: {value[:40]!r} is not allowed here")
    return value


def _duration(value: str | None) -> int | None:
    if not value:
        return None
    try:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
    except ValueError:
        return None
    return hours * 3600 + minutes * 60 + seconds


def build_originate(spec: OriginateSpec) -> dict[str, Any]:
    action: dict[str, Any] = {
        "Action": "Originate",
        "ActionID": _check("ActionID", spec.action_id, _TOKEN_RE),
        "Channel": _check("Channel", spec.channel, _CHANNEL_RE),
        "CallerID": _check("CallerID", spec.caller_id),
        "Timeout": str(int(spec.timeout_ms)),
        "Async": "true",
    }
    if spec.application:
        action["Application"] = _check("Application", spec.application, _TOKEN_RE)
        action["Data"] = _check("Data", spec.data or "")
    else:
        action["Context"] = _check("Context", spec.context or "", _TOKEN_RE)
        action["Exten"] = _check("Exten", spec.exten or "", _EXTEN_RE)
        action["Priority"] = "1"
    if spec.variables:
        action["Variable"] = [
            f"{_check('Variable', k, _VARIABLE_RE)}={_check('Variable', v, _TOKEN_RE)}"
            for k, v in spec.variables.items()
        ]
    return action


class AmiTelephony:
    def __init__(self, link: AmiLink) -> None:
        self._link = link

    @property
    def connected(self) -> bool:
        return self._link.connected

    async def originate(self, spec: OriginateSpec) -> None:
        action = build_originate(spec)
        # as_list=False: resolve on "Originate successfully queued"; the later
        # OriginateResponse event then reaches the event handlers like any event.
        response = await self._link.send_action(action, as_list=False)
        check_response(response, "Originate")
        logger.debug(
            "originate accepted action_id=%s channel=%s", spec.action_id, spec.channel
        )

    async def list_channels(self) -> list[LiveChannel]:
        response = await self._link.send_action({"Action": "CoreShowChannels"})
        messages = response if isinstance(response, list) else [response]
        check_response(messages, "CoreShowChannels")
        channels = []
        for message in messages:
            if (message.get("Event") or "").lower() != "coreshowchannel":
                continue
            channels.append(
                LiveChannel(
                    channel=message.get("Channel", ""),
                    uniqueid=message.get("Uniqueid", ""),
                    linkedid=message.get("Linkedid", ""),
                    state=int(message["ChannelState"])
                    if message.get("ChannelState")
                    else None,
                    caller_num=message.get("CallerIDNum") or None,
                    exten=message.get("Exten") or None,
                    seconds=_duration(message.get("Duration")),
                )
            )
        return channels

    async def hangup(self, channel: str) -> None:
        action = {
            "Action": "Hangup",
            "Channel": _check("Channel", channel, _CHANNEL_RE),
        }
        check_response(await self._link.send_action(action), "Hangup")
