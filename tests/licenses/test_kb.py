"""The knowledge base loader: the shipped file loads, lookups work, broken files are refused
with a message naming the entry and key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modeltrust.errors import LicenseDataError
from modeltrust.licenses.kb import (
    default_kb,
    load_kb,
    normalise_name,
    parse_kb,
)

ENTRY: dict[str, Any] = {
    "id": "demo-1.0",
    "name": "Demo Licence 1.0",
    "family": "demo",
    "version": 1.0,  # YAML reads an unquoted version as a number: accepted as text
    "hub_ids": ["demo-1.0"],
    "license_names": ["Demo Licence", "demo_1"],
    "license_links": ["https://Example.com/Demo"],
    "spdx": None,
    "license_ref": None,
    "scancode_key": "demo-1.0",
    "category": "community",
    "commercial_use": "conditional",
    "conditions": {
        "mau_threshold": 1000,
        "revenue_threshold_usd": None,
        "regions": [{"region": "eu", "effect": "no multimodal rights"}],
    },
    "obligations": {
        "license_copy": True,
        "notice_file": False,
        "attribution": "Say Demo",
        "derivative_name_prefix": "Demo",
        "state_changes": False,
        "share_alike": False,
        "use_policy": None,
        "include_use_restrictions": False,
    },
    "restrictions": {
        "acceptable_use": ["weapons"],
        "non_commercial": False,
        "research_only": False,
        "no_improving_other_models": True,
    },
    "flows_down": True,
    "outputs_trained_models_are_derivatives": None,
    "title_patterns": ["demo licence"],
    "key_phrases": ["demo phrase one", "demo phrase two"],
    "source": "https://example.com/demo",
    "confidence": "secondary",
    "notes": None,
}


def doc(*entries: dict[str, Any], **top: Any) -> str:
    data = {"schema_version": 1, "checked": "2026-11-23", "licenses": list(entries)}
    data.update(top)
    return yaml.safe_dump(data, sort_keys=False)


def test_the_shipped_knowledge_base_loads_and_is_cached() -> None:
    kb = default_kb()
    assert kb is default_kb()
    assert kb.schema_version == 1 and len(kb.entries) > 50
    llama = kb.get("llama3.1")
    assert llama is not None and llama.family == "llama"
    assert llama.obligations.derivative_name_prefix == "Llama"
    assert llama.conditions.mau_threshold == 700_000_000
    assert kb.get("apache-2.0") is not None and kb.get("mit") is not None


def test_lookups_on_the_shipped_knowledge_base() -> None:
    kb = default_kb()
    assert kb.by_hub_id("Llama3.1") is kb.get("llama3.1")
    assert kb.by_hub_id("other") is None and kb.by_hub_id("unknown") is None
    assert kb.by_license_name("Tongyi Qianwen") is kb.get("tongyi-qianwen")
    assert kb.by_license_name("qwen-research") is kb.get("qwen-research")
    assert kb.by_spdx("apache-2.0") is kb.get("apache-2.0")
    assert kb.by_spdx("LicenseRef-scancode-llama-3.1-license-2024") is kb.get("llama3.1")
    assert kb.by_scancode("llama-3.1-license-2024") is kb.get("llama3.1")
    assert kb.by_link(
        "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/LICENSE"
    ) is kb.get("llama3.1")
    assert kb.by_link("https://example.org/whatever") is None
    assert kb.lookup("Apache-2.0") is kb.get("apache-2.0")
    assert kb.lookup("LicenseRef-scancode-llama-3.1-license-2024") is kb.get("llama3.1")


def test_entry_fields_are_typed_and_normalised() -> None:
    kb = parse_kb(doc(ENTRY))
    e = kb.entries[0]
    assert e.version == "1.0"
    assert e.license_ref == "LicenseRef-modeltrust-demo-1.0"
    assert e.license_links == ("example.com/demo",)
    assert e.conditions.regions[0].region == "EU"
    assert e.restrictions.acceptable_use == ("weapons",)
    assert e.checked == "2026-11-23"
    assert kb.by_license_name("demo licence") is e
    assert kb.by_license_name("DEMO 1") is e
    assert kb.by_link("http://www.example.com/demo/v1") is e
    assert not e.forbids_commercial_use


def test_optional_blocks_default_when_absent() -> None:
    minimal = {
        k: ENTRY[k] for k in ("id", "name", "family", "category", "commercial_use", "confidence")
    }
    e = parse_kb(doc(minimal)).entries[0]
    assert e.hub_ids == () and e.obligations.license_copy is False
    assert e.conditions.mau_threshold is None and e.flows_down is False


def _broken(path: list[str], value: Any) -> str:
    entry = copy.deepcopy(ENTRY)
    target = entry
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc(entry)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["id"], KeyError, "'id' is missing"),
        (["name"], "", "'name' must be a non-empty string"),
        (["category"], "freeware", "'category' is 'freeware'; allowed:"),
        (["commercial_use"], "maybe", "'commercial_use' is 'maybe'"),
        (["confidence"], "sure", "'confidence' is 'sure'"),
        (["flows_down"], "yes", "'flows_down' must be true or false"),
        (["conditions", "mau_threshold"], "many", "'mau_threshold' must be a non-negative"),
        (["conditions", "regions"], "EU", "'regions' must be a list"),
        (["key_phrases"], [1, 2], "'key_phrases' must be a list of non-empty strings"),
        (["obligations", "attribution"], ["x"], "'attribution' must be a string or null"),
        (["typo_key"], 1, "unknown key(s) 'typo_key'"),
        (["restrictions", "commercial"], True, "unknown key(s) 'commercial'"),
    ],
)
def test_schema_violations_name_the_entry_and_key(
    path: list[str], value: Any, message: str
) -> None:
    with pytest.raises(LicenseDataError) as excinfo:
        parse_kb(_broken(path, value), origin="kb.yaml")
    text = str(excinfo.value)
    assert "'kb.yaml' is invalid" in text and message in text
    if path != ["id"]:
        assert "licence 'demo-1.0'" in text


def test_duplicate_aliases_across_entries_are_refused() -> None:
    other = copy.deepcopy(ENTRY) | {"id": "other-demo", "hub_ids": [], "scancode_key": None}
    other["license_names"] = ["demo-licence"]  # normalises to the first entry's alias
    with pytest.raises(LicenseDataError, match="license_name 'demo-licence' belongs to both"):
        parse_kb(doc(ENTRY, other))


def test_top_level_problems() -> None:
    with pytest.raises(LicenseDataError, match="not valid YAML"):
        parse_kb("licenses: [unclosed")
    with pytest.raises(LicenseDataError, match="expected a mapping"):
        parse_kb("- just a list")
    with pytest.raises(LicenseDataError, match="this modeltrust reads version 1"):
        parse_kb(doc(ENTRY, schema_version=2))
    with pytest.raises(LicenseDataError, match="'licenses' is empty"):
        parse_kb(doc())


def test_load_kb_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(doc(ENTRY))
    assert load_kb(path).entries[0].id == "demo-1.0"
    with pytest.raises(LicenseDataError, match="could not be read"):
        load_kb(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("Llama 3.1", "llama-3.1"), ("  tongyi_qianwen ", "tongyi-qianwen"), ("MRL", "mrl")],
)
def test_normalise_name(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal
