"""One play of a scenario: a background task that re-emits captured messages on time.

Delays are the capture's relative times divided by the play's speed (speed 0 sends
everything at once). A play owns the channels it creates, so the Hangup action can cut
it short: the remaining channels then get the SoftHangupRequest / BridgeLeave /
Hangup sequence Asterisk sends when a channel is hung up from AMI. The OriginateResponse
that answers the requesting client's own Originate is given that client's ActionID;
every other OriginateResponse is foreign traffic and keeps a foreign ActionID.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ami.simulator.channels import ChannelRegistry, LiveChannel
from ami.simulator.protocol import (
    Headers,
    get_header,
    has_header,
    remove_header,
    replace_header,
)
from ami.simulator.rewrite import Rewriter
from ami.simulator.scenarios import Scenario, Step, StepKind

logger = logging.getLogger(__name__)

CAUSE_TEXTS = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}

# With no delays at all, a play still hands the loop back now and then so that the
# sockets and other plays keep moving.
_STEPS_PER_YIELD = 25


class Requester(Protocol):
    def send_message(self, headers: Sequence[tuple[str, str]]) -> None: ...


@dataclass(frozen=True)
class OriginateRequest:
    """The client's Originate a play answers (``session`` None for simulated traffic)."""

    session: Requester | None
    action_id: str
    channel: str
    context: str
    exten: str
    caller_number: str
    caller_name: str
    asynchronous: bool


class PlayHost(Protocol):
    registry: ChannelRegistry

    def publish(self, headers: Headers, play: "Play", capture_t: float) -> None: ...

    def play_finished(self, play: "Play") -> None: ...


def stretch_after(
    steps: Sequence[Step], anchor_t: float, delta: float
) -> tuple[Step, ...]:
    """Move every step from ``anchor_t`` on by ``delta`` seconds, never before its
    predecessor (a shorter Originate timeout brings the failure forward)."""
    stretched: list[Step] = []
    previous = float("-inf")
    for step in steps:
        t = step.t + delta if step.t >= anchor_t else step.t
        t = max(t, previous)
        stretched.append(replace(step, t=t))
        previous = t

    return tuple(stretched)


class Play:
    def __init__(
        self,
        *,
        host: PlayHost,
        play_id: int,
        scenario: Scenario,
        rewriter: Rewriter,
        speed: float,
        foreign_action_id: str,
        steps: Sequence[Step] | None = None,
        origin_t: float | None = None,
        requester: OriginateRequest | None = None,
        spyee: LiveChannel | None = None,
    ) -> None:
        self.host = host
        self.play_id = play_id
        self.scenario = scenario
        self.rewriter = rewriter
        self.speed = max(0.0, speed)
        self.foreign_action_id = foreign_action_id
        self.steps = tuple(steps if steps is not None else scenario.steps)
        self.origin_t = scenario.origin_t if origin_t is None else origin_t
        self.requester = requester
        self.linkedid = rewriter.linkedid

        self.position_t = self.origin_t
        self.own_response_sent = False
        self.finished = False
        self.task: asyncio.Task[None] | None = None

        self._spyee = spyee
        self._spyee_gone = spyee.gone if spyee is not None else asyncio.Event()
        if spyee is None:
            self._spyee_gone.set()
        self._spying = False
        self._anchor_wall = 0.0
        self._anchor_t = self.origin_t
        self._since_yield = 0

    @property
    def label(self) -> str:
        return self.scenario.key

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._anchor_wall = loop.time()
        self.task = loop.create_task(self._run(), name=f"ami-sim-play-{self.play_id}")

    def capture_now(self) -> float:
        """Where the play stands in capture time (used to size cut-short recordings)."""
        if self.speed <= 0 or self.task is None:
            return self.position_t

        elapsed = (asyncio.get_running_loop().time() - self._anchor_wall) * self.speed
        return max(self.position_t, self._anchor_t + elapsed)

    async def _run(self) -> None:
        try:
            for step in self.steps:
                if not await self._wait_for(step):
                    continue

                self._emit(step)
                self.position_t = step.t
        except asyncio.CancelledError:
            logger.debug(
                "play cancelled play=%s linkedid=%s", self.play_id, self.linkedid
            )
            raise
        except Exception:
            logger.exception(
                "play failed play=%s scenario=%s", self.play_id, self.label
            )
        finally:
            self._finish()

    async def _wait_for(self, step: Step) -> bool:
        """Sleep until the step is due; False when the step must be skipped."""
        if step.kind is StepKind.SPY_START:
            self._spying = not self._spyee_gone.is_set()
            if not self._spying:
                return False

        if step.kind is StepKind.SPY_WINDOW:
            # The spying phone's own traffic stops as soon as the spyee hangs up.
            if self._spyee_gone.is_set():
                return False
            return await self._sleep_until(step.t, interrupt=self._spyee_gone)

        if step.kind is StepKind.SPY_STOP:
            # Option E: ChanSpy ends when the spyee hangs up, whenever that is.
            await self._spyee_gone.wait()
            self._anchor_wall = asyncio.get_running_loop().time()
            self._anchor_t = step.t
            return self._spying

        return await self._sleep_until(step.t)

    async def _sleep_until(
        self, t: float, interrupt: asyncio.Event | None = None
    ) -> bool:
        if self.speed <= 0:
            self._since_yield += 1
            if self._since_yield >= _STEPS_PER_YIELD:
                self._since_yield = 0
                await asyncio.sleep(0)
            return interrupt is None or not interrupt.is_set()

        loop = asyncio.get_running_loop()
        delay = self._anchor_wall + (t - self._anchor_t) / self.speed - loop.time()
        if interrupt is None:
            if delay > 0:
                await asyncio.sleep(delay)
            return True

        if delay <= 0:
            return not interrupt.is_set()

        try:
            await asyncio.wait_for(interrupt.wait(), delay)
        except TimeoutError:
            return True

        return False

    def _emit(self, step: Step) -> None:
        for headers in self.rewriter.rewrite(step):
            if step.kind is StepKind.OWN_ORIGINATE_RESPONSE:
                own = self._own_response(headers)
                if own is None:
                    continue
                headers = own
            elif step.kind is StepKind.FOREIGN_ORIGINATE_RESPONSE:
                headers = replace_header(headers, "ActionID", self.foreign_action_id)
            elif step.kind in (StepKind.SPY_START, StepKind.SPY_STOP):
                headers = self._with_spyee(headers)

            self.host.publish(headers, self, step.t)

    def _own_response(self, headers: Headers) -> Headers | None:
        self.own_response_sent = True
        request = self.requester
        if request is None:
            return replace_header(headers, "ActionID", self.foreign_action_id)

        failed = get_header(headers, "Response") != "Success"
        if failed:
            # On failure Asterisk reports the dial string it was given.
            headers = replace_header(headers, "Channel", request.channel)
        if request.context and has_header(headers, "Context"):
            headers = replace_header(headers, "Context", request.context)

        if not request.asynchronous:
            # A synchronous Originate gets no event, only its delayed response.
            self._answer_synchronous(request, not failed)
            return None

        if request.action_id:
            return replace_header(headers, "ActionID", request.action_id)

        return remove_header(headers, "ActionID")

    def _answer_synchronous(self, request: OriginateRequest, success: bool) -> None:
        if request.session is None:
            return

        response: Headers = [("Response", "Success" if success else "Error")]
        if request.action_id:
            response.append(("ActionID", request.action_id))
        response.append(
            (
                "Message",
                "Originate successfully queued" if success else "Originate failed",
            )
        )
        request.session.send_message(response)

    def _with_spyee(self, headers: Headers) -> Headers:
        if self._spyee is None:
            return headers

        current = dict(self._spyee.snapshot(prefix="Spyee"))
        return [(key, current.get(key, value)) for key, value in headers]

    def _cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.host.play_finished(self)

    def detach(self) -> float:
        """Stop silently (the call goes on in another play); returns the capture time."""
        capture_t = self.capture_now()
        self._cancel()
        self._finish()
        return capture_t

    def cut(self, target: str | None, cause: int = 16) -> None:
        """Hang up every live channel of this play now, ``target`` first."""
        if self.finished:
            return

        capture_t = self.capture_now()
        self._cancel()
        channels = self.host.registry.owned_by(self)
        channels.sort(key=lambda channel: channel.name != target)

        for channel in channels:
            if channel.name == target:
                self._publish_now(
                    _channel_event(
                        "SoftHangupRequest", channel, [("Cause", str(cause))]
                    ),
                    capture_t,
                )

        self._leave_bridges(channels, capture_t)
        cause_text = CAUSE_TEXTS.get(cause, "Unknown")
        for channel in channels:
            extra = [("Cause", str(cause)), ("Cause-txt", cause_text)]
            self._publish_now(_channel_event("Hangup", channel, extra), capture_t)

        if self.requester is not None and not self.own_response_sent:
            self._fail_own_originate(capture_t)

        self._finish()

    def _leave_bridges(self, channels: list[LiveChannel], capture_t: float) -> None:
        emptied: list[str] = []
        for channel in channels:
            bridge_id = channel.bridge_id
            if not bridge_id:
                continue

            remaining = len(self.host.registry.bridge_members(bridge_id)) - 1
            leave = (
                _bridge_headers("BridgeLeave", bridge_id, remaining)
                + channel.snapshot()
            )
            self._publish_now(leave, capture_t)
            if remaining == 0:
                emptied.append(bridge_id)

        for bridge_id in emptied:
            self._publish_now(_bridge_headers("BridgeDestroy", bridge_id, 0), capture_t)

    def _fail_own_originate(self, capture_t: float) -> None:
        request = self.requester
        assert request is not None
        self.own_response_sent = True
        headers: Headers = [
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            ("ActionID", request.action_id),
            ("Response", "Failure"),
            ("Channel", request.channel),
            ("Context", request.context),
            ("Exten", request.exten),
            # 0: the leg went away before it answered (see the traces README).
            ("Reason", "0"),
            ("Uniqueid", "<unknown>"),
            ("CallerIDNum", request.caller_number or "<unknown>"),
            ("CallerIDName", request.caller_name or "<unknown>"),
        ]
        if not request.action_id:
            headers = remove_header(headers, "ActionID")

        if request.asynchronous:
            self._publish_now(headers, capture_t)
        else:
            self._answer_synchronous(request, success=False)

    def _publish_now(self, headers: Headers, capture_t: float) -> None:
        self.host.publish(headers, self, capture_t)


def _channel_event(
    event: str, channel: LiveChannel, extra: list[tuple[str, str]]
) -> Headers:
    return [("Event", event), ("Privilege", "call,all"), *channel.snapshot(), *extra]


def _bridge_headers(event: str, bridge_id: str, members: int) -> Headers:
    return [
        ("Event", event),
        ("Privilege", "call,all"),
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(max(0, members))),
        ("BridgeVideoSourceMode", "none"),
    ]
