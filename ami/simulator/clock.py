"""Asterisk time formats found in AMI headers, parsed and re-rendered.

Three spellings occur in the captures: security events carry ``EventTV``/``SessionTV``
as ISO 8601 with milliseconds and a ``+0000`` offset, CEL carries ``EventTime`` and the
Cdr event ``StartTime``/``AnswerTime``/``EndTime`` as ``YYYY-MM-DD HH:MM:SS``. The
capture machine ran on UTC, so the simulator renders every time in UTC as well.
"""

import logging
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

TV_KEYS = frozenset({"EventTV", "SessionTV"})
PLAIN_TIME_KEYS = frozenset({"EventTime", "StartTime", "AnswerTime", "EndTime"})

# Epoch seconds that QueueMemberStatus reports (LoginTime, LastCall, LastPause).
EPOCH_KEYS = frozenset({"LoginTime", "LastCall", "LastPause"})
# RTCP reports carry the sender's wall clock as epoch seconds with microseconds.
FRACTIONAL_EPOCH_KEYS = frozenset({"SentNTP"})

_TV_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
_PLAIN_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_tv(value: str) -> float | None:
    """``2026-12-04T15:18:59.344+0000`` → epoch seconds, None if unparsable."""
    try:
        return datetime.strptime(value, _TV_FORMAT).timestamp()
    except ValueError:
        return None


def parse_plain(value: str) -> float | None:
    """``2026-12-04 15:19:00`` (UTC) → epoch seconds, None if unparsable."""
    try:
        return datetime.strptime(value, _PLAIN_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def format_tv(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def format_plain(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S}"


def shift_time_value(key: str, value: str, shift: float) -> str:
    """Move one time header by ``shift`` seconds, keeping its spelling.

    Empty values (an unanswered call's ``AnswerTime``) and zero epochs stay as they are.
    """
    if not value or value == "0":
        return value

    if key in TV_KEYS:
        parsed = parse_tv(value)
        return value if parsed is None else format_tv(parsed + shift)

    if key in PLAIN_TIME_KEYS:
        parsed = parse_plain(value)
        return value if parsed is None else format_plain(parsed + shift)

    if key in EPOCH_KEYS and value.isdigit():
        return str(int(int(value) + shift))

    if key in FRACTIONAL_EPOCH_KEYS:
        try:
            return f"{float(value) + shift:.6f}"
        except ValueError:
            return value

    return value


def is_time_key(key: str) -> bool:
    return (
        key in TV_KEYS
        or key in PLAIN_TIME_KEYS
        or key in EPOCH_KEYS
        or key in FRACTIONAL_EPOCH_KEYS
    )
