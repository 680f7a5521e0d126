"""The one place modeltrust writes to the terminal: data to stdout, everything else to stderr.

Rich is imported only when something is rendered for a person, so machine-readable runs
(``-f json``, ``-f sarif``) start faster.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from modeltrust.errors import ReportError

if TYPE_CHECKING:
    from rich.console import Console


@cache
def stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def data(text: str, output: str, option: str = "--output") -> None:
    """Write a machine-readable report to ``output`` ('-' is stdout); ``option`` is the one
    that named it, for the message when it cannot be written."""
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"Could not write the report to '{output}': {e.strerror or e}. Choose another {option}."
        ) from None
    message(f"Report written to {output}")


def message(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error(text: str) -> None:
    if sys.stderr.isatty():
        stderr().print(f"[bold red]error:[/] {text}", highlight=False)
    else:
        sys.stderr.write(f"error: {text}\n")
        sys.stderr.flush()


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
