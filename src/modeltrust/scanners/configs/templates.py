"""Chat templates: the Jinja text that inference engines render around every conversation.

Templates travel in ``tokenizer_config.json`` and ``chat_template.json`` (a ``chat_template`` that
is a string or a list of ``{"name": ..., "template": ...}``), in ``chat_template.jinja`` files,
and in GGUF metadata (the engine's handoff calls :func:`analyse_template`). A template is parsed with
``jinja2.Environment().parse``, which lexes and parses only: nothing is compiled or rendered. The
syntax tree is then searched for

* sandbox escapes (MT-TPL-001): dunder attributes, and strings that spell them even when built by
  concatenation, filters, slicing or formatting; Python internals (frames, ``mro``, ``os``,
  ``popen``); attribute access on Jinja's global functions (``lipsum``, ``cycler``, ``self``…);
  ``attr`` lookups with computed names; characters built with ``%c``; template imports and
  includes;
* backdoors (MT-TPL-002): a condition on what a message *says* (``'x' in message.content``,
  ``.startswith(...)``, regex filters, or a flag set by such a test) that makes the template emit
  words of its own; and prompt-injection phrases or URLs anywhere in the text it emits.

Tests on a message's *role* are what every template does and are not reported. A template that
does not parse (MT-TPL-003) is searched with regular expressions instead.

Templates have no magic bytes, so this is the one scanner that uses file names: a text file is
claimed as a template only when it is called ``*.jinja`` or ``*.j2``. JSON files are claimed by
content (a top-level ``chat_template`` key).
"""

from __future__ import annotations

import json
import re

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.scanners.common.sniff import BOM_AND_SPACE as _BOM_AND_SPACE
from modeltrust.scanners.common.sniff import TEMPLATE_SUFFIXES
from modeltrust.scanners.interface import Blob, MiB, ScanContext, Scanner

MAX_JSON = 64 * MiB
MAX_TEMPLATE_FILE = 16 * MiB

_JSON_OBJECT = re.compile(rb'\{\s*["}]')
"""How a JSON object starts; a template starts ``{{``, ``{%`` or ``{#``."""
_KEY_QUOTED = re.compile(rb'"(?=[^"]{0,200}\\u00)(?:[a-z_]|\\u00[0-9a-fA-F]{2}){13}"\s*:')
"""The key ``chat_template`` written with ``\\u00xx`` escapes, which JSON readers decode."""


def analyse_template(
    text: str, location: Location, ctx: ScanContext, source: str, *, parse: bool = True
) -> None:
    """Parse a chat template (never render it) and report escapes, backdoors, parse failures.

    ``source`` says where the template came from, for messages: ``"GGUF key
    'tokenizer.chat_template'"``, ``"'chat_template'"``. ``parse=False`` (the caller has already
    had :data:`~.template_analysis.MAX_PARSE_PER_FILE` characters parsed in this file) only searches the text.
    The analysis (and jinja2) is imported on first use.
    """
    from modeltrust.scanners.configs import template_analysis

    template_analysis.analyse_template(text, location, ctx, source, parse=parse)


def _max_parse_per_file() -> int:
    from modeltrust.scanners.configs import template_analysis

    return template_analysis.MAX_PARSE_PER_FILE


def _fallback(text: str, location: Location, ctx: ScanContext, source: str) -> None:
    from modeltrust.scanners.configs import template_analysis

    template_analysis.fallback(text, location, ctx, source)


def _short(text: str, n: int = 80) -> str:
    from modeltrust.scanners.configs import template_analysis

    return template_analysis.short(text, n)


# --- the scanner --------------------------------------------------------------------------------


class _Object(dict[str, object]):
    """A JSON object that remembers every ``chat_template`` value, duplicates included."""

    chat_templates: list[object]


def _object_hook(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    obj.chat_templates = [v for k, v in pairs if k == "chat_template"]
    return obj


def _member_name(location: Location) -> str:
    name = location.members[-1] if location.members else location.path
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower()


class ChatTemplateScanner(Scanner):
    """``chat_template`` in JSON files (by content) and ``*.jinja``/``*.j2`` files (by name)."""

    name = "chat-template"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        if _JSON_OBJECT.match(head.lstrip(_BOM_AND_SPACE)):
            return blob.size is None or blob.size <= MAX_JSON
        return _member_name(blob.location).endswith(TEMPLATE_SUFFIXES) and b"\x00" not in head

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        if _JSON_OBJECT.match(blob.head(4096).lstrip(_BOM_AND_SPACE)) and self._scan_json(
            blob, ctx
        ):
            return True
        if not _member_name(loc).endswith(TEMPLATE_SUFFIXES):
            return False
        with blob.open() as f:
            raw = f.read(MAX_TEMPLATE_FILE + 1)
        ctx.saw("chat-template")
        if len(raw) > MAX_TEMPLATE_FILE:
            ctx.report(
                rules.TPL_UNPARSABLE.finding(
                    loc,
                    f"The template file is larger than {MAX_TEMPLATE_FILE} bytes, so it was not "
                    "analysed; chat templates are a few kilobytes.",
                    severity=Severity.HIGH,
                )
            )
            return True
        analyse_template(raw.decode("utf-8-sig", errors="replace"), loc, ctx, "template file")
        return True

    @staticmethod
    def _scan_json(blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        with blob.open() as f:
            raw = f.read(MAX_JSON + 1)
        if len(raw) > MAX_JSON:
            return False
        if b'"chat_template"' not in raw and not _KEY_QUOTED.search(raw):
            return False
        try:
            doc = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_object_hook)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            ctx.saw("chat-template")
            ctx.report(
                rules.TPL_UNPARSABLE.finding(
                    loc,
                    f"The file mentions 'chat_template' but is not valid JSON ({e}); it was only "
                    "searched for dangerous names. Fix the JSON or replace the file.",
                )
            )
            _fallback(raw.decode("utf-8", errors="replace"), loc, ctx, "'chat_template'")
            return True
        if not isinstance(doc, _Object) or not doc.chat_templates:
            return False
        ctx.saw("chat-template")
        parsed = [0]
        for value in doc.chat_templates:
            _analyse_json_value(value, loc, ctx, parsed)
        return True


def _analyse_json_value(value: object, loc: Location, ctx: ScanContext, parsed: list[int]) -> None:
    """Analyse one ``chat_template`` value; ``parsed[0]`` counts the characters parsed so far."""
    if value is None:
        return
    if isinstance(value, str):
        value = [{"name": None, "template": value}]
    if isinstance(value, list):
        for i, entry in enumerate(value):
            template = entry.get("template") if isinstance(entry, dict) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            label = f"'{_short(name, 60)}'" if isinstance(name, str) else f"#{i}"
            if isinstance(template, str):
                source = "'chat_template'" if name is None else f"'chat_template' entry {label}"
                parsed[0] += len(template)
                parse = parsed[0] <= _max_parse_per_file()
                analyse_template(template, loc, ctx, source, parse=parse)
            else:
                ctx.report(
                    rules.TPL_UNPARSABLE.finding(
                        loc,
                        f"'chat_template' entry {label} has no string 'template', so engines "
                        'cannot use it; expected {"name": ..., "template": ...}.',
                    )
                )
        return
    ctx.report(
        rules.TPL_UNPARSABLE.finding(
            loc,
            f"'chat_template' is a {type(value).__name__}, not a string or a list of "
            '{"name", "template"} entries, so it was not analysed.',
        )
    )
