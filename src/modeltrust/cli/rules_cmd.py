"""``modeltrust rules``: the rule catalogue."""

from __future__ import annotations

import click

from modeltrust.cli import _output
from modeltrust.rules import all_rules


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def rules(as_json: bool) -> None:
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
            for r in all_rules()
        ]
        _output.data(json.dumps(doc, indent=2) + "\n", "-")
        return
    from rich.table import Table

    table = Table("Rule", "Severity", "Title")
    for r in all_rules():
        table.add_row(r.id, r.severity.label, r.title)
    _output.stdout().print(table)
