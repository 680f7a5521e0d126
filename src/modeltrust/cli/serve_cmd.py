"""``modeltrust serve``: run the governed hub. Point ``HF_ENDPOINT`` at it and huggingface_hub,
transformers and the tools built on them pull only models whose audit the policy allows."""

from __future__ import annotations

from pathlib import Path

import click

from modeltrust.cli import _output
from modeltrust.errors import MissingExtraError


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="MODELTRUST_HOST",
    help="Address to listen on (0.0.0.0 for every interface).",
)
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    envvar="MODELTRUST_PORT",
    help="Port to listen on; clients set HF_ENDPOINT=http://HOST:PORT.",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MODELTRUST_DATA_DIR",
    help="Where the blob store and (by default) the SQLite database live.",
)
@click.option(
    "--upstream",
    default="https://huggingface.co",
    show_default=True,
    envvar="MODELTRUST_UPSTREAM",
    help="A Hub-compatible endpoint to pull repos from; 'none' serves only what is stored.",
)
@click.option(
    "--policy",
    "policy_option",
    metavar="FILE|NAME",
    envvar="MODELTRUST_POLICY",
    help="The policy that decides what is served: a file or a built-in policy name.",
)
@click.option(
    "--database-url",
    envvar="MODELTRUST_DATABASE_URL",
    help="SQLAlchemy URL (e.g. postgresql://user@host/db, needs the 'postgres' extra); "
    "default: SQLite in --data-dir.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    upstream: str,
    policy_option: str | None,
    database_url: str | None,
) -> None:
    """Serve a governed, Hugging Face Hub-compatible model hub. Each repo revision is pulled
    from the upstream once, stored, audited, and its files served only if the policy allows.
    The upstream token, if any, is read from MODELTRUST_UPSTREAM_TOKEN; the token that
    allows re-audits (POST /api/modeltrust/audits/...) from MODELTRUST_ADMIN_TOKEN."""
    import os

    from modeltrust.policy.model import discover_policy

    try:
        import uvicorn

        from modeltrust.server.app import create_app
        from modeltrust.server.settings import Settings
    except ImportError as e:
        raise MissingExtraError(
            f"modeltrust serve needs the 'serve' extra ({e.name} is missing): "
            "pip install 'modeltrust[serve]'."
        ) from None
    policy, origin = discover_policy(policy_option)
    settings = Settings(
        data_dir=data_dir,
        upstream=None if upstream.lower() == "none" else upstream,
        policy=policy,
        policy_origin=origin,
        database_url=database_url,
        upstream_token=os.environ.get("MODELTRUST_UPSTREAM_TOKEN") or None,
        admin_token=os.environ.get("MODELTRUST_ADMIN_TOKEN") or None,
    )
    app = create_app(settings)
    _output.message(
        f"modeltrust serve on http://{host}:{port} (policy {origin}, upstream "
        f"{settings.upstream or 'none'}); set HF_ENDPOINT=http://{host}:{port}"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
