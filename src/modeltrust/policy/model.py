"""The policy file: what an organisation accepts, as YAML validated by pydantic.

A policy is data, not code: severity thresholds per area, the licences and licence properties
accepted, the use profile the licences are judged for, the documentation required, fairness
thresholds, and exceptions (each with a reason, an approver and an expiry date). It is read with
yaml's safe loader; the composed node tree is kept so that a validation error names the line it
is on ("modeltrust.yaml line 12: ..."), because a policy is edited by hand and a message without a
line sends the reader hunting.

The format is documented key by key in docs/audit.md; ``version: 1`` is the only version.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modeltrust.errors import PolicyError
from modeltrust.findings import Severity
from modeltrust.licenses.obligations import UseProfile

BUILTIN_NAMES = ("default", "strict", "commercial", "research")
DISCOVERED_FILE = "modeltrust.yaml"
AREAS = ("security", "license", "documentation", "fairness")
Area = Literal["security", "license", "documentation", "fairness", "policy"]
Action = Literal["fail", "warn", "pass"]
LicenseProperty = Literal[
    "non-commercial",
    "research-only",
    "copyleft",
    "network-copyleft",
    "share-alike",
    "use-restrictions",
    "no-improving-other-models",
    "unknown",
    "unverified",
]
_RULE_PATTERN = re.compile(r"MT-[A-Z*]+(-[0-9*]{1,3})?|MT-\*|\*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _severity(value: object) -> Severity | None:
    """``high`` -> Severity.HIGH; ``none``/null -> None (never)."""
    if value is None or isinstance(value, Severity):
        return value
    if isinstance(value, str):
        if value.strip().lower() in ("none", "never", "off"):
            return None
        try:
            return Severity.parse(value)
        except ValueError as e:
            raise ValueError(str(e)) from None
    raise ValueError(f"expected a severity name, got {value!r}")


class Threshold(_Strict):
    """Findings of one area at or above ``fail`` fail the audit; at or above ``warn`` warn."""

    fail: Severity | None = Severity.HIGH
    warn: Severity | None = Severity.MEDIUM

    @field_validator("fail", "warn", mode="before")
    @classmethod
    def _parse(cls, value: object) -> Severity | None:
        return _severity(value)

    def action(self, severity: Severity) -> Action:
        if self.fail is not None and severity >= self.fail:
            return "fail"
        if self.warn is not None and severity >= self.warn:
            return "warn"
        return "pass"


class Thresholds(_Strict):
    security: Threshold = Threshold()
    license: Threshold = Threshold()
    documentation: Threshold = Threshold(fail=None, warn=Severity.MEDIUM)
    fairness: Threshold = Threshold()

    def for_area(self, area: Area) -> Threshold:
        if area == "policy":  # policy findings carry their own outcome
            return Threshold(fail=None, warn=None)
        threshold: Threshold = getattr(self, area)
        return threshold


class UseSettings(_Strict):
    """The use the licences are judged for (see the licence engine's use profile)."""

    commercial: bool = True
    monthly_active_users: int | None = Field(default=None, ge=0)
    annual_revenue_usd: int | None = Field(default=None, ge=0)
    eu_established: bool = False
    distribution: Literal["distribute", "hosted", "internal"] = "distribute"

    def profile(self) -> UseProfile:
        return UseProfile(
            commercial=self.commercial,
            monthly_active_users=self.monthly_active_users,
            annual_revenue_usd=self.annual_revenue_usd,
            eu_established=self.eu_established,
            distribution=self.distribution,
        )


class UseVerdict(_Strict):
    """What the licence engine's verdict for the use profile means for the audit."""

    forbidden: Action = "fail"
    unknown: Action = "warn"
    conditional: Action = "pass"


class LicensePolicy(_Strict):
    allow: tuple[str, ...] = ()
    """Licence ids accepted; when not empty, every other licence is refused."""
    deny: tuple[str, ...] = ()
    deny_properties: tuple[LicenseProperty, ...] = ()
    use_verdict: UseVerdict = UseVerdict()
    action: Action = "fail"
    """Outcome of a denied licence or licence property."""

    @field_validator("allow", "deny", mode="after")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)


class DocumentationPolicy(_Strict):
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    required: tuple[str, ...] = ()
    """Topics (``intended-use``, ``limitations``, ``training-data``, ``evaluation``,
    ``license``) or catalogue item ids that must be present."""
    action: Action = "warn"

    @field_validator("required", mode="after")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from modeltrust.cards.standards import MUST_HAVE_TOPICS, default_catalogue

        ids = {i.id for i in default_catalogue().items}
        for name in value:
            if name not in MUST_HAVE_TOPICS and name not in ids:
                raise ValueError(
                    f"'{name}' is neither a topic ({', '.join(MUST_HAVE_TOPICS)}) nor a "
                    "documentation item id (see `modeltrust card -f json`)"
                )
        return value


class FairnessPolicy(_Strict):
    required: bool = False
    action: Action = "warn"
    """Outcome when ``required`` and no fairness data was given."""
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    max_difference: float = Field(default=0.1, ge=0.0)
    min_group_size: int = Field(default=30, ge=0)
    checks: tuple[str, ...] | None = None


class PolicyException(_Strict):
    """A waiver: findings of ``rule`` (an id or a glob such as ``MT-DOC-*``), optionally only
    in repos matching ``repo`` and files matching ``file``, until ``expires``."""

    rule: str
    repo: str | None = None
    file: str | None = None
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: date

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str) -> str:
        value = value.strip().upper()
        if not _RULE_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not a rule id such as MT-PKL-001 or a glob (MT-DOC-*)")
        return value

    def matches(self, rule_id: str, repo: str | None, path: str) -> bool:
        if not fnmatch.fnmatchcase(rule_id, self.rule):
            return False
        if self.repo is not None and not (
            repo and fnmatch.fnmatch(repo.lower(), self.repo.lower())
        ):
            return False
        return self.file is None or fnmatch.fnmatch(path, self.file)

    def expired(self, today: date) -> bool:
        return self.expires < today

    @property
    def label(self) -> str:
        scope = "".join(
            f" {k}={v}" for k, v in (("repo", self.repo), ("file", self.file)) if v is not None
        )
        return f"{self.rule}{scope} (approved by {self.approver}, expires {self.expires})"


class Policy(_Strict):
    version: Literal[1] = 1
    name: str = "custom"
    description: str = ""
    thresholds: Thresholds = Thresholds()
    use: UseSettings = UseSettings()
    license: LicensePolicy = LicensePolicy()
    documentation: DocumentationPolicy = DocumentationPolicy()
    fairness: FairnessPolicy = FairnessPolicy()
    exceptions: tuple[PolicyException, ...] = ()


# --- loading -------------------------------------------------------------------------------------


def parse_policy(text: str, origin: str) -> Policy:
    """Validate policy YAML; errors name ``origin`` and the line of the offending key."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise PolicyError(f"{origin}{where}: not valid YAML: {problem}.") from None
    if data is None:
        # An empty file (or comments only) is far more likely the wrong file, or one truncated,
        # than a wish for the schema defaults: those take one line to ask for.
        raise PolicyError(
            f"{origin}: the policy is empty. A minimal policy is the line 'version: 1' (every "
            "other key has a default); 'modeltrust policy show default' prints a complete one "
            "to start from, and docs/audit.md describes every key."
        )
    if not isinstance(data, dict):
        raise PolicyError(f"{origin} line 1: a policy is a mapping of keys (version, thresholds…).")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        problems = [_describe(err, root, origin) for err in e.errors()]
        raise PolicyError("\n".join(problems)) from None


def _describe(err: Any, root: Any, origin: str) -> str:
    loc = tuple(err.get("loc", ()))
    line = _line_of(root, loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    message = str(err.get("msg", "invalid value"))
    if err.get("type") == "extra_forbidden":
        message = "unknown key (see docs/audit.md for the policy format)"
    message = message.removeprefix("Value error, ")
    return f"{origin} line {line}: {key}: {message}."


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the node at ``loc`` (or of its nearest existing parent)."""
    import yaml

    best = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = (key, value)
                    break
            if found is None:
                return best
            key_node, node = found
            best = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return best
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            return best
    return best


def builtin_policy(name: str) -> Policy:
    if name not in BUILTIN_NAMES:
        raise PolicyError(
            f"There is no built-in policy '{name}'; choose one of {', '.join(BUILTIN_NAMES)}, "
            "or give the path of a policy file."
        )
    return parse_policy(builtin_text(name), f"built-in policy '{name}'")


def builtin_text(name: str) -> str:
    return (files("modeltrust.policy") / "builtin" / f"{name}.yaml").read_text("utf-8")


def load_policy_file(path: Path, given_as: str = "--policy") -> Policy:
    """Read and validate a policy file; ``given_as`` says how it was named (the option or
    argument), for the message when it cannot be read."""
    return parse_policy_bytes(read_policy_file(path, given_as), str(path))


def read_policy_file(path: Path, given_as: str = "--policy") -> bytes:
    """The bytes of a policy file; a :class:`PolicyError` naming ``given_as`` (``--policy``,
    ``the FILE argument``...) when it cannot be read (missing, a folder, no permission)."""
    try:
        return path.read_bytes()
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            reason = "it does not exist"
        elif isinstance(e, IsADirectoryError):
            reason = "it is a folder, not a file"
        else:
            reason = e.strerror or str(e)
        raise PolicyError(
            f"Could not read the policy file '{path}' ({given_as}): {reason}. Check the path "
            "and the file's permissions."
        ) from None


def parse_policy_bytes(data: bytes, origin: str) -> Policy:
    """:func:`parse_policy` of a file's bytes, which must be UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(
            f"{origin}: not a policy: it is not UTF-8 text ({e.reason} at byte {e.start}). A "
            "policy is YAML; save it as UTF-8."
        ) from None
    return parse_policy(text, origin)


def discover_policy(option: str | None, cwd: Path | None = None) -> tuple[Policy, str]:
    """The policy to apply and where it came from: ``--policy`` (a file, or the name of a
    built-in), else ``./modeltrust.yaml``, else the built-in ``default``."""
    if option:
        path = Path(option).expanduser()
        if option in BUILTIN_NAMES and not path.exists():
            return builtin_policy(option), f"builtin:{option}"
        if path.is_dir():
            raise PolicyError(
                f"--policy '{option}' is a folder, not a policy file. Give a policy file or one "
                f"of the built-in policies: {', '.join(BUILTIN_NAMES)}."
            )
        if not path.exists():
            raise PolicyError(
                f"Policy file '{option}' (--policy) does not exist. Give a policy file or one of "
                f"the built-in policies: {', '.join(BUILTIN_NAMES)}."
            )
        return load_policy_file(path), str(path)
    found = (cwd or Path.cwd()) / DISCOVERED_FILE
    if found.is_file():
        return load_policy_file(found, "found in the current folder"), str(found)
    return builtin_policy("default"), "builtin:default"
