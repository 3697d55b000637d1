from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, Timestamped


class CompanyStatus(enum.StrEnum):
    PROSPECT = "prospect"
    CLIENT = "client"
    FORMER = "former"


class Company(Timestamped, Base):
    __tablename__ = "companies"

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

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="company", lazy="raise", order_by="Contact.id"
    )


class Contact(Timestamped, Base):
    __tablename__ = "contacts"

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
