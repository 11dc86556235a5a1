"""Tenant variables and secrets (README, "Variables and secrets"), and the variables
each script's runs get.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENT = sa.DateTime(timezone=False)


def upgrade() -> None:
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("variables", sa.Text(), nullable=True))
    op.create_table(
        "variables",
        sa.Column("tenant", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("updated_at", _MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name", name=op.f("pk_variables")),
    )


def downgrade() -> None:
    op.drop_table("variables")
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("variables")
