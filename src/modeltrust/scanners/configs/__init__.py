"""Files that name code to build or text a runtime evaluates: chat templates (JSON configs,
``.jinja`` files, and the ones GGUF files carry, parsed as Jinja and never rendered), Hydra
configs (``_target_``) and skops archives (the types their schema asks to construct).
"""
