"""Read what one repo declares about its licence and lineage, with bounded reads only.

Gathers the card metadata (README.md, or the Hub's parsed ``cardData`` when README.md cannot be
read, as for a gated repo), licence and notice files at the top of the repo, ``config.json``,
``adapter_config.json``, ``mergekit_config.yml`` and the headers of the first GGUF files. What
cannot be read becomes a *problem* (reported as a finding), never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from modeltrust.errors import AccessDeniedError, SourceError
from modeltrust.licenses.card import CardMetadata, metadata_from_mapping, parse_card
from modeltrust.licenses.gguf_meta import GgufMetadata, read_gguf_metadata
from modeltrust.sources.interface import KiB, MiB, RepoFile, Source

MAX_CARD_BYTES = 2 * MiB
MAX_LICENSE_BYTES = 512 * KiB
MAX_JSON_BYTES = 1 * MiB
MAX_LICENSE_FILES = 8
MAX_GGUF_FILES = 2
"""Quantisations in one repo share their metadata; the first (by path) two are read."""

_LICENSE_NAME = re.compile(r"licen[cs]e|^copying", flags=re.IGNORECASE)
_LICENSE_DIRS = frozenset({"licenses", "licences"})
_NOT_TEXT = (
    ".py",
    ".json",
    ".yaml",
    ".yml",
    ".js",
    ".html",
    ".sh",
    ".ipynb",
    ".safetensors",
    ".bin",
    ".gguf",
    ".pt",
    ".pth",
    ".onnx",
    ".h5",
    ".msgpack",
    ".ckpt",
    ".png",
    ".jpg",
    ".pdf",
)
_NOTICE_NAME = re.compile(r"^notice(?:[-_ .][^/]*)?(?:\.(?:md|txt))?$", flags=re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LicenseText:
    path: str
    text: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the repo that could not be read, and why."""

    path: str
    message: str
    access: bool = False
    """Only access was refused (a gated repo): the rest of the repo was still read."""


@dataclass(frozen=True, slots=True)
class RepoFacts:
    files: tuple[RepoFile, ...]
    card: CardMetadata
    card_path: str | None
    license_texts: tuple[LicenseText, ...]
    notice_files: tuple[str, ...]
    config: Mapping[str, object] | None
    adapter_config: Mapping[str, object] | None
    has_merge_config: bool
    gguf: tuple[GgufMetadata, ...]
    problems: tuple[Problem, ...]

    @property
    def gguf_files(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.path.lower().endswith(".gguf"))


def read_repo_facts(source: Source) -> RepoFacts:
    problems: list[Problem] = []
    files = source.list_files()
    names = {f.path for f in files}
    card, card_path = _card(source, names, problems)
    license_texts = tuple(_license_texts(source, files, problems))
    notices = tuple(f.path for f in files if "/" not in f.path and _NOTICE_NAME.match(f.path))
    config = _json(source, "config.json", names, problems)
    adapter = _json(source, "adapter_config.json", names, problems)
    ggufs = [f.path for f in files if f.path.lower().endswith(".gguf")][:MAX_GGUF_FILES]
    gguf = []
    for path in ggufs:
        meta = read_gguf_metadata(source, path)
        gguf.append(meta)
        if meta.problem:
            problems.append(Problem(path, meta.problem, meta.access))
    merge = any(p.lower() in ("mergekit_config.yml", "mergekit_config.yaml") for p in names)
    return RepoFacts(
        files,
        card,
        card_path,
        license_texts,
        notices,
        config,
        adapter,
        merge,
        tuple(gguf),
        tuple(problems),
    )


def _card(
    source: Source, names: set[str], problems: list[Problem]
) -> tuple[CardMetadata, str | None]:
    path = "README.md" if "README.md" in names else None
    if path is None:
        path = next((n for n in sorted(names) if n.lower() == "readme.md"), None)
    if path is None:
        return metadata_from_mapping(source.card_metadata()), None
    try:
        card = parse_card(source.read_text(path, MAX_CARD_BYTES))
    except SourceError as e:
        parsed = source.card_metadata()
        if parsed is not None:  # the Hub parsed it for us: use that, quietly
            return metadata_from_mapping(parsed), path
        problems.append(Problem(path, f"the model card could not be read: {e}"))
        return CardMetadata(present=True), path
    if card.problem:
        problems.append(Problem(path, f"the model card's metadata cannot be used: {card.problem}"))
    return card, path


def _license_texts(
    source: Source, files: tuple[RepoFile, ...], problems: list[Problem]
) -> list[LicenseText]:
    out = []
    candidates = [f for f in files if _is_license_file(f.path)]
    for f in candidates[:MAX_LICENSE_FILES]:
        try:
            data = source.read_bytes(f.path, MAX_LICENSE_BYTES)
        except SourceError as e:
            denied = isinstance(e, AccessDeniedError)
            problems.append(Problem(f.path, f"the licence file could not be read: {e}", denied))
            continue
        truncated = f.size is not None and f.size > len(data)
        out.append(LicenseText(f.path, data.decode("utf-8-sig", errors="replace"), truncated))
    return out


def _is_license_file(path: str) -> bool:
    """LICENSE, LICENCE.md, COPYING, LICENSE-MODEL, "Tongyi Qianwen LICENSE AGREEMENT" at the
    top of the repo, and any text file in a top-level LICENSES/ folder."""
    folder, _, name = path.rpartition("/")
    if folder and folder.lower() not in _LICENSE_DIRS:
        return False
    if name.lower().endswith(_NOT_TEXT):
        return False
    return bool(folder) or bool(_LICENSE_NAME.search(name))


def _json(
    source: Source, path: str, names: set[str], problems: list[Problem]
) -> Mapping[str, object] | None:
    if path not in names:
        return None
    try:
        data = source.read_bytes(path, MAX_JSON_BYTES + 1)
    except SourceError as e:
        denied = isinstance(e, AccessDeniedError)
        problems.append(Problem(path, f"the file could not be read: {e}", denied))
        return None
    if len(data) > MAX_JSON_BYTES:
        problems.append(Problem(path, f"the file is larger than {MAX_JSON_BYTES} bytes"))
        return None
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        problems.append(Problem(path, f"the file is not valid JSON: {e}"))
        return None
    if not isinstance(value, dict):
        problems.append(
            Problem(path, f"the file holds a JSON {type(value).__name__}, not an object")
        )
        return None
    return value
