"""Loading the ``*.timeline.jsonl`` captures of a real Asterisk 22.

Each line is one message with its time ``t`` in seconds from the capture start and its
direction: ``in`` is what Asterisk sent, ``out`` what the capturing client sent. A line
holds either ``msg`` (a list of ``[key, value]`` pairs in wire order), ``banner`` or
``eof``. The README next to the files describes every capture.
"""

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ami.simulator.clock import parse_tv
from ami.simulator.protocol import get_header

logger = logging.getLogger(__name__)

TRACES_DIR = Path(__file__).resolve().parent / "traces"
SAMPLE_RECORDING = TRACES_DIR / "sample-recording.wav"

_UNIQUEID_RE = re.compile(r"^(\d+)\.\d+$")

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Entry:
    t: float
    direction: str
    headers: Pairs | None
    banner: str | None = None
    eof: bool = False

    @property
    def is_action(self) -> bool:
        return self.direction == "out" and self.headers is not None

    @property
    def action(self) -> str:
        return get_header(self.headers or (), "Action")


@dataclass(frozen=True, slots=True)
class Capture:
    name: str
    entries: tuple[Entry, ...]
    # Wall clock (epoch seconds) of the capture machine at t=0.
    epoch_at_zero: float

    def action_indexes(self, action: str) -> list[int]:
        """Positions of the client's actions of one kind, in capture order."""
        wanted = action.lower()
        return [
            index
            for index, entry in enumerate(self.entries)
            if entry.is_action and entry.action.lower() == wanted
        ]


def parse_entries(lines: Iterable[str]) -> tuple[Entry, ...]:
    entries: list[Entry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue

        record = json.loads(line)
        t = float(record["t"])
        direction = str(record.get("dir", "in"))
        if "msg" in record:
            pairs = tuple((str(key), str(value)) for key, value in record["msg"])
            entries.append(Entry(t=t, direction=direction, headers=pairs))
        elif "banner" in record:
            entries.append(Entry(t, direction, None, banner=str(record["banner"])))
        elif record.get("eof"):
            entries.append(Entry(t, direction, None, eof=True))
        else:
            logger.debug("skipping unknown timeline record line=%s", number)

    return tuple(entries)


def _epoch_at_zero(entries: tuple[Entry, ...]) -> float:
    # The SuccessfulAuth right after login carries EventTV with millisecond
    # precision; a Uniqueid only gives whole seconds, so it is the fallback.
    for entry in entries:
        if entry.headers is None or entry.direction != "in":
            continue

        parsed = parse_tv(get_header(entry.headers, "EventTV"))
        if parsed is not None:
            return parsed - entry.t

    for entry in entries:
        match = _UNIQUEID_RE.match(get_header(entry.headers or (), "Uniqueid"))
        if match:
            return float(match.group(1)) - entry.t

    return 0.0


def load_capture(path: Path) -> Capture:
    """Read one timeline file (blocking: call it from a worker thread)."""
    text = path.read_text(encoding="utf-8")
    entries = parse_entries(text.splitlines())
    name = path.name.removesuffix(".timeline.jsonl")
    return Capture(name=name, entries=entries, epoch_at_zero=_epoch_at_zero(entries))


def login_end_index(capture: Capture) -> int:
    """Index of the first entry after the capture session's own login exchange.

    That exchange is the Login response, FullyBooted and SuccessfulAuth; none of it
    belongs to a call.
    """
    last = -1
    for index, entry in enumerate(capture.entries):
        if entry.headers is None:
            continue

        if entry.is_action and entry.action.lower() != "login":
            break

        event = get_header(entry.headers, "Event")
        response = get_header(entry.headers, "Response")
        if entry.is_action or response or event in ("FullyBooted", "SuccessfulAuth"):
            last = index

    return last + 1
