"""Each capture from a real Asterisk must produce exactly the call record it describes.

The captures and what happened in each are in ``ami/simulator/traces/`` (see the
README there). Events are replayed with their captured timing, so ring and talk
seconds are the real ones.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest

from ami.translate import translate
from callcenter.calls.models import Direction, LegKind, Outcome
from callcenter.calls.tracker import (
    CallEnded,
    CallState,
    CallTracker,
    ChannelClassifier,
    LegRinging,
    Notification,
    OriginateProgress,
    OriginateRequest,
)
from tests.conftest import headers_of, load_timeline

BASE = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
OWNERS = {"101": 1, "102": 2, "103": 3, "109": 9}


def classifier() -> ChannelClassifier:
    return ChannelClassifier(
        trunk_endpoints=["pstn"],
        trunk_local_contexts=["from-pstn", "pstn-sim"],
        phone_local_contexts=["phones"],
        internal_extension_pattern=r"^\d{2,5}$",
    )


@dataclass
class Replay:
    tracker: CallTracker
    notes: list[Notification]
    requests: list[OriginateRequest]

    @property
    def ended(self) -> list[CallState]:
        return [n.call for n in self.notes if isinstance(n, CallEnded)]

    def only_call(self) -> CallState:
        assert len(self.ended) == 1, [c.linkedid for c in self.ended]
        return self.ended[0]


def replay(name: str) -> Replay:
    """Feed a capture to a tracker; its Originates are registered as the panel would."""
    tracker = CallTracker(classifier(), extension_owners=OWNERS)
    requests = []
    timeline = load_timeline(name)
    for record in timeline:
        pairs = record.get("msg") or []
        if record.get("dir") != "out" or ["Action", "Originate"] not in pairs:
            continue
        action = headers_of(pairs)
        variables = action.get("Variable") or []
        variables = variables if isinstance(variables, list) else [variables]
        tag = next((v.split("=", 1)[1] for v in variables if "CRM_CALL_ID=" in v), None)
        channel = action["Channel"]
        extension = classifier().extension_of_dial_string(channel)
        if tag is None and action.get("Application") != "ChanSpy":
            continue  # the capture's own simulated city side, not the panel
        request = OriginateRequest(
            call_id=uuid.uuid4(),
            action_id=action["ActionID"],
            user_id=OWNERS[extension] if extension else 0,
            extension=extension or "",
            number=action.get("Exten") or "",
            created_at=BASE + dt.timedelta(seconds=record["t"]),
            direction=Direction.LISTEN if tag is None else Direction.ORIGINATED,
            tag=tag or "",
        )
        tracker.expect_originate(request)
        requests.append(request)

    notes: list[Notification] = []
    for record in timeline:
        if record.get("dir") != "in" or "msg" not in record:
            continue
        event = translate(
            headers_of(record["msg"]), BASE + dt.timedelta(seconds=record["t"])
        )
        if event is not None:
            notes.extend(tracker.apply(event))
    return Replay(tracker, notes, requests)


def legs(call: CallState) -> dict[str, tuple[LegKind, bool]]:
    return {
        leg.key: (leg.kind, leg.answered_at is not None) for leg in call.legs.values()
    }


@pytest.mark.parametrize("flavour", ["sip-01", "local-01"])
def test_click_to_call_answered(flavour: str) -> None:
    run = replay(f"{flavour}-click2call-answered")
    call = run.only_call()

    assert call.id == run.requests[0].call_id
    assert call.direction is Direction.ORIGINATED
    assert call.outcome is Outcome.ANSWERED
    assert call.client_number == "79161234567"
    assert (call.manager_id, call.manager_extension) == (1, "101")
    assert call.hangup_cause == 16
    assert call.recording_file == f"{call.linkedid}.wav"
    assert (call.ring_seconds, call.talk_seconds) == (4, 7)
    # A Local channel's ;1 and ;2 halves are one leg: two parties, two legs.
    assert sorted(kind for kind, _ in legs(call).values()) == [
        LegKind.CLIENT,
        LegKind.MANAGER,
    ]
    assert all(answered for _, answered in legs(call).values())
    stages = [n.stage for n in run.notes if isinstance(n, OriginateProgress)]
    assert "manager_answered" in stages and "failed" not in stages
    assert not run.tracker.pending_originates()


def test_click_to_call_client_busy() -> None:
    call = replay("sip-02-click2call-client-busy").only_call()

    assert call.outcome is Outcome.BUSY
    assert call.failure_stage == "client"
    assert call.hangup_cause == 17
    assert call.client_number == "79161234560"
    assert call.talk_seconds == 0


def test_click_to_call_manager_does_not_answer() -> None:
    run = replay("sip-03-click2call-manager-noanswer")
    call = run.only_call()

    assert call.outcome is Outcome.NO_ANSWER
    assert call.failure_stage == "manager"
    assert call.hangup_cause == 19
    assert call.manager_extension == "109"
    assert call.ring_seconds == 15
    assert [leg.kind for leg in call.legs.values()] == [LegKind.MANAGER]
    assert [n.stage for n in run.notes if isinstance(n, OriginateProgress)][
        -1
    ] == "failed"


def test_inbound_answered_pops_the_manager() -> None:
    run = replay("sip-04-inbound-answered")
    call = run.only_call()

    assert call.direction is Direction.INBOUND
    assert call.outcome is Outcome.ANSWERED
    assert call.client_number == "79161234567"
    assert call.did == "74950000000"
    assert (call.manager_id, call.manager_extension) == (1, "101")
    assert (call.ring_seconds, call.talk_seconds) == (2, 9)
    ringing = [n.leg.extension for n in run.notes if isinstance(n, LegRinging)]
    assert ringing == ["101"]


def test_inbound_missed() -> None:
    call = replay("sip-05-inbound-missed-noanswer").only_call()

    assert call.direction is Direction.INBOUND
    assert call.outcome is Outcome.MISSED
    assert call.did == "74950000009"
    assert (
        call.manager_extension == "109"
    )  # whose phone rang: the missed call is theirs
    assert call.ring_seconds == 15
    assert call.talk_seconds == 0
    (manager_leg,) = call.manager_legs()
    assert manager_leg.dial_status == "NOANSWER"


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("sip-06-inbound-queue-sales", "sales-sip"),
        ("local-06-inbound-queue-sales", "sales"),
    ],
)
def test_queue_ringall_first_agent_wins(name: str, queue: str) -> None:
    run = replay(name)
    call = run.only_call()

    assert call.outcome is Outcome.ANSWERED
    assert call.queue == queue
    assert call.manager_extension == "101"
    assert (call.ring_seconds, call.talk_seconds) == (2, 10)
    by_extension = {leg.extension: leg for leg in call.manager_legs()}
    assert set(by_extension) == {"101", "102"}
    assert by_extension["101"].answered_at is not None
    assert by_extension["102"].answered_at is None
    assert by_extension["102"].hangup_cause == 26  # answered elsewhere
    assert by_extension["102"].dial_status == "CANCEL"
    assert len(call.legs) == 3
    popped = sorted(n.leg.extension for n in run.notes if isinstance(n, LegRinging))
    assert popped == ["101", "102"]


def test_blind_transfer_keeps_one_call() -> None:
    run = replay("sip-07b-transfer-blindtransfer-101-to-102")
    call = run.only_call()

    assert call.transferred
    assert call.outcome is Outcome.ANSWERED
    assert call.manager_extension == "101"
    assert call.talk_seconds == 26
    answered = sorted(leg.extension for leg in call.manager_legs() if leg.answered_at)
    assert answered == ["101", "102"]
    popped = [n.leg.extension for n in run.notes if isinstance(n, LegRinging)]
    assert popped == ["101", "102"]


def test_supervisor_listening_is_a_separate_call() -> None:
    run = replay("sip-08-supervisor-chanspy")
    by_direction = {call.direction: call for call in run.ended}

    assert set(by_direction) == {Direction.ORIGINATED, Direction.LISTEN}
    talk = by_direction[Direction.ORIGINATED]
    listen = by_direction[Direction.LISTEN]
    assert talk.client_number == "79161234568"
    assert talk.outcome is Outcome.ANSWERED
    assert listen.linkedid != talk.linkedid
    assert listen.outcome is Outcome.ANSWERED
    assert listen.manager_extension == "103"


@pytest.mark.parametrize(
    "name",
    [
        "sip-01-click2call-answered",
        "sip-04-inbound-answered",
        "sip-06-inbound-queue-sales",
        "local-06-inbound-queue-sales",
    ],
)
def test_no_channel_is_left_open(name: str) -> None:
    run = replay(name)

    assert run.tracker.live_uniqueids() == set()
    assert all(c.ended_at is not None for c in run.ended)


def test_foreign_originate_response_is_ignored() -> None:
    # sip-05 carries another AMI client's OriginateResponse; it must not create a call.
    run = replay("sip-05-inbound-missed-noanswer")

    assert len(run.ended) == 1
    assert run.ended[0].direction is Direction.INBOUND
