"""Files, chunks, vectors and the full-text index (files/ingestion).

One `chunk` table holds text, Open WebUI chunk metadata and the embedding, so a
file's chunks, vectors and BM25 rows are written in one transaction:
- SQLite: `embedding` is a float32 BLOB read by sqlite-vec's `vec_distance_cosine`;
  `chunk_fts` is an external-content FTS5 table (`porter unicode61`) kept in sync by triggers.
- PostgreSQL: `embedding` is an untyped pgvector `vector` (the dimension follows the
  configured embedder); `tsv` is a generated `tsvector` with a GIN index.

Revision ID: 0003_files
Revises: 0002_models_functions
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_files"
down_revision = "0002_models_functions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "file",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "hash", sa.String(64), nullable=True
        ),  # sha256 of the extracted text, once indexed
        sa.Column(
            "file_hash", sa.String(64), nullable=False, index=True
        ),  # sha256 of the raw bytes
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "error_status", sa.Integer(), nullable=True
        ),  # 415 / 422, for synchronous uploads
        sa.Column("progress_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("progress_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_file_updated_at", "file", ["updated_at"])

    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute(
            """
            CREATE TABLE chunk (
                id BIGSERIAL PRIMARY KEY,
                file_id VARCHAR(36) NOT NULL REFERENCES file(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                text TEXT NOT NULL,
                meta JSON NOT NULL,
                embedding vector NOT NULL,
                tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
            )
            """
        )
        op.execute("CREATE INDEX ix_chunk_file_id ON chunk (file_id, idx)")
        op.execute("CREATE INDEX ix_chunk_tsv ON chunk USING GIN (tsv)")
        return

    op.create_table(
        "chunk",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "file_id", sa.String(36), sa.ForeignKey("file.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_chunk_file_id", "chunk", ["file_id", "idx"])
    op.execute(
        "CREATE VIRTUAL TABLE chunk_fts USING fts5("
        "text, content='chunk', content_rowid='id', tokenize='porter unicode61')"
    )
    # Triggers keep the FTS rows in the same transaction as the chunk rows (cascades fire them too).
    op.execute(
        "CREATE TRIGGER chunk_ai AFTER INSERT ON chunk BEGIN "
        "INSERT INTO chunk_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER chunk_ad AFTER DELETE ON chunk BEGIN "
        "INSERT INTO chunk_fts(chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER chunk_au AFTER UPDATE OF text ON chunk BEGIN "
        "INSERT INTO chunk_fts(chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); "
        "INSERT INTO chunk_fts(rowid, text) VALUES (new.id, new.text); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("chunk_ai", "chunk_ad", "chunk_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS chunk_fts")
    op.drop_table("chunk")
    op.drop_table("file")
