"""Index calls by contact: merging or moving a contact person updates their calls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_calls_contact_id"), "calls", ["contact_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_contact_id"), table_name="calls")
