"""client base

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:33:59.088539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram similarity: typo-tolerant search and similar-name duplicate control.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "field_rules",
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "field", name=op.f("pk_field_rules")),
    )
    op.create_table(
        "change_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_change_log_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    op.create_index(
        op.f("ix_change_log_batch_id"), "change_log", ["batch_id"], unique=False
    )
    op.create_index(
        "ix_change_log_entity",
        "change_log",
        ["entity", "entity_id", "id"],
        unique=False,
    )
    op.create_table(
        "import_presets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=30), nullable=False),
        sa.Column("mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_import_presets_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_presets")),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("format", sa.String(length=30), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_import_runs_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_table(
        "merges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_merges_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    op.create_index(op.f("ix_merges_merged_id"), "merges", ["merged_id"], unique=False)
    op.create_index(
        op.f("ix_merges_survivor_id"), "merges", ["survivor_id"], unique=False
    )
    op.create_table(
        "selections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_selections_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selections")),
    )
    op.create_index(
        op.f("ix_selections_owner_id"), "selections", ["owner_id"], unique=False
    )
    op.create_table(
        "client_shares",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_client_shares_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_client_shares_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "user_id", name=op.f("pk_client_shares")),
    )
    op.create_index(
        op.f("ix_client_shares_user_id"), "client_shares", ["user_id"], unique=False
    )
    op.create_table(
        "emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_emails_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
    )
    op.create_index("ix_emails_address", "emails", ["address"], unique=False)
    op.create_index(
        op.f("ix_emails_company_id"), "emails", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_emails_contact_id"), "emails", ["contact_id"], unique=False
    )
    op.create_table(
        "equipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "serial_numbers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("installed", "planned", name="equipment_status"),
            nullable=False,
        ),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_equipment_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_equipment_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
    )
    op.create_index(
        op.f("ix_equipment_company_id"), "equipment", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_equipment_contact_id"), "equipment", ["contact_id"], unique=False
    )
    op.add_column(
        "companies", sa.Column("legal_form", sa.String(length=20), nullable=True)
    )
    op.add_column("companies", sa.Column("kpp", sa.String(length=9), nullable=True))
    op.add_column("companies", sa.Column("ogrn", sa.String(length=15), nullable=True))
    op.add_column("companies", sa.Column("address", sa.Text(), nullable=True))
    op.add_column(
        "companies", sa.Column("region", sa.String(length=100), nullable=True)
    )
    op.add_column(
        "companies", sa.Column("industry", sa.String(length=100), nullable=True)
    )
    op.add_column("companies", sa.Column("size", sa.String(length=30), nullable=True))
    op.add_column(
        "companies", sa.Column("source", sa.String(length=100), nullable=True)
    )
    op.add_column(
        "companies", sa.Column("segment", sa.String(length=50), nullable=True)
    )
    op.add_column(
        "companies",
        sa.Column("name_key", sa.String(length=300), server_default="", nullable=False),
    )
    op.add_column(
        "companies", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("companies", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_companies_industry"), "companies", ["industry"], unique=False
    )
    op.create_index(
        op.f("ix_companies_merged_into_id"),
        "companies",
        ["merged_into_id"],
        unique=False,
    )
    op.create_index(op.f("ix_companies_ogrn"), "companies", ["ogrn"], unique=False)
    op.create_index(op.f("ix_companies_region"), "companies", ["region"], unique=False)
    op.create_index(
        op.f("ix_companies_segment"), "companies", ["segment"], unique=False
    )
    op.create_foreign_key(
        op.f("fk_companies_merged_into_id_companies"),
        "companies",
        "companies",
        ["merged_into_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("contacts", sa.Column("birthday", sa.Date(), nullable=True))
    op.add_column(
        "contacts",
        sa.Column(
            "channels",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column("contacts", sa.Column("responsible_id", sa.Integer(), nullable=True))
    op.add_column(
        "contacts",
        sa.Column("name_key", sa.String(length=300), server_default="", nullable=False),
    )
    op.add_column(
        "contacts", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("contacts", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_contacts_merged_into_id"), "contacts", ["merged_into_id"], unique=False
    )
    op.create_index(
        op.f("ix_contacts_responsible_id"), "contacts", ["responsible_id"], unique=False
    )
    op.create_foreign_key(
        op.f("fk_contacts_responsible_id_users"),
        "contacts",
        "users",
        ["responsible_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_contacts_merged_into_id_contacts"),
        "contacts",
        "contacts",
        ["merged_into_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("users", sa.Column("supervisor_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_users_supervisor_id"), "users", ["supervisor_id"], unique=False
    )
    op.create_foreign_key(
        op.f("fk_users_supervisor_id_users"),
        "users",
        "users",
        ["supervisor_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.execute(
        "CREATE INDEX ix_companies_name_key_trgm ON companies USING gin (name_key gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_contacts_name_key_trgm ON contacts USING gin (name_key gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_equipment_model_trgm ON equipment USING gin (lower(model) gin_trgm_ops)"
    )
    # Rows from before this revision get a plain key; the service refines it on edit.
    op.execute("UPDATE companies SET name_key = lower(name)")
    op.execute(
        "UPDATE contacts SET name_key = lower(concat_ws(' ', last_name, first_name, middle_name))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_equipment_model_trgm")
    op.execute("DROP INDEX IF EXISTS ix_contacts_name_key_trgm")
    op.execute("DROP INDEX IF EXISTS ix_companies_name_key_trgm")
    op.drop_constraint(
        op.f("fk_users_supervisor_id_users"), "users", type_="foreignkey"
    )
    op.drop_index(op.f("ix_users_supervisor_id"), table_name="users")
    op.drop_column("users", "supervisor_id")
    op.drop_constraint(
        op.f("fk_contacts_merged_into_id_contacts"), "contacts", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_contacts_responsible_id_users"), "contacts", type_="foreignkey"
    )
    op.drop_index(op.f("ix_contacts_responsible_id"), table_name="contacts")
    op.drop_index(op.f("ix_contacts_merged_into_id"), table_name="contacts")
    op.drop_column("contacts", "merged_into_id")
    op.drop_column("contacts", "updated_at")
    op.drop_column("contacts", "name_key")
    op.drop_column("contacts", "responsible_id")
    op.drop_column("contacts", "channels")
    op.drop_column("contacts", "birthday")
    op.drop_constraint(
        op.f("fk_companies_merged_into_id_companies"), "companies", type_="foreignkey"
    )
    op.drop_index(op.f("ix_companies_segment"), table_name="companies")
    op.drop_index(op.f("ix_companies_region"), table_name="companies")
    op.drop_index(op.f("ix_companies_ogrn"), table_name="companies")
    op.drop_index(op.f("ix_companies_merged_into_id"), table_name="companies")
    op.drop_index(op.f("ix_companies_industry"), table_name="companies")
    op.drop_column("companies", "merged_into_id")
    op.drop_column("companies", "updated_at")
    op.drop_column("companies", "name_key")
    op.drop_column("companies", "segment")
    op.drop_column("companies", "source")
    op.drop_column("companies", "size")
    op.drop_column("companies", "industry")
    op.drop_column("companies", "region")
    op.drop_column("companies", "address")
    op.drop_column("companies", "ogrn")
    op.drop_column("companies", "kpp")
    op.drop_column("companies", "legal_form")
    op.drop_index(op.f("ix_equipment_contact_id"), table_name="equipment")
    op.drop_index(op.f("ix_equipment_company_id"), table_name="equipment")
    op.drop_table("equipment")
    op.drop_index(op.f("ix_emails_contact_id"), table_name="emails")
    op.drop_index(op.f("ix_emails_company_id"), table_name="emails")
    op.drop_index("ix_emails_address", table_name="emails")
    op.drop_table("emails")
    op.drop_index(op.f("ix_client_shares_user_id"), table_name="client_shares")
    op.drop_table("client_shares")
    op.drop_index(op.f("ix_selections_owner_id"), table_name="selections")
    op.drop_table("selections")
    op.drop_index(op.f("ix_merges_survivor_id"), table_name="merges")
    op.drop_index(op.f("ix_merges_merged_id"), table_name="merges")
    op.drop_table("merges")
    op.drop_table("import_runs")
    op.drop_table("import_presets")
    op.drop_index("ix_change_log_entity", table_name="change_log")
    op.drop_index(op.f("ix_change_log_batch_id"), table_name="change_log")
    op.drop_table("change_log")
    op.drop_table("field_rules")
    sa.Enum(name="equipment_status").drop(op.get_bind(), checkfirst=True)
