"""The registry: users, organisations, memberships, API tokens, repo grants, access requests and
pull requests; hosted repos (created and pushed here) beside pulled-through mirrors, with
private and gated settings; hosted refs (branches, tags, pull requests) and commit metadata.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _repo_fk() -> sa.Column[int]:
    return sa.Column(
        "repo_pk", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"), nullable=False
    )


def _user_fk() -> sa.Column[int]:
    return sa.Column(
        "user_pk", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="mirror"))
        batch.add_column(sa.Column("private", sa.Boolean, nullable=False, server_default="0"))
        batch.add_column(sa.Column("gated", sa.String(8), nullable=False, server_default=""))
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("parents_json", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("title", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("message", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("author", sa.String(96), nullable=True))
    op.create_index("ix_files_sha256", "files", ["sha256"])
    op.create_index("ix_repos_repo_id_lower", "repos", [sa.text("lower(repo_id)")])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(96), nullable=False, unique=True),
        sa.Column("fullname", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("site_admin", sa.Boolean, nullable=False),
        sa.Column("quota_bytes", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "orgs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(96), nullable=False, unique=True),
        sa.Column("fullname", sa.String(255), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger, nullable=True),
        sa.Column("private_by_default", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "org_pk", sa.Integer, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False
        ),
        _user_fk(),
        sa.Column("role", sa.String(8), nullable=False),
        sa.UniqueConstraint("org_pk", "user_pk"),
    )
    op.create_table(
        "repo_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        _user_fk(),
        sa.Column("role", sa.String(8), nullable=False),
        sa.UniqueConstraint("repo_pk", "user_pk"),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        _user_fk(),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("fields_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(96), nullable=True),
        sa.UniqueConstraint("repo_pk", "user_pk"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        _user_fk(),
        sa.Column("name", sa.String(96), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "discussions",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        sa.Column("num", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author", sa.String(96), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("is_pull_request", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repo_pk", "num"),
    )
    op.create_table(
        "hosted_refs",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repo_pk", "kind", "name"),
    )
    op.create_table(
        "lfs_uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("user", sa.String(96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repo_pk", "sha256"),
    )


def downgrade() -> None:
    for table in (
        "lfs_uploads",
        "hosted_refs",
        "discussions",
        "tokens",
        "access_requests",
        "repo_grants",
        "memberships",
        "orgs",
        "users",
    ):
        op.drop_table(table)
    op.drop_index("ix_repos_repo_id_lower", "repos")
    op.drop_index("ix_files_sha256", "files")
    with op.batch_alter_table("revisions") as batch:
        for column in ("author", "message", "title", "parents_json"):
            batch.drop_column(column)
    with op.batch_alter_table("repos") as batch:
        for column in ("gated", "private", "kind"):
            batch.drop_column(column)
