"""Chunk tsvectors kept in the row (PostgreSQL; nothing to do on SQLite).

Full-text search reads the tsvector of every candidate chunk to count its query terms. Beside a
384-d vector (1.5 KB, kept in the row since 0011) a tsvector went to TOAST, so each candidate
cost a TOAST index probe and a second heap read: at a million chunks, 2,000 candidates took
~45 ms through TOAST and ~13 ms in the row (bench/pgvector_scale.py). MAIN storage compresses
the tsvector in place and moves it out only when the row would not fit a page. The text stays
EXTENDED: only the few chunks returned are read for it. Rows written from now on.

Revision ID: 0012_tsv_inline
Revises: 0011_hnsw
"""

from alembic import op

revision = "0012_tsv_inline"
down_revision = "0011_hnsw"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chunk ALTER COLUMN tsv SET STORAGE MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chunk ALTER COLUMN tsv SET STORAGE EXTENDED")
