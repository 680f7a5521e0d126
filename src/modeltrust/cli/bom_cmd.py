"""``modeltrust bom TARGET``: an AI bill of materials in CycloneDX 1.6 or SPDX 3.0.1."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import assert_never

import click

from modeltrust.cli import EXIT_OK, _output
from modeltrust.cli._options import debug_option, max_depth_option, models_dir_option, output_option


class BomFormat(StrEnum):
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"


@click.command("bom", no_args_is_help=True)
@click.argument("target", metavar="TARGET")
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice([f.value for f in BomFormat]),
    required=True,
    envvar="MODELTRUST_BOM_FORMAT",
    help="cyclonedx: CycloneDX 1.6 JSON; spdx: SPDX 3.0.1 JSON-LD (AI and Dataset profiles).",
)
@output_option()
@click.option(
    "--hash/--no-hash",
    "compute_hashes",
    default=True,
    show_default=True,
    envvar="MODELTRUST_BOM_HASH",
    help="Hash files whose SHA-256 the source does not report (every file of a local folder).",
)
@max_depth_option(
    "MODELTRUST_BOM_MAX_DEPTH", "Generations of base models to follow for the lineage (pedigree)."
)
@models_dir_option()
@debug_option()
def bom(
    target: str,
    output_format: str,
    output: str,
    compute_hashes: bool,
    max_depth: int,
    models_dirs: tuple[Path, ...],
    debug: bool,
) -> None:
    """Write an AI bill of materials for a model: the model with its file hashes, licences
    (declared and concluded), model card, datasets and base-model lineage. TARGET is a model
    folder or a Hub repo id 'org/name[@revision]'."""
    from modeltrust import __version__
    from modeltrust.cards.coverage import assess_coverage
    from modeltrust.cards.facts import collect_facts
    from modeltrust.cards.hashes import file_hashes
    from modeltrust.sources import open_source

    source = open_source(target, search_paths=models_dirs)
    report = assess_coverage(collect_facts(source, max_depth=max_depth))
    hashes = file_hashes(source, compute=compute_hashes)
    match BomFormat(output_format):
        case BomFormat.CYCLONEDX:
            from modeltrust.report.cyclonedx import render_cyclonedx

            text = render_cyclonedx(report, hashes.sha256, tool_version=__version__)
        case BomFormat.SPDX:
            from modeltrust.report.spdx import render_spdx

            text = render_spdx(report, hashes.sha256, tool_version=__version__)
        case unknown:
            assert_never(unknown)
    _output.data(text, output)
    unhashed = [p for p, why in hashes.skipped.items() if "--no-hash" not in why]
    if unhashed:
        _output.message(
            f"{len(unhashed)} file(s) have no SHA-256 in the BOM: {', '.join(unhashed[:5])}"
        )
    raise SystemExit(EXIT_OK)
