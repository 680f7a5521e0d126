"""The engine's side of :class:`~modeltrust.scanners.interface.Handoff`: content one family finds
and another family reads. Each family is imported when it is first needed, as the registry
imports scanners, so a scan that never meets such content never loads them.
"""

from __future__ import annotations

from modeltrust.findings import Location
from modeltrust.scanners.interface import Blob, Handoff, ScanContext


class EngineHandoff(Handoff):
    def pickle(self, blob: Blob, ctx: ScanContext) -> bool:
        from modeltrust.scanners.pickle.scanner import scan_pickle_blob

        return scan_pickle_blob(blob, ctx, strict=True)

    def chat_template(
        self, text: str, location: Location, ctx: ScanContext, source: str, *, chars_so_far: int
    ) -> None:
        from modeltrust.scanners.configs.template_analysis import MAX_PARSE_PER_FILE
        from modeltrust.scanners.configs.templates import analyse_template

        analyse_template(text, location, ctx, source, parse=chars_so_far <= MAX_PARSE_PER_FILE)


HANDOFF = EngineHandoff()
"""The one the engine gives every scan context (it holds no state)."""
