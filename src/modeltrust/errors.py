"""Every exception modeltrust raises.

Hostile or malformed model files are *data*, not exceptions: scanners turn them into findings. The
exceptions below are for things that stop modeltrust itself from doing what it was asked.

    ModelTrustError
    ├── UsageError            a command was called with arguments that cannot work
    │   └── PolicyError       a policy file cannot be read or breaks the schema (names the line)
    ├── TargetError           a path to scan does not exist or cannot be listed
    ├── SourceError           a model source (folder, Hub repo) cannot be read
    ├── DataError             tabular input (predictions, labels) cannot be used as given
    ├── ScannerError          a scanner could not be set up (bad limits, missing plugin)
    │   └── MissingExtraError an optional dependency is needed: the message names the extra
    └── ReportError           a report could not be written
"""

from __future__ import annotations


class ModelTrustError(Exception):
    """Base of every exception modeltrust raises on purpose."""


class UsageError(ModelTrustError):
    """The command line or an API call asked for something that cannot work."""


class PolicyError(UsageError):
    """A policy file cannot be read or breaks the policy schema; the message names the line."""


class TargetError(ModelTrustError):
    """A path given to scan does not exist or cannot be listed."""


class SourceError(ModelTrustError):
    """A model source cannot be read: the repo or revision does not exist, access is refused,
    or the Hub cannot be reached. The message names the source and what to do."""


class DataError(ModelTrustError):
    """Tabular input cannot be used as given: a missing column, NaNs, non-binary labels, no groups.
    The message names the file and column."""


class ScannerError(ModelTrustError):
    """A scanner could not be set up."""


class MissingExtraError(ScannerError):
    """An optional dependency is not installed; the message says which extra provides it."""


class ReportError(ModelTrustError):
    """A report could not be rendered or written."""
