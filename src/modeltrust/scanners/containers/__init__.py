"""Containers: zip (read leniently, the way torch reads it), tar, 7z and compressed streams.

Every member is handed back to the engine, so it is sniffed by content like any file; this
family reads no format of its own beyond the container. Compressed data is inflated as a stream
under size and ratio limits (:mod:`modeltrust.scanners.common.codecs`), never all at once.
"""
