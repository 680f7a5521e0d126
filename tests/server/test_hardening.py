"""No telemetry, hostile listings and requests, and error messages that say what to do."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from modeltrust.server.settings import Settings
from tests import hubserver
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import Governed, StartHub


def test_fastapi_telemetry_is_off_even_when_the_environment_asks_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI 0.165 has OpenTelemetry built in, on by default, exporting when
    FASTAPI_OTEL_AUTO_CONFIGURE=true: modeltrust turns every part of it off."""
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    hub = Governed(Settings(data_dir=tmp_path / "data", upstream=None)).start()
    try:
        assert httpx2.get(f"{hub.url}/api/modeltrust/health").status_code == 200
        config = getattr(hub.app, "_telemetry", None)  # absent in FastAPI before 0.165
        if config is not None:
            switches = ("tracing", "metrics", "logs", "operation_spans", "auto_configure")
            assert {name: config[name] for name in switches} == dict.fromkeys(switches, False)
    finally:
        hub.stop()


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"a": "x", "a/b": "y"}, "listed both as a file and as a folder"),
        ({"sub/./x.json": "{}"}, "is not a plain relative path"),
    ],
    ids=["file-and-folder", "dot-segment"],
)
def test_a_listing_no_folder_could_hold_is_refused_clearly(
    start_hub: StartHub, upstream: HubServer, files: dict[str, str], why: str
) -> None:
    upstream.add_repo("acme/odd", {**clean_files(), **files})
    hub = start_hub()
    r = httpx2.get(f"{hub.url}/acme/odd/resolve/main/config.json")
    assert r.status_code == 502
    assert why in r.headers["x-error-message"]
    assert "Nothing of the repo is stored" in r.headers["x-error-message"]


def test_an_lfs_file_listed_without_its_sha256_is_refused(
    start_hub: StartHub, upstream: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubserver.Blob, "sha256", property(lambda b: None))
    hub = start_hub()
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json")
    assert r.status_code == 502
    assert "without a valid SHA-256" in r.headers["x-error-message"]


def test_a_non_ascii_admin_token_is_refused_not_a_crash(
    start_hub: StartHub, upstream: HubServer
) -> None:
    hub = start_hub(admin_token="s3cret")  # noqa: S106 - a test token
    r = httpx2.post(
        f"{hub.url}/api/modeltrust/audits/acme/clean/main",
        headers={"authorization": "Bearer \xe9t\xe9".encode("latin-1")},
    )
    assert r.status_code == 401


def test_a_huge_paths_info_body_is_refused(start_hub: StartHub, upstream: HubServer) -> None:
    hub = start_hub()
    r = httpx2.post(
        f"{hub.url}/api/models/acme/clean/paths-info/main",
        content=b"paths=" + b"a" * (2 << 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert "fewer paths" in r.headers["x-error-message"]


def test_error_messages_say_what_to_do(
    start_hub: StartHub, upstream: HubServer, canary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = start_hub()
    r = httpx2.get(f"{hub.url}/nothing/here")
    assert r.status_code == 404 and "check the URL" in r.headers["x-error-message"]
    r = httpx2.get(f"{hub.url}/acme/trojan/resolve/main/model.pkl")
    message = r.headers["x-error-message"]
    assert r.status_code == 403 and "found MT-PKL" in message and "fail:" not in message
    assert "add a reviewed exception" in message

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(hub.app.state.hub, "revision", broken)
    r = httpx2.get(f"{hub.url}/api/models/acme/clean")
    assert r.status_code == 500
    assert "RuntimeError" in r.headers["x-error-message"]
    assert "report it" in r.headers["x-error-message"]
