"""The review UI in a real browser: Playwright driving Debian's chromium, axe-core checking
accessibility. A reviewer signs in, finds a quarantined repo, reads its report, approves it with
a reason and sees the trail entry; a reader cannot approve. Screenshots of the main pages are
written to ``$MODELTRUST_ARTIFACTS/screenshots`` (CI keeps them).

The browser and axe-core come from ``.ci/browser.sh`` (``MODELTRUST_CHROMIUM``,
``MODELTRUST_AXE_JS``). Without them the tests are skipped, except where
``MODELTRUST_BROWSER_TESTS=1`` (CI), where missing them is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.registry_fixtures import TOKENS
from tests.server.test_web_ui import hub  # noqa: F401 - the fixture: a trojan, a clean repo

# Read at import: the tests' environment is cleared of MODELTRUST_* (tests/conftest.py).
REQUIRED = os.environ.get("MODELTRUST_BROWSER_TESTS") == "1"
ARTIFACTS = os.environ.get("MODELTRUST_ARTIFACTS")
CHROMIUM = os.environ.get("MODELTRUST_CHROMIUM") or shutil.which("chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
AXE = Path(
    os.environ.get("MODELTRUST_AXE_JS")
    or REPO_ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM or not Path(CHROMIUM).exists():
        return "chromium is not installed (.ci/browser.sh installs Debian's)"
    if not AXE.is_file():
        return f"axe-core is not at {AXE} (.ci/browser.sh installs it with npm)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"the browser tests must run here: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = (Path(ARTIFACTS) if ARTIFACTS else tmp_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page that are serious or critical."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/-/login")
    page.get_by_label("API token").fill(TOKENS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/-/")


def test_a_reviewer_approves_a_quarantined_repo_in_the_browser(
    browser: Any,
    hub: Any,  # noqa: F811 - the fixture imported above
    shots: Path,
) -> None:
    base = hub.url
    repo, sha = hub.repos["tuned"]
    # CSP forbids every script on these pages; the test context lifts it to inject axe-core.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/-/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert _axe(page) == []
    page.screenshot(path=str(shots / "login.png"), full_page=True)
    # Keyboard only: to the token field, type, Enter.
    page.get_by_label("API token").focus()
    page.keyboard.type(TOKENS["alice"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/-/")
    assert _axe(page) == []
    page.screenshot(path=str(shots / "catalogue.png"), full_page=True)

    page.get_by_role("link", name="Review queue").click()
    assert _axe(page) == []
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    page.get_by_role("link", name=repo).click()
    page.wait_for_url(f"{base}/-/repos/{repo}")
    assert page.get_by_role("heading", name="Findings by area").is_visible()
    assert page.locator("text=MT-PKL-002").first.is_visible()
    assert page.locator("svg.lineage").count() == 1
    assert _axe(page) == []
    page.screenshot(path=str(shots / "repo.png"), full_page=True)

    page.get_by_label("Reason (recorded in the audit trail)").fill("the pickle is never loaded")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{base}/-/repos/{repo}?done=approve")
    assert page.get_by_role("status").inner_text().startswith("Approved.")
    assert "approved by alice" in page.content()

    page.get_by_role("link", name="Audit trail").click()
    row = page.locator("tr", has_text="revision.approve")
    assert row.count() == 1 and "the pickle is never loaded" in row.inner_text()
    assert f"{repo}@{sha}" in row.inner_text()
    assert _axe(page) == []
    page.screenshot(path=str(shots / "trail.png"), full_page=True)
    context.close()
    for name in ("login", "catalogue", "queue", "repo", "trail"):
        assert (shots / f"{name}.png").stat().st_size > 5_000


def test_a_reader_cannot_approve_in_the_browser(
    browser: Any,
    hub: Any,  # noqa: F811 - the fixture imported above
) -> None:
    base = hub.url
    repo, sha = hub.repos["tuned"]
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, base, "carol")
    page.goto(f"{base}/-/repos/{repo}")
    assert page.get_by_role("button", name="Approve").count() == 0
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    answer = page.request.post(
        f"{base}/-/decide/{repo}",
        form={"csrf": csrf or "", "sha": sha, "kind": "approve", "reason": "let me in"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "Only the admins of acme/tuned" in answer.text()
    context.close()
    assert not [e for e in hub.state.review.trail if e.action == "revision.approve"]
