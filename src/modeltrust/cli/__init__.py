"""The ``modeltrust`` command. Exit codes are defined here, once:

- 0: nothing at or above ``--fail-on``
- 1: something is (the check failed)
- 2: modeltrust could not do what was asked (usage, I/O, internal error)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from importlib import import_module

import click

from modeltrust import __version__
from modeltrust.cli import _output
from modeltrust.errors import ModelTrustError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

_main_entered = time.perf_counter()


def command_started() -> float:
    """When the user's command started, on the ``time.perf_counter`` clock, so that a report's
    time is what the user waited: for a ``modeltrust`` process, from the kernel's record of its
    start (interpreter start-up and imports included, Linux); else when :func:`main` was
    entered (the Python API calling main in a long-lived process, other systems)."""
    now = time.perf_counter()
    try:
        with open("/proc/self/stat", "rb") as f:  # noqa: PTH123
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # starttime (field 22), counted after the ")" closing field 2
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return _main_entered
    before_main = age - (now - _main_entered)
    return now - age if 0 <= before_main < 5 else _main_entered


COMMANDS: dict[str, str] = {
    "scan": "modeltrust.cli.scan:scan",
    "rules": "modeltrust.cli.rules_cmd:rules",
    "license": "modeltrust.cli.license_cmd:license_command",
    "fairness": "modeltrust.cli.fairness_cmd:fairness",
    "card": "modeltrust.cli.card_cmd:card",
    "bom": "modeltrust.cli.bom_cmd:bom",
    "audit": "modeltrust.cli.audit_cmd:audit",
    "policy": "modeltrust.cli.policy_cmd:policy",
    "serve": "modeltrust.cli.serve_cmd:serve",
    "users": "modeltrust.cli.admin_cmd:users",
    "orgs": "modeltrust.cli.admin_cmd:orgs",
    "tokens": "modeltrust.cli.admin_cmd:tokens",
    "trail": "modeltrust.cli.review_cmd:trail",
    "webhooks": "modeltrust.cli.review_cmd:webhooks",
}
"""Every command, as ``module:click command``. A command's module is imported only when that
command runs (or help lists it), so ``modeltrust scan`` never pays for the other commands'
dependencies. To add a command, write it with click in its own module and name it here."""


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(import_module(module), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - a table entry is wrong
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(
    cls=_LazyGroup,
    name="modeltrust",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", message="modeltrust %(version)s")
def app() -> None:
    """Audit open AI models before you adopt them. Nothing scanned is ever executed."""


def main(argv: list[str] | None = None) -> int:
    """Entry point. Known errors become one-line messages; ``--debug`` shows the traceback."""
    global _main_entered
    _main_entered = time.perf_counter()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MODELTRUST_DEBUG") == "1"
    if debug:
        # Without --debug nothing is configured: warnings reach stderr through logging's last
        # resort handler as bare messages, and `modeltrust scan` never imports logging at all.
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(message)s")
    try:
        # Standalone mode: click prints usage errors itself and exits 2 through SystemExit.
        app.main(args=args, prog_name="modeltrust")
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

    finally:
        if argv is None:
            _exiting()


def _exiting() -> None:
    """The command run as its process is done: take what is alive now out of the garbage
    collector's sight. The interpreter's last collection at exit would otherwise walk every
    object the imports made (40 ms after ``modeltrust fairness`` imported polars and numpy);
    the memory goes back to the system with the process all the same."""
    gc.freeze()
