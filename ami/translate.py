"""Raw AMI messages -> typed telephony events of ``callcenter.calls.events``.

This is where Asterisk's spellings stop: header names are matched case-insensitively
(channel events say ``Uniqueid``/``Linkedid``, CEL and Cdr say ``UniqueID``/``LinkedID``),
the literal ``<unknown>`` and empty values become None, and prefixed header sets
(``Dest*``, ``Transferer*``, ``Spyer*``) become a :class:`ChannelRef` each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from callcenter.calls import events as ev

Headers = Mapping[str, Any]

# Events that carry no call information worth keeping (media statistics).
_NOT_KEPT = frozenset(
    {"rtcpsent", "rtcpreceived", "devicestatechange", "queuememberstatus"}
)
_VARIABLES = frozenset(
    {"CRM_CALL_ID", "__CRM_CALL_ID", "_CRM_CALL_ID", "MIXMONITOR_FILENAME"}
)


def _value(headers: Headers, key: str) -> str | None:
    value = headers.get(key)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None:
        return None
    value = str(value).strip()
    return None if value in ("", "<unknown>") else value


def _int(headers: Headers, key: str) -> int | None:
    value = _value(headers, key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def channel_ref(headers: Headers, prefix: str = "") -> ev.ChannelRef | None:
    channel = _value(headers, prefix + "Channel")
    uniqueid = _value(headers, prefix + "Uniqueid")
    linkedid = _value(headers, prefix + "Linkedid")
    if channel is None or uniqueid is None or linkedid is None:
        return None
    return ev.ChannelRef(
        channel=channel,
        uniqueid=uniqueid,
        linkedid=linkedid,
        state=_int(headers, prefix + "ChannelState"),
        caller_num=_value(headers, prefix + "CallerIDNum"),
        caller_name=_value(headers, prefix + "CallerIDName"),
        connected_num=_value(headers, prefix + "ConnectedLineNum"),
        exten=_value(headers, prefix + "Exten"),
        context=_value(headers, prefix + "Context"),
    )


def event_time(headers: Headers, received_at: dt.datetime) -> dt.datetime:
    """Asterisk stamps events only with ``timestampevents=yes``; else use arrival."""
    stamp = _value(headers, "Timestamp")
    if stamp is not None:
        try:
            return dt.datetime.fromtimestamp(float(stamp), dt.UTC)
        except (ValueError, OverflowError):
            pass
    return received_at


def _channel(
    kind: type[Any],
) -> Callable[[Headers, dt.datetime], ev.TelephonyEvent | None]:
    def build(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
        ref = channel_ref(headers)
        return kind(at=at, ref=ref) if ref else None

    return build


def _var_set(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    variable = _value(headers, "Variable")
    ref = channel_ref(headers)
    if ref is None or variable not in _VARIABLES:
        return None
    return ev.ChannelVariableSet(
        at=at, ref=ref, variable=variable, value=_value(headers, "Value") or ""
    )


def _dial_begin(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    dest = channel_ref(headers, "Dest")
    if dest is None:
        return None
    return ev.DialStarted(
        at=at,
        dest=dest,
        caller=channel_ref(headers),
        dial_string=_value(headers, "DialString"),
    )


def _dial_end(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    dest = channel_ref(headers, "Dest")
    status = _value(headers, "DialStatus")
    if dest is None or status is None:
        return None
    return ev.DialEnded(
        at=at, dest=dest, caller=channel_ref(headers), dial_status=status
    )


def _bridge(
    kind: type[Any],
) -> Callable[[Headers, dt.datetime], ev.TelephonyEvent | None]:
    def build(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
        ref = channel_ref(headers)
        if ref is None:
            return None
        return kind(at=at, ref=ref, bridge_id=_value(headers, "BridgeUniqueid") or "")

    return build


def _hangup(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    ref = channel_ref(headers)
    if ref is None:
        return None
    return ev.ChannelHungUp(
        at=at,
        ref=ref,
        cause=_int(headers, "Cause"),
        cause_text=_value(headers, "Cause-txt"),
    )


def _originate_response(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    action_id = _value(headers, "ActionID")
    if action_id is None:
        return None
    return ev.OriginateResult(
        at=at,
        action_id=action_id,
        success=(_value(headers, "Response") or "").lower() == "success",
        reason=_int(headers, "Reason"),
        channel=_value(headers, "Channel"),
        uniqueid=_value(headers, "Uniqueid"),
    )


def _queue_join(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    ref = channel_ref(headers)
    queue = _value(headers, "Queue")
    return ev.QueueCallerJoined(at=at, ref=ref, queue=queue) if ref and queue else None


def _agent_connect(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    caller, member = channel_ref(headers), channel_ref(headers, "Dest")
    if caller is None or member is None:
        return None
    return ev.AgentConnected(
        at=at,
        caller=caller,
        member=member,
        queue=_value(headers, "Queue") or "",
        hold_seconds=_int(headers, "HoldTime"),
    )


def _blind_transfer(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    transferer = channel_ref(headers, "Transferer")
    if transferer is None:
        return None
    return ev.BlindTransferred(
        at=at,
        transferer=transferer,
        transferee=channel_ref(headers, "Transferee"),
        extension=_value(headers, "Extension"),
    )


def _spy_start(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    spyer = channel_ref(headers, "Spyer")
    if spyer is None:
        return None
    return ev.SpyStarted(
        at=at, spyer=spyer, spyee_channel=_value(headers, "SpyeeChannel") or ""
    )


def _cdr(headers: Headers, at: dt.datetime) -> ev.TelephonyEvent | None:
    uniqueid = _value(headers, "UniqueID")
    if uniqueid is None:
        return None
    return ev.CdrReported(
        at=at,
        uniqueid=uniqueid,
        disposition=_value(headers, "Disposition"),
        recording_file=_value(headers, "RecordingFile"),
    )


TRANSLATORS: dict[str, Callable[[Headers, dt.datetime], ev.TelephonyEvent | None]] = {
    "newchannel": _channel(ev.ChannelCreated),
    "newstate": _channel(ev.ChannelStateChanged),
    "newcallerid": _channel(ev.ChannelUpdated),
    "newconnectedline": _channel(ev.ChannelUpdated),
    "newexten": _channel(ev.ChannelUpdated),
    "varset": _var_set,
    "dialbegin": _dial_begin,
    "dialend": _dial_end,
    "bridgeenter": _bridge(ev.BridgeEntered),
    "bridgeleave": _bridge(ev.BridgeLeft),
    "hangup": _hangup,
    "originateresponse": _originate_response,
    "queuecallerjoin": _queue_join,
    "agentconnect": _agent_connect,
    "blindtransfer": _blind_transfer,
    "chanspystart": _spy_start,
    "cdr": _cdr,
}


def translate(headers: Headers, received_at: dt.datetime) -> ev.TelephonyEvent | None:
    name = _value(headers, "Event")
    if name is None:
        return None
    build = TRANSLATORS.get(name.lower())
    return build(headers, event_time(headers, received_at)) if build else None


def raw_event(headers: Headers, received_at: dt.datetime) -> ev.RawEvent | None:
    """The audit copy of an event, or None for events that are never kept."""
    name = _value(headers, "Event")
    if name is None or name.lower() in _NOT_KEPT:
        return None
    linkedid = (
        _value(headers, "Linkedid")
        or _value(headers, "DestLinkedid")
        or _value(headers, "TransfererLinkedid")
        or _value(headers, "SpyerLinkedid")
    )
    uniqueid = _value(headers, "Uniqueid") or _value(headers, "DestUniqueid")
    copy = {
        str(k): (list(v) if isinstance(v, list) else str(v))
        for k, v in headers.items()
        if str(k).lower() != "content"
    }
    return ev.RawEvent(
        at=received_at, name=name, linkedid=linkedid, uniqueid=uniqueid, headers=copy
    )
