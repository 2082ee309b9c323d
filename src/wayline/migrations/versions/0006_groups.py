"""Groups (placeholder: the groups work fills this in).

Revision ID: 0006_groups
Revises: 0005_chunk_changes
"""

revision = "0006_groups"
down_revision = "0005_chunk_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
