"""Files, chunks, vectors and the full-text index (files/ingestion).

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
    pass


def downgrade() -> None:
    pass
