"""``modeltrust scan PATH...``: is it safe to load?"""

from __future__ import annotations

from typing import Annotated, assert_never

import typer

from modeltrust.cli import EXIT_FAILED, EXIT_OK, _output
from modeltrust.errors import UsageError
from modeltrust.findings import ScanResult, Severity
from modeltrust.report.interface import OutputFormat
from modeltrust.report.json import JsonRenderer
from modeltrust.report.sarif import SarifRenderer
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.interface import GiB, Limits

SEVERITIES = ", ".join(s.label for s in Severity)


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def scan(
    paths: Annotated[list[str], typer.Argument(help="Files or folders to scan (recursively).")],
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", envvar="MODELTRUST_FORMAT", help="Report format."),
    ] = OutputFormat.TERMINAL,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", envvar="MODELTRUST_OUTPUT", help="Where to write; - is stdout."
        ),
    ] = "-",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            envvar="MODELTRUST_FAIL_ON",
            help=f"Exit 1 when a finding is at or above this severity ({SEVERITIES}).",
        ),
    ] = "high",
    sha256: Annotated[
        bool,
        typer.Option("--sha256", envvar="MODELTRUST_SHA256", help="Record each file's SHA-256."),
    ] = False,
    max_depth: Annotated[
        int,
        typer.Option(
            "--max-depth", envvar="MODELTRUST_MAX_DEPTH", help="Containers inside containers."
        ),
    ] = 8,
    max_ratio: Annotated[
        float,
        typer.Option(
            "--max-ratio", envvar="MODELTRUST_MAX_RATIO", help="Largest compression ratio."
        ),
    ] = 100.0,
    max_decompressed_gib: Annotated[
        float,
        typer.Option(
            "--max-decompressed-gib",
            envvar="MODELTRUST_MAX_DECOMPRESSED_GIB",
            help="Most GiB one compressed stream or member may expand to.",
        ),
    ] = 16.0,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", envvar="MODELTRUST_JOBS", help="Worker processes (0: one per CPU)."
        ),
    ] = 0,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress", envvar="MODELTRUST_PROGRESS", help="Progress bar."
        ),
    ] = True,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="MODELTRUST_DEBUG", help="Show tracebacks.")
    ] = False,
) -> None:
    """Scan model files for code that would run when they are loaded. Nothing is executed."""
    threshold = _severity(fail_on)
    if max_depth < 1 or max_ratio <= 1 or max_decompressed_gib <= 0:
        raise UsageError(
            "--max-depth must be >= 1, --max-ratio > 1 and --max-decompressed-gib > 0."
        )
    limits = Limits(
        max_depth=max_depth,
        max_ratio=max_ratio,
        max_decompressed=int(max_decompressed_gib * GiB),
    )
    if jobs < 0:
        raise UsageError("--jobs must be 0 (one per CPU) or a positive number of workers.")
    engine = Engine(limits=limits, jobs=jobs)
    result = _run(engine, paths, sha256=sha256, progress=progress)
    match output_format:
        case OutputFormat.TERMINAL:
            from modeltrust.report.terminal import render_terminal

            if output == "-":
                render_terminal(result, _output.stdout(), fail_on=threshold)
            else:
                from rich.console import Console

                with open(output, "w", encoding="utf-8") as fh:  # noqa: PTH123
                    render_terminal(result, Console(file=fh, width=120), fail_on=threshold)
        case OutputFormat.JSON:
            _output.data(JsonRenderer().render(result, fail_on=threshold), output)
        case OutputFormat.SARIF:
            _output.data(SarifRenderer().render(result, fail_on=threshold), output)
        case _:
            assert_never(output_format)
    raise typer.Exit(EXIT_FAILED if result.at_or_above(threshold) else EXIT_OK)


def _run(engine: Engine, paths: list[str], *, sha256: bool, progress: bool) -> ScanResult:
    if not (progress and _output.stderr_is_terminal()):
        return engine.scan(paths, sha256=sha256)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=_output.stderr(),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def on_total(n: int) -> None:
            bar.update(task, total=n)

        def on_file(path: str, size: int) -> None:
            bar.update(task, description=path[-60:], advance=1)

        return engine.scan(paths, sha256=sha256, on_file=on_file, on_total=on_total)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
