"""Completion webhooks (README, "Webhooks"): a script's webhook, a run's callback, the
deliveries and their attempts, and the tenants' signing secrets.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENT = sa.DateTime(timezone=False)


def upgrade() -> None:
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("webhook", sa.Text(), nullable=True))
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("callback", sa.Text(), nullable=True))
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=255), nullable=False),
        sa.Column("script_id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _MOMENT, nullable=True),
        sa.Column("give_up_at", _MOMENT, nullable=False),
        sa.Column("claim", sa.String(length=36), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("claimed_until", _MOMENT, nullable=True),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("updated_at", _MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_deliveries_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(op.f("ix_deliveries_execution_id"), "deliveries", ["execution_id"])
    op.create_index(op.f("ix_deliveries_next_at"), "deliveries", ["next_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", _MOMENT, nullable=False),
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "attempt", name=op.f("pk_delivery_attempts")),
    )
    op.create_table(
        "signing_secrets",
        sa.Column("tenant", sa.String(length=255), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_signing_secrets")),
    )


def downgrade() -> None:
    op.drop_table("signing_secrets")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("callback")
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("webhook")
