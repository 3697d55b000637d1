"""The AMI link: panoramisk's Manager, hardened for a service that must not lose calls.

panoramisk 1.4 has traps a call center cannot live with; each is closed here:

- it decodes every TCP chunk on its own with ``errors="ignore"``, so a Cyrillic caller
  name split across two reads loses characters: we decode with an incremental decoder;
- after a reconnect it re-sends actions that got no answer, so a manager's click could
  ring the phone twice: pending actions fail with ``TelephonyUnavailable`` instead;
- it calls event handlers inline from ``data_received`` and schedules coroutine handlers
  without keeping or checking them: one failing handler would break the read loop, so
  every handler runs guarded and its failure is logged with the event name and ids;
- its pinger never checks the answer, so a silently dead TCP link goes unnoticed: our
  watchdog sends Ping with a deadline and drops the link when it is missed;
- it retries connecting at a fixed interval and never retries a refused login: we
  reconnect forever with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callcenter.ports import TelephonyRejected, TelephonyUnavailable

logger = logging.getLogger(__name__)

EventSink = Callable[[Message, dt.datetime], None]
LoginHook = Callable[[], Awaitable[None]]

_EOM = "\r\n\r\n"
_BANNER = "Asterisk Call Manager/"
_MAX_BUFFER = 4 * 1024 * 1024


class _Protocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self.last_data = asyncio.get_running_loop().time()

    def data_received(self, data: bytes) -> None:
        self.last_data = asyncio.get_running_loop().time()
        self._buffer += self._decoder.decode(data)
        if self.version is None and self._buffer.startswith(_BANNER):
            banner, _, _ = self._buffer.partition("\r\n")
            self.version = banner[len(_BANNER) :].strip()
            logger.info("AMI protocol version=%s", self.version)

        *messages, self._buffer = self._buffer.split(_EOM)
        if len(self._buffer) > _MAX_BUFFER:
            logger.error("AMI message over %s bytes, dropping the link", _MAX_BUFFER)
            self.transport.abort()
            return
        for raw in messages:
            message = Message.from_line(raw.strip())
            if message is not None:
                self.handle_message(message)

    def close(self) -> None:
        # Fail what is pending instead of queueing it for a re-send after reconnect.
        for key in list(self.responses):
            action = self.responses.pop(key)
            if not action.future.done():
                action.future.set_exception(
                    TelephonyUnavailable(
                        f"AMI link lost before {action['action']} was answered"
                    )
                )
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


class _Manager(Manager):  # type: ignore[misc]
    def __init__(self, link: AmiLink, **config: Any) -> None:
        super().__init__(**config)
        self._link = link

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self._link.stopped:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, future: asyncio.Future[Any]) -> None:
        if self._link.stopped:
            if future.exception() is None:
                future.result()[0].close()
            return
        if future.exception() is None:
            # A server that accepts TCP but never answers Login must not hold us.
            protocol = future.result()[1]
            self.loop.call_later(self._link.login_timeout, self._check_login, protocol)
        else:
            self.reconnect_timeout = self._link.next_delay()
            logger.warning(
                "AMI connect failed host=%s port=%s retry_in=%.1fs: %s",
                self.config["host"],
                self.config["port"],
                self.reconnect_timeout,
                future.exception(),
            )
        super().connection_made(future)

    def _check_login(self, protocol: _Protocol) -> None:
        if protocol is self.protocol and not self.authenticated and not protocol.closed:
            logger.warning(
                "AMI login not answered in time, dropping the link host=%s",
                self.config["host"],
            )
            protocol.transport.abort()

    def login(self, future: asyncio.Future[Any]) -> bool:
        self.authenticated_future = None
        if future.cancelled() or future.exception() is not None:
            return False
        response = future.result()
        self.authenticated = bool(response.success)
        if not self.authenticated:
            logger.error(
                "AMI login refused username=%s: %s",
                self.config["username"],
                response.get("Message"),
            )
            if self.protocol is not None:
                self.protocol.transport.abort()
            return False
        self.loop.call_soon(self.on_login, self)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.authenticated = False
        self.reconnect_timeout = self._link.next_delay()
        self._link.lost(exc)
        super().connection_lost(exc)

    async def send_awaiting_actions(self, *_: Any) -> None:
        return None  # nothing is ever queued for a re-send; see _Protocol.close

    def ping(self) -> None:
        return None  # the link's watchdog pings, with a deadline

    def dispatch(self, event: Message) -> list[str]:
        self._link.deliver(event)
        return []


class AmiLink:
    """One AMI session to Asterisk that stays up for the life of the service."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: EventSink,
        on_login: LoginHook | None = None,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        reconnect_max_delay: float = 30.0,
        action_timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self._on_event = on_event
        self._on_login = on_login
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_delay = reconnect_max_delay
        self._action_timeout = action_timeout
        self._delay = 0.0
        self.login_timeout = action_timeout
        self.stopped = False
        self._manager: _Manager | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logged_in = asyncio.Event()
        self.logins = 0
        self.events_received = 0
        self.handler_errors = 0

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._manager = _Manager(
            self,
            host=self.host,
            port=self.port,
            username=self._username,
            secret=self._secret,
            events="on",
            ping_delay=10**9,
            reconnect_timeout=1,
            forgetable_actions=(),
            protocol_factory=_Protocol,
            loop=asyncio.get_running_loop(),
            on_login=self._logged_in_cb,
        )
        self._manager.connect()
        self._watchdog = asyncio.get_running_loop().create_task(
            self._watch(), name="ami-watchdog"
        )
        logger.info("AMI link starting host=%s port=%s", self.host, self.port)

    async def stop(self) -> None:
        self.stopped = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._manager is not None:
            manager, self._manager = self._manager, None
            # Stop reconnecting: a closed link must stay closed.
            manager.connection_lost = lambda exc: None
            if manager.protocol is not None:
                manager.protocol.connection_lost = lambda exc: None
            manager.close()
        self._logged_in.clear()
        logger.info("AMI link stopped host=%s port=%s", self.host, self.port)

    @property
    def connected(self) -> bool:
        manager = self._manager
        return (
            manager is not None
            and manager.authenticated
            and manager.protocol is not None
            and not manager.protocol.closed
        )

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    def next_delay(self) -> float:
        self._delay = min(self._max_delay, max(0.5, self._delay * 2))
        return self._delay

    def lost(self, exc: Exception | None) -> None:
        self._logged_in.clear()
        logger.warning(
            "AMI link lost host=%s port=%s reconnect_in=%.1fs: %s",
            self.host,
            self.port,
            self._delay,
            exc,
        )

    def _logged_in_cb(self, manager: Manager) -> None:
        self._delay = 0.0
        self.logins += 1
        self._logged_in.set()
        logger.info(
            "AMI logged in host=%s port=%s login=%s", self.host, self.port, self.logins
        )
        if self._on_login is not None:
            self._spawn(self._on_login(), "ami-on-login")

    # -- events ----------------------------------------------------------------------

    def deliver(self, event: Message) -> None:
        """Hand one event to the sink; a failure is logged and the link keeps reading."""
        self.events_received += 1
        try:
            self._on_event(event, dt.datetime.now(dt.UTC))
        except Exception:
            self.handler_errors += 1
            logger.exception(
                "AMI event handler failed event=%s uniqueid=%s linkedid=%s",
                event.get("Event"),
                event.get("Uniqueid"),
                event.get("Linkedid"),
            )

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "AMI task failed task=%s", task.get_name(), exc_info=task.exception()
            )

    # -- actions ---------------------------------------------------------------------

    async def send_action(
        self, action: Mapping[str, Any], *, as_list: bool | None = None
    ) -> Any:
        """Send an action and wait for its answer; never queued for a later re-send."""
        manager = self._manager
        if manager is None or not self.connected:
            raise TelephonyUnavailable("no AMI link to the PBX")

        future = manager.send_action(dict(action), as_list=as_list)
        try:
            return await asyncio.wait_for(future, self._action_timeout)
        except TimeoutError:
            raise TelephonyUnavailable(
                f"the PBX did not answer {action.get('Action')} in time"
            ) from None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._ping_interval)
            manager = self._manager
            if manager is None or not self.connected:
                continue
            protocol = manager.protocol
            if loop.time() - protocol.last_data < self._ping_interval:
                continue  # events are flowing: the link is alive, however busy

            future = manager.send_action({"Action": "Ping"})
            try:
                await asyncio.wait_for(future, self._ping_timeout)
            except (TimeoutError, TelephonyUnavailable):
                if (
                    protocol.closed
                    or loop.time() - protocol.last_data < self._ping_timeout
                ):
                    continue  # already gone, or the Pong is just queued behind events
                logger.warning(
                    "AMI link silent, no Pong within %.1fs; dropping it host=%s",
                    self._ping_timeout,
                    self.host,
                )
                protocol.transport.abort()


def check_response(response: Any, action: str) -> Message:
    """The first message of an action's answer, raising if Asterisk said Error."""
    first = response[0] if isinstance(response, list) else response
    if first is None or (first.get("Response") or "").lower() not in (
        "success",
        "follows",
    ):
        message = first.get("Message") if first is not None else "no response"
        raise TelephonyRejected(f"{action}: {message}")
    return first
