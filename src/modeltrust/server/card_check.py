"""``POST /api/validate-yaml``: a README judged before it is pushed.

huggingface_hub sends the README here whenever a commit adds one, before any byte of the commit
(``hub-api-contract.md`` §6a): a 400 stops the push with our messages. Two checks run:

1. The metadata's form, as the Hub checks it: YAML that parses to a mapping, and the keys tools
   read with the types they expect (``model-index`` a list, ``license`` a name or a list...).
2. The server's policy on what the card alone decides: the licence (identified from the
   metadata, the model alone, its lineage not followed: bases are judged by the audit that
   follows the push) and the documentation coverage. What the policy fails is an error; what
   it warns about is a warning, which the client shows.

The push's own audit still judges everything (files, lineage); this is an early answer.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modeltrust.server.service import GovernedHub

MISSING = "Empty or missing yaml metadata in repo card (https://huggingface.co/docs/hub/model-cards#model-card-metadata)"
_TYPES: dict[str, tuple[type, ...]] = {
    "license": (str, list),
    "license_name": (str,),
    "license_link": (str,),
    "tags": (str, list),
    "datasets": (str, list),
    "language": (str, list),
    "base_model": (str, list),
    "base_model_relation": (str,),
    "pipeline_tag": (str,),
    "library_name": (str,),
    "metrics": (str, list),
    "model-index": (list,),
    "widget": (list, dict),
}


def check_card(hub: GovernedHub, content: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a README's text."""
    _, errors, warnings = _metadata(content)
    if errors:
        return errors, warnings
    policy_errors, policy_warnings = _judge(hub, content)
    return policy_errors, warnings + policy_warnings


def _metadata(content: str) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    from modeltrust.licenses.card import parse_card

    card = parse_card(content)
    if card.problem is not None:
        return None, [f"The YAML metadata of README.md cannot be read: {card.problem}."], []
    if not card.has_metadata or not card.data:
        return None, [], [MISSING]
    data = dict(card.data)
    errors = []
    for key, types in _TYPES.items():
        if key in data and data[key] is not None and not isinstance(data[key], types):
            wanted = " or ".join(_NAMES[t] for t in types)
            errors.append(f'"{key}" must be {wanted}, not {type(data[key]).__name__}.')
    for key in ("license", "tags", "datasets", "language", "base_model"):
        value = data.get(key)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            errors.append(f'"{key}" must list text values only.')
    model_index = data.get("model-index")
    if isinstance(model_index, list) and not all(isinstance(m, dict) for m in model_index):
        errors.append('"model-index" must be a list of results, each a mapping.')
    return data, errors, []


_NAMES: dict[type, str] = {str: "text", list: "a list", dict: "a mapping"}


def _judge(hub: GovernedHub, content: str) -> tuple[list[str], list[str]]:
    from modeltrust.cards.coverage import assess_coverage
    from modeltrust.cards.facts import collect_facts
    from modeltrust.licenses.check import check_license
    from modeltrust.policy.engine import Evidence, area_of, evaluate
    from modeltrust.sources.local import LocalSource

    folder = Path(tempfile.mkdtemp(prefix="card-", dir=hub.work))
    try:
        (folder / "README.md").write_text(content, encoding="utf-8")
        source = LocalSource(folder, ref="README.md", every_file=True, nearby=False)
        licence = check_license(source, hub.policy.use.profile(), max_depth=0)
        coverage = assess_coverage(collect_facts(source, max_depth=0, license_report=licence))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    evaluation = evaluate(
        hub.policy,
        Evidence(
            subject="README.md",
            repo_id=None,
            findings=(),
            license=licence,
            documentation=coverage,
        ),
    )
    errors, warnings = [], []
    for decision in evaluation.decisions:
        if area_of(decision.finding.rule_id) not in ("license", "documentation", "policy"):
            continue
        text = f"{decision.finding.rule_id}: {decision.finding.message}"
        if decision.outcome == "fail":
            errors.append(f"modeltrust policy '{hub.policy.name}' refuses this card: {text}")
        elif decision.outcome == "warn":
            warnings.append(f"modeltrust policy '{hub.policy.name}': {text}")
    return errors, warnings
