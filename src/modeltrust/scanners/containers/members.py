"""How every container hands a member back to the engine: one level deeper, with the nesting
limit, and with limits and corruption met while reading it reported on the member.
"""

from __future__ import annotations

from modeltrust import rules
from modeltrust.scanners.common.codecs import drain as read_to_end
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    LimitExceeded,
    ScanContext,
)


def scan_member(inner: Blob, ctx: ScanContext, *, drain: bool) -> None:
    """Dispatch ``inner``; report limits and corruption met while reading it."""
    try:
        if ctx.depth + 1 > ctx.limits.max_depth:
            ctx.report(
                rules.ARC_LIMIT.finding(
                    inner.location,
                    f"Containers are nested more than {ctx.limits.max_depth} levels deep; "
                    "the innermost content was not analysed.",
                )
            )
            return
        ctx.scan_nested(inner)
        if drain:
            read_to_end(inner)
    except LimitExceeded as e:
        ctx.report(
            rules.ARC_LIMIT.finding(inner.location, f"Stopped reading: {e}.", evidence=str(e))
        )
    except CorruptData as e:
        ctx.report(rules.ARC_MALFORMED.finding(inner.location, f"{e}.", evidence=str(e)))
