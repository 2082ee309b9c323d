"""Knowledge collections (knowledge/retrieval).

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
    pass


def downgrade() -> None:
    pass
