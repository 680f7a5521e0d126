"""``modeltrust audit TARGET``: every check, one verdict, as the policy decides.

Exit codes: 0 when the verdict is pass or warn, 1 when it is fail, 2 when the audit could not run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

import click

from modeltrust.cli import EXIT_FAILED, EXIT_OK, _output, command_started
from modeltrust.cli._options import (
    debug_option,
    fairness_column_options,
    format_option,
    jobs_option,
    max_depth_option,
    models_dir_option,
    output_option,
    progress_option,
    split_names,
)
from modeltrust.errors import ReportError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from modeltrust.auditor.result import AuditResult, FairnessRequest, Hooks

_STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}
_OUTCOME_STYLE = {"fail": "red", "warn": "yellow", "pass": "dim", "waived": "cyan"}


class AuditFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    SARIF = "sarif"
    HTML = "html"


@click.command("audit", no_args_is_help=True)
@click.argument("target", metavar="TARGET")
@click.option(
    "--policy",
    "policy_option",
    metavar="FILE|NAME",
    envvar="MODELTRUST_POLICY",
    help="A policy file, or a built-in policy (default, strict, commercial, research). "
    "Without it: ./modeltrust.yaml if present, else the built-in default.",
)
@format_option(AuditFormat)
@output_option()
@click.option(
    "--html",
    "html_path",
    metavar="FILE",
    envvar="MODELTRUST_HTML",
    help="Also write the HTML report.",
)
@click.option(
    "--json",
    "json_path",
    metavar="FILE",
    envvar="MODELTRUST_JSON",
    help="Also write the JSON result.",
)
@click.option(
    "--bom",
    "bom_path",
    metavar="FILE",
    envvar="MODELTRUST_BOM",
    help="Also write a CycloneDX AI-BOM.",
)
@click.option(
    "--fairness-data",
    "fairness_data",
    multiple=True,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    envvar="MODELTRUST_FAIRNESS_DATA",
    help="Evaluation predictions (CSV, Parquet, Arrow) to audit for fairness; repeatable.",
)
@fairness_column_options("Fairness data: ")
@max_depth_option(
    "MODELTRUST_AUDIT_MAX_DEPTH", "Generations of base models to follow for licences and lineage."
)
@models_dir_option()
@jobs_option()
@click.option(
    "--cache/--no-cache",
    default=True,
    envvar="MODELTRUST_CACHE",
    help="Reuse scan results of unchanged files (MODELTRUST_CACHE_DIR sets where).",
)
@progress_option()
@debug_option()
def audit(
    target: str,
    policy_option: str | None,
    output_format: str,
    output: str,
    html_path: str | None,
    json_path: str | None,
    bom_path: str | None,
    fairness_data: tuple[str, ...],
    label: str | None,
    prediction: str | None,
    sensitive: str | None,
    privileged: tuple[str, ...],
    positive_label: str | None,
    max_depth: int,
    models_dirs: tuple[Path, ...],
    jobs: int,
    cache: bool,
    progress: bool,
    debug: bool,
) -> None:
    """Audit a model: scan its files, check its licences and lineage, its documentation and,
    with --fairness-data, its fairness; then judge everything by a policy. TARGET is a model
    folder or file, or a Hub repo id 'org/name[@revision]' (HF_ENDPOINT, HF_TOKEN and
    HF_HUB_OFFLINE are honoured). Exit 1 when the verdict is fail."""
    from modeltrust.auditor.audit import audit as run_audit
    from modeltrust.auditor.cache import ResultCache
    from modeltrust.policy.model import discover_policy

    policy, origin = discover_policy(policy_option)
    request = _fairness_request(
        fairness_data, label, prediction, sensitive, privileged, positive_label
    )
    result_cache = ResultCache.default() if cache else None
    try:
        with _hooks(progress) as hooks:
            result = run_audit(
                target,
                policy,
                policy_origin=origin,
                fairness=request,
                cache=result_cache,
                hooks=hooks,
                jobs=jobs,
                max_depth=max_depth,
                search_paths=models_dirs,
            )
    finally:
        if result_cache is not None:
            result_cache.close()
    # The time the user waited, start-up included.
    result = replace(result, duration_s=time.perf_counter() - command_started())
    if html_path is not None:
        from modeltrust.report.html import render_audit_html

        _output.data(render_audit_html(result), html_path, "--html")
    if json_path is not None:
        from modeltrust.report.audit_json import render_audit_json

        _output.data(render_audit_json(result), json_path, "--json")
    if bom_path is not None:
        from modeltrust.report.cyclonedx import render_cyclonedx

        hashes = {f.path: f.sha256 for f in result.files if f.sha256}
        _output.data(
            render_cyclonedx(result.documentation, hashes, tool_version=result.tool_version),
            bom_path,
            "--bom",
        )
    _write(result, AuditFormat(output_format), output)
    raise SystemExit(EXIT_FAILED if result.verdict.status == "fail" else EXIT_OK)


def _fairness_request(
    data: tuple[str, ...],
    label: str | None,
    prediction: str | None,
    sensitive: str | None,
    privileged: tuple[str, ...],
    positive_label: str | None,
) -> FairnessRequest | None:
    if not data:
        if label or prediction or sensitive or privileged or positive_label:
            raise UsageError("--label, --prediction and --sensitive need --fairness-data FILE.")
        return None
    columns = split_names(sensitive)
    if not (label and prediction and columns):
        raise UsageError(
            "--fairness-data needs --label, --prediction and --sensitive: name the columns with "
            "the true label, the prediction and the sensitive attribute(s)."
        )
    from modeltrust.auditor.result import FairnessRequest

    return FairnessRequest(data, label, prediction, columns, privileged, positive_label)


def _write(result: AuditResult, fmt: AuditFormat, output: str) -> None:
    match fmt:
        case AuditFormat.TERMINAL:
            if output == "-":
                render_terminal(result, _output.stdout())
                return
            from rich.console import Console

            try:
                with open(output, "w", encoding="utf-8") as fh:  # noqa: PTH123
                    render_terminal(result, Console(file=fh, width=120))
            except OSError as e:
                raise ReportError(
                    f"Could not write the report to '{output}': {e.strerror or e}. Choose another "
                    "--output."
                ) from None
            _output.message(f"Report written to {output}")
        case AuditFormat.JSON:
            from modeltrust.report.audit_json import render_audit_json

            _output.data(render_audit_json(result), output)
        case AuditFormat.SARIF:
            from modeltrust.report.audit_json import render_audit_sarif

            _output.data(render_audit_sarif(result), output)
        case AuditFormat.HTML:
            from modeltrust.report.html import render_audit_html

            _output.data(render_audit_html(result), output)
        case unknown:
            assert_never(unknown)


@contextmanager
def _hooks(progress: bool) -> Iterator[Hooks | None]:
    """A Rich progress display on stderr for downloads and the scan (only on a terminal)."""
    if not (progress and _output.stderr_is_terminal()):
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from modeltrust.auditor.result import Hooks

    with Progress(
        TextColumn("[bold]{task.fields[kind]}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=_output.stderr(),
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def stage(text: str) -> None:
            bar.console.print(f"[dim]{text}…[/]", highlight=False)

        def download(path: str, done: int, total: int | None) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(path[-50:], total=total, kind="downloading")
            bar.update(tasks[path], completed=done)

        yield Hooks(stage=stage, download=download)


def render_terminal(result: AuditResult, console: Console) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from modeltrust.report.interface import GROUP_EXAMPLES, grouped, more

    verdict = result.verdict
    pinned = f" @ {result.revision}" if result.revision else ""
    console.print(f"[bold]modeltrust audit[/] {escape(result.target)}{escape(pinned)}")
    console.print(f"policy: {escape(result.policy.name)} ({escape(result.policy_origin)})")
    lic = result.license
    console.print(
        f"licences: {escape(', '.join(lic.effective_ids) or 'none identified')}; use "
        f"{escape(lic.verdict.use_permitted)}; documentation score "
        f"{result.documentation.overall:.2f}; {len(result.files)} file(s)"
        + (f", {result.cache.hits} from cache" if result.cache.hits else "")
    )
    if result.fairness is not None:
        passed = "pass" if result.fairness.passed else "fail"
        console.print(f"fairness checks: {passed}")
    console.print()
    shown = [d for d in result.evaluation.decisions if d.outcome != "pass"]
    if shown:
        table = Table(title="Findings that count", title_justify="left", expand=True)
        table.add_column("Outcome", no_wrap=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Where and what", overflow="fold", ratio=1)
        order = {"fail": 0, "warn": 1, "waived": 2}
        ordered = sorted(shown, key=lambda d: (order[d.outcome], -d.finding.severity))
        alike = lambda d: (d.outcome, d.finding.severity, d.finding.rule_id)  # noqa: E731
        for group in grouped(ordered, key=alike):
            d, f = group[0], group[0].finding
            if len(group) == 1:
                what = f"[bold]{escape(str(f.location))}[/]\n{escape(f.message)}"
            else:  # alike findings in many files: one row, a count and a few examples
                examples = [escape(str(g.finding.location)) for g in group[:GROUP_EXAMPLES]]
                what = (
                    f"[bold]{escape(f.title)} ({len(group):,} findings)[/]\n"
                    + "\n".join(examples)
                    + (f"\n{more(len(examples), len(group))}" if len(group) > len(examples) else "")
                    + f"\ne.g. {escape(f.message)}\n[dim]Every one is in the JSON and HTML "
                    "reports.[/]"
                )
            table.add_row(
                f"[{_OUTCOME_STYLE[d.outcome]}]{d.outcome}[/]\n[dim]{f.severity.label}[/]",
                f"{f.rule_id}\n[dim]{d.area}[/]",
                what,
            )
        console.print(table)
    quiet = sum(d.outcome == "pass" for d in result.evaluation.decisions)
    if quiet:
        console.print(
            f"[dim]{quiet} finding(s) below the policy's thresholds are listed in the JSON and "
            "HTML reports.[/]"
        )
    for e in verdict.expired:
        console.print(f"[yellow]expired exception:[/] {escape(e.label)}")
    style = _STATUS_STYLE[verdict.status]
    fails = sum(d.outcome == "fail" for d in result.evaluation.decisions)
    warns = sum(d.outcome == "warn" for d in result.evaluation.decisions)
    waived = len(verdict.waived)
    console.print(
        Panel(
            f"[{style}]{verdict.status.upper()}[/]: {fails} failing, {warns} warning, "
            f"{waived} waived finding(s) under policy '{escape(result.policy.name)}'",
            title="verdict",
            expand=True,
        )
    )
