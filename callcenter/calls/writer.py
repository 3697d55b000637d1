"""Writes call state to PostgreSQL in batches, and never drops it.

The AMI event path must not wait for the database, and a database outage must not
lose a call. So the tracker's live ``CallState`` objects are only *marked* dirty here;
a single writer task takes everything marked since its last pass, snapshots it, and
upserts it in one transaction. If that transaction fails, the batch goes back in the
queue and is retried with capped backoff; upserts make a retry harmless. Callbacks
registered with ``after_commit`` (browser notifications) run only once the state they
describe is committed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.events import RawEvent
from callcenter.calls.models import AmiEvent, Call, CallLeg
from callcenter.calls.tracker import CallState
from callcenter.db import SessionFactory

logger = logging.getLogger(__name__)

Operation = Callable[[AsyncSession], Awaitable[None]]
Callback = Callable[[], None]

_CALL_FIELDS = (
    "linkedid",
    "originate_action_id",
    "direction",
    "status",
    "outcome",
    "failure_stage",
    "client_number",
    "client_name",
    "did",
    "queue",
    "company_id",
    "contact_id",
    "manager_id",
    "manager_extension",
    "requested_by_id",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_seconds",
    "talk_seconds",
    "hangup_cause",
    "hangup_cause_text",
    "transferred",
    "end_inferred",
)
_LEG_FIELDS = (
    "uniqueid",
    "channel",
    "kind",
    "extension",
    "user_id",
    "number",
    "started_at",
    "answered_at",
    "ended_at",
    "ring_seconds",
    "talk_seconds",
    "dial_status",
    "hangup_cause",
    "hangup_cause_text",
)
_EVENT_CHUNK = 2000
_ROW_CHUNK = 500  # x 26 columns stays far below PostgreSQL's 32767 parameters


def call_row(call: CallState) -> dict[str, Any]:
    row = {name: getattr(call, name) for name in _CALL_FIELDS}
    row["id"] = call.id
    return row


def leg_rows(call: CallState) -> list[dict[str, Any]]:
    rows = []
    for leg in call.legs.values():
        row = {name: getattr(leg, name) for name in _LEG_FIELDS}
        row["id"] = leg.id
        row["call_id"] = call.id
        rows.append(row)
    return rows


class CallWriter:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        on_persisted: Callable[[CallState], None] | None = None,
        retry_max_delay: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._on_persisted = on_persisted
        self._retry_max_delay = retry_max_delay
        self._calls: dict[uuid.UUID, CallState] = {}
        self._events: list[dict[str, Any]] = []
        self._operations: list[Operation] = []
        self._callbacks: list[Callback] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.failing_since: float | None = None
        self.batches_written = 0

    # -- producers (called from the event loop, never block) ---------------------

    def mark(self, call: CallState) -> None:
        self._calls[call.id] = call
        self._kick()

    def add_event(self, event: RawEvent, linkedid: str | None) -> None:
        self._events.append(
            {
                "received_at": event.at,
                "linkedid": linkedid,
                "name": event.name,
                "payload": event.headers,
            }
        )
        self._kick()

    def add_operation(self, operation: Operation) -> None:
        self._operations.append(operation)
        self._kick()

    def after_commit(self, callback: Callback) -> None:
        self._callbacks.append(callback)
        self._kick()

    @property
    def backlog(self) -> int:
        return len(self._calls) + len(self._events) + len(self._operations)

    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    # -- the writer task -----------------------------------------------------------

    async def wait_idle(self) -> None:
        """Return once everything queued so far is committed (tests, shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        delay = 0.2
        while True:
            await self._wake.wait()
            self._wake.clear()

            calls, events = self._calls, self._events
            operations, callbacks = self._operations, self._callbacks
            self._calls, self._events, self._operations, self._callbacks = (
                {},
                [],
                [],
                [],
            )
            if not (calls or events or operations or callbacks):
                self._set_idle_if_empty()
                continue

            # Snapshot synchronously: the tracker keeps mutating these objects while
            # the write is awaited. From here on a row for each id may exist.
            superseded = {call.id: list(call.superseded_ids) for call in calls.values()}
            call_rows = [call_row(call) for call in calls.values()]
            legs = [row for call in calls.values() for row in leg_rows(call)]
            for call in calls.values():
                call.persisted = True
            try:
                await self._write(
                    [i for ids in superseded.values() for i in ids],
                    call_rows,
                    legs,
                    events,
                    operations,
                )
            except asyncio.CancelledError:
                self._requeue(calls, events, operations, callbacks)
                raise
            except Exception as error:  # noqa: BLE001 - any database failure
                self._requeue(calls, events, operations, callbacks)
                if self.failing_since is None:
                    self.failing_since = asyncio.get_running_loop().time()
                logger.warning(
                    "call log write failed, will retry calls=%s events=%s in=%.1fs: %s",
                    len(calls),
                    len(events),
                    delay,
                    error,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_delay)
                self._wake.set()
                continue

            if self.failing_since is not None:
                logger.info("call log writes recovered backlog=%s", self.backlog)
                self.failing_since = None
            delay = 0.2
            self.batches_written += 1
            self._after_write(calls, superseded, callbacks)

    def _requeue(
        self,
        calls: dict[uuid.UUID, CallState],
        events: list[dict[str, Any]],
        operations: list[Operation],
        callbacks: list[Callback],
    ) -> None:
        for call_id, call in calls.items():
            self._calls.setdefault(call_id, call)
        self._events[:0] = events
        self._operations[:0] = operations
        self._callbacks[:0] = callbacks

    def _after_write(
        self,
        calls: dict[uuid.UUID, CallState],
        superseded: dict[uuid.UUID, list[uuid.UUID]],
        callbacks: list[Callback],
    ) -> None:
        for call in calls.values():
            done = superseded.get(call.id, [])
            call.superseded_ids[:] = [i for i in call.superseded_ids if i not in done]
            if self._on_persisted is not None:
                self._on_persisted(call)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("after-commit callback failed")
        self._set_idle_if_empty()

    def _set_idle_if_empty(self) -> None:
        if not (self._calls or self._events or self._operations or self._callbacks):
            self._idle.set()

    async def _write(
        self,
        superseded: list[uuid.UUID],
        calls: list[dict[str, Any]],
        legs: list[dict[str, Any]],
        events: list[dict[str, Any]],
        operations: list[Operation],
    ) -> None:
        async with self._sessions() as session, session.begin():
            if superseded:
                await session.execute(delete(Call).where(Call.id.in_(superseded)))

            # A backlog after an outage can hold thousands of calls: one statement
            # may carry at most 32767 parameters, so upsert in chunks.
            for start in range(0, len(calls), _ROW_CHUNK):
                stmt = insert(Call).values(calls[start : start + _ROW_CHUNK])
                stmt = stmt.on_conflict_do_update(
                    index_elements=[Call.id],
                    set_={name: stmt.excluded[name] for name in _CALL_FIELDS},
                )
                await session.execute(stmt)

            for start in range(0, len(legs), _ROW_CHUNK):
                stmt = insert(CallLeg).values(legs[start : start + _ROW_CHUNK])
                stmt = stmt.on_conflict_do_update(
                    index_elements=[CallLeg.id],
                    set_={name: stmt.excluded[name] for name in _LEG_FIELDS},
                )
                await session.execute(stmt)

            for start in range(0, len(events), _EVENT_CHUNK):
                await session.execute(
                    insert(AmiEvent), events[start : start + _EVENT_CHUNK]
                )

            for operation in operations:
                await operation(session)
