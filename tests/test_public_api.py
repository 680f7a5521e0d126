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
