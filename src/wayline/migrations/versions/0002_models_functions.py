"""Workspace models and function models (providers/chat/functions).

Revision ID: 0002_models_functions
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_models_functions"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
