"""The initial schema: scripts, their versions and their executions.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scripts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scripts"),
    )
    op.create_index("ix_scripts_tenant", "scripts", ["tenant"], unique=False)

    op.create_table(
        "script_versions",
        sa.Column("script_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("notebook", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["scripts.id"],
            name="fk_script_versions_script_id_scripts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("script_id", "version", name="pk_script_versions"),
    )

    op.create_table(
        "executions",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("script_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("notebook", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["scripts.id"],
            name="fk_executions_script_id_scripts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_executions"),
        # INTEGER PRIMARY KEY AUTOINCREMENT: never reuse a seq, even after a prune.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_executions_id", "executions", ["id"], unique=True)
    op.create_index("ix_executions_tenant", "executions", ["tenant"], unique=False)
    op.create_index(
        "ix_executions_script_id_version_seq",
        "executions",
        ["script_id", "version", "seq"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_executions_script_id_version_seq", table_name="executions")
    op.drop_index("ix_executions_tenant", table_name="executions")
    op.drop_index("ix_executions_id", table_name="executions")
    op.drop_table("executions")
    op.drop_table("script_versions")
    op.drop_index("ix_scripts_tenant", table_name="scripts")
    op.drop_table("scripts")
