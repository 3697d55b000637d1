"""The change log: one row per changed field, with who, when, old and new value."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clients.models import ChangeRecord


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):  # serial numbers: as a person lists them
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


def change_rows(
    *,
    entity: str,
    entity_id: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    user_id: int | None,
    action: str | None = None,
    batch_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """Change rows for every field that differs (one row without a field when a
    record is created or deleted with nothing to compare)."""
    if action is None:
        action = "create" if before is None else "delete" if after is None else "update"
    before, after = before or {}, after or {}
    common = {
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "user_id": user_id,
        "batch_id": batch_id,
    }
    rows = []
    for field in sorted(set(before) | set(after)):
        old, new = _text(before.get(field)), _text(after.get(field))
        if old != new:
            rows.append({**common, "field": field, "old_value": old, "new_value": new})
    if not rows and action != "update":
        rows.append({**common, "field": None, "old_value": None, "new_value": None})
    return rows


def record_changes(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    user_id: int | None,
    action: str | None = None,
    batch_id: uuid.UUID | None = None,
) -> int:
    """Add change rows to the session; returns how many were added."""
    rows = change_rows(
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
        user_id=user_id,
        action=action,
        batch_id=batch_id,
    )
    session.add_all(ChangeRecord(**row) for row in rows)
    return len(rows)
