"""``modeltrust users``, ``orgs`` and ``tokens``: the governed hub's accounts, for its admins.

They work on the hub's database directly (``--data-dir`` or ``--database-url``, as ``modeltrust
serve`` is started with), so they need no running server and no admin token; whoever can read
the database is an admin anyway. A running server follows a change within a few seconds
(``token_cache_s``: a revoked token stops working within that bound).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import click

from modeltrust.cli import _output
from modeltrust.cli._hubdb import accounts as _accounts
from modeltrust.cli._hubdb import database_options as _database_options
from modeltrust.cli._hubdb import emit as _emit
from modeltrust.errors import UsageError

F = TypeVar("F", bound=Callable[..., object])
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?")
_DURATION = re.compile(r"(\d+)\s*([dhm])", re.IGNORECASE)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_size(text: str) -> int | None:
    """``10GiB``, ``500MB``, ``1000000`` bytes, or ``none`` (no limit)."""
    lowered = text.strip().lower()
    if lowered in ("none", "unlimited", "off"):
        return None
    match = _SIZE.fullmatch(lowered)
    if match is None:
        raise UsageError(f"'{text}' is not a size: write it as 10GiB, 500MB, 1000000 or none.")
    number, prefix, binary = float(match.group(1)), match.group(2), match.group(3)
    scale = (1024 if binary else 1000) ** ("kmgt".index(prefix) + 1) if prefix else 1
    return int(number * scale)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"'{text}' is not a duration: write it as 90d, 12h or 30m.")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


# --- users -----------------------------------------------------------------------------------


@click.group("users")
def users() -> None:
    """The hub's users: who may log in with a token, and who administers everything."""


@users.command("add")
@click.argument("name")
@click.option("--fullname", default="", help="Shown by whoami and in reviews.")
@click.option("--email", help="Used in the commits the user pushes.")
@click.option("--site-admin", is_flag=True, help="Administers every repo and organisation.")
@_database_options
def users_add(
    name: str,
    fullname: str,
    email: str | None,
    site_admin: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Add user NAME (their namespace is NAME: they may create repos NAME/...)."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.add_user(name, fullname=fullname, email=email, site_admin=site_admin)
    _output.message(f"added user {name}; give them a token: modeltrust tokens create {name}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@_database_options
def users_list(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """List the users."""
    with _accounts(data_dir, database_url) as accounts:
        rows = [
            {
                "name": u.name,
                "fullname": u.fullname,
                "email": u.email or "",
                "site_admin": u.site_admin,
                "quota": u.quota_bytes if u.quota_bytes is not None else "none",
                "created": _when(u.created_at),
            }
            for u in accounts.users()
        ]
    _emit(rows, as_json, ["Name", "Fullname", "Email", "Site admin", "Quota", "Created"])


@users.command("set")
@click.argument("name")
@click.option("--fullname")
@click.option("--email")
@click.option("--site-admin/--no-site-admin", default=None)
@_database_options
def users_set(
    name: str,
    fullname: str | None,
    email: str | None,
    site_admin: bool | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Change user NAME's details or site-admin role."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.update_user(name, fullname=fullname, email=email, site_admin=site_admin)
    _output.message(f"updated user {name}")


@users.command("remove")
@click.argument("name")
@_database_options
def users_remove(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Remove user NAME and their tokens (their repos stay)."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.remove_user(name)
    _output.message(f"removed user {name} and their tokens")


@users.command("grant")
@click.argument("user")
@click.argument("repo")
@click.option(
    "--role",
    type=click.Choice(["read", "write", "admin"]),
    default="read",
    show_default=True,
    help="USER's role on REPO, beyond what their namespace and organisations give.",
)
@_database_options
def users_grant(
    user: str, repo: str, role: str, data_dir: Path | None, database_url: str | None
) -> None:
    """Give USER a role on one hosted REPO (org/name; datasets/org/name for a dataset): a
    collaborator, or read access to a private or gated repo."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.grant(repo, user, role)
    _output.message(f"{user} is now {role} on {repo}")


@users.command("revoke")
@click.argument("user")
@click.argument("repo")
@_database_options
def users_revoke(user: str, repo: str, data_dir: Path | None, database_url: str | None) -> None:
    """Take away USER's own role on REPO (what their organisations give stays)."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.revoke(repo, user)
    _output.message(f"{user} has no role of their own on {repo} any more")


# --- organisations ---------------------------------------------------------------------------


@click.group("orgs")
def orgs() -> None:
    """Organisations: namespaces whose members read, write or administer every repo in them."""


@orgs.command("add")
@click.argument("name")
@click.option("--fullname", default="")
@click.option("--private-by-default", is_flag=True, help="New repos are private unless public.")
@_database_options
def orgs_add(
    name: str,
    fullname: str,
    private_by_default: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Add organisation NAME."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.add_org(name, fullname=fullname, private_by_default=private_by_default)
    _output.message(f"added organisation {name}; add members: modeltrust orgs member {name} USER")


@orgs.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@_database_options
def orgs_list(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """List the organisations and their members."""
    with _accounts(data_dir, database_url) as accounts:
        rows = [
            {
                "name": o.name,
                "fullname": o.fullname,
                "members": ", ".join(f"{u} ({r})" for u, r in o.members),
                "quota": o.quota_bytes if o.quota_bytes is not None else "none",
                "private_by_default": o.private_by_default,
            }
            for o in accounts.orgs()
        ]
    _emit(rows, as_json, ["Name", "Fullname", "Members", "Quota", "Private by default"])


@orgs.command("remove")
@click.argument("name")
@_database_options
def orgs_remove(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Remove organisation NAME (its repos stay; its members lose their roles)."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.remove_org(name)
    _output.message(f"removed organisation {name}")


@orgs.command("member")
@click.argument("org")
@click.argument("user")
@click.option(
    "--role",
    type=click.Choice(["read", "write", "admin"]),
    default="read",
    show_default=True,
    help="read: download; write: push and create repos; admin: settings, reviews, deletion.",
)
@_database_options
def orgs_member(
    org: str, user: str, role: str, data_dir: Path | None, database_url: str | None
) -> None:
    """Make USER a member of ORG with ROLE (or change their role)."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.set_member(org, user, role)
    _output.message(f"{user} is now {role} in {org}")


@orgs.command("remove-member")
@click.argument("org")
@click.argument("user")
@_database_options
def orgs_remove_member(
    org: str, user: str, data_dir: Path | None, database_url: str | None
) -> None:
    """Take USER out of ORG."""
    with _accounts(data_dir, database_url) as accounts:
        accounts.remove_member(org, user)
    _output.message(f"{user} is no longer a member of {org}")


@orgs.command("quota")
@click.argument("namespace")
@click.argument("size")
@_database_options
def orgs_quota(namespace: str, size: str, data_dir: Path | None, database_url: str | None) -> None:
    """Limit what NAMESPACE's repos (an organisation's or a user's) may hold together to SIZE
    (10GiB, 500MB, ... or none); each distinct file counted once."""
    limit = parse_size(size)
    with _accounts(data_dir, database_url) as accounts:
        accounts.set_quota(namespace, limit)
    _output.message(f"quota of {namespace}: {'none' if limit is None else f'{limit} bytes'}")


# --- tokens ----------------------------------------------------------------------------------


@click.group("tokens")
def tokens() -> None:
    """API tokens: what huggingface_hub sends as HF_TOKEN. Only their hash is stored."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", "token_name", required=True, help="What the token is for (e.g. ci).")
@click.option(
    "--role",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="read: download only; write: also push, whatever else the user may do.",
)
@click.option("--expires-in", help="Expire after this long: 90d, 12h, 30m (default: never).")
@click.option(
    "--value",
    envvar="MODELTRUST_TOKEN_VALUE",
    help="Use this value instead of a random one (to import a token known elsewhere, such as "
    "a CI fixture; at least 16 characters).",
)
@_database_options
def tokens_create(
    user: str,
    token_name: str,
    role: str,
    expires_in: str | None,
    value: str | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Create a token for USER and print it (once: it is not stored, only its hash is)."""
    expires = datetime.now(UTC) + parse_duration(expires_in) if expires_in else None
    with _accounts(data_dir, database_url) as accounts:
        info, secret = accounts.create_token(
            user, token_name, role, expires_at=expires, value=value
        )
    _output.data(secret + "\n", "-")
    _output.message(
        f"token {info.id} ({info.role}) for {user}"
        + (f", expires {_when(info.expires_at)}" if info.expires_at else "")
        + ": it is shown once; revoke it with 'modeltrust tokens revoke "
        + f"{info.id}'"
    )


@tokens.command("list")
@click.argument("user", required=False)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@_database_options
def tokens_list(
    user: str | None, as_json: bool, data_dir: Path | None, database_url: str | None
) -> None:
    """List tokens (of USER, or everyone's): never their values."""
    with _accounts(data_dir, database_url) as accounts:
        rows = [
            {
                "id": t.id,
                "user": t.user,
                "name": t.name,
                "role": t.role,
                "token": t.hint,
                "state": t.state(),
                "created": _when(t.created_at),
                "expires": _when(t.expires_at),
                "last_used": _when(t.last_used_at),
            }
            for t in accounts.tokens(user)
        ]
    _emit(
        rows,
        as_json,
        ["Id", "User", "Name", "Role", "Token", "State", "Created", "Expires", "Last used"],
    )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@_database_options
def tokens_revoke(token_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke token TOKEN_ID (see 'tokens list'); a running hub refuses it within seconds."""
    with _accounts(data_dir, database_url) as accounts:
        info = accounts.revoke_token(token_id)
    _output.message(f"revoked token {info.id} ({info.name}) of {info.user}")


def _more_org_commands() -> None:
    from modeltrust.cli.review_cmd import review_settings

    orgs.add_command(review_settings)


_more_org_commands()
