"""A governed hub with accounts, for the registry tests: ``alice`` (write token) owns her
namespace and administers the ``acme`` organisation, ``bob`` (write token) writes in ``acme``,
``carol`` has a read token and no role, ``dave`` is a site admin. Clients are the real
``huggingface_hub`` pointed at the hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2
from huggingface_hub import HfApi

from modeltrust.storage.accounts import Accounts
from tests.server.conftest import Governed

TOKENS = {
    "alice": "hf_alice_write_000000000000000000",
    "bob": "hf_bob_write_0000000000000000000000",
    "carol": "hf_carol_read_000000000000000000000",
    "dave": "hf_dave_site_admin_0000000000000000",
}


@dataclass
class Registry:
    hub: Governed
    accounts: Accounts
    apis: dict[str, HfApi] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.hub.url

    def api(self, user: str | None) -> HfApi:
        """The client as ``user`` (None: anonymous)."""
        token: str | bool = TOKENS[user] if user else False
        return HfApi(endpoint=self.url, token=token)  # type: ignore[arg-type]

    def http(
        self, method: str, path: str, user: str | None = None, **kwargs: Any
    ) -> httpx2.Response:
        headers = dict(kwargs.pop("headers", {}))
        if user:
            headers["authorization"] = f"Bearer {TOKENS[user]}"
        return httpx2.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    @property
    def state(self) -> Any:
        """The server's GovernedHub (same process: the tests start it in a thread)."""
        return self.hub.app.state.hub


def seed(accounts: Accounts) -> None:
    accounts.add_user("alice", fullname="Alice Admin", email="alice@example.com")
    accounts.add_user("bob")
    accounts.add_user("carol")
    accounts.add_user("dave", site_admin=True)
    accounts.add_org("acme", fullname="Acme Corp")
    accounts.set_member("acme", "alice", "admin")
    accounts.set_member("acme", "bob", "write")
    for user, token in TOKENS.items():
        role = "read" if user == "carol" else "write"
        accounts.create_token(user, "tests", role, value=token)
