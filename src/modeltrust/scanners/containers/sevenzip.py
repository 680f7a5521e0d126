"""7z archives, through py7zr (the ``7z`` extra), members handed back to the engine as they are
extracted to a private temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modeltrust import rules
from modeltrust.errors import MissingExtraError
from modeltrust.scanners.common import sniff
from modeltrust.scanners.containers.members import scan_member
from modeltrust.scanners.interface import (
    Blob,
    FileBlob,
    LimitExceeded,
    ScanContext,
    Scanner,
)


class SevenZipScanner(Scanner):
    name = "7z"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.seven_zip(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        ctx.saw("7z")
        try:
            py7zr = _import_py7zr()
        except MissingExtraError as e:
            ctx.report(rules.ARC_NEEDS_EXTRA.finding(blob.location, str(e)))
            return True
        import tempfile

        with blob.open() as f, tempfile.TemporaryDirectory(prefix="modeltrust-7z-") as tmp:
            try:
                with py7zr.SevenZipFile(f, mode="r") as archive:
                    if archive.needs_password():
                        ctx.report(
                            rules.ARC_ENCRYPTED.finding(
                                blob.location,
                                "The 7z archive is encrypted; its members are unread.",
                            )
                        )
                        return True
                    infos = archive.list()
                    declared = sum(i.uncompressed or 0 for i in infos)
                    if (
                        len(infos) > ctx.limits.max_members
                        or declared > ctx.limits.max_decompressed
                    ):
                        ctx.report(
                            rules.ARC_LIMIT.finding(
                                blob.location,
                                f"The 7z archive declares {len(infos)} members and {declared} "
                                "bytes, past the limits; it was not extracted.",
                            )
                        )
                        return True
                    # A writer factory: members go to our own temp files, nothing to a path.
                    archive.extractall(factory=_SevenZipFactory(blob, tmp, ctx, py7zr))
            except LimitExceeded as e:
                ctx.report(rules.ARC_LIMIT.finding(blob.location, f"Stopped reading: {e}."))
            except Exception as e:  # noqa: BLE001 - py7zr raises many unrelated types on bad input
                ctx.report(
                    rules.ARC_MALFORMED.finding(
                        blob.location, f"The 7z archive is unreadable: {type(e).__name__}: {e}."
                    )
                )
        return True


def _import_py7zr() -> Any:
    try:
        import py7zr
    except ImportError:
        raise MissingExtraError(
            "Reading 7z archives needs the '7z' extra: pip install 'modeltrust[7z]'."
        ) from None
    return py7zr


def _SevenZipFactory(blob: Blob, tmp: str, ctx: ScanContext, py7zr: Any) -> Any:  # noqa: N802
    """A py7zr writer factory: each member goes to a temp file, is scanned, then deleted."""
    base = py7zr.io.WriterFactory
    limit = ctx.limits.max_decompressed

    class Member(py7zr.io.Py7zIO):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            self.name = name
            self.path = Path(tmp) / f"m{id(self)}"
            self.f = self.path.open("wb")
            self.n = 0

        def write(self, s: bytes | bytearray) -> int:
            self.n += len(s)
            if self.n > limit:
                raise LimitExceeded(f"7z member {self.name!r} expands past {limit} bytes")
            return self.f.write(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.f.seek(offset, whence)

        def flush(self) -> None:
            self.f.flush()

        def size(self) -> int:
            return self.n

        def close(self) -> None:
            if self.f.closed:
                return
            self.f.close()
            inner = FileBlob(self.path, blob.location.inner(self.name), self.n)
            scan_member(inner, ctx, drain=False)
            self.path.unlink()

    class Factory(base):  # type: ignore[misc, valid-type]
        def create(self, filename: str) -> Any:
            return Member(filename)

    return Factory()
