"""``modeltrust serve``: run the governed hub. Point ``HF_ENDPOINT`` at it and huggingface_hub,
transformers and the tools built on them pull only models whose audit the policy allows."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from modeltrust.cli import EXIT_ERROR, _output
from modeltrust.errors import MissingExtraError, UsageError


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
    help="Port to listen on (0: any free port, printed at start); clients set "
    "HF_ENDPOINT=http://HOST:PORT.",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MODELTRUST_DATA_DIR",
    help="Where the blob store and (by default) the SQLite database live; created (and said "
    "so) if missing.",
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
@click.option(
    "--anonymous-read/--no-anonymous-read",
    default=True,
    show_default=True,
    envvar="MODELTRUST_ANONYMOUS_READ",
    help="Whether requests without a token may read public repos and the mirror.",
)
@click.option(
    "--blob-store",
    metavar="s3://BUCKET/PREFIX",
    envvar="MODELTRUST_BLOB_STORE",
    help="Keep blobs in an S3-compatible bucket (needs the 's3' extra) instead of --data-dir; "
    "credentials come from the AWS environment (AWS_ACCESS_KEY_ID, a profile, a role).",
)
@click.option(
    "--s3-endpoint-url",
    envvar="MODELTRUST_S3_ENDPOINT_URL",
    help="The S3 API's URL when it is not AWS (MinIO, Ceph...).",
)
@click.option(
    "--fsync/--no-fsync",
    default=True,
    show_default=True,
    envvar="MODELTRUST_FSYNC",
    help="Flush each stored file to the disk before it is published, and each uploaded file "
    "before the commit that references it is answered, so it survives a power cut. "
    "--no-fsync is faster on slow disks; files are still verified before they are stored.",
)
@click.option(
    "--oidc-issuer",
    envvar="MODELTRUST_OIDC_ISSUER",
    help="Let the review UI sign people in through this OpenID Connect provider (its issuer "
    "URL; needs the 'oidc' extra). The client secret is read from MODELTRUST_OIDC_CLIENT_SECRET.",
)
@click.option("--oidc-client-id", envvar="MODELTRUST_OIDC_CLIENT_ID", help="This hub's client id.")
@click.option(
    "--oidc-username-claim",
    default="preferred_username",
    show_default=True,
    envvar="MODELTRUST_OIDC_USERNAME_CLAIM",
    help="The ID token claim naming the hub user (who must exist: 'modeltrust users add').",
)
@click.option(
    "--oidc-redirect-url",
    envvar="MODELTRUST_OIDC_REDIRECT_URL",
    help="The callback URL registered with the provider, behind a proxy "
    "(default: the hub's URL + /-/oidc/callback).",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    upstream: str,
    policy_option: str | None,
    database_url: str | None,
    anonymous_read: bool,
    blob_store: str | None,
    s3_endpoint_url: str | None,
    fsync: bool,
    oidc_issuer: str | None,
    oidc_client_id: str | None,
    oidc_username_claim: str,
    oidc_redirect_url: str | None,
) -> None:
    """Serve a governed, Hugging Face Hub-compatible model hub. Each repo revision is pulled
    from the upstream once, stored, audited, and its files served only if the policy allows.
    The upstream token, if any, is read from MODELTRUST_UPSTREAM_TOKEN; the token that
    allows re-audits (POST /api/modeltrust/audits/...) from MODELTRUST_ADMIN_TOKEN."""
    import os

    from modeltrust.policy.model import discover_policy

    try:
        import uvicorn

        from modeltrust.server.settings import Settings
        from modeltrust.web import create_app
    except ImportError as e:
        raise MissingExtraError(
            f"modeltrust serve needs the 'serve' extra ({e.name} is missing): "
            "pip install 'modeltrust[serve]'."
        ) from None
    if bool(oidc_issuer) != bool(oidc_client_id):
        raise UsageError("OIDC sign-in needs both --oidc-issuer and --oidc-client-id.")
    policy, origin = discover_policy(policy_option)
    upstream_url = None if upstream.lower() == "none" else upstream
    listener = _listen(host, port)
    try:
        _ensure_data_dir(data_dir)
        settings = Settings(
            data_dir=data_dir,
            upstream=upstream_url,
            policy=policy,
            policy_origin=origin,
            database_url=database_url,
            upstream_token=os.environ.get("MODELTRUST_UPSTREAM_TOKEN") or None,
            admin_token=os.environ.get("MODELTRUST_ADMIN_TOKEN") or None,
            anonymous_read=anonymous_read,
            blob_store=blob_store,
            s3_endpoint_url=s3_endpoint_url,
            fsync=fsync,
            oidc_issuer=oidc_issuer,
            oidc_client_id=oidc_client_id,
            oidc_client_secret=os.environ.get("MODELTRUST_OIDC_CLIENT_SECRET") or None,
            oidc_username_claim=oidc_username_claim,
            oidc_redirect_url=oidc_redirect_url,
        )

        app = create_app(settings)
    except BaseException:
        listener.close()
        raise
    url = _url(host, listener.getsockname()[1])
    _output.message(
        f"modeltrust serve on {url} (policy {origin}, upstream "
        f"{settings.upstream or 'none'}); set HF_ENDPOINT={url}"
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=listener.getsockname()[1], log_level="warning")
    )
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    if not server.started:
        _output.error("modeltrust serve did not start; the reason is logged above.")
        raise SystemExit(EXIT_ERROR)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host:port`` before anything is printed, so port 0
    gives the real port and a busy port is a clear error rather than a URL that does not work."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until the server takes them
    except OSError as e:
        sock.close()
        reason = e.strerror or str(e)
        raise UsageError(
            f"modeltrust serve cannot listen on {host} port {port}: {reason}. Choose another "
            "--port (0 picks a free one) or --host."
        ) from None
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _ensure_data_dir(path: Path) -> None:
    """Create a missing data directory (and its parents), and say so: a mistyped path must not
    silently become an empty store."""
    if path.is_dir():
        return
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"--data-dir '{path}' exists and is not a directory. Give a directory, or a path "
            "that does not exist yet (it is then created)."
        )
    try:
        path.mkdir(parents=True)
    except OSError as e:
        raise UsageError(
            f"Could not create the data directory '{path}' (--data-dir): {e.strerror or e}. "
            "Create it yourself, or choose another --data-dir."
        ) from None
    _output.message(f"created data directory {path.absolute()}")
