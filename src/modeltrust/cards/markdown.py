"""A model card's prose: its sections, its ``**Label:** value`` fields, and what counts as content.

Cards are Markdown written by anyone, so this is a deliberately small reader, not a renderer: it
finds ATX (``## Uses``), setext (``Uses`` over ``---``) and one-line HTML (``<h2>Uses</h2>``)
headings outside fenced code, and the bold-label lines the Hub template uses for its fields
(``- **License:** apache-2.0``). Headings are normalised (case, numbering, punctuation, ``&``,
plurals, "[optional]") so that "2. Intended Uses & Limitations" and "intended use and
limitation" compare equal. Sizes are capped; nothing here can raise on odd input.

Template placeholder text ("[More Information Needed]", ``{{ jinja }}`` slots, "TODO") and HTML
comments (the template's guidance) are not content: a section holding only those is a
placeholder, which the coverage check treats as missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SECTIONS = 2000
MAX_FIELDS = 2000
INTRO = "@intro"
"""The pseudo-heading for the prose before the first section (under the H1 title)."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1>\s*$", re.IGNORECASE)
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FIELD = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?\*\*(?P<label>[^*\n]{1,80}?)\s*:?\s*\*\*\s*:?[ \t]*(?P<value>.*)$"
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^>\n]{0,200}>")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_WORD = re.compile(r"[^\W_]{2,}")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[ivx]+\.|[a-z]\))\s+")
_OPTIONAL = re.compile(r"[\[(]\s*optional\s*[\])]", re.IGNORECASE)

DEFAULT_PLACEHOLDERS: tuple[str, ...] = (
    r"\[\s*more information needed\s*\]",
    r"more information needed",
    r"\{\{.*?\}\}",
    r"\{%.*?%\}",
    (
        r"\[\s*(?:todo|tbd|tbc|to ?do|coming soon|to be (?:added|completed|determined|announced))"
        r"[^\]\n]{0,80}\]"
    ),
    r"\b(?:todo|tbd)\b:?",
    r"lorem ipsum(?: dolor sit amet)?",
    # Boilerplate sentences the Hub template writes into otherwise empty sections.
    r"use the code below to get started with the model\.?",
    r"users \(both direct and downstream\) should be made aware of the risks[^.\n]*\.?",
    r"more information needed for further recommendations\.?",
)
"""Template leftovers, as case-insensitive regular expressions: the Hub template's
``[More Information Needed]`` and boilerplate sentences (``modelcard_template.md``), what
``transformers`` Trainer cards leave ("More information needed"), Jinja slots, TODO markers."""


@dataclass(frozen=True, slots=True)
class Section:
    """One heading and the text under it up to the next heading of the same or a higher level."""

    title: str
    key: str
    """The normalised title (see :func:`normalise`)."""
    level: int
    line: int
    """1-based line of the heading in the card body."""
    own_text: str
    """Text up to the next heading of any level."""
    text: str
    """Text including its subsections (their heading lines removed)."""


@dataclass(frozen=True, slots=True)
class Field:
    """A ``**Label:** value`` line."""

    label: str
    key: str
    value: str
    line: int
    section: str | None
    """Key of the section the line is in."""


@dataclass(frozen=True, slots=True)
class CardBody:
    sections: tuple[Section, ...]
    fields: tuple[Field, ...]
    title: str | None
    """The first H1, if any."""


def split_front_matter(text: str) -> str:
    """The card's Markdown body: what follows a closed ``---`` metadata block (or all of it)."""
    stripped = text.lstrip("\ufeff")
    lines = stripped.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return stripped
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return "".join(lines[i + 1 :])
    return ""  # unclosed: the whole file is (broken) metadata


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def normalise(title: str) -> str:
    """Lower-case words of a heading or label: no markup, numbering, punctuation or plurals."""
    text = _LINK.sub(r"\1", title)
    text = _TAG.sub(" ", text)
    text = _OPTIONAL.sub(" ", text).lower().replace("&", " and ")
    text = re.sub(r"[*_`~#:|]", " ", text).strip()
    text = _NUMBERING.sub("", text)
    words = re.findall(r"[^\W_]+", text)
    return " ".join(_singular(w) for w in words)


def parse_body(body: str) -> CardBody:
    """Sections and fields of a card body (front matter already removed)."""
    lines = body.splitlines()
    headings: list[tuple[int, int, str]] = []  # (line index, level, title)
    skip: set[int] = set()
    fence: str | None = None
    in_fence: set[int] = set()
    for i, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is not None:
            in_fence.add(i)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            in_fence.add(i)
            continue
        if len(headings) >= MAX_SECTIONS:
            continue
        atx = _ATX.match(line)
        if atx and atx.group(2).strip():
            headings.append((i, len(atx.group(1)), atx.group(2).strip()))
            continue
        html = _HTML_HEADING.match(line)
        if html and html.group(2).strip():
            headings.append((i, int(html.group(1)), html.group(2).strip()))
            continue
        setext = _SETEXT.match(line)
        if setext and i > 0 and i - 1 not in in_fence and i - 1 not in skip:
            previous = lines[i - 1].strip()
            if (
                previous
                and not _ATX.match(lines[i - 1])
                and not previous.startswith(("-", "*", "|", ">"))
            ) and (not headings or headings[-1][0] != i - 1):
                level = 1 if setext.group(1).startswith("=") else 2
                headings.append((i - 1, level, previous))
                skip.add(i)
    heading_lines = {h[0] for h in headings} | skip
    sections = _sections(lines, headings, heading_lines)
    title = next((h[2] for h in headings if h[1] == 1), None)
    fields = _fields(lines, headings, in_fence)
    return CardBody(tuple(sections), tuple(fields), title)


def _sections(
    lines: list[str], headings: list[tuple[int, int, str]], heading_lines: set[int]
) -> list[Section]:
    out: list[Section] = []
    first = headings[0][0] if headings else len(lines)
    intro_end = first
    intro_start = 0
    # The H1 title's own text is the introduction when the card opens with it.
    if headings and headings[0][1] == 1:
        intro_start = headings[0][0] + 1
        intro_end = headings[1][0] if len(headings) > 1 else len(lines)
    intro = _join(lines, intro_start, intro_end, heading_lines)
    if intro_start or intro.strip():
        out.append(Section("(introduction)", INTRO, 0, intro_start + 1, intro, intro))
    for n, (index, level, title) in enumerate(headings):
        own_end = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
        end = next((h[0] for h in headings[n + 1 :] if h[1] <= level), len(lines))
        out.append(
            Section(
                title=title,
                key=normalise(title),
                level=level,
                line=index + 1,
                own_text=_join(lines, index + 1, own_end, heading_lines),
                text=_join(lines, index + 1, end, heading_lines),
            )
        )
    return out


def _join(lines: list[str], start: int, end: int, drop: set[int]) -> str:
    return "\n".join(lines[i] for i in range(start, end) if i not in drop)


def _fields(
    lines: list[str], headings: list[tuple[int, int, str]], in_fence: set[int]
) -> list[Field]:
    out: list[Field] = []
    starts = {h[0]: normalise(h[2]) for h in headings}
    current: str | None = None
    for i, line in enumerate(lines):
        if i in starts:
            current = starts[i]
            continue
        if i in in_fence or len(out) >= MAX_FIELDS:
            continue
        match = _FIELD.match(line)
        if match is None:
            continue
        label = match.group("label").strip()
        key = normalise(label)
        if key:
            out.append(Field(label, key, match.group("value").strip(), i + 1, current))
    return out


def compile_placeholders(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.DOTALL)


PLACEHOLDER = compile_placeholders(DEFAULT_PLACEHOLDERS)


def has_placeholder(text: str, placeholder: re.Pattern[str] = PLACEHOLDER) -> bool:
    return placeholder.search(_COMMENT.sub(" ", text)) is not None


def content_words(text: str, placeholder: re.Pattern[str] = PLACEHOLDER) -> list[str]:
    """The words of ``text`` that are content: no comments, placeholders, tags, field labels,
    table rules or link targets. An empty list means the text says nothing."""
    text = _COMMENT.sub(" ", text)
    text = placeholder.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    kept = []
    for line in text.splitlines():
        match = _FIELD.match(line)
        kept.append(match.group("value") if match else line)
    return _WORD.findall("\n".join(kept))


def clean_text(text: str, placeholder: re.Pattern[str] = PLACEHOLDER) -> str:
    """``text`` without HTML comments, placeholder text, emptied field lines and extra blank
    lines; for carrying a card's own words into a draft. Empty when nothing is left."""
    text = _COMMENT.sub("", text)
    text = placeholder.sub("", text)
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        field = _FIELD.match(line)
        if field is not None and not field.group("value").strip():
            continue
        if not line.strip():
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    result = "\n".join(out).strip("\n")
    return result if _WORD.search(result) else ""
