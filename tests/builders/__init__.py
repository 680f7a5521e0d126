"""Builders that make hostile and benign model files as bytes, at test time."""
