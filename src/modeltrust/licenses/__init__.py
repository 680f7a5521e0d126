"""Licence identification, lineage and the obligations a model inherits from its ancestors.

``kb`` loads the licence knowledge base (``data/licenses.yaml``); ``repo`` reads what one repo
declares (card, licence files, configs, GGUF headers via ``gguf_meta``); ``identify`` names its
licences; ``lineage`` walks its base models; ``obligations`` turns the licences of the whole
lineage into findings, a verdict for a use profile and a checklist; ``check`` runs all of it
(:func:`~modeltrust.licenses.check.check_license`) and ``report_json`` serialises the result.
Modules are imported where used, so importing this package costs nothing.
"""
