"""Banners, user settings and other headless-API state.

Functions: each user's own valve values for a function (`function_user_valves`, Open WebUI's
`UserValves`). The runtime-configuration sections added with it (banners, prompt suggestions,
model defaults, connection flags, interface visibility) are rows of the existing
`runtime_config` table and need no schema change.

Revision ID: 0008_headless_surface
Revises: 0007_knowledge_directories
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_headless_surface"
down_revision = "0007_knowledge_directories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- functions: per-user valves --------------------------------------------------------
    op.create_table(
        "function_user_valves",
        sa.Column(
            "function_id",
            sa.String(255),
            sa.ForeignKey("function.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        sa.Column("valves", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("function_user_valves")
