"""Per-key limits and scopes (issue 12): the limit columns on `api_key`, and `user_limits`, an
admin's defaults and ceiling for one user's keys and sessions. NULL everywhere = not set, so every
existing key keeps working as before.

Revision ID: 0010_key_limits
Revises: 0009_usage_ledger
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010_key_limits"
down_revision = "0009_usage_ledger"
branch_labels = None
depends_on = None


def limit_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column("token_budget", sa.BigInteger(), nullable=True),
        sa.Column("budget_duration", sa.String(16), nullable=True),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=True),
    ]


def upgrade() -> None:
    # Nullable columns without a reference: added in place on SQLite too (no table rebuild).
    for column in limit_columns():
        op.add_column("api_key", column)
    op.create_table(
        "user_limits",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        *limit_columns(),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_limits")
    # Dropped in place (SQLite has since 3.35): a copy-and-move of `api_key` is not needed.
    for column in reversed(limit_columns()):
        op.drop_column("api_key", column.name)
