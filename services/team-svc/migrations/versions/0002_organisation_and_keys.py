"""org units, user placement and reporting-line paths, change log, signing keys

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kam_shared.tables import BigId, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PathText = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _backfill_user_paths() -> None:
    """Existing users get the path of their reporting line (top first)."""
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Uuid), sa.column("superior_id", sa.Uuid),
                     sa.column("path", sa.Text))
    superior = {row.id: row.superior_id for row in bind.execute(sa.select(users.c.id, users.c.superior_id))}
    paths: dict = {}

    def path_of(user_id, seen=()):
        if user_id in paths:
            return paths[user_id]
        parent = superior.get(user_id)
        prefix = path_of(parent, seen + (user_id,)) if parent is not None and parent not in seen else "/"
        paths[user_id] = prefix + user_id.hex + "/"
        return paths[user_id]

    for user_id in superior:
        bind.execute(users.update().where(users.c.id == user_id).values(path=path_of(user_id)))


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("parent_id", sa.Uuid, sa.ForeignKey("org_units.id"), nullable=True),
        sa.Column("company_id", sa.Uuid, nullable=False),
        sa.Column("manager_id", sa.Uuid, sa.ForeignKey("users.id", name="fk_org_units_manager"), nullable=True),
        sa.Column("path", PathText, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_org_units_parent_id", "org_units", ["parent_id"])
    op.create_index("ix_org_units_company_id", "org_units", ["company_id"])
    op.create_index("ix_org_units_manager_id", "org_units", ["manager_id"])
    op.create_index("ix_org_units_path", "org_units", ["path"])

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("org_unit_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("title", sa.String(200), nullable=True))
        batch.add_column(sa.Column("path", PathText, nullable=True))
        batch.create_foreign_key("fk_users_org_unit", "org_units", ["org_unit_id"], ["id"])
    _backfill_user_paths()
    with op.batch_alter_table("users") as batch:
        batch.alter_column("path", existing_type=PathText, nullable=False)
    op.create_index("ix_users_org_unit_id", "users", ["org_unit_id"])
    op.create_index("ix_users_path", "users", ["path"])

    op.create_table(
        "change_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("entity_type", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("changed_by", sa.Uuid, nullable=True),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_index("ix_change_log_entity", "change_log", ["entity_type", "entity_id", "id"])

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=True),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("activated_at", UtcDateTime(), nullable=False),
        sa.Column("superseded_at", UtcDateTime(), nullable=True),
        sa.Column("valid_until", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("change_log")
    op.drop_index("ix_users_path", "users")
    op.drop_index("ix_users_org_unit_id", "users")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_org_unit", type_="foreignkey")
        batch.drop_column("path")
        batch.drop_column("title")
        batch.drop_column("org_unit_id")
    op.drop_table("org_units")
