"""Banners, user settings and other headless-API state (placeholder: filled in by that work).

Revision ID: 0008_headless_surface
Revises: 0007_knowledge_directories
"""

revision = "0008_headless_surface"
down_revision = "0007_knowledge_directories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
