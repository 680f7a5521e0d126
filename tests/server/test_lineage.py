"""The server's licence lineage follows base models through the upstream: a Llama fine-tune whose
card says apache-2.0 is refused, as ``modeltrust audit`` refuses it on the Hub."""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from demo.hub import LLAMA
from tests.auditor.conftest import GOOD_CARD, clean_files, llama_files, mislabelled_files
from tests.hubserver import HubServer, card
from tests.server.conftest import StartHub


@pytest.fixture
def derivative(upstream: HubServer) -> HubServer:
    upstream.add_repo(LLAMA, {**llama_files(), "model.safetensors": b"\0" * 64})
    upstream.add_repo("acme/super-chat-8b", mislabelled_files())
    return upstream


def test_a_mislabelled_llama_derivative_is_refused(
    start_hub: StartHub, derivative: HubServer
) -> None:
    hub = start_hub()
    with pytest.raises(GatedRepoError, match="modeltrust blocked acme/super-chat-8b"):
        hf_hub_download("acme/super-chat-8b", "model.safetensors")
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/super-chat-8b/main").json()
    assert report["verdict"] == "fail"
    assert any("MT-LIC-003" in reason for reason in report["reasons"])
    lineage = report["report"]["license"]
    assert lineage["effective_licenses"] == ["apache-2.0", "llama3.1"]
    # Only the base's metadata went through the upstream, never its weights...
    fetched = {r.path.rsplit("/", 1)[-1] for r in derivative.requests_to(f"/{LLAMA}/resolve/")}
    assert fetched == {"README.md", "LICENSE", "config.json"}
    # ... and the base is not served because of it: it was never stored.
    work = hub.settings.data_dir / "work"
    assert not [p for p in work.rglob("*") if p.is_file() and p.suffix != ".lock"]
    r = httpx2.get(f"{hub.url}/api/modeltrust/audits/{LLAMA}/main")
    assert r.status_code == 404


def test_a_fine_tune_of_a_permissive_base_is_served(
    start_hub: StartHub, upstream: HubServer
) -> None:
    files = {
        **clean_files(),
        "README.md": card(GOOD_CARD, license="apache-2.0", base_model="acme/clean"),
    }
    upstream.add_repo("acme/clean-tuned", files)
    hub = start_hub()
    r = httpx2.get(f"{hub.url}/acme/clean-tuned/resolve/main/config.json")
    assert r.status_code == 200, r.headers.get("x-error-message")
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/clean-tuned/main").json()
    assert report["verdict"] in ("pass", "warn")
    assert not any("MT-LIN" in reason for reason in report["reasons"])


def test_without_the_lineage_the_mislabel_goes_unseen(
    start_hub: StartHub, derivative: HubServer
) -> None:
    """The gap this closes: at depth 0 the licence check takes the card's word, and only the
    unread lineage (MT-LIN-003) stands in the way: of every fine-tune, whatever its base."""
    hub = start_hub(max_depth=0)
    r = httpx2.get(f"{hub.url}/acme/super-chat-8b/resolve/main/README.md")
    assert r.status_code == 403
    assert "MT-LIN-003" in r.headers["x-error-message"]
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/super-chat-8b/main").json()
    assert not any("MT-LIC-003" in reason for reason in report["reasons"])
    assert report["report"]["license"]["effective_licenses"] == ["apache-2.0"]


def test_a_base_is_never_found_in_the_audits_own_scratch_folder(
    start_hub: StartHub, upstream: HubServer
) -> None:
    """The audit's copy lives at ``.../audit-*/model``; a card naming ``model/sub`` must not
    find the repo's own ``sub`` folder there and take it for its base. Bases come only from
    the upstream; one it does not have is reported as not found."""
    files = {
        **clean_files(),
        "README.md": card(GOOD_CARD, license="apache-2.0", base_model="model/sub"),
        "sub/README.md": card("# Not a base\n", license="apache-2.0"),
    }
    upstream.add_repo("acme/self-based", files)
    hub = start_hub()
    httpx2.get(f"{hub.url}/acme/self-based/resolve/main/config.json")
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/self-based/main").json()
    assert any("MT-LIN-001" in r and "model/sub" in r for r in report["reasons"]), report["reasons"]
