"""audit_events.chain: which machine's audit file (hash chain) a row copies

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Each machine writes its own audit file, a chain starting at seq 1, and the table is their shared copy. Without
a column saying which chain a row belongs to, two machines' rows looked like one chain holding every seq twice,
and the copy was reported broken. Existing rows belong to the default chain (""), which a single-machine desk
keeps using.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.String(length=64), nullable=False, server_default=""))
        batch_op.create_index("ix_audit_events_chain_seq", ["chain", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_chain_seq")
        batch_op.drop_column("chain")
