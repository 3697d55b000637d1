"""One AMI client connection: reading actions, answering them, writing events.

Replies follow Asterisk 22's ``main/manager.c``: ``Response``, then ``ActionID`` when the
action had one, then the rest; the same error texts (``Permission denied`` before
login, ``Invalid/unknown command: X. Use Action: ListCommands ...``); a failed login is
answered after a pause and closes the connection; Logoff says goodbye and closes.
Outgoing bytes go through a queue drained by one writer task, so events and responses
keep their order and a slow client never blocks a play.
"""

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ami.simulator.clock import format_tv
from ami.simulator.protocol import (
    BANNER,
    ActionReader,
    Headers,
    encode_message,
    get_header,
    is_false,
    is_true,
    split_chunks,
)

if TYPE_CHECKING:
    from ami.simulator.server import AmiSimulator

logger = logging.getLogger(__name__)

# Event classes of manager.conf "read=" lines; "all" is implied by any of them.
EVENT_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)
_LINE_LIMIT = 64 * 1024
_ALWAYS_ALLOWED = frozenset({"login", "logoff", "challenge"})

Handler = Callable[[Headers], Awaitable[bool]]


def parse_event_mask(value: str) -> frozenset[str] | None:
    """``Events:`` / ``EventMask:`` → the classes a session receives (None = all)."""
    text = value.strip().lower()
    if is_true(text) or text == "all":
        return None

    if is_false(text) or text == "none" or not text:
        return frozenset()

    if text.isdigit():
        # A numeric bitmask: the simulator only tells "some" from "none".
        return None if int(text) else frozenset()

    classes = {item.strip() for item in text.split(",") if item.strip()}
    if "all" in classes:
        return None

    return frozenset(classes & EVENT_CLASSES)


def event_classes(privilege: str) -> set[str]:
    return {item.strip() for item in privilege.split(",") if item.strip()} - {"all"}


class AmiSession:
    def __init__(
        self,
        simulator: "AmiSimulator",
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
    ) -> None:
        self.simulator = simulator
        self.reader = reader
        self.writer = writer
        self.number = number
        self.session_id = f"0x{secrets.token_hex(6)}"
        self.started_at = time.time()
        self.logged_in = False
        self.username = ""
        self.event_mask: frozenset[str] | None = None

        peer = writer.get_extra_info("peername") or ("?", 0)
        local = writer.get_extra_info("sockname") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.remote_address = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local_address = f"IPV4/TCP/{local[0]}/{local[1]}"

        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closing = False
        self._challenge = ""
        self._handlers: dict[str, Handler] = {
            "login": self._login,
            "logoff": self._logoff,
            "challenge": self._challenge_action,
            "ping": self._ping,
            "events": self._events,
            "originate": self._delegate(simulator.actions.originate),
            "hangup": self._delegate(simulator.actions.hangup),
            "redirect": self._delegate(simulator.actions.redirect),
            "blindtransfer": self._delegate(simulator.actions.blind_transfer),
            "coreshowchannels": self._delegate(simulator.actions.core_show_channels),
            "coresettings": self._core_settings,
            "corestatus": self._delegate(simulator.actions.core_status),
        }

    def _delegate(
        self, action: Callable[["AmiSession", Headers], None]
    ) -> Callable[[Headers], Awaitable[bool]]:
        async def run(headers: Headers) -> bool:
            action(self, headers)
            return True

        return run

    # -- outgoing ---------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if not self._closing:
            self._queue.put_nowait(data)

    def send_message(self, headers: Sequence[tuple[str, str]]) -> None:
        self.send(encode_message(headers))

    def wants_event(self, privilege: str) -> bool:
        if not self.logged_in or self._closing:
            return False

        if self.event_mask is None:
            return True

        return bool(event_classes(privilege) & self.event_mask)

    def respond(
        self,
        action: Sequence[tuple[str, str]],
        response: str = "Success",
        message: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        headers: Headers = [("Response", response)]
        action_id = get_header(action, "ActionID")
        if action_id:
            headers.append(("ActionID", action_id))
        headers.extend(extra)
        if message is not None:
            headers.append(("Message", message))
        self.send_message(headers)

    def error(self, action: Sequence[tuple[str, str]], message: str) -> None:
        self.respond(action, "Error", message)

    async def _write_loop(self) -> None:
        chunk_size = self.simulator.write_chunk_size
        while True:
            data = await self._queue.get()
            if data is None:
                break

            # Coalesce what is already queued into one write (fast plays send bursts).
            parts = [data]
            closing = False
            while not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    closing = True
                    break
                parts.append(more)

            payload = b"".join(parts)
            for chunk in split_chunks(payload, chunk_size):
                self.writer.write(chunk)
                await self.writer.drain()
                if chunk_size:
                    # Give the kernel a chance to send each piece on its own.
                    await asyncio.sleep(0)

            if closing:
                break

    # -- lifecycle ----------------------------------------------------------------

    async def run(self) -> None:
        self.send(BANNER)
        writer_task = asyncio.create_task(
            self._write_loop(), name=f"ami-sim-writer-{self.number}"
        )
        parser = ActionReader()
        try:
            while not self._closing:
                try:
                    line = await self.reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break
                except asyncio.LimitOverrunError:
                    logger.warning(
                        "AMI line too long, closing session=%s", self.session_id
                    )
                    break

                action = parser.feed(line)
                if action is None:
                    continue

                if self.simulator.paused:
                    # A silently dead link: nothing is processed and nothing answered.
                    logger.debug("paused, dropping action session=%s", self.session_id)
                    continue

                if not await self._dispatch(action):
                    break
        except (ConnectionError, OSError):
            logger.debug(
                "AMI connection error session=%s", self.session_id, exc_info=True
            )
        finally:
            await self._shutdown(writer_task)

    async def _shutdown(self, writer_task: asyncio.Task[None]) -> None:
        self._closing = True
        self._queue.put_nowait(None)
        try:
            # Let the writer flush what is queued (a Logoff's goodbye, for one).
            await asyncio.wait_for(writer_task, timeout=2)
        except (TimeoutError, ConnectionError, OSError):
            writer_task.cancel()
        finally:
            self.writer.close()
            self.simulator.session_closed(self)
            if self.logged_in:
                logger.info(
                    "AMI session logged off session=%s user=%s",
                    self.session_id,
                    self.username,
                )

        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    def abort(self) -> None:
        """Drop the connection without goodbye (a network failure, for tests)."""
        self._closing = True
        self.writer.transport.abort()

    async def _dispatch(self, action: Headers) -> bool:
        """Run one action; False when the session must close afterwards."""
        self.simulator.record_action(action)
        name = get_header(action, "Action").strip()
        logger.debug("AMI action session=%s action=%s", self.session_id, name or "-")
        if not name:
            self.error(action, "Missing action in request")
            return True

        lowered = name.lower()
        if not self.logged_in and lowered not in _ALWAYS_ALLOWED:
            self.error(action, "Permission denied")
            return True

        handler = self._handlers.get(lowered)
        if handler is None:
            self.error(
                action,
                f"Invalid/unknown command: {name}. "
                "Use Action: ListCommands to show available commands.",
            )
            return True

        return await handler(action)

    # -- actions handled here -------------------------------------------------------

    def _secret_matches(self, action: Headers) -> bool:
        if get_header(action, "AuthType").lower() == "md5":
            if not self._challenge:
                return False
            expected = hashlib.md5(
                (self._challenge + self.simulator.secret).encode("utf-8"),
                usedforsecurity=False,
            ).hexdigest()
            return get_header(action, "Key") == expected

        return get_header(action, "Secret") == self.simulator.secret

    async def _login(self, action: Headers) -> bool:
        if self.logged_in:
            self.respond(action, "Success", "Already authenticated")
            return True

        username = get_header(action, "Username")
        if (
            username.lower() != self.simulator.username.lower()
            or not self._secret_matches(action)
        ):
            logger.info(
                "AMI login failed session=%s user=%s peer=%s",
                self.session_id,
                username,
                self.peer,
            )
            # Asterisk waits a second before refusing, then drops the connection.
            await asyncio.sleep(self.simulator.login_failure_delay)
            self.error(action, "Authentication failed")
            return False

        self.logged_in = True
        self.username = username
        events = get_header(action, "Events")
        self.event_mask = parse_event_mask(events) if events else None
        self.respond(action, "Success", "Authentication accepted")
        if self.event_mask is None or "system" in self.event_mask:
            uptime = str(int(time.time() - self.simulator.started_at))
            self.send_message(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            )

        now = format_tv(time.time())
        self.simulator.broadcast(
            [
                ("Event", "SuccessfulAuth"),
                ("Privilege", "security,all"),
                ("EventTV", now),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", username),
                ("SessionID", self.session_id),
                ("LocalAddress", self.local_address),
                ("RemoteAddress", self.remote_address),
                ("UsingPassword", "0"),
                ("SessionTV", format_tv(self.started_at)),
            ]
        )
        logger.info(
            "AMI session logged in session=%s user=%s peer=%s",
            self.session_id,
            username,
            self.peer,
        )
        self.simulator.session_logged_in(self)
        return True

    async def _logoff(self, action: Headers) -> bool:
        self.respond(action, "Goodbye", "Thanks for all the fish.")
        return False

    async def _challenge_action(self, action: Headers) -> bool:
        if get_header(action, "AuthType").lower() != "md5":
            self.error(action, "Must specify AuthType")
            return True

        if not self._challenge:
            self._challenge = str(secrets.randbelow(2**31))
        self.respond(action, extra=[("Challenge", self._challenge)])
        return True

    async def _ping(self, action: Headers) -> bool:
        now = time.time()
        seconds = int(now)
        micro = int((now - seconds) * 1_000_000)
        self.respond(
            action, extra=[("Ping", "Pong"), ("Timestamp", f"{seconds}.{micro:06d}")]
        )
        return True

    async def _events(self, action: Headers) -> bool:
        self.event_mask = parse_event_mask(get_header(action, "EventMask"))
        state = "Off" if self.event_mask == frozenset() else "On"
        self.respond(action, extra=[("Events", state)])
        return True

    async def _core_settings(self, action: Headers) -> bool:
        # Values as the captured Asterisk 22.10.1 reported them.
        self.respond(
            action,
            extra=[
                ("AMIversion", "11.0.0"),
                ("AsteriskVersion", "22.10.1"),
                ("SystemName", ""),
                ("CoreMaxCalls", "0"),
                ("CoreMaxLoadAvg", "0.000000"),
                ("CoreRunUser", ""),
                ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"),
                ("CoreRealTimeEnabled", "No"),
                ("CoreCDRenabled", "Yes"),
                ("CoreHTTPenabled", "No"),
                ("SoundsSearchCustomDir", "No"),
            ],
        )
        return True
