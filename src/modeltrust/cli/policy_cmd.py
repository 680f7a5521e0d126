"""``modeltrust policy check FILE`` and ``modeltrust policy show NAME``."""

from __future__ import annotations

from pathlib import Path

import click

from modeltrust.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK, _output


@click.group("policy", no_args_is_help=True)
def policy() -> None:
    """Validate policy files and print the built-in policies."""


@policy.command("check", no_args_is_help=True)
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate a policy file; errors name the line. Exit 0 when valid, 1 when not (an empty
    file included), 2 when FILE cannot be read."""
    from modeltrust.errors import PolicyError
    from modeltrust.policy.model import parse_policy_bytes, read_policy_file

    try:
        data = read_policy_file(file, "the FILE argument of 'modeltrust policy check'")
    except PolicyError as e:
        _output.error(str(e))
        raise SystemExit(EXIT_ERROR) from None
    try:
        loaded = parse_policy_bytes(data, str(file))
    except PolicyError as e:
        for line in str(e).splitlines():
            _output.error(line)
        raise SystemExit(EXIT_FAILED) from None
    _output.message(
        f"{file}: valid policy '{loaded.name}' ({len(loaded.exceptions)} exception(s))."
    )
    raise SystemExit(EXIT_OK)


@policy.command("show", no_args_is_help=True)
@click.argument("name", metavar="NAME")
def show(name: str) -> None:
    """Print a built-in policy (default, strict, commercial, research) as YAML, to copy and edit."""
    from modeltrust.policy.model import builtin_policy, builtin_text

    builtin_policy(name)  # validates the name, with a helpful message
    _output.data(builtin_text(name), "-")
    raise SystemExit(EXIT_OK)
