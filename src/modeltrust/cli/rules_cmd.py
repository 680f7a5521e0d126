"""``modeltrust rules``: the rule catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

from modeltrust.cli import _output
from modeltrust.rules import ALL_RULES


def rules(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List every rule id with its default severity."""
    if as_json:
        import json

        doc = [
            {
                "id": r.id,
                "severity": r.severity.label,
                "title": r.title,
                "remediation": r.remediation,
                "references": list(r.references),
            }
            for r in ALL_RULES
        ]
        _output.data(json.dumps(doc, indent=2) + "\n", "-")
        return
    from rich.table import Table

    table = Table("Rule", "Severity", "Title")
    for r in ALL_RULES:
        table.add_row(r.id, r.severity.label, r.title)
    _output.stdout().print(table)


def register(app: typer.Typer) -> None:
    app.command("rules")(rules)
