"""``modeltrust scan PATH...``: is it safe to load?"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import assert_never

import click

from modeltrust.cli import EXIT_FAILED, EXIT_OK, _output, command_started
from modeltrust.cli._options import (
    debug_option,
    fail_on_option,
    format_option,
    jobs_option,
    output_option,
    progress_option,
)
from modeltrust.errors import UsageError
from modeltrust.findings import ScanResult, Severity
from modeltrust.report.interface import OutputFormat
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.interface import GiB, Limits


@click.command(no_args_is_help=True)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@format_option(OutputFormat)
@output_option()
@fail_on_option()
@click.option(
    "--sha256", is_flag=True, envvar="MODELTRUST_SHA256", help="Record each file's SHA-256."
)
@click.option(
    "--max-depth",
    type=int,
    default=8,
    show_default=True,
    envvar="MODELTRUST_MAX_DEPTH",
    help="Containers inside containers.",
)
@click.option(
    "--max-ratio",
    type=float,
    default=100.0,
    show_default=True,
    envvar="MODELTRUST_MAX_RATIO",
    help="Largest compression ratio.",
)
@click.option(
    "--max-decompressed-gib",
    type=float,
    default=16.0,
    show_default=True,
    envvar="MODELTRUST_MAX_DECOMPRESSED_GIB",
    help="Most GiB one compressed stream or member may expand to.",
)
@jobs_option()
@progress_option()
@debug_option()
def scan(
    paths: tuple[str, ...],
    output_format: str,
    output: str,
    fail_on: Severity,
    sha256: bool,
    max_depth: int,
    max_ratio: float,
    max_decompressed_gib: float,
    jobs: int,
    progress: bool,
    debug: bool,
) -> None:
    """Scan model files for code that would run when they are loaded. Nothing is executed."""
    threshold = fail_on
    if max_depth < 1 or max_ratio <= 1 or max_decompressed_gib <= 0:
        raise UsageError(
            "--max-depth must be >= 1, --max-ratio > 1 and --max-decompressed-gib > 0."
        )
    limits = Limits(
        max_depth=max_depth,
        max_ratio=max_ratio,
        max_decompressed=int(max_decompressed_gib * GiB),
    )
    engine = Engine(limits=limits, jobs=jobs)
    result = _run(engine, list(paths), sha256=sha256, progress=progress)
    # The time the user waited, start-up and loading the scanners included.
    result = replace(result, duration_s=time.perf_counter() - command_started())
    match OutputFormat(output_format):
        case OutputFormat.TERMINAL:
            from modeltrust.report.terminal import render_terminal

            if output == "-":
                render_terminal(result, _output.stdout(), fail_on=threshold)
            else:
                from rich.console import Console

                with open(output, "w", encoding="utf-8") as fh:  # noqa: PTH123
                    render_terminal(result, Console(file=fh, width=120), fail_on=threshold)
        case OutputFormat.JSON:
            from modeltrust.report.json import JsonRenderer

            _output.data(JsonRenderer().render(result, fail_on=threshold), output)
        case OutputFormat.SARIF:
            from modeltrust.report.sarif import SarifRenderer

            _output.data(SarifRenderer().render(result, fail_on=threshold), output)
        case unknown:
            assert_never(unknown)
    raise SystemExit(EXIT_FAILED if result.at_or_above(threshold) else EXIT_OK)


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
