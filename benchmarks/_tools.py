"""The scanners under comparison: how each is installed, invoked and read.

Every peer is installed from PyPI into its own throwaway venv under ``benchmarks/.work/venvs``.
Each tool turns one run into a :class:`Verdict` by a documented rule (``RULES``); the rules are
also printed in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _measure import Run

PY312 = "/root/.pyenv/versions/3.12.1/bin/python"

FLAGGED = "flagged"
CLEAN = "clean"
ERROR = "error"
SKIPPED = "skipped"
TIMEOUT = "timeout"


@dataclass
class Verdict:
    status: str  # FLAGGED, CLEAN, ERROR, SKIPPED or TIMEOUT
    detail: str = ""
    # Locations (paths, possibly with a member or position) the tool reported at its gate level.
    flagged_locations: list[str] = field(default_factory=list)
    # ModelAudit only: True when the run exited 1 on warnings alone.
    warned: bool = False
    # How many files the tool says it scanned, where it says so.
    scanned: int | None = None


VerdictFn = Callable[[Run, Path], Verdict]


@dataclass
class Tool:
    name: str
    package: str  # PyPI name, for the version
    venv: Path | None  # None: the project's own venv
    base_python: str = sys.executable
    extra_packages: tuple[str, ...] = ()
    folders: bool = True  # does the CLI walk a folder?
    env: dict[str, str] = field(default_factory=dict)
    version: str = "?"
    note: str = ""

    # ---- setup -------------------------------------------------------------------------------

    def bin(self, exe: str) -> str:
        if self.venv is None:
            return str(Path(sys.executable).with_name(exe))
        return str(self.venv / "bin" / exe)

    def install(self, log=print) -> None:
        if self.venv is None:
            self.version = _module_version(self.env)
            return
        py = self.venv / "bin" / "python"
        ok = self.venv / ".installed"
        want = " ".join([self.package, *self.extra_packages])
        if not (ok.is_file() and ok.read_text() == want and py.exists()):
            if self.venv.exists():
                shutil.rmtree(self.venv)
            log(f"peers: creating {self.venv} ({self.base_python}) and installing {want}")
            subprocess.run([self.base_python, "-m", "venv", str(self.venv)], check=True)
            subprocess.run(
                [str(py), "-m", "pip", "install", "--quiet", self.package, *self.extra_packages],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            ok.write_text(want)
        self.version = _pip_version(str(py), self.package)

    # ---- invocation --------------------------------------------------------------------------

    def command(self, target: Path, out: Path) -> list[str]:
        raise NotImplementedError

    def display_command(self) -> str:
        """The command as a user would type it (for the report)."""
        return " ".join(self.command(Path("TARGET"), Path("out.json"))).replace(
            str(self.venv / "bin") + "/" if self.venv else str(Path(sys.executable).parent) + "/",
            "",
        )

    def verdict(self, run: Run, out: Path) -> Verdict:
        v = self.judge(run, out)
        if not run.timed_out:
            v.scanned = self.scanned_count(run, out)
        return v

    def judge(self, run: Run, out: Path) -> Verdict:
        raise NotImplementedError

    def scanned_count(self, run: Run, out: Path) -> int | None:
        return None

    def views(self) -> list[tuple[str, VerdictFn]]:
        """Named readings of one run: one per tool, two for ModelAudit."""
        return [(self.name, self.verdict)]


def _pip_version(python: str, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    res = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return res.stdout.strip() or "?"


def _module_version(env: dict[str, str]) -> str:
    """modeltrust's ``__version__`` as the measured runs will import it (``env`` may set
    PYTHONPATH to an exported commit)."""
    code = "import modeltrust; print(modeltrust.__version__)"
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    return res.stdout.strip() or "?"


def _load_json(out: Path) -> object | None:
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------


class ModelTrust(Tool):
    extra_args: tuple[str, ...] = ()

    def command(self, target: Path, out: Path) -> list[str]:
        return [
            self.bin("modeltrust"),
            "scan",
            str(target),
            "-f",
            "json",
            "-o",
            str(out),
            "--no-progress",
            *self.extra_args,
        ]

    def scanned_count(self, run: Run, out: Path) -> int | None:
        data = _load_json(out)
        return data["summary"]["files"] if isinstance(data, dict) else None

    def judge(self, run: Run, out: Path) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        data = _load_json(out)
        locs: list[str] = []
        if isinstance(data, dict):
            gate = ("critical", "high")
            locs = [
                f["location"]["display"] for f in data.get("findings", []) if f["severity"] in gate
            ]
        if run.rc == 0:
            return Verdict(CLEAN)
        if run.rc == 1:
            return Verdict(FLAGGED, f"{len(locs)} finding(s) >= high", locs)
        return Verdict(ERROR, f"exit {run.rc}: {run.stderr.strip()[-200:]}")


class Picklescan(Tool):
    _line = re.compile(r"^(?P<loc>.+?): (dangerous|suspicious) import '", re.MULTILINE)

    def command(self, target: Path, out: Path) -> list[str]:
        return [self.bin("picklescan"), "-p", str(target), "--strict"]

    def scanned_count(self, run: Run, out: Path) -> int | None:
        m = re.search(r"Scanned files: (\d+)", run.stdout)
        return int(m.group(1)) if m else None

    def judge(self, run: Run, out: Path) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        locs = [m.group("loc") for m in self._line.finditer(run.stdout)]
        m = re.search(r"Scanned files: (\d+)", run.stdout)
        scanned = int(m.group(1)) if m else None
        if run.rc == 1:
            return Verdict(FLAGGED, f"{len(locs)} import line(s)", locs)
        if run.rc == 2:
            # 2 outranks 1: a broken stream that also has a payload exits 2.
            return Verdict(ERROR, "exit 2 (scan failed)", locs)
        if run.rc == 0 and scanned == 0:
            return Verdict(SKIPPED, "Scanned files: 0")
        if run.rc == 0:
            return Verdict(CLEAN)
        return Verdict(ERROR, f"exit {run.rc}")


class Modelscan(Tool):
    def command(self, target: Path, out: Path) -> list[str]:
        return [self.bin("modelscan"), "-p", str(target), "-r", "json", "-o", str(out)]

    def scanned_count(self, run: Run, out: Path) -> int | None:
        data = _load_json(out)
        if not isinstance(data, dict):
            return None
        files = data["summary"].get("scanned", {}).get("scanned_files", [])
        return len({f.split(":")[0] for f in files})

    def judge(self, run: Run, out: Path) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        data = _load_json(out)
        locs: list[str] = []
        errors = 0
        if isinstance(data, dict):
            locs = [str(i.get("source", "")) for i in data.get("issues", [])]
            errors = len(data.get("errors", []))
        if run.rc == 1:
            return Verdict(FLAGGED, f"{len(locs)} issue(s)", locs)
        if run.rc == 3:
            return Verdict(SKIPPED, "exit 3: no supported files")
        if run.rc == 0:
            return Verdict(CLEAN, f"{errors} error(s) in report" if errors else "")
        return Verdict(ERROR, f"exit {run.rc}")


class Fickling(Tool):
    def command(self, target: Path, out: Path) -> list[str]:
        return [self.bin("fickling"), "--check-safety", "--json-output", str(out), str(target)]

    def scanned_count(self, run: Run, out: Path) -> int | None:
        return 1 if run.rc in (0, 1) else 0

    def judge(self, run: Run, out: Path) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        if run.rc == 0:
            return Verdict(CLEAN)
        if run.rc == 1:
            return Verdict(FLAGGED, "exit 1 (unsafe)")
        return Verdict(ERROR, f"exit {run.rc}: {run.stdout.strip().splitlines()[:1]}")


class ModelAudit(Tool):
    """Exit 1 on any issue, warnings included; so it is read twice (see ``views``)."""

    def command(self, target: Path, out: Path) -> list[str]:
        return [
            self.bin("modelaudit"),
            "scan",
            str(target),
            "--format",
            "json",
            "--output",
            str(out),
            "--no-cache",
        ]

    def views(self) -> list[tuple[str, VerdictFn]]:
        return [
            ("ModelAudit (exit code)", lambda r, o: self._verdict(r, o, critical_only=False)),
            ("ModelAudit (critical only)", lambda r, o: self._verdict(r, o, critical_only=True)),
        ]

    def verdict(self, run: Run, out: Path) -> Verdict:
        return self._verdict(run, out, critical_only=False)

    def _verdict(self, run: Run, out: Path, *, critical_only: bool) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        data = _load_json(out)
        crit: list[str] = []
        warn: list[str] = []
        scanned = None
        if isinstance(data, dict):
            scanned = data.get("files_scanned")
            for i in data.get("issues", []):
                sev = str(i.get("severity", "")).lower()
                if sev == "critical":
                    crit.append(str(i.get("location", "")))
                elif sev == "warning":
                    warn.append(str(i.get("location", "")))
        if critical_only:
            if crit:
                return Verdict(FLAGGED, f"{len(crit)} critical", crit, scanned=scanned)
            if run.rc == 2:
                return Verdict(ERROR, "exit 2", scanned=scanned)
            detail = f"{len(warn)} warning(s)" if warn else ""
            return Verdict(CLEAN, detail, warned=bool(warn), scanned=scanned)
        if run.rc == 1:
            detail = f"{len(crit)} critical, {len(warn)} warning"
            return Verdict(FLAGGED, detail, crit + warn, scanned=scanned)
        if run.rc == 0:
            return Verdict(CLEAN, scanned=scanned)
        return Verdict(ERROR, f"exit {run.rc}", crit + warn, scanned=scanned)


class Modelwarden(Tool):
    def command(self, target: Path, out: Path) -> list[str]:
        return [
            self.bin("modelwarden"),
            "scan",
            str(target),
            "--format",
            "json",
            "--output",
            str(out),
            "--fail-on",
            "high",
        ]

    def scanned_count(self, run: Run, out: Path) -> int | None:
        data = _load_json(out)
        return data["summary"].get("scanned") if isinstance(data, dict) else None

    def judge(self, run: Run, out: Path) -> Verdict:
        if run.timed_out:
            return Verdict(TIMEOUT)
        data = _load_json(out)
        locs: list[str] = []
        scanned = skipped = None
        if isinstance(data, dict):
            for f in data.get("findings", []):
                if f.get("severity") in ("critical", "high"):
                    member = f.get("member")
                    locs.append(f"{f.get('path')}:{member}" if member else str(f.get("path")))
            summary = data.get("summary", {})
            scanned, skipped = summary.get("scanned"), summary.get("skipped")
        if run.rc == 1:
            return Verdict(FLAGGED, f"{len(locs)} finding(s) >= high", locs)
        if run.rc == 0 and scanned == 0 and skipped:
            return Verdict(SKIPPED, f"{skipped} skipped, none scanned")
        if run.rc == 0:
            return Verdict(CLEAN)
        return Verdict(ERROR, f"exit {run.rc}")


RULES = {
    "modeltrust": "exit 1 = flagged (a finding >= high), 0 = clean, 2 = error",
    "picklescan": "`--strict`; exit 1 = flagged, 2 = scan error (outranks 1), 0 with "
    "'Scanned files: 0' = skipped, else 0 = clean",
    "modelscan": "exit 1 = flagged, 3 = skipped ('no supported files', while it prints 'No issues "
    "found'), 2/4 = error, 0 = clean",
    "fickling": "exit 1 = flagged (any LIKELY_UNSAFE or worse), 2 = error (cannot parse, e.g. any "
    "zip), 0 = clean",
    "ModelAudit (exit code)": "exit 1 = flagged (any issue, warnings included), 2 = error, "
    "0 = clean",
    "ModelAudit (critical only)": "flagged = at least one CRITICAL issue in the JSON; otherwise "
    "exit 2 = error, else clean (warnings ignored)",
    "modelwarden": "`--fail-on high`; exit 1 = flagged, 0 with nothing scanned and files "
    "skipped = skipped, else 0 = clean, 2 = error",
}


def single_process_modeltrust() -> ModelTrust:
    """modeltrust with ``--jobs 1``: one process, like every peer here (timing only)."""
    tool = ModelTrust("modeltrust -j1", "modeltrust", None)
    tool.extra_args = ("--jobs", "1")
    return tool


def make_tools(work: Path, repo: Path) -> list[Tool]:
    venvs = work / "venvs"
    audit_env = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    audit = ModelAudit("ModelAudit", "modelaudit", venvs / "modelaudit", env=audit_env)
    return [
        ModelTrust("modeltrust", "modeltrust", None),
        Picklescan(
            "picklescan",
            "picklescan",
            venvs / "picklescan",
            # 1.0.5 imports numpy to read the arrays of an .npz but does not declare it; without
            # it the first .npz ends the whole folder scan with a traceback (exit 2).
            extra_packages=("numpy",),
        ),
        Modelscan("modelscan", "modelscan", venvs / "modelscan"),
        Fickling(
            "fickling",
            "fickling",
            venvs / "fickling",
            # 0.1.12 imports typing_extensions on Python < 3.12 but does not declare it.
            extra_packages=("typing_extensions",),
            folders=False,
            note="the CLI takes one file: run once per file (start-up counted each time); it "
            "cannot read zips (torch zip, .npz) or safetensors",
        ),
        audit,
        Modelwarden("modelwarden", "modelwarden", venvs / "modelwarden", base_python=PY312),
    ]
