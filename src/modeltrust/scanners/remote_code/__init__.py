"""Repository code: the ``auto_map`` configs that make transformers import a repository's own
Python with ``trust_remote_code=True``, and the static analysis of that Python.

:mod:`.names` says what calls mean (processes, network, file changes, decoders); :mod:`.python`
analyses one source file's syntax tree; :mod:`.configs` finds the configs and the files they
pull in, and is the scanner.
"""
