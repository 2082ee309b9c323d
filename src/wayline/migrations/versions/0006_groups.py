"""Groups (Open WebUI's user groups, nested through `parent_group_id`) and the account fields of
the rest of `/api/v1/users` (settings, info, variables, bio, status).

- `group_member`: who is in a group directly; one row per (group, user), so concurrent adds of
  the same member cannot duplicate it. A deleted account leaves its groups (ON DELETE CASCADE).
- `group_lineage`: every (ancestor, group) pair of the hierarchy, each group its own ancestor.
  A member of a group is a member, by inheritance, of each of its ancestors; with this closure
  table that is one join in the access rules (`core.grants`, `knowledge.access`), never a
  recursive query. The groups service rewrites it whenever the hierarchy changes.
- Grants to a group are rows of the foundation's `access_grant` with principal_type "group".

Revision ID: 0006_groups
Revises: 0005_chunk_changes
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_groups"
down_revision = "0005_chunk_changes"
branch_labels = None
depends_on = None

USER_COLUMNS = (
    "settings",
    "info",
    "variables",
    "bio",
    "status_emoji",
    "status_message",
    "status_expires_at",
)


def upgrade() -> None:
    op.create_table(
        "group",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),  # who created it (kept if deleted)
        sa.Column(
            "parent_group_id",
            sa.String(36),
            sa.ForeignKey("group.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("permissions", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "group_member",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("group.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    # A user's groups (every credential lookup reads them).
    op.create_index("ix_group_member_user_id", "group_member", ["user_id", "group_id"])
    op.create_table(
        "group_lineage",
        sa.Column(
            "ancestor_id",
            sa.String(36),
            sa.ForeignKey("group.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("group.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_group_lineage_group_id", "group_lineage", ["group_id", "ancestor_id"])
    # The access rules look grants up by whom they name (a group's grants, when it is deleted).
    op.create_index("ix_access_grant_principal", "access_grant", ["principal_type", "principal_id"])

    op.add_column("user", sa.Column("settings", sa.JSON(), nullable=True))
    op.add_column("user", sa.Column("info", sa.JSON(), nullable=True))
    op.add_column("user", sa.Column("variables", sa.JSON(), nullable=True))
    op.add_column("user", sa.Column("bio", sa.Text(), nullable=True))
    op.add_column("user", sa.Column("status_emoji", sa.String(64), nullable=True))
    op.add_column("user", sa.Column("status_message", sa.Text(), nullable=True))
    op.add_column("user", sa.Column("status_expires_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Not a batch (copy-and-move) on SQLite: dropping the old `user` table would cascade to
    # every row that references an account (API keys, collections, ...). SQLite has dropped
    # columns in place since 3.35; the bundled one is newer.
    for column in USER_COLUMNS:
        op.drop_column("user", column)
    op.drop_index("ix_access_grant_principal", table_name="access_grant")
    op.execute("DELETE FROM access_grant WHERE principal_type = 'group'")
    op.drop_table("group_lineage")
    op.drop_table("group_member")
    op.drop_table("group")
