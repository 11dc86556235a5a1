"""Several nodes on one database: the node registry and the seats of the run limits.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_nodes"),
    )
    op.create_table(
        "seats",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_seats_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scope", "slot", name="pk_seats"),
        sa.UniqueConstraint("execution_id", name="uq_seats_execution_id"),
    )
    op.create_index("ix_seats_node", "seats", ["node"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_seats_node", table_name="seats")
    op.drop_table("seats")
    op.drop_table("nodes")
