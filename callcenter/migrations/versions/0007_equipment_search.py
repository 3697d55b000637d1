"""Equipment found by vendor and model together, and by serial number.

The search box looked at ``lower(model)`` only: «Grundfos» or «Yealink T46» found
nothing. A trigram index over ``lower(vendor || ' ' || model)`` answers both, and a
GIN index on the serial numbers answers "whose is this unit" by its number.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:25:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_equipment_name_trgm ON equipment "
        "USING gin (lower(vendor || ' ' || model) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_equipment_serials ON equipment USING gin (serial_numbers)"
    )
    # Statistics for the new expression: without them the planner guesses thousands
    # of matches and joins by a scan of the whole other table.
    op.execute("ANALYZE equipment")


def downgrade() -> None:
    op.drop_index("ix_equipment_serials", table_name="equipment")
    op.drop_index("ix_equipment_name_trgm", table_name="equipment")
