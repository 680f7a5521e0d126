"""Card metadata parsing and licence identification from cards, licence files and GGUF keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeltrust.licenses.card import MAX_FRONT_MATTER, parse_card
from modeltrust.licenses.identify import (
    identify,
    match_license_text,
    normalise_text,
    scancode_keys,
)
from modeltrust.licenses.kb import default_kb
from modeltrust.licenses.repo import read_repo_facts
from modeltrust.sources.local import LocalSource
from tests.hubserver import card
from tests.licenses.conftest import gguf_bytes

KB = default_kb()


# --- card metadata ---------------------------------------------------------------------------


def test_card_metadata_is_read() -> None:
    meta = parse_card(card(license="llama3.1", base_model=["a/b", "c/d"], tags=["x"]))
    assert meta.has_metadata and meta.problem is None
    assert meta.text("license") == "llama3.1"
    assert meta.texts("base_model") == ("a/b", "c/d")
    assert meta.texts("license") == ("llama3.1",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("---\nlicense: mit\n# never closed\n", "never closed"),
        ("---\nlicense: [mit\n---\n", "not valid YAML at line"),
        ("---\n- a\n- b\n---\n", "is a list, not a mapping"),
        ("---\n" + "k: " + "[" * 1200 + "]" * 1200 + "\n---\n", "nested too deeply"),
        ("---\n" + "x" * (MAX_FRONT_MATTER + 1) + "\n---\n", "more than the"),
        ("---\nkey: !!python/object/apply:os.system ['true']\n---\n", "not valid YAML"),
    ],
)
def test_malformed_metadata_is_a_problem_not_an_exception(text: str, problem: str) -> None:
    meta = parse_card(text)
    assert meta.problem is not None and problem in meta.problem
    assert meta.data == {}


def test_cards_without_metadata_and_no_card() -> None:
    assert parse_card("# Just prose\n").has_metadata is False
    assert parse_card("\ufeff---\nlicense: mit\n---\n").text("license") == "mit"
    assert parse_card("---\n---\n").data == {}
    assert parse_card(None).present is False


def test_non_scalar_values_are_ignored() -> None:
    meta = parse_card(card(license={"nested": True}, base_model=[1, None, "a/b", True]))
    assert meta.text("license") is None
    assert meta.texts("base_model") == ("1", "a/b")


# --- licence texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\nLlama 3.1 Version Release Date: July 23, 2024\n",
            "llama3.1",
        ),
        ("# Llama 3.2 Community License Agreement\n\n(terms)\n", "llama3.2"),
        ("                Apache License\n           Version 2.0, January 2004\n", "apache-2.0"),
        ("MIT License\n\nCopyright (c) 2026 Someone\n", "mit"),
        ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n", "gpl-3.0"),
        ("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991\n", "gpl-2.0"),
        ("GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n", "lgpl-3.0"),
        ("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007\n", "agpl-3.0"),
        ("Tongyi Qianwen LICENSE AGREEMENT\n", "tongyi-qianwen"),
        ("Gemma Terms of Use\n\nLast modified: ...\n", "gemma"),
        ("STABILITY AI COMMUNITY LICENSE AGREEMENT\n", "stabilityai-ai-community"),
        ("Attribution-NonCommercial 4.0 International\n", "cc-by-nc-4.0"),
    ],
)
def test_licence_files_are_recognised_by_title(text: str, expected: str) -> None:
    entry = match_license_text(text, KB)
    assert entry is not None and entry.id == expected


def test_key_phrases_identify_a_text_without_a_title() -> None:
    text = (
        "Copyright 2026 Someone\n\n"
        + "\n" * 20
        + "permission is hereby granted, free of charge, to any person ...\n"
        "... to deal in the Software without restriction ...\n"
    )
    entry = match_license_text(text, KB)
    assert entry is not None and entry.id == "mit"


def test_unknown_and_one_phrase_texts_are_not_guessed() -> None:
    assert match_license_text("Proprietary. All rights reserved.\n", KB) is None
    assert match_license_text("Some notes mentioning the apache license once.\n", KB) is None


def test_normalise_text_keeps_version_numbers() -> None:
    assert normalise_text("Version 2.0, January 2004.") == "version 2.0 january 2004"
    assert normalise_text("**LLAMA 3.1**\n\tCOMMUNITY") == "llama 3.1 community"


def test_scancode_expression_keys() -> None:
    assert scancode_keys("mit AND (apache-2.0 OR gpl-2.0 WITH classpath-exception-2.0)") == (
        "mit",
        "apache-2.0",
        "gpl-2.0",
        "classpath-exception-2.0",
    )


# --- a repo's declarations -------------------------------------------------------------------


def facts_of(tmp_path: Path, files: dict[str, str | bytes]):  # type: ignore[no-untyped-def]
    root = tmp_path / "repo"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_repo_facts(LocalSource(root))


def test_card_hub_id(tmp_path: Path) -> None:
    found = identify(facts_of(tmp_path, {"README.md": card(license="Apache-2.0")}), KB)
    assert found.declared == ("apache-2.0",) and found.ids == ("apache-2.0",)


def test_other_with_license_name(tmp_path: Path) -> None:
    readme = card(license="other", license_name="Tongyi Qianwen", license_link="LICENSE")
    found = identify(facts_of(tmp_path, {"README.md": readme}), KB)
    assert found.declared == ("tongyi-qianwen",)
    assert found.evidence[0].origin == "card license_name"


def test_other_with_an_unknown_license_name_keeps_its_name(tmp_path: Path) -> None:
    readme = card(license="other", license_name="Acme Model License v2")
    found = identify(facts_of(tmp_path, {"README.md": readme}), KB)
    assert found.ids == ("acme-model-license-v2",)
    assert found.unknown_ids(KB) == ("acme-model-license-v2",)


def test_other_with_only_a_link(tmp_path: Path) -> None:
    readme = card(license="other", license_link="https://ai.google.dev/gemma/terms")
    assert identify(facts_of(tmp_path, {"README.md": readme}), KB).declared == ("gemma",)


def test_other_with_a_link_to_the_licence_file(tmp_path: Path) -> None:
    readme = card(license="other", license_link="LICENSE.md")
    files = {"README.md": readme, "LICENSE.md": "Qwen RESEARCH LICENSE AGREEMENT\n"}
    assert identify(facts_of(tmp_path, files), KB).declared == ("qwen-research",)


def test_bare_other_and_unknown(tmp_path: Path) -> None:
    assert identify(facts_of(tmp_path, {"README.md": card(license="other")}), KB).ids == ("other",)
    found = identify(facts_of(tmp_path / "u", {"README.md": card(license="unknown")}), KB)
    assert found.ids == () and found.evidence[0].value == "unknown"


def test_files_and_card_together(tmp_path: Path) -> None:
    files = {
        "README.md": card(license="apache-2.0"),
        "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n",
        "NOTICE": "Llama 3.1 is licensed under ...",
        "USE_POLICY.md": "not a licence",
        "license_check.py": "not a licence either",
    }
    facts = facts_of(tmp_path, files)
    assert [t.path for t in facts.license_texts] == ["LICENSE"]
    assert facts.notice_files == ("NOTICE",)
    found = identify(facts, KB)
    assert found.declared == ("apache-2.0",)
    assert found.ids == ("apache-2.0", "llama3.1")


def test_gguf_licence_keys(tmp_path: Path) -> None:
    data = gguf_bytes(tmp_path, license="llama3.1")
    found = identify(facts_of(tmp_path, {"model-Q4_K_M.gguf": data}), KB)
    assert found.ids == ("llama3.1",) and found.declared == ()
    assert found.evidence[0].origin == "GGUF general.license"


def test_gguf_other_with_a_name(tmp_path: Path) -> None:
    data = gguf_bytes(tmp_path, license="other", license_name="qwen-research")
    found = identify(facts_of(tmp_path, {"m.gguf": data}), KB)
    assert found.ids == ("qwen-research",)
