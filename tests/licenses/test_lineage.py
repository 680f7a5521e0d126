"""Lineage: where bases are declared, how relations are inferred, and how the walk ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.licenses.lineage import declared_bases, walk_lineage
from modeltrust.licenses.repo import read_repo_facts
from modeltrust.sources import open_source
from modeltrust.sources.local import LocalSource
from tests.hubserver import HubServer, card
from tests.licenses.conftest import gguf_bytes


def repo(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def bases_of(tmp_path: Path, files: dict[str, str | bytes]) -> list[tuple[str | None, str, str]]:
    facts = read_repo_facts(LocalSource(repo(tmp_path / "m", files)))
    return [(b.repo_id, b.relation, b.declared_by) for b in declared_bases(facts)]


def test_card_base_model_string_and_explicit_relation(tmp_path: Path) -> None:
    files = {"README.md": card(base_model="meta/base", base_model_relation="quantized")}
    assert bases_of(tmp_path, files) == [("meta/base", "quantized", "card base_model")]


def test_a_list_of_bases_is_a_merge(tmp_path: Path) -> None:
    files = {"README.md": card(base_model=["a/one", "b/two", "a/one"])}
    assert bases_of(tmp_path, files) == [
        ("a/one", "merge", "card base_model"),
        ("b/two", "merge", "card base_model"),
    ]


@pytest.mark.parametrize(
    ("extra", "relation"),
    [
        ({}, "finetune"),
        ({"adapter_model.safetensors": b"x"}, "adapter"),
        ({"mergekit_config.yml": "models: []"}, "merge"),
        ({"config.json": json.dumps({"quantization_config": {"bits": 4}})}, "quantized"),
    ],
)
def test_relations_are_inferred_when_the_card_gives_none(
    tmp_path: Path, extra: dict[str, str | bytes], relation: str
) -> None:
    files: dict[str, str | bytes] = {"README.md": card(base_model="meta/base"), **extra}
    assert bases_of(tmp_path, files)[0][1] == relation


def test_quantized_when_the_repo_holds_gguf(tmp_path: Path) -> None:
    files = {"README.md": card(base_model="meta/base"), "m.gguf": gguf_bytes(tmp_path)}
    assert bases_of(tmp_path, files) == [("meta/base", "quantized", "card base_model")]


def test_tags_and_library_hint_the_relation(tmp_path: Path) -> None:
    files = {"README.md": card(base_model="meta/base", tags=["merge", "mergekit"])}
    assert bases_of(tmp_path, files)[0][1] == "merge"


def test_adapter_config_alone_declares_the_base(tmp_path: Path) -> None:
    files = {
        "adapter_config.json": json.dumps(
            {"base_model_name_or_path": "meta/base", "revision": "v2", "peft_type": "LORA"}
        )
    }
    facts = read_repo_facts(LocalSource(repo(tmp_path / "m", files)))
    (ref,) = declared_bases(facts)
    assert (ref.repo_id, ref.revision, ref.relation) == ("meta/base", "v2", "adapter")
    assert ref.declared_by.startswith("adapter_config.json")


def test_adapter_config_naming_the_card_base_adds_nothing(tmp_path: Path) -> None:
    files = {
        "README.md": card(base_model="meta/base"),
        "adapter_config.json": json.dumps({"base_model_name_or_path": "meta/base"}),
    }
    assert bases_of(tmp_path, files) == [("meta/base", "adapter", "card base_model")]


def test_adapter_trained_on_a_local_copy_of_the_card_base(tmp_path: Path) -> None:
    files = {
        "README.md": card(base_model="meta/base"),
        "adapter_config.json": json.dumps({"base_model_name_or_path": "/home/me/llama"}),
    }
    assert bases_of(tmp_path, files) == [("meta/base", "adapter", "card base_model")]


def test_gguf_bases_from_repo_urls_and_source(tmp_path: Path) -> None:
    data = gguf_bytes(
        tmp_path,
        bases=[
            {"name": "Base", "repo_url": "https://huggingface.co/meta/base"},
            {"name": "Other", "organization": "Somebody"},  # names no repo
        ],
        source_url="https://huggingface.co/acme/instruct/tree/main",
    )
    got = bases_of(tmp_path, {"model-Q8_0.gguf": data})
    assert got == [
        ("meta/base", "quantized", "GGUF general.base_model.0.*"),
        ("acme/instruct", "quantized", "GGUF general.source.*"),
    ]


def test_urls_to_datasets_or_other_hosts_are_not_bases(tmp_path: Path) -> None:
    data = gguf_bytes(
        tmp_path,
        bases=[
            {"repo_url": "https://huggingface.co/datasets/a/b"},
            {"repo_url": "https://github.com/a/b"},
        ],
    )
    got = bases_of(tmp_path, {"m.gguf": data})
    assert [g[0] for g in got] == [None, None]


# --- the walk (local folders) ------------------------------------------------------------------


def test_walk_through_local_folders(tmp_path: Path) -> None:
    models = tmp_path / "models"
    repo(models / "meta" / "base", {"README.md": card(license="llama3.1")})
    repo(models / "acme" / "ft", {"README.md": card(base_model="meta/base")})
    leaf = repo(models / "acme" / "ft-gguf", {"README.md": card(base_model="acme/ft")})
    lineage = walk_lineage(LocalSource(leaf))
    assert [(n.repo_id, n.depth, n.relation) for n in lineage.nodes] == [
        (None, 0, None),
        ("acme/ft", 1, "finetune"),
        ("meta/base", 2, "finetune"),
    ]
    assert lineage.complete and not lineage.findings


def test_a_merge_of_two_fine_tunes_of_one_base_reads_the_base_once(tmp_path: Path) -> None:
    models = tmp_path / "models"
    repo(models / "meta" / "base", {"README.md": card(license="mit")})
    repo(models / "a" / "one", {"README.md": card(base_model="meta/base")})
    repo(models / "b" / "two", {"README.md": card(base_model="meta/base")})
    leaf = repo(models / "c" / "merged", {"README.md": card(base_model=["a/one", "b/two"])})
    lineage = walk_lineage(LocalSource(leaf))
    assert [n.repo_id for n in lineage.nodes] == [None, "a/one", "b/two", "meta/base"]
    base = lineage.nodes[3]
    assert len(base.children) == 2 and not lineage.findings


def test_missing_base_and_local_path_base(tmp_path: Path) -> None:
    leaf = repo(
        tmp_path / "models" / "acme" / "ft",
        {"adapter_config.json": json.dumps({"base_model_name_or_path": "/mnt/base"})},
    )
    lineage = walk_lineage(LocalSource(leaf))
    assert [n.status for n in lineage.nodes] == ["ok", "unresolvable"]
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-004"]
    leaf2 = repo(tmp_path / "models" / "acme" / "ft2", {"README.md": card(base_model="meta/gone")})
    lineage = walk_lineage(LocalSource(leaf2))
    assert [n.status for n in lineage.nodes] == ["ok", "not_found"]
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-001"]
    assert "meta/gone" in lineage.findings[0].message


def test_card_and_adapter_config_disagree(tmp_path: Path) -> None:
    models = tmp_path / "models"
    repo(models / "meta" / "a", {"README.md": card(license="mit")})
    repo(models / "meta" / "b", {"README.md": card(license="mit")})
    leaf = repo(
        models / "acme" / "lora",
        {
            "README.md": card(base_model="meta/a"),
            "adapter_config.json": json.dumps({"base_model_name_or_path": "meta/b"}),
        },
    )
    lineage = walk_lineage(LocalSource(leaf))
    assert {n.repo_id for n in lineage.ancestors()} == {"meta/a", "meta/b"}
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-005"]


# --- the walk (Hub) ----------------------------------------------------------------------------


def test_cycles_are_found_and_not_followed(hub: HubServer) -> None:
    hub.add_repo("x/a", {"README.md": card(license="mit", base_model="x/b")})
    hub.add_repo("x/b", {"README.md": card(license="mit", base_model="x/c")})
    hub.add_repo("x/c", {"README.md": card(license="mit", base_model="X/A")})
    lineage = walk_lineage(open_source("x/a"))
    assert [n.repo_id for n in lineage.nodes if n.status == "ok"] == ["x/a", "x/b", "x/c"]
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-002"]
    assert [n.status for n in lineage.nodes][-1] == "cycle"


def test_a_model_naming_itself_is_a_cycle(hub: HubServer) -> None:
    hub.add_repo("x/self", {"README.md": card(license="mit", base_model="x/self")})
    lineage = walk_lineage(open_source("x/self"))
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-002"]
    assert len(hub.requests_to("/api/models/x/self")) == 1  # not opened a second time


def test_a_cycle_between_two_branches_of_a_merge(hub: HubServer) -> None:
    hub.add_repo("x/a", {"README.md": card(license="mit", base_model="x/b")})
    hub.add_repo("x/b", {"README.md": card(license="mit", base_model="x/a")})
    hub.add_repo("x/merge", {"README.md": card(license="mit", base_model=["x/a", "x/b"])})
    lineage = walk_lineage(open_source("x/merge"))
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-002"]


def test_depth_limit(hub: HubServer) -> None:
    for i in range(5):
        meta = {"license": "mit"} | ({"base_model": f"x/m{i + 1}"} if i < 4 else {})
        hub.add_repo(f"x/m{i}", {"README.md": card(**meta)})
    lineage = walk_lineage(open_source("x/m0"), max_depth=2)
    assert [(n.repo_id, n.status) for n in lineage.nodes] == [
        ("x/m0", "ok"),
        ("x/m1", "ok"),
        ("x/m2", "ok"),
        ("x/m3", "depth_limit"),
    ]
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-003"]
    full = walk_lineage(open_source("x/m0"))
    assert len(full.nodes) == 5 and full.complete


def test_every_node_is_pinned_to_a_commit(hub: HubServer) -> None:
    hub.add_repo("x/base", {"README.md": card(license="mit")})
    hub.add_repo("x/ft", {"README.md": card(license="mit", base_model="x/base")})
    lineage = walk_lineage(open_source("x/ft"))
    assert [n.revision for n in lineage.nodes] == [hub.head("x/ft"), hub.head("x/base")]


def test_adapter_revision_is_followed(hub: HubServer) -> None:
    first = hub.add_repo("x/base", {"README.md": card(license="mit")})
    hub.commit("x/base", {"README.md": card(license="apache-2.0")})
    hub.add_repo(
        "x/lora",
        {
            "adapter_config.json": json.dumps(
                {"base_model_name_or_path": "x/base", "revision": first}
            )
        },
    )
    lineage = walk_lineage(open_source("x/lora"))
    assert lineage.nodes[1].revision == first


def test_the_number_of_repos_read_is_bounded(hub: HubServer) -> None:
    parents = [f"x/p{i}" for i in range(6)]
    for name in parents:
        hub.add_repo(name, {"README.md": card(license="mit")})
    hub.add_repo("x/merge", {"README.md": card(license="mit", base_model=parents)})
    hub.add_repo("x/top", {"README.md": card(license="mit", base_model="x/merge")})
    lineage = walk_lineage(open_source("x/top"), max_repos=3)
    assert sum(1 for n in lineage.nodes if n.status == "ok") == 3
    assert [f.rule_id for f in lineage.findings] == ["MT-LIN-003"]
    assert "after 3 repos were read" in lineage.findings[0].message


def test_a_gguf_recording_its_own_repo_as_source_is_not_a_cycle(
    hub: HubServer, tmp_path: Path
) -> None:
    data = gguf_bytes(tmp_path, source_url="https://huggingface.co/google/gemma-2b")
    hub.add_repo("google/gemma-2b", {"README.md": card(license="gemma"), "gemma-2b.gguf": data})
    lineage = walk_lineage(open_source("google/gemma-2b"))
    assert len(lineage.nodes) == 1 and not lineage.findings
