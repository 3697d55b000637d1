"""AMI wire format as Asterisk 22 speaks it: framing, parsing and header helpers.

Asterisk sends a banner line first (no blank line after it), then every response and
event as ``Key: Value`` lines, each ended by CRLF, with one empty line after the last
header. An empty value keeps the space after the colon (``AccountCode: ``). Clients
send actions in the same shape; Asterisk matches their keys case-insensitively and
allows repeated keys (several ``Variable:`` headers in one Originate).

Messages are kept as ordered lists of ``(key, value)`` pairs rather than dicts, because
header order is part of what a byte-for-byte simulator must reproduce and because keys
may repeat.
"""

import logging
from collections.abc import Iterable, Sequence

logger = logging.getLogger(__name__)

Headers = list[tuple[str, str]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EOL = "\r\n"

# Values Asterisk's ast_true()/ast_false() accept, used for Async, Events and friends.
_TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
_FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})


def encode_message(headers: Iterable[tuple[str, str]]) -> bytes:
    """Frame one message exactly as Asterisk does: CRLF lines, then an empty line."""
    text = "".join(f"{key}: {value}{EOL}" for key, value in headers) + EOL
    return text.encode("utf-8")


def split_chunks(data: bytes, size: int | None) -> list[bytes]:
    """Cut ``data`` into pieces of at most ``size`` bytes, ignoring UTF-8 boundaries.

    Splitting in the middle of a multi-byte character is the point: a real TCP stream
    may do the same, and clients must reassemble bytes before decoding them.
    """
    if not size or size <= 0 or len(data) <= size:
        return [data]

    return [data[start : start + size] for start in range(0, len(data), size)]


def get_header(headers: Sequence[tuple[str, str]], name: str, default: str = "") -> str:
    """First value of ``name`` (case-insensitive), as astman_get_header() returns it."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value

    return default


def get_all(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Every value of a repeated header such as ``Variable``."""
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


def has_header(headers: Sequence[tuple[str, str]], name: str) -> bool:
    wanted = name.lower()
    return any(key.lower() == wanted for key, _ in headers)


def replace_header(
    headers: Sequence[tuple[str, str]], name: str, value: str
) -> Headers:
    """Copy of ``headers`` with the first ``name`` set to ``value`` (kept in place)."""
    wanted = name.lower()
    result: Headers = []
    replaced = False
    for key, old in headers:
        if not replaced and key.lower() == wanted:
            result.append((key, value))
            replaced = True
        else:
            result.append((key, old))

    if not replaced:
        result.append((name, value))

    return result


def remove_header(headers: Sequence[tuple[str, str]], name: str) -> Headers:
    wanted = name.lower()
    return [(key, value) for key, value in headers if key.lower() != wanted]


def is_true(value: str) -> bool:
    return value.strip().lower() in _TRUE_WORDS


def is_false(value: str) -> bool:
    return value.strip().lower() in _FALSE_WORDS


def parse_line(line: str) -> tuple[str, str] | None:
    """Split one ``Key: Value`` line; None for a line without a colon.

    Asterisk skips the blanks after the colon but keeps the rest of the value as is.
    """
    key, sep, value = line.partition(":")
    if not sep or not key.strip():
        return None

    return key.strip(), value.lstrip(" \t")


class ActionReader:
    """Accumulates decoded lines into complete actions (an empty line ends one)."""

    def __init__(self) -> None:
        self._pending: Headers = []

    def feed(self, raw_line: bytes) -> Headers | None:
        line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line.strip():
            if not self._pending:
                # Stray blank lines between actions are ignored, as Asterisk does.
                return None

            action, self._pending = self._pending, []
            return action

        pair = parse_line(line)
        if pair is None:
            logger.debug("ignoring malformed AMI line=%r", line)
        else:
            self._pending.append(pair)

        return None
