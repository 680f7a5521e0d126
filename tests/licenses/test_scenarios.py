"""End-to-end licence checks through the test Hub: mislabelled derivatives, merges, adapters,
quantized GGUF copies, distilled models, cycles, missing bases, repos without a card, pinning
and access control."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.errors import SourceError
from modeltrust.findings import Severity
from tests.hubserver import HubServer, card
from tests.licenses.conftest import Check, gguf_bytes, rule_ids

LLAMA31 = "meta-llama/Llama-3.1-8B"


@pytest.fixture
def bases(hub: HubServer) -> HubServer:
    hub.add_repo(
        LLAMA31,
        {
            "README.md": card(license="llama3.1"),
            "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n(fixture)\n",
            "config.json": json.dumps({"architectures": ["LlamaForCausalLM"]}),
        },
        gated="manual",
    )
    hub.add_repo("Qwen/Qwen2.5-7B", {"README.md": card(license="apache-2.0")})
    hub.add_repo(
        "Qwen/Qwen2.5-3B-Instruct",
        {"README.md": card(license="other", license_name="qwen-research")},
    )
    hub.add_repo("acme/nc-model", {"README.md": card(license="cc-by-nc-4.0")})
    return hub


def test_mislabelled_llama_fine_tune(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "acme/super-chat-8b",
        {
            "README.md": card(license="apache-2.0", base_model=LLAMA31),
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
        },
    )
    report = check("acme/super-chat-8b", monthly_active_users=1000)
    assert report.effective_ids == ("apache-2.0", "llama3.1")
    mislabel = next(f for f in report.findings if f.rule_id == "MT-LIC-003")
    assert mislabel.severity is Severity.HIGH
    assert "Llama-3.1-8B" in mislabel.message and "finetune" in mislabel.message
    naming = next(f for f in report.findings if f.rule_id == "MT-LIC-004")
    assert "'super-chat-8b'" in naming.message and "'Llama'" in naming.message
    # Under 700M MAU, still only under the acceptable-use policy, which flows down.
    assert report.verdict.commercial_use == "conditional"
    assert any("use restrictions" in r for r in report.verdict.reasons)
    assert {"attribution", "naming", "license-copy"} <= {i.topic for i in report.checklist}
    base = report.lineage.nodes[1]
    assert (base.repo_id, base.relation, base.depth) == (LLAMA31, "finetune", 1)


def test_correctly_labelled_and_named_fine_tune(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "acme/Llama-3.1-8B-acme-chat",
        {
            "README.md": card(license="llama3.1", base_model=LLAMA31),
            "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n",
            "NOTICE": "Llama 3.1 is licensed under the Llama 3.1 Community License.",
        },
    )
    report = check("acme/Llama-3.1-8B-acme-chat", monthly_active_users=1000)
    assert report.effective_ids == ("llama3.1",)
    assert not rule_ids(report) & {"MT-LIC-003", "MT-LIC-004", "MT-LIC-007", "MT-LIC-008"}
    assert not report.at_or_above(Severity.MEDIUM)


def test_merge_inherits_every_parent(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "acme/merged",
        {
            "README.md": card(
                license="apache-2.0", base_model=["Qwen/Qwen2.5-7B", "acme/nc-model"]
            ),
            "mergekit_config.yml": "merge_method: slerp\n",
        },
    )
    report = check("acme/merged")
    assert set(report.effective_ids) == {"apache-2.0", "cc-by-nc-4.0"}
    assert [n.relation for n in report.lineage.ancestors()] == ["merge", "merge"]
    assert report.verdict.commercial_use == "forbidden"
    assert {"MT-LIC-003", "MT-LIC-005"} <= rule_ids(report)


def test_adapter_without_a_card_inherits_its_base(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "acme/llama-lora",
        {
            "adapter_config.json": json.dumps(
                {"base_model_name_or_path": LLAMA31, "peft_type": "LORA", "r": 8}
            ),
            "adapter_model.safetensors": b"\0" * 64,
        },
    )
    report = check("acme/llama-lora", monthly_active_users=10)
    assert report.effective_ids == ("llama3.1",)
    node = report.lineage.nodes[1]
    assert node.relation == "adapter" and node.declared_by.startswith("adapter_config.json")
    assert "MT-LIC-001" in rule_ids(report)  # the adapter itself declares nothing (low) ...
    assert report.verdict.commercial_use == "conditional"  # ... and is under its base's licence


def test_apache_adapter_on_a_research_only_base(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "acme/colpali-like",
        {
            "README.md": card(license="apache-2.0", base_model="Qwen/Qwen2.5-3B-Instruct"),
            "adapter_config.json": json.dumps(
                {"base_model_name_or_path": "Qwen/Qwen2.5-3B-Instruct"}
            ),
        },
    )
    report = check("acme/colpali-like")
    assert report.verdict.commercial_use == "forbidden"
    assert {"MT-LIC-003", "MT-LIC-006"} <= rule_ids(report)
    assert report.lineage.nodes[1].relation == "adapter"


def test_quantized_gguf_copy_keeps_the_base_licence(
    bases: HubServer, check: Check, tmp_path: Path
) -> None:
    data = gguf_bytes(
        tmp_path,
        license="llama3.1",
        bases=[
            {
                "name": "Llama 3.1 8B",
                "organization": "Meta Llama",
                "repo_url": f"https://huggingface.co/{LLAMA31}",
            }
        ],
    )
    bases.add_repo(
        "quant/Llama-3.1-8B-GGUF",
        {"Llama-3.1-8B-Q4_K_M.gguf": data, "Llama-3.1-8B-Q8_0.gguf": data},
    )
    report = check("quant/Llama-3.1-8B-GGUF", monthly_active_users=1)
    assert report.effective_ids == ("llama3.1",)
    assert [(n.repo_id, n.relation) for n in report.lineage.ancestors()] == [(LLAMA31, "quantized")]
    assert "MT-LIC-003" not in rule_ids(report)
    evidence = report.licenses[report.lineage.root.key].evidence
    assert evidence[0].origin == "GGUF general.license"
    # The headers were read with Range requests, never downloaded whole.
    gguf_requests = bases.requests_to(".gguf")
    assert gguf_requests and all("range" in r.headers for r in gguf_requests)


@pytest.mark.parametrize("with_card", [True, False])
def test_quantized_copy_declaring_no_licence_resolves_to_its_base(
    bases: HubServer, check: Check, tmp_path: Path, with_card: bool
) -> None:
    # The usual quantizer's repo: lineage only in the card's base_model and the GGUF general.*
    # keys, no licence of its own anywhere. Its base's licence and verdict are its own.
    data = gguf_bytes(
        tmp_path,
        bases=[{"name": "Llama 3.1 8B", "repo_url": f"https://huggingface.co/{LLAMA31}"}],
    )
    files: dict[str, bytes | str] = {"Llama-3.1-8B-Q4_K_M.gguf": data}
    if with_card:
        files["README.md"] = card("# Llama 3.1 8B GGUF\n", base_model=LLAMA31)
    bases.add_repo("quant/Llama-3.1-8B-GGUF", files)
    report = check("quant/Llama-3.1-8B-GGUF", monthly_active_users=1)
    assert report.effective_ids == ("llama3.1",)
    assert [(n.repo_id, n.relation) for n in report.lineage.ancestors()] == [(LLAMA31, "quantized")]
    assert report.verdict.commercial_use == "conditional", report.verdict.reasons
    assert not any("no identifiable licence" in r for r in report.verdict.reasons)
    (none,) = [f for f in report.findings if f.rule_id == "MT-LIC-001"]
    assert none.severity is Severity.LOW and "llama3.1" in none.message
    assert not [f for f in report.findings if f.severity >= Severity.MEDIUM]


def test_no_licence_anywhere_in_the_lineage_stays_unknown(hub: HubServer, check: Check) -> None:
    hub.add_repo("someone/base", {"README.md": card("# Base\n")})
    hub.add_repo("someone/tune", {"README.md": card("# Tune\n", base_model="someone/base")})
    report = check("someone/tune")
    assert report.verdict.commercial_use == "unknown"
    assert all(f.severity is Severity.HIGH for f in report.findings if f.rule_id == "MT-LIC-001")


def test_quantized_copy_with_a_different_licence_is_a_review_lead(
    bases: HubServer, check: Check, tmp_path: Path
) -> None:
    bases.add_repo(
        "quant/model-GGUF",
        {
            "README.md": card(license="mit", base_model=LLAMA31, base_model_relation="quantized"),
            "model.gguf": gguf_bytes(tmp_path),
        },
    )
    report = check("quant/model-GGUF")
    mislabel = next(f for f in report.findings if f.rule_id == "MT-LIC-003")
    assert mislabel.severity is Severity.MEDIUM and "quantized" in mislabel.message


def test_distilled_model_keeps_its_base_weights_licence(bases: HubServer, check: Check) -> None:
    bases.add_repo(
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        {"README.md": card(license="mit", base_model=LLAMA31)},
    )
    bases.add_repo(
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        {"README.md": card(license="mit", base_model="Qwen/Qwen2.5-7B")},
    )
    llama = check("deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    assert llama.effective_ids == ("mit", "llama3.1")
    assert {"MT-LIC-003", "MT-LIC-004"} <= rule_ids(llama)
    qwen = check("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B")
    assert qwen.effective_ids == ("mit", "apache-2.0")
    assert not rule_ids(qwen) & {"MT-LIC-003", "MT-LIC-004"}
    assert qwen.verdict.commercial_use == "allowed"


def test_cycle(hub: HubServer, check: Check) -> None:
    hub.add_repo(
        "x/a", {"README.md": card(license="mit", base_model="x/b"), "LICENSE": "MIT License\n"}
    )
    hub.add_repo("x/b", {"README.md": card(license="mit", base_model="x/a")})
    report = check("x/a")
    assert "MT-LIN-002" in rule_ids(report)
    assert report.verdict.commercial_use == "allowed"  # every repo on the cycle was read


def test_missing_base(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/ft", {"README.md": card(license="apache-2.0", base_model="x/deleted")})
    report = check("x/ft")
    assert "MT-LIN-001" in rule_ids(report)
    assert report.verdict.commercial_use == "unknown"
    assert any("x/deleted" in r for r in report.verdict.reasons)
    assert [n.status for n in report.lineage.nodes] == ["ok", "not_found"]


def test_depth_limit_makes_the_verdict_unknown(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/base", {"README.md": card(license="mit")})
    hub.add_repo("x/ft", {"README.md": card(license="mit", base_model="x/base")})
    report = check("x/ft", max_depth=0)
    assert "MT-LIN-003" in rule_ids(report)
    assert report.verdict.commercial_use == "unknown"


def test_repo_without_a_card(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/bare", {"config.json": "{}", "model.safetensors": b"\0" * 16})
    report = check("x/bare")
    assert report.effective_ids == ()
    assert "MT-LIC-001" in rule_ids(report)
    assert report.verdict.commercial_use == "unknown"
    assert report.lineage.root.facts is not None and not report.lineage.root.facts.card.present


def test_unreadable_card_metadata_is_a_finding(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/broken", {"README.md": "---\nlicense: [mit\n---\n", "LICENSE": "MIT License\n"})
    report = check("x/broken")
    assert "MT-LIC-010" in rule_ids(report)
    assert report.effective_ids == ("mit",)  # the licence file still tells


def test_card_and_licence_file_disagree(hub: HubServer, check: Check) -> None:
    hub.add_repo(
        "x/confused",
        {
            "README.md": card(license="apache-2.0"),
            "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n",
        },
    )
    report = check("x/confused")
    assert "MT-LIC-009" in rule_ids(report)
    assert set(report.effective_ids) == {"apache-2.0", "llama3.1"}


def test_unknown_licence_makes_the_verdict_unknown(hub: HubServer, check: Check) -> None:
    hub.add_repo("x/custom", {"README.md": card(license="other", license_name="Acme Terms 2")})
    report = check("x/custom")
    assert report.effective_ids == ("acme-terms-2",)
    assert "MT-LIC-002" in rule_ids(report)
    assert report.verdict.commercial_use == "unknown"


def test_revision_is_pinned_and_recorded(hub: HubServer, check: Check) -> None:
    first = hub.add_repo("x/m", {"README.md": card(license="cc-by-nc-4.0")})
    hub.commit("x/m", {"README.md": card(license="mit")}, message="relicense")
    assert check("x/m").effective_ids == ("mit",)
    old = check(f"x/m@{first}")
    assert old.revision == first and old.effective_ids == ("cc-by-nc-4.0",)
    hub.commit("x/m", {"README.md": card(license="apache-2.0")}, branch="next")
    nxt = check("x/m@next")
    assert nxt.revision == hub.head("x/m", "next") and nxt.effective_ids == ("apache-2.0",)
    assert nxt.lineage.root.revision == nxt.revision


def test_gated_base_is_read_from_its_public_card(bases: HubServer, check: Check) -> None:
    bases.add_repo("acme/ft", {"README.md": card(license="llama3.1", base_model=LLAMA31)})
    report = check("acme/ft", monthly_active_users=1)
    base = report.licenses[report.lineage.nodes[1].key]
    assert base.ids == ("llama3.1",)
    # Its LICENSE needs an accepted gate: that is reported, the card still tells the licence.
    assert "MT-LIC-010" in rule_ids(report)


def test_private_target_and_private_base(
    hub: HubServer, check: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("corp/base", {"README.md": card(license="mit")}, private=True, users=["alice"])
    hub.add_repo("corp/ft", {"README.md": card(license="mit", base_model="corp/base")})
    report = check("corp/ft")
    finding = next(f for f in report.findings if f.rule_id == "MT-LIN-001")
    assert "HF_TOKEN" in finding.message
    with pytest.raises(SourceError, match="private"):
        check("corp/base")
    monkeypatch.setenv("HF_TOKEN", "hf_alice_token")
    report = check("corp/ft")
    assert "MT-LIN-001" not in rule_ids(report) and report.lineage.complete
