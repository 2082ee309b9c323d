"""The chunk change log (vectors/changes.py): which files' chunks changed, in commit order.

Each process keeps an in-memory copy of the chunk index for fast scoped search
(vectors/memory.py); it catches up by reading the files changed since the version it holds.
`index_state` is one row: the last version, and the versions pruned from the log (a copy
older than that reloads in full).

Also `knowledge_file.file_user_id`, the linked file's owner (a file never changes owner): the
access rule over a collection's files then reads the links alone, not the wide file rows.

Revision ID: 0005_chunk_changes
Revises: 0004_knowledge
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_chunk_changes"
down_revision = "0004_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "index_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "pruned_through": 0}])
    op.create_table(
        "chunk_change",
        sa.Column("version", sa.BigInteger(), primary_key=True, autoincrement=False),
        # "*" stands for every file (the whole index was cleared).
        sa.Column("file_id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.add_column("knowledge_file", sa.Column("file_user_id", sa.String(36), nullable=True))
    op.execute(
        "UPDATE knowledge_file SET file_user_id = "
        "(SELECT file.user_id FROM file WHERE file.id = knowledge_file.file_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("knowledge_file") as batch:
        batch.drop_column("file_user_id")
    op.drop_table("chunk_change")
    op.drop_table("index_state")
