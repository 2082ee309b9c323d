"""The usage ledger (issue 12): one row per chat completion, embedding call, image and
transcription, written in batches by `usage/ledger.py`.

Revision ID: 0009_usage_ledger
Revises: 0008_headless_surface
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_usage_ledger"
down_revision = "0008_headless_surface"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("api_key_id", sa.String(36), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("connection", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("time_to_first_token_ms", sa.Float(), nullable=True),
        sa.Column("estimated", sa.Boolean(), nullable=False),
    )
    # One user's calls in a time range (`GET /api/v1/usage`), everyone's (`/api/v1/usage/all`).
    op.create_index("ix_usage_record_user_id_created_at", "usage_record", ["user_id", "created_at"])
    op.create_index("ix_usage_record_created_at", "usage_record", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_record_created_at", "usage_record")
    op.drop_index("ix_usage_record_user_id_created_at", "usage_record")
    op.drop_table("usage_record")
