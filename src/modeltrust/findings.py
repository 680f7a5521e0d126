"""The one findings model every part of modeltrust reports in.

A :class:`Finding` is one observation about one place in a model: a rule id that never changes
meaning (``MT-PKL-001``), a severity, what was seen, where, the evidence and what to do about it.
A :class:`ScanResult` is everything one run found, plus the files it looked at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """How bad a finding is. Ordered, so ``severity >= Severity.HIGH`` reads naturally."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; choose one of {choices}") from None


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: a file, the members of the archives around it, and a spot inside.

    ``members`` lists archive members from the outermost container inwards, so a pickle inside
    a zip inside a tar is ``("model.zip", "archive/data.pkl")``.
    """

    path: str
    members: tuple[str, ...] = ()
    offset: int | None = None
    opcode_index: int | None = None

    def inner(self, member: str) -> Location:
        """The location of ``member`` inside the container at this location."""
        return Location(self.path, (*self.members, member))

    def at(self, offset: int | None, opcode_index: int | None = None) -> Location:
        """This location, pointing at a byte offset (and opcode) inside the innermost stream."""
        return Location(self.path, self.members, offset, opcode_index)

    @property
    def display_path(self) -> str:
        """``file!member!member``: the path a person reads, archive members included."""
        return "!".join((self.path, *self.members))

    def __str__(self) -> str:
        text = self.display_path
        if self.offset is not None:
            text += f" @ byte {self.offset}"
        if self.opcode_index is not None:
            text += f" (opcode #{self.opcode_index})"
        return text


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation, under a stable rule id documented in docs/rules.md."""

    rule_id: str
    severity: Severity
    title: str
    message: str
    location: Location
    evidence: str | None = None
    remediation: str = ""
    references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The finding as every JSON report writes it (documented in docs/json.md)."""
        loc = self.location
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "path": loc.path,
            "location": {
                "path": loc.path,
                "members": list(loc.members),
                "offset": loc.offset,
                "opcode_index": loc.opcode_index,
                "display": str(loc),
            },
            "evidence": self.evidence,
            "remediation": self.remediation,
            "references": list(self.references),
        }

    def to_record(self) -> dict[str, Any]:
        """Every field as plain JSON data, for :meth:`from_record` to rebuild exactly (the
        result cache stores these; scanner processes send them to the process that reports)."""
        loc = self.location
        return {
            "rule_id": self.rule_id,
            "severity": int(self.severity),
            "title": self.title,
            "message": self.message,
            "location": [loc.path, list(loc.members), loc.offset, loc.opcode_index],
            "evidence": self.evidence,
            "remediation": self.remediation,
            "references": list(self.references),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Finding:
        path, members, offset, opcode_index = record["location"]
        return cls(
            rule_id=str(record["rule_id"]),
            severity=Severity(int(record["severity"])),
            title=str(record["title"]),
            message=str(record["message"]),
            location=Location(str(path), tuple(members), offset, opcode_index),
            evidence=record["evidence"],
            remediation=str(record["remediation"]),
            references=tuple(record["references"]),
        )


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A file that was looked at, and what its content turned out to be.

    ``facts`` are things a format declares about the model, not judgements: a GGUF file's
    ``general.license`` or ``general.base_model.0.repo_url``, an ONNX producer. Licence and
    documentation checks read them.
    """

    path: str
    size: int
    formats: tuple[str, ...]
    sha256: str | None = None
    facts: tuple[tuple[str, str], ...] = ()

    def to_record(self) -> dict[str, Any]:
        """Plain JSON data for :meth:`from_record` (see :meth:`Finding.to_record`)."""
        return {
            "path": self.path,
            "size": self.size,
            "formats": list(self.formats),
            "sha256": self.sha256,
            "facts": [list(p) for p in self.facts],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScannedFile:
        return cls(
            str(record["path"]),
            int(record["size"]),
            tuple(str(x) for x in record["formats"]),
            record["sha256"],
            tuple((str(k), str(v)) for k, v in record["facts"]),
        )


def file_result_record(file: ScannedFile, findings: Iterable[Finding]) -> dict[str, Any]:
    """One file's scan result as plain JSON data: what the result cache stores and what scanner
    workers send to the process that reports."""
    return {"file": file.to_record(), "findings": [f.to_record() for f in findings]}


def file_result_from_record(record: dict[str, Any]) -> tuple[ScannedFile, list[Finding]]:
    """The inverse of :func:`file_result_record`."""
    findings = [Finding.from_record(f) for f in record["findings"]]
    return ScannedFile.from_record(record["file"]), findings


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one scan found."""

    targets: tuple[str, ...]
    files: tuple[ScannedFile, ...]
    findings: tuple[Finding, ...]
    duration_s: float = 0.0
    tool_version: str = ""
    started_at: str = ""

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def severity_counts(self) -> dict[Severity, int]:
        counted = Counter(f.severity for f in self.findings)
        return {s: counted.get(s, 0) for s in sorted(Severity, reverse=True)}

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity >= threshold)


def printable(text: str) -> str:
    """``text`` as valid UTF-8 text: bytes of a file name that were not UTF-8 (kept by Python as
    lone surrogates) become ``\\xNN`` escapes, so every report can show and store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text
