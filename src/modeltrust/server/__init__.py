"""The governed hub: a Hugging Face Hub-compatible server that serves only what passed the audit.

``create_app`` lives in :mod:`modeltrust.server.app`; this package imports no web framework
itself so that ``import modeltrust.server`` stays cheap.
"""
