"""The card reader: headings, fields, placeholders."""

from __future__ import annotations

from modeltrust.cards.markdown import (
    INTRO,
    clean_text,
    content_words,
    normalise,
    parse_body,
    split_front_matter,
)


def test_normalise() -> None:
    assert normalise("2. Intended Uses & Limitations") == "intended use and limitation"
    assert normalise("**Bias, Risks, and Limitations**") == "bia risk and limitation"
    assert normalise("Citation [optional]") == "citation"
    assert normalise("Model Sources (optional):") == "model source"


def test_sections_nest_and_skip_fences() -> None:
    body = parse_body(
        "Intro words here.\n\n## A\n\ntext a\n\n### A1\n\ntext a1\n\n```\n## not\n```\n\n## B\n\ntext b\n"
    )
    keys = [s.key for s in body.sections]
    assert keys == [INTRO, "a", "a1", "b"]
    a = body.sections[1]
    assert "text a1" in a.text and "text a1" not in a.own_text
    assert "## not" in body.sections[2].text


def test_fields() -> None:
    body = parse_body(
        "## Details\n\n- **Developed by:** Acme\n- **License**: mit\n**Note** plain\n"
    )
    assert [(f.key, f.value, f.section) for f in body.fields] == [
        ("developed by", "Acme", "detail"),
        ("license", "mit", "detail"),
        ("note", "plain", "detail"),
    ]


def test_placeholders_are_not_content() -> None:
    text = "<!-- guidance -->\n- **Developed by:** [More Information Needed]\n{{ slot }}\n[TODO]\n"
    assert content_words(text) == []
    assert content_words("- **Developed by:** Acme Labs") == ["Acme", "Labs"]
    assert clean_text(text) == ""
    assert clean_text("Real text.\n\n[More Information Needed]\n") == "Real text."


def test_front_matter_split() -> None:
    assert split_front_matter("---\na: 1\n---\n# T\n") == "# T\n"
    assert split_front_matter("# T\n") == "# T\n"
    assert split_front_matter("---\na: 1\n") == ""
