"""roll-up cells per node of the hierarchy (subtree totals), with confirmation and category override

The owner cells of 0002 made a top-node roll-up sum every owner's cells (~17k rows per quarter
at 200k opportunities); subtree cells make it read its own few dozen. Back-filled from the facts
and the user replica.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MAX_DEPTH = 32


def upgrade() -> None:
    op.drop_table("rollup_cells")
    op.create_table(
        "rollup_cells",
        sa.Column("node_id", sa.Uuid, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("confirmed", sa.Boolean, primary_key=True),
        sa.Column("category_override", sa.String(10), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("weighted_cents_x100", sa.BigInteger, nullable=False),
    )
    # Bumped whenever the user replica changes, so consumers may cache the reporting chains.
    version = op.create_table("hierarchy_version", sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("version", sa.BigInteger, nullable=False))
    op.bulk_insert(version, [{"id": 1, "version": 0}])
    pg = op.get_bind().dialect.name == "postgresql"
    month = "date_trunc('month', f.close_date)::date" if pg else "date(f.close_date, 'start of month')"
    op.execute(f"""
        WITH RECURSIVE closure(owner, node, depth) AS (
            SELECT id, id, 0 FROM user_replica
            UNION ALL
            SELECT c.owner, u.superior_id, c.depth + 1 FROM closure c JOIN user_replica u ON u.id = c.node
            WHERE u.superior_id IS NOT NULL AND u.superior_id <> c.owner AND c.depth < {MAX_DEPTH}
        ), owners AS (
            SELECT DISTINCT owner, node FROM closure
            UNION
            SELECT DISTINCT f.owner_id, f.owner_id FROM opportunity_facts f
            WHERE NOT EXISTS (SELECT 1 FROM user_replica u WHERE u.id = f.owner_id)
        )
        INSERT INTO rollup_cells (node_id, month, currency, status, stage, confirmed, category_override,
                                  count, amount_cents, weighted_cents_x100)
        SELECT o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, ''),
               count(*), sum(f.amount_cents), sum(f.amount_cents * f.probability)
        FROM opportunity_facts f JOIN owners o ON o.owner = f.owner_id
        GROUP BY o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, '')""")


def downgrade() -> None:
    op.drop_table("hierarchy_version")
    op.drop_table("rollup_cells")
    op.create_table(
        "rollup_cells",
        sa.Column("owner_id", sa.Uuid, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("weighted_cents_x100", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rollup_cells_month", "rollup_cells", ["month", "owner_id"])
