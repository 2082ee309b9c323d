"""Knowledge directories (Open WebUI 0.12) and uploads waiting to join a collection.

- `knowledge_directory`: folders inside a collection. Sibling names are unique; the unique
  index is over `coalesce(parent_id, '')` because SQL's NULLs never clash, and two folders of
  one name at the root must.
- `knowledge_file.directory_id`: the folder a linked file sits in (NULL: the root); a folder
  deleted from under it leaves the file at the root.
- `knowledge_upload`: a file uploaded with `metadata.knowledge_id`, linked by the transaction
  that completes its processing (as Open WebUI links it only then).

Revision ID: 0007_knowledge_directories
Revises: 0006_groups
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_knowledge_directories"
down_revision = "0006_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_directory",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "knowledge_id",
            sa.String(36),
            sa.ForeignKey("knowledge.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "parent_id",
            sa.String(36),
            sa.ForeignKey("knowledge_directory.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_knowledge_directory_knowledge_id", "knowledge_directory", ["knowledge_id"])
    op.create_index("ix_knowledge_directory_parent_id", "knowledge_directory", ["parent_id"])
    op.create_index(
        "uq_knowledge_directory_sibling_name",
        "knowledge_directory",
        ["knowledge_id", sa.text("coalesce(parent_id, '')"), "name"],
        unique=True,
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a referencing column in place; Alembic would rebuild the table for it.
        op.execute(
            "ALTER TABLE knowledge_file ADD COLUMN directory_id VARCHAR(36) "
            "REFERENCES knowledge_directory (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("knowledge_file", sa.Column("directory_id", sa.String(36), nullable=True))
        op.create_foreign_key(
            "fk_knowledge_file_directory_id_knowledge_directory",
            "knowledge_file",
            "knowledge_directory",
            ["directory_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_knowledge_file_directory_id", "knowledge_file", ["directory_id"])
    op.create_table(
        "knowledge_upload",
        sa.Column(
            "file_id", sa.String(36), sa.ForeignKey("file.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "knowledge_id",
            sa.String(36),
            sa.ForeignKey("knowledge.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "directory_id",
            sa.String(36),
            sa.ForeignKey("knowledge_directory.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_knowledge_upload_knowledge_id", "knowledge_upload", ["knowledge_id"])


def downgrade() -> None:
    op.drop_table("knowledge_upload")
    op.drop_index("ix_knowledge_file_directory_id", "knowledge_file")
    with op.batch_alter_table("knowledge_file") as batch:
        batch.drop_column("directory_id")
    op.drop_table("knowledge_directory")
