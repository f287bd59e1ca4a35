"""prompt-injection guard: whether a message of the case was flagged, and the highest score

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("injection_flagged", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("injection_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("injection_score")
        batch_op.drop_column("injection_flagged")
