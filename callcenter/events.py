"""What the domain tells the outside world, and the port it tells it through.

Services publish plain JSON-able payloads with a ``type`` (the noun), an ``op`` (what
happened, past tense or a state) and the ids involved, only after the database
transaction that recorded the change has committed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

Payload = dict[str, Any]


# Users who may get the payload as it is, and what everyone else gets instead.
Restriction = tuple[frozenset[int], Payload]


class EventPublisher(Protocol):
    def publish(
        self,
        payload: Payload,
        *,
        users: Collection[int],
        supervisors: bool = True,
        restricted: Restriction | None = None,
    ) -> None:
        """Deliver to the given users' open tabs, and to supervisors if asked;
        with ``restricted``, recipients outside its set get its payload instead."""


class NullPublisher:
    """A publisher that drops everything (command-line tools, some tests)."""

    def publish(
        self,
        payload: Payload,
        *,
        users: Collection[int],
        supervisors: bool = True,
        restricted: Restriction | None = None,
    ) -> None:
        return None
