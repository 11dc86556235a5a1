"""The Scripts panel's last webhook deliveries of each script: an index to find them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_tenant_script_id_created_at",
        "deliveries",
        ["tenant", "script_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_tenant_script_id_created_at", table_name="deliveries")
