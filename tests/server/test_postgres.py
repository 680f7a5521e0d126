"""The governed hub on a real PostgreSQL server: the catalogue test and the hub tests that lean on
the database (first pull, a background first pull, the gate, concurrent requests, a restart,
repo ids without an org, a renamed repo, several servers on one database following each other's
re-audits, a verdict read just before a re-audit),
reviews, webhooks and the audit trail (its chain under concurrent writers), run again with
``--database-url`` pointing at PostgreSQL.

``.ci/run`` starts a server from Debian's postgresql package (``.ci/postgres.sh``) and sets
``MODELTRUST_TEST_POSTGRES_URL`` to a role that may create databases; each test gets a database of
its own, dropped afterwards. Without the variable these tests are skipped and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.server.test_concurrency import (  # noqa: F401
    test_a_verdict_read_just_before_a_reaudit_is_not_kept_after_it,
)
from tests.server.test_first_pull import (  # noqa: F401
    short_client_timeouts,
    slow_upstream,
    test_a_first_pull_longer_than_the_client_timeout_completes,
)
from tests.server.test_hub_client import (  # noqa: F401 - collected again here, on PostgreSQL
    test_a_sha256_mismatch_is_never_served,
    test_a_trojaned_repo_is_refused_with_our_message,
    test_concurrent_downloads_fetch_once,
    test_hf_hub_download_of_a_clean_model,
    test_restart_with_the_upstream_gone,
    test_snapshot_download_model_info_and_tree,
)
from tests.server.test_registry import (  # noqa: F401
    test_a_gated_repo_needs_an_accepted_access_request,
    test_a_private_repo_does_not_exist_for_others,
    test_a_trojaned_push_is_never_served_to_others_and_never_run,
    test_lfs_objects_are_shared_in_storage_but_not_between_repos,
    test_tokens_are_stored_as_hashes_and_stop_working_when_revoked_or_expired,
)
from tests.server.test_registry_reliability import (  # noqa: F401
    test_a_stale_parent_is_412_and_changes_nothing,
    test_concurrent_commits_to_one_branch_are_serialised,
    test_quotas_bound_what_a_namespace_holds,
    test_two_servers_sharing_one_database_lose_no_commit,
)
from tests.server.test_review import (  # noqa: F401
    receiver,
    test_an_approval_serves_a_failed_revision_and_a_denial_withdraws_it,
    test_webhooks_are_signed_and_retried_until_delivered,
)
from tests.server.test_routes import (  # noqa: F401
    canonical,
    test_a_repo_without_an_org_is_pulled_through_on_every_route,
)
from tests.server.test_shared_database import (  # noqa: F401
    servers,
    test_a_reaudit_needs_a_stored_revision,
    test_a_reaudit_on_one_server_is_followed_by_the_others,
)
from tests.server.test_storage import (  # noqa: F401
    test_the_catalogue_migrates_and_survives_a_reopen,
)
from tests.server.test_trail import (  # noqa: F401
    test_a_changed_or_removed_entry_is_named,
    test_concurrent_writers_never_fork_the_chain,
    test_entries_chain_and_verify,
    trail_catalog,
)
from tests.server.test_upstream_trouble import (  # noqa: F401
    test_a_renamed_repo_is_listed_once_and_served_without_upstream,
)

ADMIN_URL = os.environ.get("MODELTRUST_TEST_POSTGRES_URL")

pytestmark = pytest.mark.skipif(
    not ADMIN_URL,
    reason="MODELTRUST_TEST_POSTGRES_URL is not set (.ci/run sets it after starting PostgreSQL)",
)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    import sqlalchemy as sa

    assert ADMIN_URL is not None
    name = f"modeltrust_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_server_really_runs_on_postgresql(database_url: str) -> None:
    """Guard against the fixture silently falling back to SQLite."""
    from modeltrust.storage.catalog import Catalog

    catalog = Catalog(database_url)
    try:
        assert catalog.engine.dialect.name == "postgresql"
    finally:
        catalog.close()
