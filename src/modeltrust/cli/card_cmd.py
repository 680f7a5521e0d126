"""``modeltrust card TARGET``: how completely a model is documented, and drafts to close the gaps."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

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

    from modeltrust.cards.coverage import CoverageReport

_STATUS_STYLE = {"present": "green", "placeholder": "yellow", "missing": "red"}


class CardFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"


@click.command("card", no_args_is_help=True)
@click.argument("target", metavar="TARGET")
@click.option(
    "--draft",
    "draft",
    metavar="FILE",
    envvar="MODELTRUST_DRAFT",
    help="Write a draft model card with every known fact and the gaps marked; - is stdout.",
)
@click.option(
    "--eu-ai-act",
    "eu_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MODELTRUST_EU_AI_ACT",
    help="Write the Annex XII information sheet and a training-content summary skeleton here.",
)
@format_option(CardFormat, "MODELTRUST_CARD_FORMAT")
@output_option()
@fail_on_option("medium")
@max_depth_option(
    "MODELTRUST_CARD_MAX_DEPTH", "Generations of base models to follow for licences and lineage."
)
@models_dir_option()
@debug_option()
def card(
    target: str,
    draft: str | None,
    eu_dir: Path | None,
    output_format: str,
    output: str,
    fail_on: Severity,
    max_depth: int,
    models_dirs: tuple[Path, ...],
    debug: bool,
) -> None:
    """Check how completely a model is documented against the Model Cards paper, the Hugging
    Face card template and the EU AI Act (Annexes XI and XII). TARGET is a model folder or a Hub
    repo id 'org/name[@revision]' (HF_ENDPOINT and HF_TOKEN are honoured)."""
    from modeltrust import __version__
    from modeltrust.cards.coverage import assess_coverage
    from modeltrust.cards.facts import collect_facts
    from modeltrust.sources import open_source

    source = open_source(target, search_paths=models_dirs)
    report = assess_coverage(collect_facts(source, max_depth=max_depth))
    if draft is not None:
        from modeltrust.cards.draft import render_draft

        _output.data(render_draft(report, tool_version=__version__), draft, "--draft")
    if eu_dir is not None:
        _write_eu(report, eu_dir, __version__)
    if draft == "-" and output == "-":
        _output.message(
            f"Documentation score {report.overall:.2f}; {len(report.findings)} finding(s)."
        )
    else:
        match CardFormat(output_format):
            case CardFormat.TERMINAL:
                _write_terminal(report, output, fail_on)
            case CardFormat.JSON:
                from modeltrust.cards.report_json import render_json

                _output.data(render_json(report, fail_on=fail_on, tool_version=__version__), output)
            case unknown:
                assert_never(unknown)
    raise SystemExit(EXIT_FAILED if report.at_or_above(fail_on) else EXIT_OK)


def _write_eu(report: CoverageReport, folder: Path, version: str) -> None:
    from modeltrust.cards.euaiact import (
        ANNEX_XII_FILE,
        SUMMARY_FILE,
        render_annex_xii,
        render_training_summary,
    )

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (
            (ANNEX_XII_FILE, render_annex_xii(report, tool_version=version)),
            (SUMMARY_FILE, render_training_summary(report, tool_version=version)),
        ):
            (folder / name).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"Could not write the EU AI Act drafts to '{folder}': {e.strerror or e}. Choose "
            "another --eu-ai-act folder."
        ) from None
    _output.message(
        f"EU AI Act drafts written to {folder / ANNEX_XII_FILE} and {folder / SUMMARY_FILE}"
    )


def _write_terminal(report: CoverageReport, output: str, fail_on: Severity) -> None:
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


def render_terminal(report: CoverageReport, console: Console, *, fail_on: Severity) -> None:
    from rich.markup import escape
    from rich.table import Table

    facts = report.facts
    pinned = f" @ {facts.revision}" if facts.revision else ""
    console.print(f"[bold]Documentation check[/] {escape(facts.target)}{escape(pinned)}")
    console.print()
    scores = Table(title="Coverage by standard", title_justify="left", show_edge=False)
    for column in ("Standard", "Score", "Present", "Placeholder", "Missing"):
        scores.add_column(column)
    for s in report.scores:
        scores.add_row(
            escape(s.title), f"{s.score:.2f}", str(s.present), str(s.placeholder), str(s.missing)
        )
    console.print(scores)
    console.print(
        f"[bold]Overall score: {report.overall:.2f}[/] (0 = undocumented, 1 = every item present)"
    )
    console.print()
    items = Table(title="Items", title_justify="left", show_edge=False)
    for column in ("Standard", "Item", "Status", "Evidence"):
        items.add_column(column)
    for r in report.results:
        style = _STATUS_STYLE[r.status]
        flags = (" [bold]*[/]" if r.item.must_have else "") + (
            " [dim](unverified)[/]" if r.item.unverified else ""
        )
        items.add_row(
            r.item.standard,
            f"{escape(r.item.ref)}: {escape(r.item.title)}{flags}",
            f"[{style}]{r.status}[/]",
            escape(r.evidence),
        )
    console.print(items)
    console.print(
        "[dim]* must-have item; (unverified): the standard's wording was not checked against its primary text[/]"
    )
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
    console.print()
    console.print(
        f"[red]{len(failed)} finding(s) at or above {fail_on.label}[/]"
        if failed
        else f"[green]nothing at or above {fail_on.label}[/]"
    )
