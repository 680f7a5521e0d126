"""The licence knowledge base (package data) matches the schema the engine relies on.

These tests read `licenses.yaml` with `yaml.safe_load` only; they do not import the engine, so a
broken data file is caught even before the loader exists. Besides the shape of every entry they
pin the facts the project reference (shared/reference/model-licenses.md) states, its coverage of
licence families and Hub ids, and its confidence marks: a row the reference marks unverified must
stay marked here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from importlib import resources
from typing import Any

import pytest
import yaml

ENTRY_KEYS = (
    "id",
    "name",
    "family",
    "version",
    "hub_ids",
    "license_names",
    "license_links",
    "spdx",
    "license_ref",
    "scancode_key",
    "category",
    "commercial_use",
    "conditions",
    "obligations",
    "restrictions",
    "flows_down",
    "outputs_trained_models_are_derivatives",
    "title_patterns",
    "key_phrases",
    "source",
    "checked",
    "confidence",
    "notes",
)
OPTIONAL_KEYS = frozenset({"checked"})
CONDITION_KEYS = ("mau_threshold", "revenue_threshold_usd", "regions")
OBLIGATION_KEYS = (
    "license_copy",
    "notice_file",
    "attribution",
    "derivative_name_prefix",
    "state_changes",
    "share_alike",
    "use_policy",
    "include_use_restrictions",
)
RESTRICTION_KEYS = (
    "acceptable_use",
    "non_commercial",
    "research_only",
    "no_improving_other_models",
)
CATEGORIES = frozenset(
    {
        "permissive",
        "weak-copyleft",
        "copyleft",
        "network-copyleft",
        "public-domain",
        "creative-commons",
        "open-rail",
        "community",
        "research",
        "proprietary",
    }
)
COMMERCIAL = frozenset({"yes", "no", "conditional"})
CONFIDENCE = frozenset({"verified", "secondary", "unverified"})
KEBAB = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")
LICENSE_REF = re.compile(r"^(?:LicenseRef-[A-Za-z0-9.\-]+|[A-Za-z0-9][A-Za-z0-9.\-+]*)$")


def _norm_text(text: str) -> str:
    """The matching contract for titles, key phrases and licence text: lowercase, every run of
    punctuation and whitespace becomes one space, a dot between digits stays ("version 2.0").
    Patterns are compared padded with spaces, so they match whole words only."""
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text.lower())
    return " ".join(re.sub(r"[^\w.]+", " ", text).split())


def _contains(haystack: str, pattern: str) -> bool:
    return f" {_norm_text(pattern)} " in f" {_norm_text(haystack)} "


def _norm_name(name: str) -> str:
    """Card ``license_name`` values are compared with whitespace and underscores as hyphens."""
    return re.sub(r"[\s_]+", "-", name.strip().lower()).strip("-")


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated ids: long id lists stay readable in a few lines."""
    return frozenset(text.split())


# Every `license:` id the Hub documents (reference section 3.1) except `other` and `unknown`,
# which name no licence.
HUB_IDS = _words(
    """
    apache-2.0 mit afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
    c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0
    cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0
    cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
    cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl
    gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl osl-3.0
    postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m openrail++ h-research intel-research apple-ascl apple-amlr openmdw-1.0
    openmdw-1.1 deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1
    llama3.2 llama3.3 llama4 grok2-community gemma
    """
)

# One entry per licence/version of every model-licence family in the reference.
REFERENCE_IDS = _words(
    """
    llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma gemma4 tongyi-qianwen
    tongyi-qianwen-research qwen qwen-research mnpl mrl deepseek bigscience-bloom-rail-1.0
    falcon-llm-1.0 falcon-180b-tii-1.0 falcon-llm-license creativeml-openrail-m openrail++
    sai-nc-community stabilityai-ai-community nvidia-open-model-license
    microsoft-research-license apache-2.0 mit cc-by-nc-4.0 cc-by-nc-sa-4.0
    """
)
REFERENCE_FAMILIES = _words(
    """
    llama gemma qwen mistral deepseek bloom-rail openrail falcon stability nvidia apache mit cc
    """
)

# ScanCode LicenseDB 30.4.4 keys the reference lists (section 3). llama-license-2023,
# llama-4-cla-2025 and bigscience-open-rail-m2 are only mentioned in notes: we could not pin
# them to a distinct licence text.
SCANCODE_KEYS = _words(
    """
    llama-2-license-2023 llama-3.1-license-2024 llama-3.2-license-2024 llama-3.3-license-2024
    llama-4-license-2025 gemma-tou-2024-04-01 tongyi-qianwen-2023 deepseek-la-1.0
    falcon-2-11b-1.0 bigscience-rail-1.0 bigscience-open-rail-m bigcode-open-rail-m-v1
    stability-ai-community-2024 stability-ai-nc-2023-12-06 nvidia-open-model-2025-04-28
    openmdw-1.0
    """
)

# Licences with a fact the reference marks ⚠ (unverified): the entry must say so.
REFERENCE_UNVERIFIED = _words(
    """
    gemma4 tongyi-qianwen-research qwen qwen-research mnpl mrl falcon-llm-1.0
    falcon-180b-tii-1.0 llama4 openrail++ cc-by-nc-4.0 cc-by-nc-sa-4.0
    """
)
# Only licences the reference checked against the primary text (✅) may claim `verified`.
REFERENCE_VERIFIED = _words(
    """
    llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 tongyi-qianwen deepseek
    creativeml-openrail-m openrail++ sai-nc-community
    """
)


def _load() -> dict[str, Any]:
    text = resources.files("modeltrust.licenses").joinpath("data/licenses.yaml").read_text("utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


DOC = _load()
ENTRIES: list[dict[str, Any]] = DOC["licenses"]
BY_ID: dict[str, dict[str, Any]] = {entry["id"]: entry for entry in ENTRIES}


def _aliases(entry: dict[str, Any]) -> set[str]:
    return {_norm_name(alias) for alias in (*entry["hub_ids"], *entry["license_names"])}


def _by_entry() -> Any:
    return pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])


def test_top_level() -> None:
    assert set(DOC) == {"schema_version", "checked", "licenses"}
    assert DOC["schema_version"] == 1
    dt.date.fromisoformat(DOC["checked"])
    assert len(ENTRIES) >= 90


@_by_entry()
def test_entry_keys_in_schema_order(entry: dict[str, Any]) -> None:
    expected = [key for key in ENTRY_KEYS if key in entry or key not in OPTIONAL_KEYS]
    assert list(entry) == expected
    assert list(entry["conditions"]) == list(CONDITION_KEYS)
    assert list(entry["obligations"]) == list(OBLIGATION_KEYS)
    assert list(entry["restrictions"]) == list(RESTRICTION_KEYS)


@_by_entry()
def test_entry_scalar_types_and_enums(entry: dict[str, Any]) -> None:
    assert KEBAB.match(entry["id"]) or entry["id"] == "openrail++"
    assert isinstance(entry["name"], str)
    assert entry["name"].strip()
    assert KEBAB.match(entry["family"])
    assert entry["version"] is None or isinstance(entry["version"], str)
    assert entry["category"] in CATEGORIES
    assert entry["commercial_use"] in COMMERCIAL
    assert entry["confidence"] in CONFIDENCE
    assert isinstance(entry["flows_down"], bool)
    assert entry["outputs_trained_models_are_derivatives"] in (True, False, None)
    assert entry["source"].startswith("https://")
    assert not re.search(r"\s", entry["source"])
    if "checked" in entry:
        dt.date.fromisoformat(entry["checked"])
    assert entry["notes"] is None or (isinstance(entry["notes"], str) and entry["notes"].strip())


@_by_entry()
def test_conditions_obligations_restrictions(entry: dict[str, Any]) -> None:
    conditions = entry["conditions"]
    for key in ("mau_threshold", "revenue_threshold_usd"):
        value = conditions[key]
        assert value is None or (isinstance(value, int) and value > 0)
    for region in conditions["regions"]:
        assert set(region) == {"region", "effect"}
        assert isinstance(region["effect"], str)
        assert region["effect"].strip()
    obligations = entry["obligations"]
    for key in ("license_copy", "notice_file", "state_changes", "share_alike"):
        assert isinstance(obligations[key], bool), key
    assert isinstance(obligations["include_use_restrictions"], bool)
    for key in ("attribution", "derivative_name_prefix"):
        assert obligations[key] is None or isinstance(obligations[key], str), key
    assert obligations["use_policy"] is None or obligations["use_policy"].startswith("https://")
    restrictions = entry["restrictions"]
    assert all(KEBAB.match(category) for category in restrictions["acceptable_use"])
    assert len(set(restrictions["acceptable_use"])) == len(restrictions["acceptable_use"])
    for key in ("non_commercial", "research_only", "no_improving_other_models"):
        assert isinstance(restrictions[key], bool), key


@_by_entry()
def test_commercial_use_agrees_with_restrictions(entry: dict[str, Any]) -> None:
    restrictions = entry["restrictions"]
    if restrictions["non_commercial"] or restrictions["research_only"]:
        assert entry["commercial_use"] == "no"
    if entry["commercial_use"] == "no":
        assert restrictions["non_commercial"] or restrictions["research_only"]
    conditions = entry["conditions"]
    if conditions["mau_threshold"] or conditions["revenue_threshold_usd"]:
        assert entry["commercial_use"] == "conditional"
    if entry["obligations"]["include_use_restrictions"]:
        assert entry["flows_down"]


@_by_entry()
def test_identifiers(entry: dict[str, Any]) -> None:
    spdx, key, ref = entry["spdx"], entry["scancode_key"], entry["license_ref"]
    if spdx is not None:
        assert not spdx.startswith("LicenseRef-")
        assert ref == spdx
    elif key is not None:
        assert ref == f"LicenseRef-scancode-{key}"
    else:
        assert ref == f"LicenseRef-modeltrust-{entry['id']}"
    assert LICENSE_REF.match(ref)
    assert key is None or KEBAB.match(key)
    assert entry["id"] in _aliases(entry)
    for alias in (*entry["hub_ids"], *entry["license_names"]):
        assert alias == alias.lower().strip()
        assert alias
    if spdx is not None:
        # GGUF headers and SBOMs carry SPDX ids: lowercased, they must resolve to this entry.
        assert spdx.lower() in _aliases(entry) | {_norm_name(ref)}
    for link in entry["license_links"]:
        assert link == link.lower()
        assert "://" not in link


def test_ids_and_aliases_unique() -> None:
    ids = Counter(entry["id"] for entry in ENTRIES)
    assert [name for name, count in ids.items() if count > 1] == []
    owners: dict[str, str] = {}
    clashes = []
    for entry in ENTRIES:
        for alias in _aliases(entry):
            if alias in owners:
                clashes.append((alias, owners[alias], entry["id"]))
            owners[alias] = entry["id"]
    assert clashes == []
    assert "other" not in owners
    assert "unknown" not in owners


def test_license_links_unambiguous() -> None:
    links = [(link, entry["id"]) for entry in ENTRIES for link in entry["license_links"]]
    overlaps = [
        (a, b) for a, owner_a in links for b, owner_b in links if owner_a != owner_b and a in b
    ]
    assert overlaps == []


def test_title_patterns_do_not_shadow_each_other() -> None:
    patterns = [(p, entry["id"]) for entry in ENTRIES for p in entry["title_patterns"]]
    for pattern, _ in patterns:
        assert pattern == pattern.lower().strip()
        assert pattern
    shadowed = [
        (a, owner_a, b, owner_b)
        for a, owner_a in patterns
        for b, owner_b in patterns
        if owner_a != owner_b and _contains(b, a)
    ]
    assert shadowed == []


# Licence headings (titles and version lines: identifiers, not licence text), normalised to
# lowercase, and the one entry whose title patterns must match each.
HEADINGS = [
    ("gnu general public license version 3, 29 june 2007", "gpl-3.0"),
    ("gnu lesser general public license version 3, 29 june 2007", "lgpl-3.0"),
    ("gnu affero general public license version 3, 19 november 2007", "agpl-3.0"),
    ("gnu general public license version 2, june 1991", "gpl-2.0"),
    ("gnu lesser general public license version 2.1, february 1999", "lgpl-2.1"),
    ("apache license version 2.0, january 2004", "apache-2.0"),
    ("llama 3.2 community license agreement llama 3.2 version release date", "llama3.2"),
    ("meta llama 3 community license agreement", "llama3"),
    ("tongyi qianwen research license agreement", "tongyi-qianwen-research"),
    ("tongyi qianwen license agreement", "tongyi-qianwen"),
    ("creativeml open rail-m dated august 22, 2022", "creativeml-openrail-m"),
    ("creativeml open rail++-m license dated july 26, 2023", "openrail++"),
    ("creative commons attribution 4.0 international public license", "cc-by-4.0"),
    (
        "creative commons attribution-noncommercial-sharealike 4.0 international public license",
        "cc-by-nc-sa-4.0",
    ),
    ("creative commons legal code attribution-noncommercial 3.0 unported", "cc-by-nc-3.0"),
    ("eclipse public license - v 2.0", "epl-2.0"),
    ("stability ai community license agreement", "stabilityai-ai-community"),
]


@pytest.mark.parametrize(("heading", "expected"), HEADINGS, ids=[e for _, e in HEADINGS])
def test_heading_matches_exactly_one_entry(heading: str, expected: str) -> None:
    matched = {
        entry["id"]
        for entry in ENTRIES
        if any(_contains(heading, p) for p in entry["title_patterns"])
    }
    assert matched == {expected}


def test_key_phrases_are_short_identifiers() -> None:
    sets: dict[frozenset[str], str] = {}
    for entry in ENTRIES:
        phrases = entry["key_phrases"]
        assert len(phrases) == 0 or 2 <= len(phrases) <= 5, entry["id"]
        assert len(set(phrases)) == len(phrases), entry["id"]
        for phrase in phrases:
            assert phrase == phrase.lower().strip(), entry["id"]
            assert len(phrase.split()) <= 8, (entry["id"], phrase)
            assert 1 <= len(_norm_text(phrase).split()) <= 8, (entry["id"], phrase)
        if phrases:
            key = frozenset(phrases)
            assert key not in sets, (entry["id"], sets.get(key))
            sets[key] = entry["id"]


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["key_phrases"]], ids=lambda e: str(e["id"])
)
def test_key_phrases_single_out_their_licence(entry: dict[str, Any]) -> None:
    """A text holding exactly one entry's phrases scores highest for that entry, with no tie.

    Licences nest (BSD-2 inside BSD-3 inside Clear BSD, GPL-3.0 inside AGPL-3.0), so the
    engine counts matched phrases; a tie would leave the text unidentified."""
    text = " | ".join(entry["key_phrases"])
    hits = {
        other["id"]: sum(_contains(text, phrase) for phrase in other["key_phrases"])
        for other in ENTRIES
    }
    best = max(hits.values())
    assert hits[entry["id"]] == best
    assert [i for i, count in hits.items() if count == best] == [entry["id"]]


def test_every_hub_id_covered() -> None:
    covered = {hub_id for entry in ENTRIES for hub_id in entry["hub_ids"]}
    assert sorted(HUB_IDS - covered) == []


def test_every_reference_licence_and_family_present() -> None:
    assert sorted(REFERENCE_IDS - set(BY_ID)) == []
    families = {entry["family"] for entry in ENTRIES}
    assert sorted(REFERENCE_FAMILIES - families) == []


def test_reference_scancode_keys_used() -> None:
    used = {entry["scancode_key"] for entry in ENTRIES}
    assert sorted(SCANCODE_KEYS - used) == []


@pytest.mark.parametrize("license_id", sorted(REFERENCE_UNVERIFIED))
def test_reference_unverified_marks_carried_over(license_id: str) -> None:
    entry = BY_ID[license_id]
    assert entry["confidence"] == "unverified" or "unverified" in (entry["notes"] or "").lower()


def test_only_reference_checked_entries_claim_verified() -> None:
    verified = {entry["id"] for entry in ENTRIES if entry["confidence"] == "verified"}
    assert sorted(verified - REFERENCE_VERIFIED) == []


def test_unverified_entries_explain_why() -> None:
    silent = [e["id"] for e in ENTRIES if e["confidence"] == "unverified" and not e["notes"]]
    assert silent == []


# --- facts from the reference tables (sections 1.1 to 1.3) -------------------------------

LLAMA = ("llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4")


@pytest.mark.parametrize("license_id", LLAMA)
def test_llama_common_terms(license_id: str) -> None:
    entry = BY_ID[license_id]
    assert entry["commercial_use"] == "conditional"
    assert entry["conditions"]["mau_threshold"] == 700_000_000
    assert entry["obligations"]["license_copy"]
    assert entry["obligations"]["notice_file"]
    assert entry["obligations"]["use_policy"]
    assert entry["flows_down"]


def test_llama_version_differences() -> None:
    assert BY_ID["llama2"]["obligations"]["derivative_name_prefix"] is None
    assert BY_ID["llama2"]["obligations"]["attribution"] is None
    assert BY_ID["llama3"]["obligations"]["derivative_name_prefix"] == "Llama 3"
    assert "Built with Meta Llama 3" in BY_ID["llama3"]["obligations"]["attribution"]
    for license_id in ("llama3.1", "llama3.2", "llama3.3", "llama4"):
        obligations = BY_ID[license_id]["obligations"]
        assert obligations["derivative_name_prefix"] == "Llama"
        assert "Built with Llama" in obligations["attribution"]
    improving = {i: BY_ID[i]["restrictions"]["no_improving_other_models"] for i in LLAMA}
    assert improving == {
        "llama2": True,
        "llama3": True,
        "llama3.1": False,
        "llama3.2": False,
        "llama3.3": False,
        "llama4": False,
    }
    eu = {i for i in LLAMA if any(r["region"] == "EU" for r in BY_ID[i]["conditions"]["regions"])}
    assert eu == {"llama3.2", "llama3.3", "llama4"}


def test_thresholds() -> None:
    assert BY_ID["tongyi-qianwen"]["conditions"]["mau_threshold"] == 100_000_000
    assert BY_ID["qwen"]["conditions"]["mau_threshold"] == 100_000_000
    assert BY_ID["stabilityai-ai-community"]["conditions"]["revenue_threshold_usd"] == 1_000_000


@pytest.mark.parametrize(
    "license_id",
    [
        "tongyi-qianwen-research",
        "qwen-research",
        "mnpl",
        "mrl",
        "sai-nc-community",
        "cc-by-nc-4.0",
        "cc-by-nc-sa-4.0",
        "cc-by-nc-nd-4.0",
    ],
)
def test_not_for_commercial_use(license_id: str) -> None:
    assert BY_ID[license_id]["commercial_use"] == "no"
    assert BY_ID[license_id]["flows_down"]


def test_output_trained_models() -> None:
    assert BY_ID["gemma"]["outputs_trained_models_are_derivatives"] is True
    assert BY_ID["deepseek"]["outputs_trained_models_are_derivatives"] is True
    for license_id in ("llama2", "llama3", "tongyi-qianwen", "stabilityai-ai-community"):
        assert BY_ID[license_id]["restrictions"]["no_improving_other_models"], license_id


@pytest.mark.parametrize(
    "license_id",
    [
        "gemma",
        "deepseek",
        "bigscience-bloom-rail-1.0",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "openrail++",
        "openrail",
        "bigcode-openrail-m",
    ],
)
def test_use_restrictions_flow_down(license_id: str) -> None:
    entry = BY_ID[license_id]
    assert entry["obligations"]["include_use_restrictions"]
    assert entry["obligations"]["share_alike"]
    assert entry["flows_down"]


def test_permissive_licences_only_keep_notices() -> None:
    for license_id in ("apache-2.0", "mit"):
        entry = BY_ID[license_id]
        assert entry["category"] == "permissive"
        assert entry["commercial_use"] == "yes"
        assert entry["obligations"]["license_copy"]
        assert not entry["flows_down"]
        assert not entry["obligations"]["share_alike"]
    # Apache-2.0 passes on a NOTICE only when the work ships one (section 4(d)): not a file
    # every repo must have, so no MT-LIC-008 for its absence; the notes say to keep one.
    assert not BY_ID["apache-2.0"]["obligations"]["notice_file"]
    assert "NOTICE" in BY_ID["apache-2.0"]["notes"]
    assert BY_ID["apache-2.0"]["obligations"]["state_changes"]
