"""conversations: a case's subject and detected language, and the staff name on a staff message

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_name", sa.String(length=150), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.drop_column("author_name")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("subject")
