"""Licence identification, lineage and the obligations a model inherits from its ancestors."""
