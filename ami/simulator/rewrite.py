"""Rewriting captured messages so that every play of a scenario looks like a new call.

One ``Rewriter`` serves one play. Before the first message it allocates fresh
identities for everything the capture names: Uniqueids/Linkedids (``<epoch>.<seq>`` from
the simulator-wide counter), channel suffixes (``PJSIP/101-0000001f``, the hex counter
shared by both halves of a Local channel) and bridge/call-id UUIDs. The same captured
value always maps to the same new one within a play, so the relations between
channels survive. Gaps between captured sequence numbers are kept: they stand for the
lab's hidden simulator-side channels, as a real PBX has channels a CRM never sees.

Phone numbers are swapped only as whole digit runs (``101`` in ``PJSIP/101-...`` but
never inside ``1796397540.106``), in every header value, in one regex pass so that a
swap never feeds another. Times are shifted, not scaled: a call played at speed 10
still reports its captured durations, like its recording does.
"""

import functools
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from ami.simulator.clock import is_time_key, shift_time_value
from ami.simulator.protocol import Headers, get_header, replace_header
from ami.simulator.scenarios import Scenario, Step

logger = logging.getLogger(__name__)

# Events whose non-channel headers are RTP statistics: digits there are counters,
# never phone numbers.
_STATS_EVENTS = frozenset({"RTCPSent", "RTCPReceived"})
SNAPSHOT_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
_SNAPSHOT_KEY_SET = frozenset(SNAPSHOT_KEYS)
_UNTOUCHED_KEYS = frozenset({"Event", "Privilege", "ActionID"})
_NAME_KEY_SUFFIXES = ("calleridname", "connectedlinename")

_BASE_PATTERN = (
    r"(?P<uuid>\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)"
    r"|(?P<chan>\b(?P<tech>PJSIP|Local|SIP|IAX2|DAHDI)/(?P<res>[^\s,;|\"'<>()]+?)"
    r"-(?P<seq>[0-9a-f]{8})(?![0-9A-Za-z]))"
    r"|(?P<uid>(?<![\d.])\d{9,10}\.\d+(?!\d))"
    r"|(?P<num>(?<!\d)\d+(?!\d))"
)
_BASE_RE = re.compile(_BASE_PATTERN)
_NUM_RE = re.compile(r"(?<!\d)\d+(?!\d)")


@dataclass(frozen=True)
class Inventory:
    """Identities a scenario's messages mention, in order of first appearance."""

    uuids: tuple[str, ...]
    channel_seqs: tuple[str, ...]
    uids: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def inventory(scenario: Scenario) -> Inventory:
    uuids: dict[str, None] = {}
    seqs: dict[str, None] = {}
    uids: dict[str, None] = {}
    for step in scenario.steps:
        for _, value in step.headers:
            for match in _BASE_RE.finditer(value):
                if match.group("uuid"):
                    uuids[match.group("uuid")] = None
                elif match.group("chan"):
                    seqs[match.group("seq")] = None
                elif match.group("uid") and match.group("uid") in scenario.known_uids:
                    uids[match.group("uid")] = None

    return Inventory(tuple(uuids), tuple(seqs), tuple(uids))


@dataclass(frozen=True)
class Parties:
    """What the requester asked for, in place of what the capture was about.

    ``None`` keeps the captured value. A ``client_name`` of ``""`` means "no name",
    which Asterisk shows as ``<unknown>`` in name headers.
    """

    client_number: str | None = None
    client_name: str | None = None
    managers: tuple[str, ...] = ()
    did: str | None = None
    variables: tuple[tuple[str, str], ...] | None = None
    application: str | None = None
    app_data: str | None = None


@dataclass
class Seeds:
    """Identities a play must reuse instead of allocating (a call that continues)."""

    uids: dict[str, str] = field(default_factory=dict)
    channel_seqs: dict[str, int] = field(default_factory=dict)
    uuids: dict[str, str] = field(default_factory=dict)


class IdAllocator:
    """Simulator-wide counters behind Uniqueid sequence numbers and channel suffixes."""

    def __init__(self) -> None:
        self._next_uid = 1
        self._next_channel = 1

    def reserve_uids(self, size: int) -> int:
        first, self._next_uid = self._next_uid, self._next_uid + size
        return first

    def reserve_channels(self, size: int) -> int:
        first, self._next_channel = self._next_channel, self._next_channel + size
        return first


class Rewriter:
    def __init__(
        self,
        scenario: Scenario,
        parties: Parties,
        allocator: IdAllocator,
        wall_origin: float,
        seeds: Seeds | None = None,
        verbatim: bool = False,
    ) -> None:
        self.scenario = scenario
        self.parties = parties
        # A verbatim rewriter changes nothing: ``--replay`` sends a capture as it was.
        self.verbatim = verbatim
        # Captured wall clock at the play's origin is moved to ``wall_origin``.
        self.shift = wall_origin - (scenario.epoch_at_zero + scenario.origin_t)

        self.numbers = self._number_map(scenario, parties)
        self._literals, self._name_field = self._name_rules(scenario, parties)
        self._whole_values: dict[str, str] = {}
        if parties.app_data is not None and scenario.app_data:
            self._whole_values[scenario.app_data] = parties.app_data
        if parties.application and scenario.application:
            self._whole_values[scenario.application] = parties.application

        pattern = _BASE_PATTERN
        if self._literals:
            alternatives = "|".join(
                re.escape(text)
                for text in sorted(self._literals, key=len, reverse=True)
            )
            pattern = f"(?P<lit>{alternatives})|{pattern}"
        self._token_re = re.compile(pattern)

        seeds = seeds or Seeds()
        self.uid_map: dict[str, str] = dict(seeds.uids)
        self.seq_map: dict[str, int] = dict(seeds.channel_seqs)
        self.uuid_map: dict[str, str] = dict(seeds.uuids)
        self._allocator = allocator
        if not verbatim:
            self._allocate(inventory(scenario), allocator)
        self._memo: dict[tuple[str, str, bool], str] = {}

        self._captured_var_names = {name for name, _ in scenario.variables}
        self._varsets_done: set[str] = set()

    @staticmethod
    def _number_map(scenario: Scenario, parties: Parties) -> dict[str, str]:
        numbers: dict[str, str] = {}
        if scenario.client_number and parties.client_number:
            numbers[scenario.client_number] = parties.client_number
        if scenario.did and parties.did:
            numbers[scenario.did] = parties.did
        for captured, requested in zip(
            scenario.managers, parties.managers, strict=False
        ):
            if requested:
                numbers[captured] = requested

        return {old: new for old, new in numbers.items() if old != new}

    @staticmethod
    def _name_rules(
        scenario: Scenario, parties: Parties
    ) -> tuple[dict[str, str], tuple[str, str] | None]:
        captured, requested = scenario.client_name, parties.client_name
        if not captured or requested is None or captured == requested:
            return {}, None

        field_value = requested or "<unknown>"
        if captured.isdigit():
            # Inbound captures have the number as the name: only a quoted occurrence
            # ("CallerID" of a Cdr, NoOp texts) is a name; bare digits are the number.
            return {f'"{captured}"': f'"{requested}"'}, (captured, field_value)

        return {captured: requested}, (captured, field_value)

    def _allocate(self, found: Inventory, allocator: IdAllocator) -> None:
        for text in found.uuids:
            if text not in self.uuid_map:
                self.uuid_map[text] = str(uuid.uuid4())
        seqs = [seq for seq in found.channel_seqs if seq not in self.seq_map]
        uids = [uid for uid in found.uids if uid not in self.uid_map]

        if seqs:
            numbers = {seq: int(seq, 16) for seq in seqs}
            low, high = min(numbers.values()), max(numbers.values())
            first = allocator.reserve_channels(high - low + 1)
            for seq, number in numbers.items():
                self.seq_map[seq] = first + number - low

        if uids:
            parsed = {text: text.split(".") for text in uids}
            low_seq = min(int(seq) for _, seq in parsed.values())
            high_seq = max(int(seq) for _, seq in parsed.values())
            first = allocator.reserve_uids(high_seq - low_seq + 1)
            for text, (epoch, seq) in parsed.items():
                new_epoch = int(int(epoch) + self.shift)
                self.uid_map[text] = f"{new_epoch}.{first + int(seq) - low_seq}"

    @property
    def linkedid(self) -> str:
        """The new Linkedid of the call: the first captured Linkedid, rewritten."""
        for step in self.scenario.steps:
            linkedid = get_header(step.headers, "Linkedid")
            if linkedid:
                return self.uid_map.get(linkedid, linkedid)

        return ""

    def new_channel_name(self, captured: str) -> str:
        return self.rewrite_value("Channel", captured)

    def rewrite(self, step: Step) -> list[Headers]:
        """One captured message → the messages to send (none, one or several)."""
        if self.verbatim:
            return [list(step.headers)]

        if step.event == "VarSet" and self.parties.variables is not None:
            variable = get_header(step.headers, "Variable")
            if variable in self._captured_var_names:
                return self._originate_varsets(step.headers)

        return [self.rewrite_headers(step.headers)]

    def rewrite_headers(self, headers: Sequence[tuple[str, str]]) -> Headers:
        event = get_header(headers, "Event")
        stats = event in _STATS_EVENTS
        qos = event == "VarSet" and get_header(headers, "Variable").startswith(
            "RTPAUDIOQOS"
        )
        result: Headers = []
        for key, value in headers:
            numbers = not (
                (stats and key not in _SNAPSHOT_KEY_SET) or (qos and key == "Value")
            )
            result.append((key, self.rewrite_value(key, value, numbers=numbers)))

        return result

    def rewrite_value(self, key: str, value: str, numbers: bool = True) -> str:
        if self.verbatim or not value or key in _UNTOUCHED_KEYS:
            return value

        # Snapshot headers repeat in almost every event of a call: rewrite each once.
        memo_key = (key, value, numbers)
        cached = self._memo.get(memo_key)
        if cached is None:
            cached = self._memo[memo_key] = self._rewrite_value(key, value, numbers)
        return cached

    def _rewrite_value(self, key: str, value: str, numbers: bool) -> str:
        if is_time_key(key):
            return shift_time_value(key, value, self.shift)

        whole = self._whole_values.get(value)
        if whole is not None:
            return whole

        if self._name_field and value == self._name_field[0]:
            if key.lower().endswith(_NAME_KEY_SUFFIXES):
                return self._name_field[1]

        return self._token_re.sub(lambda match: self._token(match, numbers), value)

    def _token(self, match: re.Match[str], numbers: bool) -> str:
        text = match.group(0)
        groups = match.groupdict()
        if groups.get("lit") is not None:
            return self._literals[text]

        if groups["uuid"] is not None:
            return self.uuid_map.setdefault(text, str(uuid.uuid4()))

        if groups["chan"] is not None:
            seq = groups["seq"]
            if seq not in self.seq_map:
                self.seq_map[seq] = self._allocator.reserve_channels(1)
            resource = _NUM_RE.sub(
                lambda num: self.numbers.get(num.group(), num.group()), groups["res"]
            )
            return f"{groups['tech']}/{resource}-{self.seq_map[seq]:08x}"

        if groups["uid"] is not None:
            return self.uid_map.get(text, text)

        return self.numbers.get(text, text) if numbers else text

    def _originate_varsets(self, headers: Sequence[tuple[str, str]]) -> list[Headers]:
        """Replace the VarSets of the captured Originate variables by the requested ones.

        Asterisk sets the Originate's variables on the originated channel (in reverse
        order), copies all of them to a Local ;2 half and hands ``_``/``__`` ones down to
        every dialled leg. The capture shows which of those a channel got; the same
        pattern is applied to the requested variables.
        """
        channel = get_header(headers, "Channel")
        if channel in self._varsets_done:
            return []

        self._varsets_done.add(channel)
        group = self.scenario.var_groups.get(channel, ())
        inherited_only = all(name.startswith("_") for name in group)
        captured_order = [name for name, _ in self.scenario.variables]
        reverse = len(group) > 1 and group[0] == captured_order[-1]

        chosen = [
            (name, value)
            for name, value in self.parties.variables or ()
            if not inherited_only or name.startswith("_")
        ]
        if reverse:
            chosen.reverse()

        base = self.rewrite_headers(headers)
        varsets: list[Headers] = []
        for name, value in chosen:
            shown = name
            if inherited_only and name.startswith("_") and not name.startswith("__"):
                # A single underscore is inherited once and loses its prefix.
                shown = name[1:]
            varsets.append(
                replace_header(replace_header(base, "Variable", shown), "Value", value)
            )

        return varsets


def seeds_for_continuation(
    source: Rewriter, source_scenario: Scenario, target: Scenario, count: int
) -> Seeds:
    """Reuse a running call's identities for the first ``count`` channels of another
    capture of the same call (roles matched by Newchannel and BridgeCreate order)."""
    seeds = Seeds()
    for old_name, new_name in zip(
        target.channel_roles[:count],
        source_scenario.channel_roles[:count],
        strict=False,
    ):
        old_seq = old_name.rsplit("-", 1)[-1].split(";")[0]
        current = source.new_channel_name(new_name)
        seeds.channel_seqs[old_seq] = int(current.rsplit("-", 1)[-1].split(";")[0], 16)

    for old_uid, source_uid in zip(
        target.uid_roles[:count], source_scenario.uid_roles[:count], strict=False
    ):
        seeds.uids[old_uid] = source.uid_map.get(source_uid, source_uid)

    for old_bridge, source_bridge in zip(
        target.bridge_roles, source_scenario.bridge_roles, strict=False
    ):
        if source_bridge in source.uuid_map:
            seeds.uuids[old_bridge] = source.uuid_map[source_bridge]

    return seeds
