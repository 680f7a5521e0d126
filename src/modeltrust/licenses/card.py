"""Model card metadata: the YAML block between the ``---`` lines at the top of README.md.

Cards are written by anyone, so the block is read with PyYAML's safe loader only, bounded in
size, and anything malformed (an unclosed block, bad YAML, a list where a mapping belongs, YAML
nested deep enough to exhaust the parser) is reported as a problem string, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_FRONT_MATTER = 256 * 1024
"""Real card metadata is a few KiB; a bigger block is refused rather than parsed."""
_OPEN = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n")
"""The Hub (and huggingface_hub) read a block preceded by blank lines as metadata too."""
_CLOSE = re.compile(r"^---[ \t]*$", flags=re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CardMetadata:
    """What README.md declares. ``data`` is empty when there is no card or no metadata."""

    data: Mapping[str, object] = field(default_factory=dict)
    present: bool = False
    """README.md exists."""
    has_metadata: bool = False
    """It starts with a metadata block (even a malformed one)."""
    problem: str | None = None
    """Why the metadata could not be read, if it could not."""

    def text(self, key: str) -> str | None:
        """A scalar value as text (numbers too); None when absent, empty or not a scalar."""
        value = self.data.get(key)
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            return None
        text = str(value).strip()
        return text or None

    def texts(self, key: str, limit: int = 64) -> tuple[str, ...]:
        """A value that may be a string or a list of strings, as a tuple (at most ``limit``)."""
        value = self.data.get(key)
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items[:limit]:
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                text = str(item).strip()
                if text:
                    out.append(text)
        return tuple(dict.fromkeys(out))


def parse_card(text: str | None) -> CardMetadata:
    """Parse README.md text (None: there is no README)."""
    if text is None:
        return CardMetadata()
    opening = _OPEN.match(text)
    if opening is None:
        return CardMetadata(present=True)
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        return CardMetadata(
            present=True,
            has_metadata=True,
            problem="the metadata block opened with '---' is never closed",
        )
    block = text[opening.end() : closing.start()]
    if len(block) > MAX_FRONT_MATTER:
        return CardMetadata(
            present=True,
            has_metadata=True,
            problem=f"the metadata block is {len(block)} characters long, more than the "
            f"{MAX_FRONT_MATTER} modeltrust reads",
        )
    return _load(block)


def metadata_from_mapping(data: Mapping[str, object] | None) -> CardMetadata:
    """Card metadata a backend already parsed (the Hub's ``cardData``)."""
    if data is None:
        return CardMetadata()
    return CardMetadata(data=dict(data), present=True, has_metadata=True)


def _load(block: str) -> CardMetadata:
    import yaml

    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        reason = getattr(e, "problem", None) or type(e).__name__
        return CardMetadata(
            present=True,
            has_metadata=True,
            problem=f"the metadata block is not valid YAML{where}: {reason}",
        )
    except RecursionError:
        return CardMetadata(
            present=True, has_metadata=True, problem="the metadata block is nested too deeply"
        )
    if data is None:
        return CardMetadata(present=True, has_metadata=True)
    if not isinstance(data, dict):
        return CardMetadata(
            present=True,
            has_metadata=True,
            problem=f"the metadata block is a {type(data).__name__}, not a mapping of keys",
        )
    return CardMetadata(data={str(k): v for k, v in data.items()}, present=True, has_metadata=True)
