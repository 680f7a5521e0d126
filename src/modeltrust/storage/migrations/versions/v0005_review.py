"""Review: the hash-chained audit trail, reviewers' decisions and exceptions, review settings
per namespace, web sessions and webhooks; the catalogue's summary columns (an audit's licence
and base models, a repo's newest audit) and its indexed facts (licences, base models).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _repo_fk() -> sa.Column[int]:
    return sa.Column(
        "repo_pk", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(sa.Column("latest_audit_pk", sa.Integer, nullable=True))
        batch.create_index("ix_repos_latest_audit_pk", ["latest_audit_pk"])
    with op.batch_alter_table("audits") as batch:
        batch.add_column(sa.Column("license", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("base_models", sa.Text, nullable=False, server_default=""))
        batch.create_index("ix_audits_license", ["license"])
    op.create_table(
        "audit_facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "audit_pk",
            sa.Integer,
            sa.ForeignKey("audits.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_index("ix_audit_facts_audit_pk", "audit_facts", ["audit_pk"])
    op.create_index("ix_audit_facts_value", "audit_facts", ["kind", "value"])
    op.create_table(
        "trail",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(96), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("prev", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_trail_action", "trail", ["action"])
    op.create_index("ix_trail_subject", "trail", ["subject"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        sa.Column("sha", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(96), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_decisions_revision", "review_decisions", ["repo_pk", "sha"])
    op.create_table(
        "review_exceptions",
        sa.Column("id", sa.Integer, primary_key=True),
        _repo_fk(),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("file", sa.String(1024), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approver", sa.String(96), nullable=False),
        sa.Column("expires", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_exceptions_repo_pk", "review_exceptions", ["repo_pk"])
    op.create_table(
        "review_settings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(96), nullable=False, unique=True),
        sa.Column("four_eyes", sa.Boolean, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "token_pk",
            sa.Integer,
            sa.ForeignKey("tokens.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(96), nullable=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("events", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "webhook_pk",
            sa.Integer,
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(48), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_at"])
    _backfill()


def _backfill() -> None:
    """Repos audited before this migration: point each at its newest audit, and give that audit
    the licences and base models its JSON report names, so the catalogue finds them."""
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE repos SET latest_audit_pk = (SELECT max(a.id) FROM audits a "
            "JOIN revisions r ON a.revision_pk = r.id WHERE r.repo_pk = repos.id)"
        )
    )
    rows = bind.execute(
        sa.text("SELECT a.id, a.report_json FROM audits a JOIN repos p ON p.latest_audit_pk = a.id")
    ).fetchall()
    for audit_pk, report_json in rows:
        try:
            licence = json.loads(report_json or "{}").get("license") or {}
        except ValueError:
            continue
        licences = [str(v) for v in licence.get("effective_licenses") or [] if v]
        bases = [
            str(n.get("repo_id") or n.get("name"))
            for n in (licence.get("lineage") or [])[1:]
            if isinstance(n, dict) and (n.get("repo_id") or n.get("name"))
        ]
        bind.execute(
            sa.text("UPDATE audits SET license = :l, base_models = :b WHERE id = :i"),
            {"l": " AND ".join(licences)[:255], "b": "\n".join(bases), "i": audit_pk},
        )
        facts = {("license", v.lower()[:255]) for v in licences}
        facts |= {("base", v.lower()[:255]) for v in bases}
        for kind, value in sorted(facts):
            bind.execute(
                sa.text("INSERT INTO audit_facts (audit_pk, kind, value) VALUES (:a, :k, :v)"),
                {"a": audit_pk, "k": kind, "v": value},
            )


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "webhooks",
        "web_sessions",
        "review_settings",
        "review_exceptions",
        "review_decisions",
        "trail",
        "audit_facts",
    ):
        op.drop_table(table)
    with op.batch_alter_table("audits") as batch:
        batch.drop_index("ix_audits_license")
        batch.drop_column("base_models")
        batch.drop_column("license")
    with op.batch_alter_table("repos") as batch:
        batch.drop_index("ix_repos_latest_audit_pk")
        batch.drop_column("latest_audit_pk")
