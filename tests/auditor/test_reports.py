"""The audit's reports: JSON valid against its schema, SARIF 2.1.0, self-contained HTML."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from sarif_pydantic import Sarif

from modeltrust.auditor.audit import audit
from modeltrust.auditor.result import AuditResult, FairnessRequest
from modeltrust.policy.model import parse_policy
from modeltrust.report.audit_json import (
    SCHEMA,
    audit_to_dict,
    render_audit_json,
    render_audit_sarif,
)
from modeltrust.report.html import render_audit_html
from tests.auditor.conftest import trojan_files, write
from tests.hubserver import HubServer

WAIVER = """
name: team
exceptions:
  - rule: MT-PKL-*
    file: model.pkl
    reason: known test fixture
    approver: alice@example.com
    expires: 2099-01-01
  - rule: MT-POL-005
    reason: stale waiver
    approver: bob@example.com
    expires: 2020-01-01
documentation:
  required: [evaluation, mc-factors]
  action: warn
"""


def schema() -> dict[str, object]:
    text = resources.files("modeltrust.report").joinpath("schemas/audit-1.json").read_text()
    loaded: dict[str, object] = json.loads(text)
    return loaded


@pytest.fixture
def mislabelled(hub: HubServer) -> AuditResult:
    return audit("acme/super-chat-8b", jobs=1)


@pytest.fixture
def waived(tmp_path: Path, canary: Path) -> AuditResult:
    folder = write(tmp_path / "model", trojan_files(canary))
    return audit(str(folder), parse_policy(WAIVER, "team.yaml"), jobs=1, today=date(2026, 6, 1))


def test_json_matches_its_schema(mislabelled: AuditResult, waived: AuditResult) -> None:
    for result in (mislabelled, waived):
        doc = json.loads(render_audit_json(result))
        jsonschema.validate(doc, schema(), format_checker=jsonschema.FormatChecker())
        assert doc["schema"] == SCHEMA
        assert 0.0 <= doc["documentation"]["score"] <= 1.0
        assert doc["fairness"] is None
    doc = audit_to_dict(mislabelled)
    assert doc["revision"] and len(doc["revision"]) == 40
    assert doc["verdict"]["status"] == "fail"
    areas = {f["area"] for r in (mislabelled, waived) for f in audit_to_dict(r)["findings"]}
    assert {"license", "documentation", "security", "policy"} <= areas
    assert doc["license"]["effective_licenses"] == ["apache-2.0", "llama3.1"]


def test_schema_rejects_a_broken_result(mislabelled: AuditResult) -> None:
    doc = audit_to_dict(mislabelled)
    doc["verdict"]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


def test_waivers_and_expired_exceptions_in_json(waived: AuditResult) -> None:
    doc = audit_to_dict(waived)
    assert doc["verdict"]["waived"][0]["exception"]["approver"] == "alice@example.com"
    assert doc["verdict"]["expired_exceptions"][0]["approver"] == "bob@example.com"
    outcomes = {(f["rule_id"], f["outcome"]) for f in doc["findings"]}
    assert ("MT-PKL-002", "waived") in outcomes and ("MT-POL-007", "warn") in outcomes
    assert ("MT-POL-005", "warn") in outcomes  # mc-factors is not documented


def test_sarif_is_valid_and_marks_waivers(waived: AuditResult) -> None:
    text = render_audit_sarif(waived)
    Sarif.model_validate_json(text)
    doc = json.loads(text)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and run["properties"]["verdict"] == waived.verdict.status
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} <= rule_ids
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert suppressed and all(r["ruleId"].startswith("MT-PKL-") for r in suppressed)
    assert "known test fixture" in suppressed[0]["suppressions"][0]["justification"]


def test_html_is_self_contained_with_a_lineage_graph(mislabelled: AuditResult) -> None:
    html = render_audit_html(mislabelled)
    lineage = html.split('<section id="lineage">', 1)[1].split("</section>", 1)[0]
    assert '<svg class="lineage"' in lineage and '<line class="edge"' in lineage
    assert "meta-llama/Llama-3.1-8B" in lineage and "acme/super-chat-8b" in lineage
    assert '<svg class="coverage"' in html
    assert "Obligations checklist" in html and "MT-LIC-003" in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert "@import" not in html and "<link" not in html.lower()


def test_html_escapes_what_the_model_says(hub: HubServer) -> None:
    hub.add_repo(
        "acme/xss",
        {"README.md": "---\nlicense: mit\n---\n# <script>alert(1)</script>\n", "x.bin": b"\0" * 8},
    )
    html = render_audit_html(audit("acme/xss", jobs=1))
    assert "<script>alert" not in html


def test_fairness_in_every_report(tmp_path: Path, canary: Path) -> None:
    folder = write(tmp_path / "model", trojan_files(canary))
    rows = ["y,y_hat,sex"] + [f"{i % 2},{i % 2},{'f' if i % 3 else 'm'}" for i in range(120)]
    data = tmp_path / "predictions.csv"
    data.write_text("\n".join(rows) + "\n")
    request = FairnessRequest((str(data),), "y", "y_hat", ("sex",))
    result = audit(str(folder), fairness=request, jobs=1)
    assert result.fairness is not None
    doc = json.loads(render_audit_json(result))
    jsonschema.validate(doc, schema(), format_checker=jsonschema.FormatChecker())
    assert doc["fairness"]["schema"] == "modeltrust-fairness-result"
    html = render_audit_html(result)
    assert '<section id="fairness">' in html and '<svg class="fairness"' in html


def test_lineage_edges_join_each_model_to_its_base(mislabelled: AuditResult) -> None:
    from modeltrust.report.html import NODE_H, NODE_W, lineage_graph

    graph = lineage_graph(mislabelled)
    by_title = {n.title: n for n in graph.nodes}
    model, base = by_title["acme/super-chat-8b"], by_title["meta-llama/Llama-3.1-8B"]
    assert model.css == "root" and "apache-2.0" in model.subtitle and "llama3.1" in base.subtitle
    (edge,) = graph.edges
    assert (edge.x1, edge.y1) == (model.x + NODE_W / 2, model.y + NODE_H)
    assert (edge.x2, edge.y2) == (base.x + NODE_W / 2, base.y)
    assert edge.label == "finetune"
