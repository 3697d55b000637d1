from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, Timestamped, new_id


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class Direction(enum.StrEnum):
    INBOUND = "inbound"  # from a trunk / DID
    OUTBOUND = "outbound"  # a manager dialled the city from the phone
    INTERNAL = "internal"  # between managers
    ORIGINATED = "originated"  # click-to-call from the panel
    LISTEN = "listen"  # a supervisor listening in (ChanSpy)


class CallStatus(enum.StrEnum):
    ORIGINATING = "originating"  # asked Asterisk, no channel seen yet
    RINGING = "ringing"
    ACTIVE = "active"
    ENDED = "ended"


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # congestion, unavailable, rejected by Asterisk
    CANCELLED = "cancelled"


class LegKind(enum.StrEnum):
    MANAGER = "manager"
    CLIENT = "client"
    OTHER = "other"


class RecordingStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    EMPTY = "empty"  # header-only file: nothing was bridged
    MISSING = "missing"


class Call(Timestamped, Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_manager_started", "manager_id", "started_at"),
        Index("ix_calls_company_started", "company_id", "started_at"),
        Index("ix_calls_client_number", "client_number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    linkedid: Mapped[str | None] = mapped_column(String(64), unique=True)
    originate_action_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "call_direction"))
    status: Mapped[CallStatus] = mapped_column(_enum(CallStatus, "call_status"))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "call_outcome"))
    # Who failed when the call did not connect: "manager" (own phone) or "client".
    failure_stage: Mapped[str | None] = mapped_column(String(20))
    client_number: Mapped[str | None] = mapped_column(String(32))
    client_name: Mapped[str | None] = mapped_column(String(200))
    did: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(80))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    manager_extension: Mapped[str | None] = mapped_column(String(20))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    ring_seconds: Mapped[int | None]
    talk_seconds: Mapped[int | None]
    hangup_cause: Mapped[int | None]
    hangup_cause_text: Mapped[str | None] = mapped_column(String(80))
    transferred: Mapped[bool] = mapped_column(default=False)
    # Set when the end was inferred (AMI link lost, service restarted) rather than seen.
    end_inferred: Mapped[bool] = mapped_column(default=False)

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", lazy="raise", order_by="CallLeg.started_at"
    )
    recording: Mapped[Recording | None] = relationship(
        back_populates="call", lazy="raise"
    )


class CallLeg(Base):
    """One party's device in a call; a Local channel's ;1 and ;2 halves are one leg."""

    __tablename__ = "call_legs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    call_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LegKind] = mapped_column(_enum(LegKind, "leg_kind"))
    extension: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    ring_seconds: Mapped[int | None]
    talk_seconds: Mapped[int | None]
    dial_status: Mapped[str | None] = mapped_column(String(20))
    hangup_cause: Mapped[int | None]
    hangup_cause_text: Mapped[str | None] = mapped_column(String(80))

    call: Mapped[Call] = relationship(back_populates="legs", lazy="raise")


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    call_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), unique=True
    )
    # A bare file name inside the configured recordings folder, never a path.
    file_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[RecordingStatus] = mapped_column(
        _enum(RecordingStatus, "recording_status")
    )
    duration_seconds: Mapped[float | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    checked_at: Mapped[dt.datetime | None]

    call: Mapped[Call] = relationship(back_populates="recording", lazy="raise")


class AmiEvent(Base):
    """A raw AMI event a call record was built from, kept for audit."""

    __tablename__ = "ami_events"
    __table_args__ = (Index("ix_ami_events_linkedid", "linkedid", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[dt.datetime]
    linkedid: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
