"""cases.last_author: who wrote the case's newest message, kept by every message writer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The SLA sweep watches answered and resolved cases the customer wrote on since. It found them by reading the
newest message of every answered case, every 2 s in every API process: its cost grew with the desk's whole
history. With the author on the case row and an index on (status, last_author) both halves of its question
are index lookups. Existing cases are filled from their messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_author", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE cases SET last_author = (SELECT m.author FROM case_messages m WHERE m.case_id = cases.id "
        "ORDER BY m.id DESC LIMIT 1)"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_status_last_author", ["status", "last_author"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status_last_author")
        batch_op.drop_column("last_author")
