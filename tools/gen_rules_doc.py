"""Regenerate docs/rules.md from the rule catalogue, src/modeltrust/rules.toml.

    .venv/bin/python tools/gen_rules_doc.py          # write docs/rules.md
    .venv/bin/python tools/gen_rules_doc.py --check  # exit 1 if docs/rules.md is out of date

Edit the catalogue, never the page: tests/test_rules_catalogue.py fails when they differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modeltrust.rules import markdown

OUT = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def main(argv: list[str]) -> int:
    text = markdown()
    if "--check" in argv:
        if OUT.read_text("utf-8") != text:
            print(f"{OUT} is out of date: run python tools/gen_rules_doc.py")
            return 1
        return 0
    OUT.write_text(text, "utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
