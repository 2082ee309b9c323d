"""What the pgvector engine's queries share: a scope bound as one array of file ids, and vectors
sent in pgvector's binary format (its asyncpg codec) rather than as text literals."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# Written `= ANY(:ids)`, the planner would estimate each element against the column statistics
# (~10 µs each: 90 ms for 9,500 files); as a subquery it plans in no time. SCOPE joins (the
# file_id index finds small scopes' rows); SCOPE_FILTER keeps it a hashed filter (the OR stops
# the planner making it a join) for the HNSW scan, which must walk the graph in distance order
# and drop rows outside the scope.
SCOPE = "file_id IN (SELECT unnest(CAST(:ids AS text[])))"
SCOPE_FILTER = f"({SCOPE} OR :unscoped)"
# The scope's chunks first, through the file_id index (OFFSET 0 keeps the planner from folding
# the subquery into a GIN scan of the whole table): for full text over a small scope.
SCOPE_ROWS = f"(SELECT id, file_id, tsv FROM chunk WHERE {SCOPE} OFFSET 0) AS chunk"


def as_vector(embedding: Sequence[float]) -> Any:
    """An embedding as the codec sends it."""
    import numpy as np

    return np.asarray(embedding, dtype=np.float32)


_CODEC_READY: weakref.WeakSet[Any] = weakref.WeakSet()  # asyncpg connections with the codec


async def register_codec(session: AsyncSession) -> None:
    """pgvector's binary codec on the session's asyncpg connection, once per connection (after
    the migrations created the extension, so not at connect time)."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if raw is None or raw in _CODEC_READY:
        return
    from pgvector.asyncpg import register_vector

    await register_vector(raw)
    _CODEC_READY.add(raw)
