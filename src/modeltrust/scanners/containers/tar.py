"""Tar archives (any compression tarfile reads), members handed back to the engine."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from modeltrust import rules
from modeltrust.scanners.common import sniff
from modeltrust.scanners.containers.members import scan_member
from modeltrust.scanners.interface import (
    Blob,
    BytesBlob,
    ScanContext,
    Scanner,
    window_of,
)

if TYPE_CHECKING:
    import tarfile


class TarScanner(Scanner):
    name = "tar"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.tar(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        import tarfile  # loaded when a tar is met

        count = 0
        try:
            with blob.open() as f, tarfile.open(fileobj=f, mode="r|") as tar:
                ctx.saw("tar")
                for member in tar:
                    count += 1
                    if count > ctx.limits.max_members:
                        ctx.report(
                            rules.ARC_LIMIT.finding(
                                blob.location,
                                f"The archive has more than {ctx.limits.max_members} members; "
                                "the rest were not scanned.",
                            )
                        )
                        break
                    self._member(blob, tar, member, ctx)
        except tarfile.TarError as e:
            ctx.report(
                rules.ARC_MALFORMED.finding(blob.location, f"Tar archive is unreadable: {e}.")
            )
        return True

    @staticmethod
    def _member(
        blob: Blob, tar: tarfile.TarFile, member: tarfile.TarInfo, ctx: ScanContext
    ) -> None:
        loc = blob.location.inner(member.name)
        name = member.name
        if name.startswith("/") or ".." in name.split("/"):
            ctx.report(
                rules.ARC_PATH_TRAVERSAL.finding(
                    loc, f"Member name {name!r} points outside the folder it is extracted to."
                )
            )
        if member.issym() or member.islnk():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            if member.linkname.startswith("/") or target.startswith(".."):
                ctx.report(
                    rules.ARC_PATH_TRAVERSAL.finding(
                        loc, f"Link {name!r} points to {member.linkname!r}, outside the archive."
                    )
                )
            return
        if not member.isfile():
            return
        inner = window_of(blob, member.offset_data, member.size, loc)
        if inner is None:
            extracted = tar.extractfile(member)
            if extracted is None:
                return
            data = extracted.read(ctx.limits.max_header + 1)
            if len(data) > ctx.limits.max_header:
                ctx.report(
                    rules.ARC_LIMIT.finding(
                        loc,
                        f"Member {name!r} of a compressed tar is larger than "
                        f"{ctx.limits.max_header} bytes and was not analysed.",
                    )
                )
                return
            inner = BytesBlob(data, loc)
        scan_member(inner, ctx, drain=False)
