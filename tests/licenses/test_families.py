"""One model under each licence family of the reference, checked through the test Hub, and the
use-profile conditions (monthly active users, revenue, the EU clause, non-commercial use)."""

from __future__ import annotations

import json

import pytest

from modeltrust.licenses.kb import LicenseEntry, default_kb
from modeltrust.licenses.obligations import UseProfile, _entry_votes, flows_down_restrictions
from tests.hubserver import HubServer, card
from tests.licenses.conftest import Check, rule_ids

# (repo, card metadata, effective licence id, commercial use with no numbers given)
FAMILIES = [
    ("meta-llama/Llama-2-7b", {"license": "llama2"}, "llama2", "conditional"),
    ("meta-llama/Meta-Llama-3-8B", {"license": "llama3"}, "llama3", "conditional"),
    ("meta-llama/Llama-3.1-8B", {"license": "llama3.1"}, "llama3.1", "conditional"),
    ("meta-llama/Llama-3.2-1B", {"license": "llama3.2"}, "llama3.2", "conditional"),
    ("meta-llama/Llama-3.3-70B-Instruct", {"license": "llama3.3"}, "llama3.3", "conditional"),
    ("meta-llama/Llama-4-Scout-17B-16E", {"license": "llama4"}, "llama4", "conditional"),
    ("google/gemma-2-9b", {"license": "gemma"}, "gemma", "conditional"),
    ("google/gemma-4-e4b", {"license": "other", "license_name": "gemma4"}, "gemma4", "allowed"),
    (
        "Qwen/Qwen-7B",
        {"license": "other", "license_name": "tongyi-qianwen-license-agreement"},
        "tongyi-qianwen",
        "conditional",
    ),
    (
        "Qwen/Qwen-1_8B",
        {"license": "other", "license_name": "tongyi-qianwen-research"},
        "tongyi-qianwen-research",
        "forbidden",
    ),
    (
        "Qwen/Qwen2.5-72B-Instruct",
        {"license": "other", "license_name": "qwen"},
        "qwen",
        "conditional",
    ),
    (
        "Qwen/Qwen2.5-3B-Instruct",
        {"license": "other", "license_name": "qwen-research"},
        "qwen-research",
        "forbidden",
    ),
    ("Qwen/Qwen3-8B", {"license": "apache-2.0"}, "apache-2.0", "allowed"),
    ("mistralai/Mistral-7B-v0.1", {"license": "apache-2.0"}, "apache-2.0", "allowed"),
    (
        "mistralai/Codestral-22B-v0.1",
        {"license": "other", "license_name": "mnpl"},
        "mnpl",
        "forbidden",
    ),
    (
        "mistralai/Mistral-Large-Instruct-2407",
        {"license": "other", "license_name": "mrl"},
        "mrl",
        "forbidden",
    ),
    (
        "deepseek-ai/DeepSeek-V3",
        {"license": "other", "license_name": "deepseek"},
        "deepseek",
        "conditional",
    ),
    ("deepseek-ai/DeepSeek-R1", {"license": "mit"}, "mit", "allowed"),
    (
        "bigscience/bloom",
        {"license": "bigscience-bloom-rail-1.0"},
        "bigscience-bloom-rail-1.0",
        "conditional",
    ),
    ("bigcode/starcoder", {"license": "bigcode-openrail-m"}, "bigcode-openrail-m", "conditional"),
    ("tiiuae/falcon-7b", {"license": "apache-2.0"}, "apache-2.0", "allowed"),
    (
        "tiiuae/falcon-180B",
        {"license": "other", "license_name": "falcon-180b-tii-1.0"},
        "falcon-180b-tii-1.0",
        "conditional",
    ),
    (
        "tiiuae/Falcon3-10B-Instruct",
        {
            "license": "other",
            "license_name": "falcon-llm-license",
            "license_link": "https://falconllm.tii.ae/falcon-terms-and-conditions.html",
        },
        "falcon-llm-license",
        "conditional",
    ),
    (
        "CompVis/stable-diffusion-v1-4",
        {"license": "creativeml-openrail-m"},
        "creativeml-openrail-m",
        "conditional",
    ),
    (
        "stabilityai/stable-diffusion-xl-base-1.0",
        {"license": "openrail++"},
        "openrail++",
        "conditional",
    ),
    (
        "stabilityai/sdxl-turbo",
        {"license": "other", "license_name": "sai-nc-community"},
        "sai-nc-community",
        "forbidden",
    ),
    (
        "stabilityai/stable-diffusion-3.5-large",
        {
            "license": "other",
            "license_name": "stabilityai-ai-community",
            "license_link": "LICENSE.md",
        },
        "stabilityai-ai-community",
        "conditional",
    ),
    ("microsoft/phi-4", {"license": "mit"}, "mit", "allowed"),
    ("allenai/OLMo-2-1124-7B", {"license": "apache-2.0"}, "apache-2.0", "allowed"),
    ("CohereForAI/c4ai-command-r-v01", {"license": "cc-by-nc-4.0"}, "cc-by-nc-4.0", "forbidden"),
    ("someone/nc-sa-model", {"license": "cc-by-nc-sa-4.0"}, "cc-by-nc-sa-4.0", "forbidden"),
    (
        "nvidia/some-model",
        {"license": "other", "license_name": "nvidia-open-model-license"},
        "nvidia-open-model-license",
        "allowed",
    ),
]


@pytest.mark.parametrize(
    ("repo", "meta", "license_id", "commercial"),
    FAMILIES,
    ids=[f[2] + ":" + f[0] for f in FAMILIES],
)
def test_each_family(
    hub: HubServer, check: Check, repo: str, meta: dict[str, str], license_id: str, commercial: str
) -> None:
    hub.add_repo(repo, {"README.md": card(**meta), "LICENSE": "licence text (fixture)"})
    report = check(repo)
    assert report.effective_ids == (license_id,)
    assert report.verdict.commercial_use == commercial, report.verdict.reasons
    assert report.revision == hub.head(repo)
    ids = rule_ids(report)
    assert "MT-LIC-002" not in ids and "MT-LIC-003" not in ids
    entry = report.effective[0].entry
    assert entry is not None
    assert ("MT-LIC-012" in ids) == (entry.confidence == "unverified")
    if commercial == "forbidden":
        assert ids & {"MT-LIC-005", "MT-LIC-006"}


# --- thresholds and regions --------------------------------------------------------------------


@pytest.fixture
def llama(hub: HubServer) -> str:
    hub.add_repo("meta-llama/Llama-3.1-8B", {"README.md": card(license="llama3.1")})
    return "meta-llama/Llama-3.1-8B"


def test_llama_under_the_mau_threshold_is_conditional_on_its_use_policy(
    check: Check, llama: str
) -> None:
    report = check(llama, monthly_active_users=5_000_000)
    assert report.verdict.commercial_use == "conditional"
    assert not any("--mau" in r for r in report.verdict.reasons)
    assert any("use restrictions" in r for r in report.verdict.reasons)
    assert "MT-LIC-011" not in rule_ids(report)


def test_llama_over_the_mau_threshold_is_forbidden(check: Check, llama: str) -> None:
    report = check(llama, monthly_active_users=800_000_000)
    assert report.verdict.commercial_use == "forbidden"
    assert "MT-LIC-011" in rule_ids(report)
    assert any("700,000,000" in r for r in report.verdict.reasons)


def test_mau_unknown_is_conditional_with_a_hint(check: Check, llama: str) -> None:
    report = check(llama)
    assert report.verdict.commercial_use == "conditional"
    assert any("--mau" in r for r in report.verdict.reasons)


@pytest.fixture
def sd3(hub: HubServer) -> str:
    meta = {"license": "other", "license_name": "stabilityai-ai-community"}
    hub.add_repo("stabilityai/sd3", {"README.md": card(**meta)})
    return "stabilityai/sd3"


def test_stability_community_revenue_threshold(check: Check, sd3: str) -> None:
    # Under the revenue threshold: allowed only under the acceptable-use policy.
    assert check(sd3, annual_revenue_usd=400_000).verdict.commercial_use == "conditional"
    over = check(sd3, annual_revenue_usd=2_000_000)
    assert over.verdict.commercial_use == "forbidden" and "MT-LIC-011" in rule_ids(over)
    hobby = check(sd3, commercial=False, annual_revenue_usd=2_000_000)
    assert hobby.verdict.use_permitted == "allowed"
    assert "MT-LIC-011" not in rule_ids(hobby)


@pytest.mark.parametrize(
    ("config", "eu", "expected"),
    [
        (
            {"architectures": ["MllamaForConditionalGeneration"], "vision_config": {}},
            True,
            "forbidden",
        ),
        ({"architectures": ["LlamaForCausalLM"]}, True, "conditional"),
        (None, True, "conditional"),
        (
            {"architectures": ["MllamaForConditionalGeneration"], "vision_config": {}},
            False,
            "conditional",
        ),
    ],
)
def test_llama_3_2_eu_clause_for_multimodal_models(
    hub: HubServer, check: Check, config: dict[str, object] | None, eu: bool, expected: str
) -> None:
    files = {"README.md": card(license="llama3.2")}
    if config is not None:
        files["config.json"] = json.dumps(config)
    hub.add_repo("meta-llama/Llama-3.2-11B-Vision", files)
    report = check("meta-llama/Llama-3.2-11B-Vision", eu_established=eu, monthly_active_users=10)
    assert report.verdict.commercial_use == expected, report.verdict.reasons
    assert ("MT-LIC-011" in rule_ids(report)) == (expected == "forbidden")


def test_research_only_for_research_use(hub: HubServer, check: Check) -> None:
    hub.add_repo(
        "Qwen/Qwen2.5-3B", {"README.md": card(license="other", license_name="qwen-research")}
    )
    commercial = check("Qwen/Qwen2.5-3B")
    finding = next(f for f in commercial.findings if f.rule_id == "MT-LIC-006")
    assert finding.severity.label == "high"
    research = check("Qwen/Qwen2.5-3B", commercial=False)
    assert research.verdict.commercial_use == "forbidden"
    assert research.verdict.use_permitted == "conditional"
    finding = next(f for f in research.findings if f.rule_id == "MT-LIC-006")
    assert finding.severity.label == "medium"


def test_non_commercial_licence_for_non_commercial_use(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/nc", {"README.md": card(license="cc-by-nc-4.0")})
    report = check("x/nc", commercial=False)
    assert report.verdict.use_permitted == "allowed"
    assert report.verdict.commercial_use == "forbidden"
    finding = next(f for f in report.findings if f.rule_id == "MT-LIC-005")
    assert finding.severity.label == "low"


def test_the_checklist_follows_the_distribution(hub: HubServer, check: Check) -> None:
    hub.add_repo("meta-llama/Llama-3.1-8B", {"README.md": card(license="llama3.1")})
    hub.add_repo(
        "acme/Llama-3.1-8B-acme",
        {"README.md": card(license="llama3.1", base_model="meta-llama/Llama-3.1-8B")},
    )
    shipped = {i.topic for i in check("acme/Llama-3.1-8B-acme").checklist}
    assert {
        "license-copy",
        "notice",
        "attribution",
        "naming",
        "use-policy",
        "mau-threshold",
    } <= shipped
    hosted = {i.topic for i in check("acme/Llama-3.1-8B-acme", distribution="hosted").checklist}
    assert "attribution" in hosted and "license-copy" not in hosted and "naming" not in hosted
    internal = {i.topic for i in check("acme/Llama-3.1-8B-acme", distribution="internal").checklist}
    assert "attribution" not in internal and "use-policy" in internal
    item = next(i for i in check("acme/Llama-3.1-8B-acme").checklist if i.topic == "attribution")
    assert "Built with Llama" in item.action and item.licenses == ("llama3.1",)


FLOW_DOWN = [
    e for e in default_kb().entries if flows_down_restrictions(e) and not e.forbids_commercial_use
]


def test_the_flow_down_families_are_all_covered() -> None:
    ids = {e.id for e in FLOW_DOWN}
    expected = {"openrail", "openrail++", "creativeml-openrail-m", "bigscience-openrail-m"}
    expected |= {"bigcode-openrail-m", "gemma", "llama2", "llama3", "llama3.1", "llama3.2"}
    expected |= {"llama3.3", "llama4"}
    assert expected <= ids


@pytest.mark.parametrize("entry", FLOW_DOWN, ids=[e.id for e in FLOW_DOWN])
def test_use_restrictions_that_flow_down_are_never_plainly_allowed(entry: LicenseEntry) -> None:
    """Whatever thresholds the user satisfies, commercial use of a licence whose use
    restrictions bind every recipient is conditional on them."""
    lenient = UseProfile(monthly_active_users=1, annual_revenue_usd=1)
    outcomes = {v for v, _ in _entry_votes(entry, lenient, multimodal=False)}
    assert "conditional" in outcomes
    assert "allowed" not in outcomes
