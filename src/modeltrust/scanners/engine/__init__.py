"""The engine: walk the targets, sniff every file, offer it to each scanner in turn, and collect
the findings; with ``--jobs``, files are shared between forked workers (:mod:`.parallel`).

:mod:`.registry` lists the built-in scanners (imported only when a file first needs one) and the
plugins of the ``modeltrust.scanners`` entry-point group. :mod:`.handoff` is how a family gives
the engine something to scan that another family reads: a pickle inside a torch archive, the
chat template inside a GGUF file. The layers above use :class:`Engine` and :func:`scan_paths`.
"""

from modeltrust.scanners.engine.scan import Engine, scan_paths

__all__ = ["Engine", "scan_paths"]
