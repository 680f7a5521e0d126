"""The documentation coverage report as JSON (``modeltrust card -f json``), described in
docs/cards.md. ``schema`` is versioned: adding a key keeps ``modeltrust.card/1``; removing or
renaming one, or changing a value's meaning, raises it."""

from __future__ import annotations

import json
from typing import Any

from modeltrust.cards.coverage import CoverageReport
from modeltrust.cards.draft import format_params
from modeltrust.findings import Severity

SCHEMA = "modeltrust.card/1"


def coverage_to_dict(
    report: CoverageReport, *, fail_on: Severity = Severity.MEDIUM, tool_version: str = ""
) -> dict[str, Any]:
    facts = report.facts
    arch = facts.architecture
    return {
        "schema": SCHEMA,
        "tool": {"name": "modeltrust", "version": tool_version},
        "target": facts.target,
        "source": {"kind": facts.kind, "repo_id": facts.repo_id, "revision": facts.revision},
        "card": {
            "path": facts.card_path,
            "present": facts.has_card,
            "metadata_problem": facts.metadata.problem,
            "truncated": facts.card_truncated,
            "sections": [s.title for s in facts.body.sections if s.level > 0],
        },
        "overall_score": report.overall,
        "standards": [
            {
                "id": s.standard,
                "title": s.title,
                "score": s.score,
                "present": s.present,
                "placeholder": s.placeholder,
                "missing": s.missing,
            }
            for s in report.scores
        ],
        "items": [
            {
                "id": r.item.id,
                "standard": r.item.standard,
                "ref": r.item.ref,
                "title": r.item.title,
                "topic": r.item.topic,
                "must_have": r.item.must_have,
                "optional": r.item.optional,
                "confidence": r.item.confidence,
                "unverified": r.item.unverified,
                "status": r.status,
                "evidence": r.evidence or None,
            }
            for r in report.results
        ],
        "facts": {
            "licenses_declared": list(facts.declared_licenses),
            "licenses_found": list(facts.license_ids),
            "licenses_effective": list(facts.effective_licenses),
            "base_models": [
                {
                    "repo_id": b.repo_id,
                    "name": b.name,
                    "revision": b.revision,
                    "relation": b.relation,
                    "status": b.status,
                    "licenses": list(b.licenses),
                }
                for b in facts.base_models
            ],
            "datasets": list(facts.datasets),
            "pipeline_tag": facts.pipeline_tag,
            "library_name": facts.library,
            "languages": list(facts.languages),
            "architecture": {
                "architectures": list(arch.architectures),
                "model_type": arch.model_type,
                "hidden_size": arch.hidden_size,
                "layers": arch.layers,
                "attention_heads": arch.attention_heads,
                "vocab_size": arch.vocab_size,
                "context_length": arch.context_length,
                "dtype": arch.dtype,
                "quantization": arch.quantization,
                "size_label": arch.size_label,
                "peft_type": arch.peft_type,
            },
            "parameters": None
            if facts.parameters is None
            else {
                "total": facts.parameters.total,
                "by_dtype": facts.parameters.by_dtype,
                "files": list(facts.parameters.files),
                "complete": facts.parameters.complete,
                "text": format_params(facts),
            },
            "eval_results": [
                {
                    "task": m.task,
                    "dataset": m.dataset,
                    "split": m.split,
                    "metric": m.metric,
                    "metric_name": m.metric_name,
                    "value": m.value,
                    "source": m.source,
                    "origin": m.origin,
                }
                for m in facts.eval_results
            ],
        },
        "findings": [f.to_dict() for f in report.findings],
        "failed": bool(report.at_or_above(fail_on)),
        "fail_on": fail_on.label,
    }


def render_json(report: CoverageReport, *, fail_on: Severity, tool_version: str) -> str:
    data = coverage_to_dict(report, fail_on=fail_on, tool_version=tool_version)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
