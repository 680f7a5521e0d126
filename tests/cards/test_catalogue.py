"""The item catalogue: complete, provenance-marked, and strict about its own format."""

from __future__ import annotations

import pytest

from modeltrust.cards.standards import (
    MUST_HAVE_TOPICS,
    default_catalogue,
    parse_catalogue,
)
from modeltrust.errors import CatalogueError

HEAD = "schema_version: 1\nstandards:\n  s: {title: S, reference: R}\nitems:\n"


def test_catalogue_loads_with_every_standard_and_must_have() -> None:
    cat = default_catalogue()
    assert {s.id for s in cat.standards} == {
        "model-cards",
        "hf-template",
        "eu-annex-xii",
        "eu-annex-xi",
    }
    must = {
        s: {i.topic for i in cat.for_standard(s) if i.must_have}
        for s in ("hf-template", "eu-annex-xi")
    }
    assert must["hf-template"] == set(MUST_HAVE_TOPICS)
    # Annex XI section 1 asks for no evaluation or limitations (section 2, systemic risk, does).
    assert must["eu-annex-xi"] == {"intended-use", "training-data", "license"}
    unverified = {i.id for i in cat.items if i.unverified}
    assert unverified == {"mc-quantitative-analyses", "mc-ethical-considerations", "mc-caveats"}
    assert all(i.confidence == "verified" for i in cat.for_standard("hf-template"))
    assert cat.item("xii-1h-license").metadata == ("license", "license_name")  # copied by 'like'


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, confidence: verified, colour: red}",
            "unknown key",
        ),
        (
            "  - {id: a, standard: nope, ref: r, title: t, topic: x, confidence: verified}",
            "is not listed",
        ),
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, confidence: sure}",
            "confidence must be",
        ),
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, confidence: verified, facts: [magic]}",
            "unknown fact",
        ),
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, confidence: verified, like: b}",
            "must name an item",
        ),
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, must_have: true, confidence: verified}",
            "must-have",
        ),
        (
            "  - {id: a, standard: s, ref: r, title: t, topic: x, confidence: verified, placeholders: ['(']}",
            "invalid",
        ),
    ],
)
def test_catalogue_errors_name_the_item(item: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        parse_catalogue(HEAD + item + "\n")
