"""Plain b-tree indexes on name keys: exact-name matching without a trigram recheck.

Import matching and exact-name search compare ``name_key = …``; through the trigram
GIN index that costs a recheck of every candidate (measured 1–44 ms on 200,000
companies), through a b-tree a single probe.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_companies_name_key", "companies", ["name_key"], unique=False)
    op.create_index("ix_contacts_name_key", "contacts", ["name_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_contacts_name_key", table_name="contacts")
    op.drop_index("ix_companies_name_key", table_name="companies")
