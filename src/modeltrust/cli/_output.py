"""The one place modeltrust writes to the terminal: data to stdout, everything else to stderr."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from modeltrust.errors import ReportError

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


def data(text: str, output: str) -> None:
    """Write a machine-readable report to ``output`` ('-' is stdout)."""
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"Could not write the report to '{output}': {e.strerror or e}. Choose another --output."
        ) from None
    message(f"Report written to {output}")


def message(text: str) -> None:
    stderr.print(text, markup=False)


def error(text: str) -> None:
    stderr.print(f"[bold red]error:[/] {text}", highlight=False)
