"""The websocket hub: delivers call events to the right users' open tabs.

It implements ``callcenter.events.EventPublisher``. Each published payload gets a
sequence number and is kept in a bounded log, so a tab that lost its connection asks
for everything after the last number it saw (``/ws?since=N``) and misses nothing.
A payload goes to the users it names and, when asked, to every supervisor-level user.
Each connection has its own queue and sender task: a slow tab never delays the
others, and one that falls too far behind is closed (it will reconnect and catch up).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.events import Payload, Restriction
from callcenter.users.service import UserView

logger = logging.getLogger(__name__)

LOG_SIZE = 5000
QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    text: str
    users: frozenset[int]
    supervisors: bool
    # Users who get ``text``; the other recipients get ``limited_text``.
    audience: frozenset[int] | None = None
    limited_text: str = ""

    def text_for(self, user: UserView) -> str | None:
        if not (user.id in self.users or (self.supervisors and user.sees_all_calls)):
            return None
        if self.audience is None or user.id in self.audience:
            return self.text
        return self.limited_text


@dataclass(eq=False)
class _Connection:
    user: UserView
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class WebsocketHub:
    def __init__(self) -> None:
        self._connections: set[_Connection] = set()
        self._log: deque[_Entry] = deque(maxlen=LOG_SIZE)
        self._seq = 0
        self.delivered = 0

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def publish(
        self,
        payload: Payload,
        *,
        users: Collection[int],
        supervisors: bool = True,
        restricted: Restriction | None = None,
    ) -> None:
        self._seq += 1
        entry = _Entry(self._seq, self._text(payload), frozenset(users), supervisors)
        if restricted is not None:
            audience, limited = restricted
            entry = dataclasses.replace(
                entry, audience=audience, limited_text=self._text(limited)
            )
        self._log.append(entry)
        for connection in list(self._connections):
            text = entry.text_for(connection.user)
            if text is not None:
                self._enqueue(connection, text)

    def _text(self, payload: Payload) -> str:
        return json.dumps(
            {**payload, "seq": self._seq}, ensure_ascii=False, default=str
        )

    def _enqueue(self, connection: _Connection, text: str) -> None:
        try:
            connection.queue.put_nowait(text)
        except asyncio.QueueFull:
            logger.warning("websocket too slow, closing user_id=%s", connection.user.id)
            self._connections.discard(connection)
            asyncio.ensure_future(connection.ws.close(code=1013, message=b"too slow"))

    def missed_since(self, user: UserView, since: int) -> list[str] | None:
        """Entries after ``since`` for this user, or None if the log no longer has them."""
        if since > self._seq:
            return None
        if self._log and since < self._log[0].seq - 1:
            return None
        texts = (e.text_for(user) for e in self._log if e.seq > since)
        return [text for text in texts if text is not None]

    async def serve(
        self,
        request: web.Request,
        user: UserView,
        snapshot: Callable[[UserView], list[Payload]],
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=64 * 1024)
        await ws.prepare(request)

        connection = _Connection(user=user, ws=ws)
        since = _int_or_none(request.query.get("since"))
        missed = self.missed_since(user, since) if since is not None else None
        hello: dict[str, Any] = {"type": "hello", "seq": self._seq, "user_id": user.id}
        if missed is None:
            hello["snapshot"] = snapshot(user)
        # Registered before the first await: every later event lands in the queue,
        # which the sender starts draining after hello and the backlog.
        self._connections.add(connection)
        await ws.send_str(json.dumps(hello, ensure_ascii=False, default=str))
        for text in missed or []:
            await ws.send_str(text)
        logger.debug("websocket opened user_id=%s since=%s", user.id, since)

        sender = asyncio.get_running_loop().create_task(self._send_loop(connection))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT and message.data == "ping":
                    await ws.send_str('{"type":"pong"}')
                elif message.type is WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(connection)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            logger.debug("websocket closed user_id=%s", user.id)
        return ws

    async def _send_loop(self, connection: _Connection) -> None:
        while True:
            text = await connection.queue.get()
            try:
                await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            self.delivered += 1

    async def close_all(self) -> None:
        for connection in list(self._connections):
            await connection.ws.close(code=1001, message=b"server shutdown")
        self._connections.clear()


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)
