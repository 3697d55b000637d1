from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, Timestamped, new_id


class CompanyStatus(enum.StrEnum):
    PROSPECT = "prospect"
    CLIENT = "client"
    FORMER = "former"


class Company(Timestamped, Base):
    __tablename__ = "companies"
    __table_args__ = (
        # Equality (import matching, exact names) on a b-tree; similarity on trigrams.
        Index("ix_companies_name_key", "name_key"),
        Index(
            "ix_companies_name_key_trgm",
            "name_key",
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ),
        # One-letter deletions of the name (migration 0006 defines the function):
        # names one typo apart, found by equality (imports).
        Index(
            "ix_companies_name_variants",
            text("name_key_variants(name_key)"),
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
            postgresql_where=text("length(name_key) >= 5"),
        ),
        # Words of the name, for "starts with" while typing (search).
        Index(
            "ix_companies_name_words",
            text("to_tsvector('simple'::regconfig, name_key)"),
            postgresql_using="gin",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    legal_name: Mapped[str | None] = mapped_column(String(500))
    inn: Mapped[str | None] = mapped_column(String(12), index=True)
    status: Mapped[CompanyStatus] = mapped_column(
        Enum(
            CompanyStatus,
            name="company_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=CompanyStatus.PROSPECT,
    )
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)
    legal_form: Mapped[str | None] = mapped_column(String(20))
    kpp: Mapped[str | None] = mapped_column(String(9))
    ogrn: Mapped[str | None] = mapped_column(String(15), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(100), index=True)
    industry: Mapped[str | None] = mapped_column(String(100), index=True)
    size: Mapped[str | None] = mapped_column(String(30))
    source: Mapped[str | None] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(50), index=True)
    # The name without legal form, quotes and punctuation, lowercased: what
    # duplicate control and fuzzy search compare (trigram index in migration 0002).
    name_key: Mapped[str] = mapped_column(String(300), default="", server_default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=func.now())
    # Set when this company was merged into another; merged companies are hidden.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="company", lazy="raise", order_by="Contact.id"
    )


class Contact(Timestamped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_name_key", "name_key"),
        Index(
            "ix_contacts_name_key_trgm",
            "name_key",
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ),
        # Words of the name, for "starts with" while typing (search).
        Index(
            "ix_contacts_name_words",
            text("to_tsvector('simple'::regconfig, name_key)"),
            postgresql_using="gin",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    last_name: Mapped[str] = mapped_column(String(100), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    position: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    # Other channels: [{"kind": "telegram", "value": "@ivanov"}, ...]
    channels: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    # Private clients (no company) have a responsible manager of their own.
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name_key: Mapped[str] = mapped_column(String(300), default="", server_default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=func.now())
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )

    company: Mapped[Company | None] = relationship(
        back_populates="contacts", lazy="raise"
    )

    @property
    def full_name(self) -> str:
        return " ".join(
            p for p in (self.last_name, self.first_name, self.middle_name) if p
        )


class PhoneKind(enum.StrEnum):
    WORK = "work"
    MOBILE = "mobile"
    OTHER = "other"


class Phone(Base):
    """One number of a company or of a contact person, normalized for lookup."""

    __tablename__ = "phones"
    __table_args__ = (Index("ix_phones_e164", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(20))
    extension: Mapped[str | None] = mapped_column(String(10))
    raw: Mapped[str] = mapped_column(String(64))
    kind: Mapped[PhoneKind] = mapped_column(
        Enum(
            PhoneKind, name="phone_kind", values_callable=lambda e: [m.value for m in e]
        ),
        default=PhoneKind.WORK,
    )


class Email(Base):
    """An e-mail address of a company or a contact, lowercased for duplicate control."""

    __tablename__ = "emails"
    __table_args__ = (Index("ix_emails_address", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(200))


class EquipmentStatus(enum.StrEnum):
    INSTALLED = "installed"
    PLANNED = "planned"


class Equipment(Timestamped, Base):
    """Equipment a client uses or plans to buy."""

    __tablename__ = "equipment"
    __table_args__ = (
        Index(
            "ix_equipment_model_trgm",
            text("lower(model) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        # Search: vendor and model as one text, and serial numbers (0007).
        Index(
            "ix_equipment_name_trgm",
            text("lower(vendor || ' ' || model) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        Index("ix_equipment_serials", "serial_numbers", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(100), default="")
    vendor: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    serial_numbers: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    status: Mapped[EquipmentStatus] = mapped_column(
        Enum(
            EquipmentStatus,
            name="equipment_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=EquipmentStatus.INSTALLED,
    )
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=func.now())


class ClientShare(Base):
    """A company shared with a manager who is not its responsible one."""

    __tablename__ = "client_shares"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChangeRecord(Base):
    """Who changed what, when, from which value to which: one row per field."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # company, contact, phone, ...
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(
        String(20)
    )  # create, update, delete, merge, ...
    field: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Groups the rows of one operation (an import run, a merge).
    batch_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Merge(Base):
    """A merge of two records, with what is needed to undo it."""

    __tablename__ = "merges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity: Mapped[str] = mapped_column(String(20))
    survivor_id: Mapped[int] = mapped_column(index=True)
    merged_id: Mapped[int] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    undone_at: Mapped[dt.datetime | None]


class FieldRule(Base):
    """Which fields a complete record must have (configurable by admins)."""

    __tablename__ = "field_rules"

    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    field: Mapped[str] = mapped_column(String(60), primary_key=True)
    required: Mapped[bool] = mapped_column(default=True)


class Selection(Timestamped, Base):
    """A saved, named set of filters over the client base."""

    __tablename__ = "selections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    shared: Mapped[bool] = mapped_column(default=False)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ImportPreset(Timestamped, Base):
    """A saved column mapping for one kind of import file."""

    __tablename__ = "import_presets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(30))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ImportRun(Base):
    """One import (dry run or real), with its row-by-row report."""

    __tablename__ = "import_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    file_name: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(30))
    dry_run: Mapped[bool]
    status: Mapped[str] = mapped_column(String(20))  # running, done, failed
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[dt.datetime | None]
