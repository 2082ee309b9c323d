"""An HNSW index on the chunk embeddings (PostgreSQL; nothing to do on SQLite).

`chunk.embedding` is a dimensionless `vector` (its dimension follows the configured embedder)
and HNSW indexes only `vector(n)`: the index is a partial expression index per dimension,
`((embedding::vector(n))) WHERE vector_dims(embedding) = n` (see vectors/pgvector/hnsw.py, which
also builds it at run time for a dimension first seen later). Made here for the bundled
model's 384 dimensions and for every dimension already stored, CONCURRENTLY (outside the
migration's transaction) so that a large table stays writable while it builds.

Revision ID: 0011_hnsw
Revises: 0010_key_limits
"""

from alembic import op
from sqlalchemy import text

revision = "0011_hnsw"
down_revision = "0010_key_limits"
branch_labels = None
depends_on = None

BUNDLED_DIMENSIONS = 384  # all-MiniLM-L6-v2
MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on `vector`


def index_sql(n: int) -> str:
    # As vectors/pgvector/hnsw.py's `hnsw_index_sql` (a migration stays as written).
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_chunk_embedding_hnsw_{n} ON chunk "
        f"USING hnsw ((embedding::vector({n})) vector_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE vector_dims(embedding) = {n}"
    )


def _stored_dimensions() -> set[int]:
    rows = op.get_bind().execute(text("SELECT DISTINCT vector_dims(embedding) FROM chunk"))
    return {int(n) for (n,) in rows}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Vectors kept in the row (compressed or moved out only as a last resort): a 384-d vector
    # (1.5 KB) beside its text and tsvector would otherwise go to TOAST, and every distance of
    # an exact scan would read it from there (measured: 5x slower). Rows written from now on.
    op.execute("ALTER TABLE chunk ALTER COLUMN embedding SET STORAGE MAIN")
    dimensions = {BUNDLED_DIMENSIONS} | _stored_dimensions()
    with op.get_context().autocommit_block():
        # Raise the build memory for this session only: a graph that fits builds much faster.
        op.execute("SET maintenance_work_mem = '1GB'")
        for n in sorted(d for d in dimensions if d <= MAX_DIMENSIONS):
            op.execute(index_sql(n))
        op.execute("RESET maintenance_work_mem")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE chunk ALTER COLUMN embedding SET STORAGE EXTERNAL")
    names = (
        op.get_bind()
        .execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind = 'i' "
                "AND relname LIKE 'ix_chunk_embedding_hnsw_%'"
            )
        )
        .scalars()
        .all()
    )
    with op.get_context().autocommit_block():
        for name in names:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
