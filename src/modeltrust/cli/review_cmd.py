"""``modeltrust trail``, ``webhooks`` and ``orgs review``: the governed hub's audit trail, its
webhooks and how an organisation is reviewed, from the hub's database (as ``modeltrust users``).
``orgs review`` is added to the ``orgs`` group by :mod:`.admin_cmd`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from modeltrust.cli import EXIT_FAILED, _output
from modeltrust.cli._hubdb import accounts as _accounts
from modeltrust.cli._hubdb import database_options as _database_options
from modeltrust.cli._hubdb import emit as _emit

# --- the trail -------------------------------------------------------------------------------------


@click.group("trail")
def trail() -> None:
    """The audit trail: every decision, upload, policy change and token change, hash-chained."""


@trail.command("verify")
@click.option(
    "--head",
    "expected_head",
    help="The head hash kept from an earlier verify: also detects entries removed from the end.",
)
@_database_options
def trail_verify(
    expected_head: str | None, data_dir: Path | None, database_url: str | None
) -> None:
    """Check every entry's hash and link; exit 1 naming each entry that does not hold."""
    from modeltrust.storage.trail import Trail

    with _accounts(data_dir, database_url) as accounts:
        result = Trail(accounts.catalog).verify(expected_head)
    for problem in result.problems:
        _output.error(problem)
    if not result.ok:
        _output.error(
            f"the audit trail does not verify: {len(result.problems)} problem(s) in "
            f"{result.entries} entries. Restore the database from a backup you trust and compare."
        )
        raise SystemExit(EXIT_FAILED)
    _output.message(
        f"the audit trail verifies: {result.entries} entries; head {result.head}\n"
        "keep the head hash elsewhere and pass it back with --head to detect entries removed "
        "from the end."
    )


@trail.command("export")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="Where to write the JSON Lines (one entry per line; '-' for stdout).",
)
@_database_options
def trail_export(output: str, data_dir: Path | None, database_url: str | None) -> None:
    """Write the whole trail as JSON Lines, oldest first, hashes included (verifiable
    elsewhere: each line's hash is the SHA-256 of its canonical JSON without id and hash)."""
    from modeltrust.storage.trail import Trail

    with _accounts(data_dir, database_url) as accounts:
        text = "".join(
            json.dumps(entry.record(), ensure_ascii=False) + "\n"
            for entry in Trail(accounts.catalog)
        )
    _output.data(text, output)


# --- webhooks --------------------------------------------------------------------------------------


@click.group("webhooks")
def webhooks() -> None:
    """Where verdicts and decisions are announced: signed JSON POSTs, retried until delivered."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--secret",
    envvar="MODELTRUST_WEBHOOK_SECRET",
    required=True,
    help="Shared with the receiver, which checks X-Modeltrust-Signature with it (16+ characters).",
)
@click.option("--namespace", help="Only events about this organisation's or user's repos.")
@click.option(
    "--events",
    default="*",
    show_default=True,
    help="Comma-separated: audit.verdict, revision.approve, revision.deny, exception.grant, "
    "repo.push, policy.review-settings, ... or * for all.",
)
@_database_options
def webhooks_add(
    url: str,
    secret: str,
    namespace: str | None,
    events: str,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Announce events to URL."""
    from modeltrust.server.settings import Settings
    from modeltrust.server.webhooks import Webhooks

    with _accounts(data_dir, database_url) as accounts:
        hook = Webhooks(accounts.catalog, Settings(data_dir=data_dir or Path())).add(
            url, secret, namespace=namespace, events=events
        )
        from modeltrust.storage.trail import Trail

        Trail(accounts.catalog).append(
            accounts.actor, "webhook.add", namespace or "*", "", {"id": hook.id, "url": url}
        )
    _output.message(f"webhook {hook.id} announces {events} to {url}")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@_database_options
def webhooks_list(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """The webhooks, with how many deliveries each has waiting, done and given up."""
    from modeltrust.server.settings import Settings
    from modeltrust.server.webhooks import Webhooks

    with _accounts(data_dir, database_url) as accounts:
        hooks = Webhooks(accounts.catalog, Settings(data_dir=data_dir or Path()))
        rows = []
        for hook in hooks.all():
            deliveries = hooks.deliveries(hook.id)
            rows.append(
                {
                    "id": hook.id,
                    "url": hook.url,
                    "namespace": hook.namespace or "*",
                    "events": ",".join(hook.events),
                    "pending": sum(d.status == "pending" for d in deliveries),
                    "delivered": sum(d.status == "delivered" for d in deliveries),
                    "failed": sum(d.status == "failed" for d in deliveries),
                }
            )
    _emit(rows, as_json, ["Id", "URL", "Namespace", "Events", "Pending", "Delivered", "Failed"])


@webhooks.command("remove")
@click.argument("webhook_id", type=int)
@_database_options
def webhooks_remove(webhook_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """Stop announcing to webhook WEBHOOK_ID (its undelivered events are dropped)."""
    from modeltrust.server.settings import Settings
    from modeltrust.server.webhooks import Webhooks
    from modeltrust.storage.trail import Trail

    with _accounts(data_dir, database_url) as accounts:
        Webhooks(accounts.catalog, Settings(data_dir=data_dir or Path())).remove(webhook_id)
        Trail(accounts.catalog).append(accounts.actor, "webhook.remove", str(webhook_id), "", {})
    _output.message(f"webhook {webhook_id} removed")


# --- review settings -------------------------------------------------------------------------------


@click.command("review")
@click.argument("namespace")
@click.option(
    "--four-eyes/--no-four-eyes",
    default=None,
    help="The uploader may not approve their own revision; critical findings need two approvers.",
)
@click.option(
    "--dry-run/--enforce",
    default=None,
    help="Dry run: serve what the audits would block, and record it in the trail.",
)
@_database_options
def review_settings(
    namespace: str,
    four_eyes: bool | None,
    dry_run: bool | None,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Show or change how NAMESPACE's revisions are reviewed."""
    from modeltrust.storage.reviews import Reviews

    with _accounts(data_dir, database_url) as accounts:
        if accounts.namespace(namespace) is None:
            from modeltrust.errors import UsageError

            raise UsageError(f"No user or organisation is named '{namespace}'.")
        reviews = Reviews(accounts.catalog)
        if four_eyes is None and dry_run is None:
            after = reviews.settings(namespace)
        else:
            after = reviews.set_settings(
                namespace, four_eyes=four_eyes, dry_run=dry_run, actor=accounts.actor
            )
    _output.message(
        f"{namespace}: four eyes {'on' if after.four_eyes else 'off'}; "
        f"{'dry run (serves what audits would block)' if after.dry_run else 'enforced'}"
    )
