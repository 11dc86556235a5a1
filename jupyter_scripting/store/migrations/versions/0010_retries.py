"""Retries of background runs (README, "Retries"): a script's setting, and each
attempt's place among the attempts of one run.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:00:00
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
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("retries", sa.Text(), nullable=True))
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retry_of", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("retried_by", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=False), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("not_before")
        batch.drop_column("retried_by")
        batch.drop_column("retry_of")
        batch.drop_column("attempt")
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("retries")
