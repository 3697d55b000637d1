"""Calls no capture covers, written as event tables (the wazo-call-logd way):
a call dialled on the desk phone to the city, and a call between two managers."""

from __future__ import annotations

import datetime as dt

from callcenter.calls.events import (
    BridgeEntered,
    ChannelCreated,
    ChannelHungUp,
    ChannelRef,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    TelephonyEvent,
)
from callcenter.calls.models import Direction, Outcome
from callcenter.calls.tracker import CallEnded, CallTracker, LegRinging, Notification
from tests.unit.test_tracker_traces import OWNERS, classifier

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def ref(channel: str, uniqueid: str, state: int, **extra: str) -> ChannelRef:
    return ChannelRef(
        channel=channel, uniqueid=uniqueid, linkedid="100.1", state=state, **extra
    )


def play(rows: list[tuple[float, TelephonyEvent]]) -> list[Notification]:
    tracker = CallTracker(classifier(), extension_owners=OWNERS)
    notes: list[Notification] = []
    for _, event in rows:
        notes.extend(tracker.apply(event))
    return notes


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_manager_dials_the_city_from_the_desk_phone_and_nobody_answers() -> None:
    phone = ref("PJSIP/101-00000001", "100.1", 4, exten="79161234567")
    trunk = ref("PJSIP/pstn-00000002", "100.2", 0)
    rows = [
        (0.0, ChannelCreated(at(0.0), phone)),
        (0.1, ChannelCreated(at(0.1), trunk)),
        (0.1, DialStarted(at(0.1), trunk, phone, "79161234567@pstn")),
        (30.1, DialEnded(at(30.1), trunk, phone, "NOANSWER")),
        (30.1, ChannelHungUp(at(30.1), trunk, 19, "User alerting, no answer")),
        (30.2, ChannelHungUp(at(30.2), phone, 16, "Normal Clearing")),
    ]

    notes = play(rows)

    (call,) = [n.call for n in notes if isinstance(n, CallEnded)]
    assert call.direction is Direction.OUTBOUND
    assert call.outcome is Outcome.NO_ANSWER
    assert call.failure_stage == "client"
    assert call.client_number == "79161234567"
    assert (call.manager_id, call.manager_extension) == (1, "101")
    assert call.hangup_cause == 19
    assert call.ring_seconds == 30
    assert not [n for n in notes if isinstance(n, LegRinging)]  # the caller gets no pop


def test_call_between_two_managers_pops_the_callee() -> None:
    caller = ref("PJSIP/101-00000003", "100.1", 4, exten="102")
    callee = ref("PJSIP/102-00000004", "100.2", 0, caller_num="101")
    rows = [
        (0.0, ChannelCreated(at(0.0), caller)),
        (0.1, ChannelCreated(at(0.1), callee)),
        (0.1, DialStarted(at(0.1), callee, caller, "102")),
        (0.2, ChannelStateChanged(at(0.2), ref("PJSIP/102-00000004", "100.2", 5))),
        (3.0, DialEnded(at(3.0), callee, caller, "ANSWER")),
        (3.0, BridgeEntered(at(3.0), callee, "b1")),
        (3.0, BridgeEntered(at(3.0), caller, "b1")),
        (63.0, ChannelHungUp(at(63.0), callee, 16, "Normal Clearing")),
        (63.0, ChannelHungUp(at(63.0), caller, 16, "Normal Clearing")),
    ]

    notes = play(rows)

    (call,) = [n.call for n in notes if isinstance(n, CallEnded)]
    assert call.direction is Direction.INTERNAL
    assert call.outcome is Outcome.ANSWERED
    assert call.client_number is None
    assert (call.ring_seconds, call.talk_seconds) == (3, 60)
    assert [n.leg.extension for n in notes if isinstance(n, LegRinging)] == ["102"]
