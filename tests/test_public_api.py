"""The public API is pinned: changing it is a deliberate act."""

import modeltrust


def test_all_is_pinned() -> None:
    assert sorted(modeltrust.__all__) == [
        "Finding",
        "Limits",
        "Location",
        "ModelTrustError",
        "ScanResult",
        "ScannedFile",
        "Severity",
        "__version__",
        "scan_paths",
    ]
    for name in modeltrust.__all__:
        assert hasattr(modeltrust, name)


def test_scan_paths_signature_is_pinned() -> None:
    import inspect

    assert str(inspect.signature(modeltrust.scan_paths)) == (
        "(targets: 'Sequence[str | os.PathLike[str]]', *, limits: 'Limits | None' = None, "
        "sha256: 'bool' = False, jobs: 'int' = 1) -> 'ScanResult'"
    )


def test_plugin_contract_is_pinned() -> None:
    """Plugins register under this entry-point group and subclass what the interface exports;
    the built-in scanners are offered a blob in this order, under these names."""
    from modeltrust.scanners import interface
    from modeltrust.scanners.engine import registry

    assert registry.ENTRY_POINT_GROUP == "modeltrust.scanners"
    for name in ("Blob", "FileBlob", "BytesBlob", "Limits", "ScanContext", "Scanner", "Handoff"):
        assert isinstance(getattr(interface, name), type), name
    assert [scanner.name for scanner in registry.load_scanners(plugins=False)] == [
        "zip", "tar", "7z", "compressed", "npy", "safetensors", "safetensors-index", "gguf",
        "chat-template", "onnx", "keras", "hdf5", "tf-savedmodel", "torchscript",
        "hydra-config", "skops", "remote-code", "pickle",
    ]  # fmt: skip


def test_every_builtin_scanner_module_imports() -> None:
    """The registry names each built-in by its module path; a re-layout that forgets one would
    only fail when a file of that format is first met."""
    from modeltrust.scanners.engine import registry

    for scanner in registry.load_scanners(plugins=False):
        assert isinstance(scanner, registry.LazyScanner)
        assert scanner.real.name == scanner.name
