"""``modeltrust fairness DATA...``: does the model treat groups differently?

Data owners can run it with ``--export-counts`` and share only the count table; ``--merge-counts``
audits the union of several tables and gives exactly the metrics of the pooled rows.
"""

from __future__ import annotations

from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import assert_never

import click

from modeltrust.cli import EXIT_FAILED, EXIT_OK, _output
from modeltrust.cli._counting import Request
from modeltrust.cli._counting import start as start_counting
from modeltrust.cli._options import (
    debug_option,
    fail_on_option,
    fairness_column_options,
    format_option,
    output_option,
    split_names,
)
from modeltrust.errors import ReportError, UsageError
from modeltrust.findings import Severity


class FairnessFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    HTML = "html"


@click.command(no_args_is_help=True)
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@fairness_column_options()
@click.option(
    "--score",
    envvar="MODELTRUST_SCORE",
    help="Column with the predicted probability of the positive label, in [0, 1] (optional).",
)
@click.option("--weight", envvar="MODELTRUST_WEIGHT", help="Column with sample weights (optional).")
@click.option(
    "--multiclass",
    is_flag=True,
    envvar="MODELTRUST_MULTICLASS",
    help="Labels have more than two classes: audit each class against the rest.",
)
@click.option(
    "--threshold",
    type=float,
    default=0.8,
    show_default=True,
    envvar="MODELTRUST_THRESHOLD",
    help="Lowest acceptable ratio (0.8 is the four-fifths rule).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    envvar="MODELTRUST_CHECK",
    help="Disparity to check, e.g. fairlearn.equalized_odds_ratio (repeatable). Default: "
    "fairlearn.demographic_parity_ratio, and aif360.disparate_impact with --privileged.",
)
@click.option(
    "--max-difference",
    type=float,
    default=0.1,
    show_default=True,
    envvar="MODELTRUST_MAX_DIFFERENCE",
    help="Largest acceptable absolute value of a *_difference metric named with --check.",
)
@click.option(
    "--min-group-size",
    type=int,
    default=30,
    show_default=True,
    envvar="MODELTRUST_MIN_GROUP_SIZE",
    help="Groups with fewer rows are reported as too small for reliable estimates.",
)
@click.option(
    "--bootstrap",
    "n_resamples",
    type=int,
    default=1000,
    show_default=True,
    envvar="MODELTRUST_BOOTSTRAP",
    help="Bootstrap resamples for confidence intervals (0: no intervals).",
)
@click.option(
    "--confidence",
    type=float,
    default=0.95,
    show_default=True,
    envvar="MODELTRUST_CONFIDENCE",
    help="Confidence level of the intervals.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    envvar="MODELTRUST_SEED",
    help="Seed of the bootstrap; the same seed gives the same intervals.",
)
@click.option(
    "--alpha",
    type=float,
    default=2.0,
    show_default=True,
    envvar="MODELTRUST_ALPHA",
    help="Alpha of AIF360's generalized entropy index.",
)
@click.option(
    "--concentration",
    type=float,
    default=1.0,
    show_default=True,
    envvar="MODELTRUST_CONCENTRATION",
    help="Dirichlet concentration of AIF360's smoothed empirical differential fairness.",
)
@click.option(
    "--drop-missing",
    is_flag=True,
    envvar="MODELTRUST_DROP_MISSING",
    help="Leave out rows with a missing value in a used column (reported) instead of stopping.",
)
@click.option(
    "--export-counts",
    metavar="FILE",
    envvar="MODELTRUST_EXPORT_COUNTS",
    help="Also write the group count table (no rows) to FILE, for --merge-counts elsewhere.",
)
@click.option(
    "--merge-counts",
    is_flag=True,
    envvar="MODELTRUST_MERGE_COUNTS",
    help="DATA are counts files from --export-counts: audit their union.",
)
@format_option(FairnessFormat)
@output_option()
@fail_on_option()
@debug_option()
def fairness(
    data: tuple[str, ...],
    label: str | None,
    prediction: str | None,
    sensitive: str | None,
    privileged: tuple[str, ...],
    score: str | None,
    weight: str | None,
    positive_label: str | None,
    multiclass: bool,
    threshold: float,
    checks: tuple[str, ...],
    max_difference: float,
    min_group_size: int,
    n_resamples: int,
    confidence: float,
    seed: int,
    alpha: float,
    concentration: float,
    drop_missing: bool,
    export_counts: str | None,
    merge_counts: bool,
    output_format: str,
    output: str,
    fail_on: Severity,
    debug: bool,
) -> None:
    """Audit predictions for group fairness: Fairlearn's and AIF360's metrics, from counts.

    DATA are CSV, Parquet or Arrow files with one row per prediction (several files are pooled),
    or with --merge-counts the counts files that data owners exported.
    """
    if merge_counts:
        given = [n for n, v in (("--label", label), ("--prediction", prediction),
                                ("--sensitive", sensitive), ("--score", score),
                                ("--weight", weight)) if v]  # fmt: skip
        if given:
            raise UsageError(
                f"{', '.join(given)} cannot be used with --merge-counts: the counts files "
                "already name their columns."
            )
        counting = None
    else:
        if not (label and prediction and sensitive):
            missing = [n for n, v in (("--label", label), ("--prediction", prediction),
                                      ("--sensitive", sensitive)) if not v]  # fmt: skip
            raise UsageError(f"Name the columns: {', '.join(missing)} is required.")
        # Counting starts first, in a child process where it can: see _counting.
        request = Request(data, label, prediction, split_names(sensitive), score=score,
                          weight=weight, drop_missing=drop_missing)  # fmt: skip
        counting = start_counting(request, fork=not debug)
    with counting or nullcontext():
        from modeltrust.fairness._deps import numpy
        from modeltrust.fairness.counts import CountTable, merge
        from modeltrust.fairness.pipeline import audit_table
        from modeltrust.fairness.result import Settings, parse_privileged

        settings = Settings(
            privileged=parse_privileged(privileged),
            positive_label=positive_label,
            multiclass=multiclass,
            threshold=threshold,
            checks=checks or None,
            max_difference=max_difference,
            min_group_size=min_group_size,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            alpha=alpha,
            concentration=concentration,
        )
        settings.validate()
        if counting is None:
            tables = [CountTable.read(path) for path in data]
        else:
            numpy().random  # noqa: B018 - imported while the child counts, not after
            tables = counting.tables()
    table = tables[0] if len(tables) == 1 else merge(tables)
    if export_counts:
        from modeltrust import __version__

        _write(export_counts, table.to_json(__version__), "counts")
    result = audit_table(table, settings)
    match FairnessFormat(output_format):
        case FairnessFormat.TERMINAL:
            from modeltrust.fairness.render import render_terminal

            if output == "-":
                render_terminal(result, _output.stdout(), fail_on=fail_on)
            else:
                from rich.console import Console

                with _open(output) as fh:
                    render_terminal(result, Console(file=fh, width=140), fail_on=fail_on)
        case FairnessFormat.JSON:
            from modeltrust.fairness.render import render_json

            _output.data(render_json(result), output)
        case FairnessFormat.HTML:
            from modeltrust.fairness.html import render_html

            _output.data(render_html(result, fail_on=fail_on), output)
        case unknown:
            assert_never(unknown)
    raise SystemExit(EXIT_FAILED if result.at_or_above(fail_on) else EXIT_OK)


def _open(path: str):  # type: ignore[no-untyped-def]
    try:
        return Path(path).open("w", encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"Could not write the report to '{path}': {e.strerror or e}. Choose another --output."
        ) from None


def _write(path: str, text: str, what: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"Could not write the {what} to '{path}': {e.strerror or e}. Choose another path."
        ) from None
    _output.message(f"Counts written to {path}")
