"""The playable call scenarios cut out of the captures, and how one is chosen.

A scenario is the list of messages Asterisk sent after the capture's own triggering
action, plus what the capture was about (client number, manager extensions, DID,
Originate variables) so that a play can swap those for the requested ones. The
capture session's responses (Originate queued, Goodbye...) are left out: the simulator
answers the requesting client itself.

Selection follows the capture lab's dialplan (``asterisk-conf/extensions.conf``):
a manager in ``absent_extensions`` never answers (sip-03), a client number ending in 0
is busy (sip-02), one ending in 8 talks for about 20 s (the call part of sip-08), any
other answers (sip-01, or local-01 when the Originate dials a Local channel). Inbound
calls come from sip-04 (answered), sip-05 (missed), sip-06/local-06 (queue) and
sip-07b (blind transfer).
"""

import enum
import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ami.simulator.capture import Capture, Pairs, load_capture
from ami.simulator.protocol import get_all, get_header

logger = logging.getLogger(__name__)

INBOUND_KINDS = ("answered", "missed", "queue", "transfer")
FLAVOURS = ("sip", "local")

_CALLERID_RE = re.compile(
    r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^<]*?))\s*<(?P<num>[^>]*)>\s*$'
)
_UID_VALUE_RE = re.compile(r"^\d+\.\d+$")


class StepKind(enum.Enum):
    EVENT = "event"
    # The OriginateResponse answering the capture's own Originate: it gets the
    # requesting client's ActionID.
    OWN_ORIGINATE_RESPONSE = "own-originate-response"
    # Another AMI client's OriginateResponse that Asterisk broadcast to everyone.
    FOREIGN_ORIGINATE_RESPONSE = "foreign-originate-response"
    SPY_START = "spy-start"
    # Messages of the spying phone while it listens; skipped once the spyee is gone.
    SPY_WINDOW = "spy-window"
    SPY_STOP = "spy-stop"


@dataclass(frozen=True, slots=True)
class Step:
    t: float
    headers: Pairs
    kind: StepKind = StepKind.EVENT

    @property
    def event(self) -> str:
        return get_header(self.headers, "Event")


# eq=False: a scenario is compared (and hashed, for caches) by identity.
@dataclass(frozen=True, eq=False)
class Scenario:
    key: str
    capture_name: str
    steps: tuple[Step, ...]
    # Capture time of the action that starts the play; step delays count from it.
    origin_t: float
    epoch_at_zero: float
    client_number: str | None
    client_name: str | None
    managers: tuple[str, ...]
    did: str | None = None
    dial_string: str | None = None
    timeout_s: float | None = None
    variables: tuple[tuple[str, str], ...] = ()
    # Captured channel name → the Originate variables Asterisk set on it, in order.
    var_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    application: str | None = None
    app_data: str | None = None
    # Channels (Newchannel order), their Uniqueids and bridges (BridgeCreate order)
    # of the whole capture, used to line two captures of the same call up.
    channel_roles: tuple[str, ...] = ()
    uid_roles: tuple[str, ...] = ()
    bridge_roles: tuple[str, ...] = ()
    known_uids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OriginateInfo:
    action_id: str
    channel: str
    exten: str
    context: str
    caller_name: str | None
    caller_number: str | None
    timeout_s: float | None
    variables: tuple[tuple[str, str], ...]
    application: str
    data: str


@dataclass(frozen=True)
class Catalog:
    scenarios: Mapping[str, Scenario]

    def get(self, key: str) -> Scenario:
        return self.scenarios[key]


def parse_callerid(value: str) -> tuple[str | None, str | None]:
    """Split ``"Name" <number>`` the way ast_callerid_parse() does (roughly)."""
    value = value.strip()
    if not value:
        return None, None

    match = _CALLERID_RE.match(value)
    if match:
        name = (match.group("quoted") or match.group("bare") or "").strip()
        return (name or None), (match.group("num").strip() or None)

    if re.fullmatch(r"[\d+*#]+", value):
        return None, value

    return value, None


def parse_variables(values: list[str]) -> tuple[tuple[str, str], ...]:
    """``Variable: a=1`` headers (one may also carry ``a=1,b=2``) → ordered pairs."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        for item in value.split(","):
            name, sep, content = item.partition("=")
            if sep and name.strip():
                pairs.append((name.strip(), content))

    return tuple(pairs)


def parse_originate(headers: Pairs | list[tuple[str, str]]) -> OriginateInfo:
    caller_name, caller_number = parse_callerid(get_header(headers, "CallerID"))
    timeout = get_header(headers, "Timeout").strip()
    return OriginateInfo(
        action_id=get_header(headers, "ActionID"),
        channel=get_header(headers, "Channel"),
        exten=get_header(headers, "Exten"),
        context=get_header(headers, "Context"),
        caller_name=caller_name,
        caller_number=caller_number,
        timeout_s=int(timeout) / 1000 if timeout.lstrip("-").isdigit() else None,
        variables=parse_variables(get_all(headers, "Variable")),
        application=get_header(headers, "Application"),
        data=get_header(headers, "Data"),
    )


def extension_of(dial_string: str) -> str:
    """``PJSIP/101`` or ``Local/101@phones`` → ``101``."""
    _, _, resource = dial_string.partition("/")
    return resource.partition("@")[0] or dial_string


def outbound_key(channel: str, exten: str, absent_extensions: frozenset[str]) -> str:
    if extension_of(channel) in absent_extensions:
        return "sip-03"

    if exten.endswith("0"):
        return "sip-02"

    local = channel.lower().startswith("local/")
    if exten.endswith("8") and not local:
        return "sip-08-call"

    return "local-01" if local else "sip-01"


def inbound_key(kind: str, flavour: str) -> str:
    if kind == "answered":
        return "sip-04"
    if kind == "missed":
        return "sip-05"
    if kind == "queue":
        return "local-06" if flavour == "local" else "sip-06"
    if kind == "transfer":
        return "sip-07b"

    raise ValueError(
        f"unknown inbound scenario {kind!r}, expected one of {INBOUND_KINDS}"
    )


def _body(
    capture: Capture,
    after_index: int,
    own_action_id: str | None,
    keep: Callable[[Pairs], bool] = lambda headers: True,
) -> list[Step]:
    steps: list[Step] = []
    for entry in capture.entries[after_index + 1 :]:
        if entry.direction != "in" or entry.headers is None:
            continue

        headers = entry.headers
        # Responses answer the capture session's own actions; the simulator sends
        # its own to whoever asks.
        if headers[0][0].lower() == "response":
            continue

        event = get_header(headers, "Event")
        if event in ("FullyBooted", "SuccessfulAuth") or not keep(headers):
            continue

        kind = StepKind.EVENT
        if event == "OriginateResponse":
            own = own_action_id and get_header(headers, "ActionID") == own_action_id
            kind = (
                StepKind.OWN_ORIGINATE_RESPONSE
                if own
                else StepKind.FOREIGN_ORIGINATE_RESPONSE
            )

        steps.append(Step(t=entry.t, headers=headers, kind=kind))

    return steps


def _roles(
    capture: Capture,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    channels: list[str] = []
    uids: list[str] = []
    bridges: list[str] = []
    for entry in capture.entries:
        if entry.direction != "in" or entry.headers is None:
            continue

        event = get_header(entry.headers, "Event")
        if event == "Newchannel":
            channels.append(get_header(entry.headers, "Channel"))
            uids.append(get_header(entry.headers, "Uniqueid"))
        elif event == "BridgeCreate":
            bridges.append(get_header(entry.headers, "BridgeUniqueid"))

    return tuple(channels), tuple(uids), tuple(bridges)


def _known_uids(capture: Capture) -> frozenset[str]:
    found: set[str] = set()
    for entry in capture.entries:
        for key, value in entry.headers or ():
            lowered = key.lower()
            is_id_key = lowered.endswith("uniqueid") or lowered.endswith("linkedid")
            if is_id_key and _UID_VALUE_RE.match(value):
                found.add(value)

    return frozenset(found)


def _var_groups(steps: list[Step], names: set[str]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for step in steps:
        if step.event != "VarSet":
            continue

        variable = get_header(step.headers, "Variable")
        if variable in names:
            groups.setdefault(get_header(step.headers, "Channel"), []).append(variable)

    return {channel: tuple(found) for channel, found in groups.items()}


def _scenario(
    key: str,
    capture: Capture,
    steps: list[Step],
    origin_t: float,
    **details: Any,
) -> Scenario:
    channels, uids, bridges = _roles(capture)
    return Scenario(
        key=key,
        capture_name=capture.name,
        steps=tuple(steps),
        origin_t=origin_t,
        epoch_at_zero=capture.epoch_at_zero,
        channel_roles=channels,
        uid_roles=uids,
        bridge_roles=bridges,
        known_uids=_known_uids(capture),
        **details,
    )


def _outbound(key: str, capture: Capture) -> Scenario:
    index = capture.action_indexes("Originate")[0]
    entry = capture.entries[index]
    info = parse_originate(entry.headers or ())
    steps = _body(capture, index, info.action_id)
    names = {name for name, _ in info.variables}
    return _scenario(
        key,
        capture,
        steps,
        entry.t,
        client_number=info.exten,
        client_name=info.caller_name,
        managers=(extension_of(info.channel),),
        dial_string=info.channel,
        timeout_s=info.timeout_s,
        variables=info.variables,
        var_groups=_var_groups(steps, names),
    )


def _inbound(
    key: str,
    capture: Capture,
    managers: tuple[str, ...],
    after_action: str = "Originate",
) -> Scenario:
    originate = capture.entries[capture.action_indexes("Originate")[0]]
    info = parse_originate(originate.headers or ())
    index = capture.action_indexes(after_action)[0]
    # The capture's Originate only played the city side of the call: for the CRM its
    # OriginateResponse is another client's traffic, so nothing here is "own".
    steps = _body(capture, index, own_action_id=None)
    return _scenario(
        key,
        capture,
        steps,
        capture.entries[index].t,
        client_number=info.caller_number,
        client_name=info.caller_name,
        managers=managers,
        did=extension_of(info.channel),
    )


def _spy_split(capture: Capture) -> tuple[Scenario, Scenario]:
    """sip-08 holds two things: a long call (client ending in 8) and a ChanSpy on it."""
    spy_index = capture.action_indexes("Originate")[1]
    spy_info = parse_originate(capture.entries[spy_index].headers or ())

    spyer_channel = spyer_uid = ""
    for entry in capture.entries:
        headers = entry.headers or ()
        if (
            get_header(headers, "ActionID") == spy_info.action_id
            and entry.direction == "in"
        ):
            if get_header(headers, "Event") == "OriginateResponse":
                spyer_channel = get_header(headers, "Channel")
                spyer_uid = get_header(headers, "Uniqueid")

    def is_spy(headers: Pairs) -> bool:
        if get_header(headers, "ActionID") == spy_info.action_id:
            return True

        if get_header(headers, "Event") == "DeviceStateChange":
            return get_header(headers, "Device") == spy_info.channel

        return any(spyer_channel in value or spyer_uid in value for _, value in headers)

    call = _outbound("sip-08-call", capture)
    call = replace(
        call, steps=tuple(step for step in call.steps if not is_spy(step.headers))
    )

    spy_steps: list[Step] = []
    window = False
    for step in _body(capture, spy_index, spy_info.action_id, keep=is_spy):
        kind = step.kind
        if step.event == "ChanSpyStart":
            kind, window = StepKind.SPY_START, True
        elif step.event == "ChanSpyStop":
            kind, window = StepKind.SPY_STOP, False
        elif window:
            kind = StepKind.SPY_WINDOW

        spy_steps.append(Step(step.t, step.headers, kind))

    spy = _scenario(
        "sip-08-spy",
        capture,
        spy_steps,
        capture.entries[spy_index].t,
        client_number=None,
        client_name=spy_info.caller_name,
        managers=(extension_of(spy_info.channel),),
        dial_string=spy_info.channel,
        timeout_s=spy_info.timeout_s,
        application=spy_info.application,
        app_data=spy_info.data,
    )
    return call, spy


@functools.lru_cache(maxsize=4)
def build_catalog(traces_dir: Path) -> Catalog:
    """Load every capture and cut the scenarios (blocking: run in a worker thread).

    Cached per folder: scenarios are immutable, and a test suite starts many simulators.
    """
    captures = {
        path.name.removesuffix(".timeline.jsonl"): load_capture(path)
        for path in sorted(traces_dir.glob("*.timeline.jsonl"))
    }

    def capture(prefix: str) -> Capture:
        for name, found in captures.items():
            if name.startswith(prefix + "-"):
                return found

        raise FileNotFoundError(f"no capture {prefix}-*.timeline.jsonl in {traces_dir}")

    call, spy = _spy_split(capture("sip-08"))
    # Manager extensions of the inbound captures come from the lab dialplan: DID
    # 74950000000 rings 101, 74950000009 rings 109, the queue rings 101 and 102, and
    # sip-07b transfers 101's call to 102.
    scenarios = [
        _outbound("sip-01", capture("sip-01")),
        _outbound("local-01", capture("local-01")),
        _outbound("sip-02", capture("sip-02")),
        _outbound("sip-03", capture("sip-03")),
        call,
        spy,
        _inbound("sip-04", capture("sip-04"), ("101",)),
        _inbound("sip-05", capture("sip-05"), ("109",)),
        _inbound("sip-06", capture("sip-06"), ("101", "102")),
        _inbound("local-06", capture("local-06"), ("101", "102")),
        _inbound("sip-07b", capture("sip-07b"), ("101", "102")),
        _inbound(
            "sip-07b-continue",
            capture("sip-07b"),
            ("101", "102"),
            after_action="BlindTransfer",
        ),
    ]
    logger.debug("scenario catalog loaded captures=%s", len(captures))
    return Catalog(scenarios={scenario.key: scenario for scenario in scenarios})
