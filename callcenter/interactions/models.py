from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, Timestamped


class InteractionKind(enum.StrEnum):
    CALL = "call"
    LETTER = "letter"
    MEETING = "meeting"
    MATERIAL = "material"
    NOTE = "note"


class Interaction(Timestamped, Base):
    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_company_when", "company_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[InteractionKind] = mapped_column(
        Enum(
            InteractionKind,
            name="interaction_kind",
            values_callable=lambda e: [m.value for m in e],
        )
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    call_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), unique=True
    )
    occurred_at: Mapped[dt.datetime]
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str | None] = mapped_column(Text)
