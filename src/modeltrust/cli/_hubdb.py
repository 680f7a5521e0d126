"""What the hub's admin commands share: naming the hub's database, and printing rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modeltrust.cli import _output
from modeltrust.errors import MissingExtraError, UsageError

if TYPE_CHECKING:
    from modeltrust.storage.accounts import Accounts

F = TypeVar("F", bound=Callable[..., object])


def database_options(func: F) -> F:
    func = click.option(
        "--database-url",
        envvar="MODELTRUST_DATABASE_URL",
        help="The hub's database (as given to 'modeltrust serve'); default: SQLite in --data-dir.",
    )(func)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="MODELTRUST_DATA_DIR",
        help="The hub's data directory (as given to 'modeltrust serve').",
    )(func)


@contextmanager
def accounts(data_dir: Path | None, database_url: str | None) -> Iterator[Accounts]:
    try:
        from modeltrust.storage.accounts import Accounts
        from modeltrust.storage.catalog import Catalog
    except ImportError as e:
        raise MissingExtraError(
            f"Managing the hub's accounts needs the 'serve' extra ({e.name} is missing): "
            "pip install 'modeltrust[serve]'."
        ) from None
    if database_url is None:
        if data_dir is None:
            raise UsageError("Name the hub: --data-dir DIR (or --database-url URL).")
        if not (data_dir / "modeltrust.db").is_file():
            raise UsageError(
                f"'{data_dir}' holds no hub database (modeltrust.db): check --data-dir, or start "
                "'modeltrust serve --data-dir' there once to create it."
            )
        database_url = f"sqlite:///{data_dir / 'modeltrust.db'}"
    catalog = Catalog(database_url)
    try:
        yield Accounts(catalog)
    finally:
        catalog.close()


def emit(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        _output.data(json.dumps(rows, indent=2, default=str) + "\n", "-")
        return
    if not rows:
        _output.message("(none)")
        return
    from rich.table import Table

    table = Table(*columns, box=None)
    for row in rows:
        table.add_row(*(str(row.get(c.lower().replace(" ", "_"), "")) for c in columns))
    _output.stdout().print(table)
