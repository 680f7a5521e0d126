"""Everything modeltrust can learn about a model's documentation, read once through its source.

The licence engine already reads the card metadata (or the Hub's parsed ``cardData`` for a gated
repo), ``config.json``, ``adapter_config.json`` and GGUF headers, and walks the lineage; this
module starts from its :class:`~modeltrust.licenses.check.LicenseReport` so there is one reader,
not two, and adds what documentation needs on top: the card's sections and fields, the parameter
count and dtypes from safetensors headers, evaluation results (``model-index`` in the metadata and
``.eval_results/*.yaml``), the architecture and context length from ``config.json`` or GGUF.

Every read is bounded. What cannot be read becomes a :class:`Problem`, never an exception, so a
hostile repo yields findings rather than a traceback.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from modeltrust.cards.markdown import CardBody, parse_body, split_front_matter
from modeltrust.errors import SourceError
from modeltrust.licenses.card import CardMetadata
from modeltrust.licenses.check import LicenseReport, check_license
from modeltrust.licenses.lineage import DEFAULT_MAX_DEPTH
from modeltrust.licenses.repo import MAX_CARD_BYTES
from modeltrust.scanners.tensors.safetensors import DTYPE_BITS
from modeltrust.sources.interface import KiB, MiB, RepoFile, Source

MAX_SAFETENSORS_FILES = 256
MAX_SAFETENSORS_HEADER = 64 * MiB
MAX_HEADER_BUDGET = 256 * MiB
"""Header bytes read over all safetensors files of one model."""
MAX_EVAL_FILES = 16
MAX_EVAL_BYTES = 256 * KiB
MAX_METRICS = 500
_EVAL_DIR = ".eval_results/"
_AUP = re.compile(
    r"(?:^|/)(?:use[_ -]?policy|acceptable[_ -]?use[^/]*)(?:\.(?:md|txt|pdf))?$", re.IGNORECASE
)
_CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_sequence_length",
    "seq_length",
    "n_ctx",
    "model_max_length",
)
_VARIANT = re.compile(r"\.(?:fp16|bf16|fp32|non_ema|ema)\.safetensors$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something documentation-related that could not be read, and why."""

    path: str
    message: str


@dataclass(frozen=True, slots=True)
class ParameterCount:
    """Parameters summed over safetensors headers (element counts, not bytes)."""

    total: int
    by_dtype: dict[str, int]
    files: tuple[str, ...]
    complete: bool
    """Every weight file that should be counted was read."""


@dataclass(frozen=True, slots=True)
class EvalMetric:
    """One reported evaluation number."""

    metric: str
    value: str
    dataset: str | None = None
    task: str | None = None
    split: str | None = None
    metric_name: str | None = None
    source: str | None = None
    origin: str = "model-index"
    """``model-index`` (card metadata) or the ``.eval_results/`` file it came from."""


@dataclass(frozen=True, slots=True)
class Architecture:
    architectures: tuple[str, ...] = ()
    model_type: str | None = None
    """``config.json`` ``model_type`` or GGUF ``general.architecture``."""
    hidden_size: int | None = None
    layers: int | None = None
    attention_heads: int | None = None
    vocab_size: int | None = None
    context_length: int | None = None
    dtype: str | None = None
    quantization: str | None = None
    size_label: str | None = None
    """GGUF ``general.size_label`` (e.g. ``8B``)."""
    peft_type: str | None = None
    transformers_version: str | None = None

    @property
    def known(self) -> bool:
        return bool(self.architectures or self.model_type or self.peft_type)


@dataclass(frozen=True, slots=True)
class BaseModel:
    repo_id: str | None
    name: str
    revision: str | None
    relation: str | None
    status: str
    licenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What is known about one model, for coverage scoring, drafts and bills of materials."""

    target: str
    display: str
    name: str
    kind: str
    repo_id: str | None
    revision: str | None
    hub_url: str | None
    files: tuple[RepoFile, ...]
    card_path: str | None
    card_text: str | None
    """README.md as read (None: there is none); the body is parsed into ``body``."""
    card_truncated: bool
    metadata: CardMetadata
    body: CardBody
    architecture: Architecture
    parameters: ParameterCount | None
    eval_results: tuple[EvalMetric, ...]
    datasets: tuple[str, ...]
    declared_licenses: tuple[str, ...]
    license_ids: tuple[str, ...]
    """Every licence id found in the repo (card, licence files, GGUF)."""
    effective_licenses: tuple[str, ...]
    """Licences binding the model through its lineage (the licence engine's conclusion)."""
    base_models: tuple[BaseModel, ...]
    aup_files: tuple[str, ...]
    problems: tuple[Problem, ...]
    license_report: LicenseReport = field(repr=False, compare=False)

    @property
    def has_card(self) -> bool:
        return self.card_text is not None or self.metadata.present

    @property
    def pipeline_tag(self) -> str | None:
        return self.metadata.text("pipeline_tag")

    @property
    def library(self) -> str | None:
        return self.metadata.text("library_name")

    @property
    def languages(self) -> tuple[str, ...]:
        return self.metadata.texts("language")

    @property
    def license_name(self) -> str | None:
        return self.metadata.text("license_name")

    @property
    def license_link(self) -> str | None:
        return self.metadata.text("license_link")


def collect_facts(
    source: Source,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    license_report: LicenseReport | None = None,
) -> ModelFacts:
    """Read ``source`` (and, through the licence engine, its lineage) once."""
    report = license_report or check_license(source, max_depth=max_depth)
    root = report.lineage.root
    repo = root.facts
    if repo is None:  # pragma: no cover - the walk always reads the model itself
        raise SourceError(f"The repo facts of '{source.ref}' were not read.")
    problems: list[Problem] = []
    card_text, truncated = _read_card(source, repo.card_path, problems)
    body = parse_body(split_front_matter(card_text)) if card_text is not None else parse_body("")
    files = repo.files
    gguf: dict[str, str] = {}
    for meta in repo.gguf:
        for key, value in meta.facts.items():
            gguf.setdefault(key, value)
    node_licenses = report.licenses.get(root.key)
    bases = tuple(
        BaseModel(
            n.repo_id,
            n.ref,
            n.revision,
            n.relation,
            n.status,
            report.licenses[n.key].ids if n.key in report.licenses else (),
        )
        for n in (report.lineage.node(k) for k in root.bases)
    )
    hub_url = None
    if source.kind == "hub" and source.repo_id:
        hub_url = str(getattr(source, "url", "")) or None
    return ModelFacts(
        target=source.ref,
        display=source.display,
        name=source.name,
        kind=source.kind,
        repo_id=source.repo_id,
        revision=source.revision,
        hub_url=hub_url,
        files=files,
        card_path=repo.card_path,
        card_text=card_text,
        card_truncated=truncated,
        metadata=repo.card,
        body=body,
        architecture=_architecture(repo.config, repo.adapter_config, gguf),
        parameters=_parameters(source, files, problems),
        eval_results=(
            *_model_index(repo.card, repo.card_path, problems),
            *_eval_files(source, files, problems),
        ),
        datasets=_datasets(repo.card, gguf),
        declared_licenses=node_licenses.declared if node_licenses else (),
        license_ids=node_licenses.ids if node_licenses else (),
        effective_licenses=report.effective_ids,
        base_models=bases,
        aup_files=tuple(f.path for f in files if _AUP.search(f.path)),
        problems=tuple(problems),
        license_report=report,
    )


def _read_card(
    source: Source, path: str | None, problems: list[Problem]
) -> tuple[str | None, bool]:
    if path is None:
        return None, False
    try:
        data = source.read_bytes(path, MAX_CARD_BYTES)
    except SourceError as e:
        problems.append(Problem(path, f"the model card could not be read: {e}"))
        return None, False
    size = source.file(path).size
    truncated = size is not None and size > len(data)
    if truncated:
        problems.append(
            Problem(path, f"the card is {size:,} bytes; only the first {len(data):,} were read")
        )
    return data.decode("utf-8-sig", errors="replace"), truncated


# --- config.json and GGUF -----------------------------------------------------------------------


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _str(value: object, limit: int = 200) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def _architecture(
    config: Mapping[str, object] | None,
    adapter: Mapping[str, object] | None,
    gguf: Mapping[str, str],
) -> Architecture:
    cfg: Mapping[str, object] = config or {}
    text_cfg = cfg.get("text_config")
    nested: Mapping[str, object] = text_cfg if isinstance(text_cfg, dict) else {}

    def pick(*keys: str) -> int | None:
        for source in (cfg, nested):
            for key in keys:
                found = _int(source.get(key))
                if found is not None:
                    return found
        return None

    archs = cfg.get("architectures")
    architectures = (
        tuple(a[:200] for a in archs[:8] if isinstance(a, str)) if isinstance(archs, list) else ()
    )
    quant = cfg.get("quantization_config")
    quant_method = _str(quant.get("quant_method")) if isinstance(quant, dict) else None
    gguf_size = gguf.get("general.size_label")
    return Architecture(
        architectures=architectures,
        model_type=_str(cfg.get("model_type")) or gguf.get("general.architecture"),
        hidden_size=pick("hidden_size", "d_model", "n_embd"),
        layers=pick("num_hidden_layers", "n_layer", "num_layers"),
        attention_heads=pick("num_attention_heads", "n_head"),
        vocab_size=pick("vocab_size"),
        context_length=pick(*_CONTEXT_KEYS),
        dtype=_str(cfg.get("torch_dtype")) or _str(cfg.get("dtype")),
        quantization=quant_method or ("gguf" if gguf else None),
        size_label=gguf_size,
        peft_type=_str((adapter or {}).get("peft_type")),
        transformers_version=_str(cfg.get("transformers_version")),
    )


def _datasets(card: CardMetadata, gguf: Mapping[str, str]) -> tuple[str, ...]:
    names = list(card.texts("datasets"))
    names += [
        gguf[k]
        for k in sorted(gguf)
        if re.fullmatch(r"general\.dataset\.\d+\.(?:repo_url|name)", k)
    ]
    return tuple(dict.fromkeys(n[:300] for n in names))[:64]


# --- safetensors headers ------------------------------------------------------------------------


def _weight_files(
    source: Source, files: tuple[RepoFile, ...], problems: list[Problem]
) -> list[str]:
    """The safetensors files whose parameters make up the model, without duplicates: the shards
    an index lists, else the top-level files, else those in sub-folders (diffusers layouts)
    minus precision variants of a file that is also there."""
    names = {f.path for f in files}
    safetensors = [f.path for f in files if f.path.endswith(".safetensors")]
    for index in sorted(n for n in names if n.endswith(".safetensors.index.json")):
        try:
            raw = source.read_bytes(index, 16 * MiB)
            weight_map = json.loads(raw.decode("utf-8-sig")).get("weight_map")
        except (SourceError, UnicodeDecodeError, ValueError, RecursionError, AttributeError) as e:
            problems.append(Problem(index, f"the shard index could not be read: {e}"))
            continue
        if isinstance(weight_map, dict):
            folder = index.rpartition("/")[0]
            shards = {
                f"{folder}/{v}" if folder else v for v in weight_map.values() if isinstance(v, str)
            }
            listed = sorted(s for s in shards if s in names)
            if listed and "/" not in index:
                return listed
    top = [p for p in safetensors if "/" not in p]
    if top:
        return top
    return [
        p
        for p in safetensors
        if not (_VARIANT.search(p) and _VARIANT.sub(".safetensors", p) in names)
    ]


def _parameters(
    source: Source, files: tuple[RepoFile, ...], problems: list[Problem]
) -> ParameterCount | None:
    paths = _weight_files(source, files, problems)
    if not paths:
        return None
    by_dtype: dict[str, int] = {}
    read: list[str] = []
    budget = MAX_HEADER_BUDGET
    complete = len(paths) <= MAX_SAFETENSORS_FILES
    for path in paths[:MAX_SAFETENSORS_FILES]:
        try:
            counts, used = _header_counts(source, path, budget)
        except _HeaderError as e:
            problems.append(Problem(path, f"the safetensors header could not be read: {e}"))
            complete = False
            continue
        except SourceError as e:
            problems.append(Problem(path, f"the file could not be read: {e}"))
            complete = False
            continue
        budget -= used
        read.append(path)
        for dtype, n in counts.items():
            by_dtype[dtype] = by_dtype.get(dtype, 0) + n
    if not read:
        return None
    return ParameterCount(
        sum(by_dtype.values()), dict(sorted(by_dtype.items())), tuple(read), complete
    )


class _HeaderError(ValueError):
    pass


def _header_counts(source: Source, path: str, budget: int) -> tuple[dict[str, int], int]:
    """Elements per dtype in one safetensors file, from its JSON header only."""
    head = source.read_range(path, 0, 8)
    if len(head) < 8:
        raise _HeaderError("the file is shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", head)
    size = source.file(path).size
    if length > MAX_SAFETENSORS_HEADER or (size is not None and length > size - 8):
        raise _HeaderError(f"the header claims {length:,} bytes, more than the file or the cap")
    if length > budget:
        raise _HeaderError("the header budget for this model is spent")
    raw = source.read_range(path, 8, length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _HeaderError(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _HeaderError("the header is not a JSON object")
    counts: dict[str, int] = {}
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        dtype, shape = info.get("dtype"), info.get("shape")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS or not isinstance(shape, list):
            raise _HeaderError(f"tensor {str(name)[:80]!r} has no valid dtype and shape")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _HeaderError(f"tensor {str(name)[:80]!r} has no valid shape")
        counts[dtype] = counts.get(dtype, 0) + math.prod(shape)
    return counts, 8 + length


# --- evaluation results -------------------------------------------------------------------------


def _model_index(card: CardMetadata, path: str | None, problems: list[Problem]) -> list[EvalMetric]:
    """``model-index`` in the card metadata, read leniently: a malformed entry is skipped and
    reported, the rest kept."""
    raw = card.data.get("model-index")
    if raw is None:
        return []
    where = path or "README.md"
    if not isinstance(raw, list):
        problems.append(Problem(where, "'model-index' in the card metadata is not a list"))
        return []
    out: list[EvalMetric] = []
    skipped = 0
    for model in raw:
        results = model.get("results") if isinstance(model, dict) else None
        if not isinstance(results, list):
            skipped += 1
            continue
        for result in results:
            if not isinstance(result, dict):
                skipped += 1
                continue
            task = _dict(result.get("task"))
            dataset = _dict(result.get("dataset"))
            source = _dict(result.get("source"))
            metrics = result.get("metrics")
            if not isinstance(metrics, list):
                skipped += 1
                continue
            for raw_metric in metrics:
                metric = _dict(raw_metric)
                value = _scalar(metric.get("value"))
                kind = _str(metric.get("type"))
                if kind is None or value is None or len(out) >= MAX_METRICS:
                    skipped += 1
                    continue
                out.append(
                    EvalMetric(
                        metric=kind,
                        value=value,
                        dataset=_str(dataset.get("name")) or _str(dataset.get("type")),
                        task=_str(task.get("name")) or _str(task.get("type")),
                        split=_str(dataset.get("split")),
                        metric_name=_str(metric.get("name")),
                        source=_str(source.get("url")) or _str(source.get("name")),
                    )
                )
    if skipped:
        problems.append(
            Problem(
                where,
                f"{skipped} entr{'y' if skipped == 1 else 'ies'} of 'model-index' "
                "could not be read (no metric type or value, or not the documented shape)",
            )
        )
    return out


def _dict(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _scalar(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:100] or None
    return None


def _eval_files(
    source: Source, files: tuple[RepoFile, ...], problems: list[Problem]
) -> list[EvalMetric]:
    """``.eval_results/*.yaml``: a list of ``{dataset: {id, task_id}, value, source: {url}}``."""
    import yaml

    paths = [
        f.path for f in files if f.path.startswith(_EVAL_DIR) and f.path.endswith((".yaml", ".yml"))
    ]
    out: list[EvalMetric] = []
    for path in paths[:MAX_EVAL_FILES]:
        try:
            data = yaml.safe_load(source.read_text(path, MAX_EVAL_BYTES))
        except (SourceError, yaml.YAMLError, RecursionError) as e:
            problems.append(Problem(path, f"the evaluation results could not be read: {e}"))
            continue
        entries = data if isinstance(data, list) else [data]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            dataset = _dict(entry.get("dataset"))
            src = _dict(entry.get("source"))
            value = _scalar(entry.get("value"))
            if value is None or len(out) >= MAX_METRICS:
                continue
            out.append(
                EvalMetric(
                    metric=_str(dataset.get("task_id")) or "score",
                    value=value,
                    dataset=_str(dataset.get("id")),
                    task=_str(dataset.get("task_id")),
                    source=_str(src.get("url")),
                    origin=path,
                )
            )
    return out
