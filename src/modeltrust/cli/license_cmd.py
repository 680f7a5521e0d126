"""``modeltrust license TARGET``: which licences bind a model, and what using it requires."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, assert_never, cast

import click

from modeltrust.cli import EXIT_FAILED, EXIT_OK, _output
from modeltrust.cli._options import (
    SEVERITY_STYLE,
    debug_option,
    fail_on_option,
    format_option,
    max_depth_option,
    models_dir_option,
    output_option,
)
from modeltrust.errors import ReportError
from modeltrust.findings import Severity

if TYPE_CHECKING:
    from rich.console import Console
    from rich.tree import Tree

    from modeltrust.licenses.check import LicenseReport
    from modeltrust.licenses.lineage import LineageNode
    from modeltrust.licenses.obligations import Distribution

_STYLE = {
    "allowed": "bold green",
    "conditional": "bold yellow",
    "forbidden": "bold red",
    "unknown": "bold magenta",
}


class LicenseFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"


@click.command("license", no_args_is_help=True)
@click.argument("target", metavar="TARGET")
@click.option(
    "--use",
    type=click.Choice(["commercial", "noncommercial"]),
    default="commercial",
    show_default=True,
    envvar="MODELTRUST_USE",
    help="How the model will be used.",
)
@click.option(
    "--mau",
    type=click.IntRange(min=0),
    envvar="MODELTRUST_MAU",
    help="Monthly active users of your products, checked against licence thresholds.",
)
@click.option(
    "--revenue",
    type=click.IntRange(min=0),
    envvar="MODELTRUST_REVENUE",
    help="Annual revenue in US dollars, checked against licence thresholds.",
)
@click.option(
    "--eu/--no-eu",
    default=False,
    show_default=True,
    envvar="MODELTRUST_EU",
    help="Whether you are established in the European Union.",
)
@click.option(
    "--distribution",
    type=click.Choice(["distribute", "hosted", "internal"]),
    default="distribute",
    show_default=True,
    envvar="MODELTRUST_DISTRIBUTION",
    help="distribute: you ship the weights; hosted: a service others use; internal: in-house.",
)
@max_depth_option("MODELTRUST_LICENSE_MAX_DEPTH", "Generations of base models to follow.")
@models_dir_option()
@format_option(LicenseFormat, "MODELTRUST_LICENSE_FORMAT")
@output_option()
@fail_on_option()
@debug_option()
def license_command(
    target: str,
    use: str,
    mau: int | None,
    revenue: int | None,
    eu: bool,
    distribution: str,
    max_depth: int,
    models_dirs: tuple[Path, ...],
    output_format: str,
    output: str,
    fail_on: Severity,
    debug: bool,
) -> None:
    """Find the licences a model is under (its own and its base models'), whether your use is
    allowed, and what you must do. TARGET is a model folder or a Hub repo id
    'org/name[@revision]' (HF_ENDPOINT and HF_TOKEN are honoured). Not legal advice."""
    from modeltrust.licenses.check import check_license
    from modeltrust.licenses.obligations import UseProfile
    from modeltrust.sources import open_source

    profile = UseProfile(
        commercial=use == "commercial",
        monthly_active_users=mau,
        annual_revenue_usd=revenue,
        eu_established=eu,
        distribution=cast("Distribution", distribution),  # click.Choice checked it
    )
    with _status(f"Reading {target} and its base models"):
        source = open_source(target, search_paths=models_dirs)
        report = check_license(source, profile, max_depth=max_depth)
    match LicenseFormat(output_format):
        case LicenseFormat.TERMINAL:
            _write_terminal(report, output, fail_on)
        case LicenseFormat.JSON:
            from modeltrust import __version__
            from modeltrust.licenses.report_json import render_json

            text = render_json(report, fail_on=fail_on, tool_version=__version__)
            _output.data(text, output)
        case unknown:
            assert_never(unknown)
    raise SystemExit(EXIT_FAILED if report.at_or_above(fail_on) else EXIT_OK)


def _write_terminal(report: LicenseReport, output: str, fail_on: Severity) -> None:
    if output == "-":
        render_terminal(report, _output.stdout(), fail_on=fail_on)
        return
    from rich.console import Console

    try:
        with open(output, "w", encoding="utf-8") as fh:  # noqa: PTH123
            render_terminal(report, Console(file=fh, width=120), fail_on=fail_on)
    except OSError as e:
        raise ReportError(
            f"Could not write the report to '{output}': {e.strerror or e}. Choose another --output."
        ) from None
    _output.message(f"Report written to {output}")


@contextmanager
def _status(text: str) -> Iterator[None]:
    """A spinner on stderr while the Hub is read, only when stderr is a terminal."""
    if not _output.stderr_is_terminal():
        yield
        return
    with _output.stderr().status(text):
        yield


# --- terminal rendering --------------------------------------------------------------------------


def render_terminal(report: LicenseReport, console: Console, *, fail_on: Severity) -> None:
    from rich.markup import escape
    from rich.table import Table

    pinned = f" @ {report.revision}" if report.revision else ""
    console.print(f"[bold]Licence check[/] {escape(report.target)}{escape(pinned)}")
    console.print()

    effective = Table(title="Effective licences", title_justify="left", show_edge=False)
    for column in ("Licence", "Name", "Commercial use", "Carried by", "Confidence"):
        effective.add_column(column)
    for lic in report.effective:
        carriers = ", ".join(_node_label(report.lineage.node(k)) for k in lic.carriers)
        entry = lic.entry
        effective.add_row(
            escape(lic.id),
            escape(entry.name) if entry else "[magenta]not in the knowledge base[/]",
            entry.commercial_use if entry else "?",
            escape(carriers),
            entry.confidence if entry else "-",
        )
    if report.effective:
        console.print(effective)
    else:
        console.print("[bold red]No licence could be identified anywhere in the lineage.[/]")
    console.print()
    console.print(_tree(report))
    console.print()

    verdict = report.verdict
    style = _STYLE[verdict.commercial_use]
    console.print(f"Commercial use: [{style}]{verdict.commercial_use.upper()}[/]")
    if not report.use.commercial:
        style = _STYLE[verdict.use_permitted]
        console.print(f"Non-commercial use: [{style}]{verdict.use_permitted.upper()}[/]")
    for reason in verdict.reasons:
        console.print(f"  - {escape(reason)}")
    console.print()

    if report.checklist:
        console.print(f"[bold]What you must do[/] ({_profile(report)})")
        steps = Table.grid(padding=(0, 1))
        steps.add_column(justify="right", no_wrap=True)
        steps.add_column()
        for i, item in enumerate(report.checklist, 1):
            steps.add_row(f"{i}.", f"{escape(item.action)}\n[dim]{escape(item.why)}[/]")
        console.print(steps)
        console.print()

    if report.findings:
        table = Table(title="Findings", title_justify="left", show_edge=False)
        for column in ("Severity", "Rule", "Finding"):
            table.add_column(column)
        for f in report.findings:
            table.add_row(
                f"[{SEVERITY_STYLE[f.severity]}]{f.severity.label}[/]",
                f.rule_id,
                escape(f.message),
            )
        console.print(table)
    else:
        console.print("[green]No findings.[/]")
    failed = report.at_or_above(fail_on)
    summary = (
        f"[red]{len(failed)} finding(s) at or above {fail_on.label}[/]"
        if failed
        else f"[green]nothing at or above {fail_on.label}[/]"
    )
    console.print()
    console.print(summary)
    console.print(
        "[dim]An engineering reading of licence terms, not legal advice: read the licences "
        "themselves.[/]"
    )


def _tree(report: LicenseReport) -> Tree:
    from rich.markup import escape
    from rich.tree import Tree

    lineage = report.lineage
    shown: set[str] = set()

    def label(node: LineageNode) -> str:
        found = report.licenses.get(node.key)
        licences = ", ".join(found.ids) if found and found.ids else "no licence found"
        relation = f"[dim]{node.relation}[/] " if node.relation else ""
        text = f"{relation}[bold]{escape(_node_label(node))}[/] [cyan]{escape(licences)}[/]"
        if node.status != "ok":
            text = f"{relation}[bold]{escape(_node_label(node))}[/] [red]{node.status}[/]"
        return text

    def grow(branch: Tree, node: LineageNode) -> None:
        for key in node.bases:
            base = lineage.node(key)
            if key in shown:
                branch.add(label(base) + " [dim](shown above)[/]")
                continue
            shown.add(key)
            grow(branch.add(label(base)), base)

    root = lineage.root
    shown.add(root.key)
    tree = Tree(f"Lineage: {label(root)}")
    grow(tree, root)
    return tree


def _node_label(node: LineageNode) -> str:
    return node.display if node.depth else (node.display or node.name)


def _profile(report: LicenseReport) -> str:
    use = report.use
    parts = ["commercial" if use.commercial else "non-commercial", use.distribution]
    if use.monthly_active_users is not None:
        parts.append(f"{use.monthly_active_users:,} MAU")
    if use.annual_revenue_usd is not None:
        parts.append(f"US${use.annual_revenue_usd:,} revenue")
    parts.append("EU" if use.eu_established else "outside the EU")
    return ", ".join(parts)
