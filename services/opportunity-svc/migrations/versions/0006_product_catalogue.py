"""product catalogue: products by code and family; opportunity lines name a product by code

Lines written before this carried a free-text product. Each distinct text becomes a catalogue
entry (code derived from its letters and digits, family "uncategorised", active) and every line
is linked to it: it gains product_code and family, and keeps its text as `product` (the name).
An admin then renames, re-families or deactivates those entries like any other.

Revision ID: 0006
Revises: 0005
"""
import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_OPPORTUNITIES = sa.table("opportunities", sa.column("id", sa.Uuid), sa.column("lines", sa.JSON))


def _create_products():
    table = op.create_table(
        "products",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
    )
    op.create_index("ix_products_family_code", "products", ["family", "code"])
    return table


def upgrade() -> None:
    from opportunity_svc.products.domain import UNCATEGORISED, legacy_code  # the one code rule

    table = _create_products()
    bind = op.get_bind()
    now = dt.datetime.now(dt.timezone.utc)
    codes: dict[str, str] = {}  # free text → code
    taken: set[str] = set()
    rows = bind.execute(sa.select(_OPPORTUNITIES.c.id, _OPPORTUNITIES.c.lines)).all()
    for opp_id, lines in rows:
        if not lines:
            continue
        linked = []
        for line in lines:
            line = dict(line)
            if not line.get("product_code"):
                text = " ".join(str(line.get("product") or "").split())[:200] or "Unnamed product"
                if text not in codes:
                    codes[text] = legacy_code(text, taken)
                line.update(product=text, product_code=codes[text], family=UNCATEGORISED)
            linked.append(line)
        bind.execute(sa.update(_OPPORTUNITIES).where(_OPPORTUNITIES.c.id == opp_id).values(lines=linked))
    if codes:
        op.bulk_insert(table, [dict(id=uuid.uuid4(), code=code, name=text, family=UNCATEGORISED, active=True,
                                    version=1, created_at=now, updated_at=now) for text, code in codes.items()])


def downgrade() -> None:
    # Lines keep their product text (the name at the time they were written); code and family go.
    bind = op.get_bind()
    for opp_id, lines in bind.execute(sa.select(_OPPORTUNITIES.c.id, _OPPORTUNITIES.c.lines)).all():
        if lines:
            bare = [{k: v for k, v in line.items() if k not in ("product_code", "family")} for line in lines]
            bind.execute(sa.update(_OPPORTUNITIES).where(_OPPORTUNITIES.c.id == opp_id).values(lines=bare))
    op.drop_index("ix_products_family_code", "products")
    op.drop_table("products")
