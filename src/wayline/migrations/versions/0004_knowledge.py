"""Knowledge collections (knowledge/retrieval).

A collection is a set of files: `knowledge_file` links rows, it never copies chunks,
so a file still processing can be linked at once and is searchable in the collection
the moment its chunks commit. Grants live in the foundation's `access_grant` table
(resource_type "knowledge").

Revision ID: 0004_knowledge
Revises: 0003_files
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_knowledge"
down_revision = "0003_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_knowledge_updated_at", "knowledge", ["updated_at"])
    op.create_table(
        "knowledge_file",
        sa.Column(
            "knowledge_id",
            sa.String(36),
            sa.ForeignKey("knowledge.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "file_id", sa.String(36), sa.ForeignKey("file.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    # Reverse lookup: which collections hold a file (file deletion, access through a collection).
    op.create_index("ix_knowledge_file_file_id", "knowledge_file", ["file_id"])


def downgrade() -> None:
    op.drop_table("knowledge_file")
    op.drop_table("knowledge")
