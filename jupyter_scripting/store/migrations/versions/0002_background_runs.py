"""Background runs: the queued request, the node running it, and a queue index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("request", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("node", sa.String(length=255), nullable=True))
    op.create_index(
        "ix_executions_state_mode_seq", "executions", ["state", "mode", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_executions_state_mode_seq", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("node")
        batch.drop_column("request")
