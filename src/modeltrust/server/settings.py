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
    max_depth: int = 0
    """Generations of base models the licence check follows (bases are looked up locally)."""

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modeltrust.db'}"
