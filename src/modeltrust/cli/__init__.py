"""The ``modeltrust`` command. Exit codes are defined here, once:

- 0: nothing at or above ``--fail-on``
- 1: something is (the check failed)
- 2: modeltrust could not do what was asked (usage, I/O, internal error)
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from modeltrust import __version__
from modeltrust.cli import _output
from modeltrust.errors import ModelTrustError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="modeltrust",
    help="Audit open AI models before you adopt them. Nothing scanned is ever executed.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        _output.stdout().print(f"modeltrust {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Audit open AI models before you adopt them. Nothing scanned is ever executed."""


def _register() -> None:
    from modeltrust.cli import rules_cmd, scan

    scan.register(app)
    rules_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point. Known errors become one-line messages; ``--debug`` shows the traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MODELTRUST_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(message)s")
    _register()
    try:
        # Standalone mode: Typer prints usage errors itself and exits 2 through SystemExit.
        app(args=args, prog_name="modeltrust")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_ERROR)
    except ModelTrustError as e:
        if debug:
            raise
        _output.error(str(e))
        return EXIT_ERROR
    except Exception as e:
        if debug:
            raise
        _output.error(
            f"modeltrust hit an internal error: {type(e).__name__}: {e}. "
            "Run again with --debug and report the traceback."
        )
        return EXIT_ERROR
    return EXIT_OK
