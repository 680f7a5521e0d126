"""What the governed hub is started with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeltrust.policy.model import Policy


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    upstream: str | None = "https://huggingface.co"
    """Where repos not yet stored are pulled from; None serves only what is stored."""
    policy: Policy | None = None
    """None: the built-in default policy."""
    policy_origin: str = "builtin:default"
    database_url: str | None = None
    """None: SQLite at ``data_dir/modeltrust.db``."""
    upstream_token: str | None = None
    upstream_timeout: float = 30.0
    ref_ttl: float = 300.0
    """Seconds a branch or tag's resolved commit is trusted before the upstream is asked again."""
    upstream_backoff: float = 30.0
    """Seconds the upstream is not asked again about stored revisions after it failed or did
    not answer within ``upstream_timeout``: their stored resolution is served meanwhile."""
    max_depth: int = 10
    """Generations of base models the licence lineage follows; their metadata (card, licence,
    config) is fetched through the upstream for the audit. 0: the model alone."""
    ingest_wait: float = 5.0
    """Seconds a request for file bytes waits for a first fetch and audit before it is answered
    503 with Retry-After (the client's HEAD timeout is 10 s by default)."""
    retry_after_max: int = 300
    """Upper bound of the Retry-After given while an ingest runs. The default client retries 5
    times, so a first pull of up to about 5 x (this + 1) seconds completes in one call."""
    failed_ingest_hold: float = 10.0
    """Seconds, beyond the longest Retry-After given, that a failed ingest's error is answered
    (403 GatedRepo) to the clients told to come back, before a request may try again."""
    ingest_workers: int = 4
    """Revisions fetched and audited at the same time; more wait in line."""
    verdict_recheck: float = 1.0
    """Seconds between two looks at the database for audits recorded by other processes (a
    re-audit on one server sharing the database is followed by all within this bound)."""
    admin_token: str | None = None
    """Bearer token for ``POST /api/modeltrust/audits/...`` (re-audit); None disables it."""
    tree_page_size: int = 1000
    """Entries per page of a tree listing (the Hub's page size); more pages are linked with
    ``Link: <...>; rel="next"``."""
    anonymous_read: bool = True
    """Whether requests without a token may read public repos (and the mirror)."""
    token_cache_s: float = 5.0
    """Seconds a token, once looked up, is trusted without asking the database again: a revoked
    token stops working within this bound."""
    repo_info_cache_s: float = 1.0
    """Seconds a repo's settings (private, gated) are trusted without asking the database: a
    change made by another server process is followed within this bound."""
    max_commit_bytes: int = 2 << 30
    """The largest commit payload accepted (inline files, base64); LFS files do not count."""
    commits_page_size: int = 50
    """Commits per page of ``list_repo_commits``."""
    blob_store: str | None = None
    """Where blobs live: None for ``data_dir/blobs``; ``s3://BUCKET/PREFIX`` for an S3-compatible
    bucket (writes in progress stay in ``data_dir``)."""
    s3_endpoint_url: str | None = None
    """The S3 API's URL when it is not AWS's (MinIO, Ceph...)."""
    fsync: bool = True
    """Flush every blob to the disk before it is stored (a stored blob survives a power cut).
    Off: faster on slow disks; blobs are still verified before they are stored, but one stored
    moments before a power cut may be lost. (An S3 store never needs it.)"""
    webhook_timeout: float = 10.0
    """Seconds a webhook receiver has to answer one delivery."""
    webhook_retry_s: float = 2.0
    """The pause before a failed delivery's first retry; it doubles with each attempt."""
    session_hours: float = 12.0
    """How long a review UI login lasts (never longer than its token)."""
    oidc_issuer: str | None = None
    """An OpenID Connect provider the review UI signs users in through (None: tokens only)."""
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_username_claim: str = "preferred_username"
    """The ID token claim holding the hub user name the person signs in as."""
    oidc_redirect_url: str | None = None
    """The callback URL registered with the provider, when the hub is reached through a proxy
    (default: ``<the URL the browser used>/-/oidc/callback``)."""

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modeltrust.db'}"
