"""Banners, user settings and other headless-API state.

Functions: each user's own valve values for a function (`function_user_valves`, Open WebUI's
`UserValves`), and saved versions (`function_history`, `function.version_id`). Models: saved
versions (`model_history`, `model.version_id`). The runtime-configuration sections added with
them (banners, prompt suggestions, model defaults, connection flags, interface visibility) are
rows of the existing `runtime_config` table and need no schema change.

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

    # --- functions: saved versions ----------------------------------------------------------
    _history_table("function_history", "function_id", "function")
    op.add_column("function", sa.Column("version_id", sa.String(36), nullable=True))

    # --- models: saved versions -------------------------------------------------------------
    _history_table("model_history", "model_id", "model")
    op.add_column("model", sa.Column("version_id", sa.String(36), nullable=True))


def _history_table(name: str, owner: str, table: str) -> None:
    """A resource's saved versions (`core/versions.py`): one table per resource kind."""
    op.create_table(
        name,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            owner,
            sa.String(255),
            sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("model") as batch:
        batch.drop_column("version_id")
    op.drop_table("model_history")
    with op.batch_alter_table("function") as batch:
        batch.drop_column("version_id")
    op.drop_table("function_history")
    op.drop_table("function_user_valves")
