"""Knowledge directories (placeholder: the knowledge work fills this in).

Revision ID: 0007_knowledge_directories
Revises: 0006_groups
"""

revision = "0007_knowledge_directories"
down_revision = "0006_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
