"""The options several commands share, defined once: report format, output, ``--fail-on``,
``--debug``, base-model lookup, the columns of fairness data, and the severity styles of the
terminal reports."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import click

from modeltrust.findings import Severity

F = TypeVar("F", bound=Callable[..., object])

SEVERITIES = ", ".join(s.label for s in Severity)
SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def parse_severity(ctx: click.Context, param: click.Parameter, text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def format_option(formats: type[StrEnum], envvar: str = "MODELTRUST_FORMAT") -> Callable[[F], F]:
    """``--format/-f``, one of ``formats``' values, the first being the default."""
    choices = [f.value for f in formats]
    return click.option(
        "--format",
        "-f",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        envvar=envvar,
        help="Report format.",
    )


def output_option() -> Callable[[F], F]:
    return click.option(
        "--output",
        "-o",
        default="-",
        envvar="MODELTRUST_OUTPUT",
        help="Where to write; - is stdout.",
    )


def fail_on_option(default: str = "high") -> Callable[[F], F]:
    return click.option(
        "--fail-on",
        default=default,
        show_default=True,
        callback=parse_severity,
        envvar="MODELTRUST_FAIL_ON",
        help=f"Exit 1 when a finding is at or above this severity ({SEVERITIES}).",
    )


def debug_option() -> Callable[[F], F]:
    return click.option("--debug", is_flag=True, envvar="MODELTRUST_DEBUG", help="Show tracebacks.")


def max_depth_option(envvar: str, help: str) -> Callable[[F], F]:
    """``--max-depth``: generations of base models to follow (each command its own variable)."""
    return click.option(
        "--max-depth",
        type=click.IntRange(min=0),
        default=10,
        show_default=True,
        envvar=envvar,
        help=help,
    )


def models_dir_option() -> Callable[[F], F]:
    return click.option(
        "--models-dir",
        "models_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        envvar="MODELTRUST_MODELS_DIR",
        help="A folder holding base models of a local model (org/name or org--name); repeatable.",
    )


def fairness_column_options(prefix: str = "") -> Callable[[F], F]:
    """The columns of prediction data, as ``fairness`` and ``audit --fairness-data`` name them:
    ``--label``, ``--prediction``, ``--sensitive``, ``--privileged``, ``--positive-label``.
    ``prefix`` starts each help text (``audit`` says which of its inputs they belong to)."""

    def text(sentence: str) -> str:
        return f"{prefix}{sentence[0].lower()}{sentence[1:]}" if prefix else sentence

    options = [
        click.option(
            "--label", envvar="MODELTRUST_LABEL", help=text("Column with the true label.")
        ),
        click.option(
            "--prediction", envvar="MODELTRUST_PREDICTION", help=text("Column with the prediction.")
        ),
        click.option(
            "--sensitive",
            envvar="MODELTRUST_SENSITIVE",
            help=text(
                "Sensitive attribute column(s), comma-separated; several give intersectional "
                "groups."
            ),
        ),
        click.option(
            "--privileged",
            multiple=True,
            envvar="MODELTRUST_PRIVILEGED",
            help=text(
                "Privileged rows for AIF360's metrics: COL=VALUE[,COL=VALUE] (all must match); "
                "repeat the option for 'or'. Every other row is unprivileged."
            ),
        ),
        click.option(
            "--positive-label",
            envvar="MODELTRUST_POSITIVE_LABEL",
            help=text(
                "The favourable label value; needed unless labels are 0/1 or -1/1 or booleans."
            ),
        ),
    ]

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def jobs_option() -> Callable[[F], F]:
    """``--jobs/-j``: scanner processes, this one included (0: one per CPU)."""
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        envvar="MODELTRUST_JOBS",
        help="Scanner worker processes (0: one per CPU).",
    )


def progress_option() -> Callable[[F], F]:
    return click.option(
        "--progress/--no-progress", default=True, envvar="MODELTRUST_PROGRESS", help="Progress bar."
    )


def split_names(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` as ``("a", "b", "c")``: the comma-separated column lists."""
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())
