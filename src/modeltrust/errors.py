"""Every exception modeltrust raises.

Hostile or malformed model files are *data*, not exceptions: scanners turn them into findings. The
exceptions below are for things that stop modeltrust itself from doing what it was asked.

    ModelTrustError
    ├── UsageError            a command was called with arguments that cannot work
    │   └── PolicyError       a policy file cannot be read or breaks the schema (names the line)
    ├── TargetError           a path to scan does not exist or cannot be listed
    ├── SourceError           a model source (folder, Hub repo) cannot be read
    │   ├── MissingFileError  a file asked for is not in the source
    │   └── AccessDeniedError a file exists but this account may not read it (gated)
    ├── DataError             tabular input (predictions, labels) cannot be used as given
    ├── ScannerError          a scanner could not be set up (bad limits, missing plugin)
    │   └── MissingExtraError an optional dependency is needed: the message names the extra
    ├── ReportError           a report could not be written
    ├── LicenseDataError      the licence knowledge base breaks its schema (packaging mistake)
    ├── CatalogueError        the documentation item catalogue is malformed (packaging mistake)
    ├── StorageError          the hub's blob store or database cannot do what was asked
    │   └── IntegrityError    bytes do not match the hash or size they were announced with
    └── RegistryError         a registry request cannot be done as asked (carries its HTTP
        │                     status and the Hub's error code)
        ├── NotFoundError     no such repo, revision or file (404 with RepoNotFound, ...)
        ├── ConflictError     it exists already, or a ref moved meanwhile (409, 412)
        ├── InvalidRequestError  a path, name or payload that cannot be accepted (400, 422)
        └── QuotaExceededError   the namespace's storage quota would be exceeded (413)
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


class MissingFileError(SourceError):
    """A file asked for is not in the source (callers can check ``Source.exists`` first)."""


class AccessDeniedError(SourceError):
    """A file exists but this account may not read it (a gated repo whose conditions were not
    accepted). Metadata may still be readable, so callers can carry on with less."""


class DataError(ModelTrustError):
    """Tabular input cannot be used as given: a missing column, NaNs, non-binary labels, no groups.
    The message names the file and column."""


class ScannerError(ModelTrustError):
    """A scanner could not be set up."""


class MissingExtraError(ScannerError):
    """An optional dependency is not installed; the message says which extra provides it."""


class ReportError(ModelTrustError):
    """A report could not be rendered or written."""


class LicenseDataError(ModelTrustError):
    """The licence knowledge base file breaks its schema; the message names entry and key."""


class CatalogueError(ModelTrustError):
    """The documentation item catalogue is malformed (a packaging or editing mistake)."""


class RuleCatalogueError(ModelTrustError):
    """The rule catalogue (``rules.toml``) breaks its schema; the message names rule and key."""


class StorageError(ModelTrustError):
    """The blob store or the database cannot do what was asked: a disk is full, bytes do not
    match their hash, the database cannot be reached or migrated. The message says which."""


class IntegrityError(StorageError):
    """Bytes fetched for a blob do not match the hash or size they were announced with."""


class RegistryError(ModelTrustError):
    """A registry request (create, commit, branch, tag, upload) cannot be done as asked; the
    message says why and what to do. ``status`` and ``code`` are what the Hub answers for it
    (``code``: its ``X-Error-Code``, from which huggingface_hub raises a typed error)."""

    status = 400
    code: str | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFoundError(RegistryError):
    """No such repo (``RepoNotFound``), revision (``RevisionNotFound``) or file
    (``EntryNotFound``)."""

    status = 404


class ConflictError(RegistryError):
    """The repo, branch or tag exists already (409), or the branch moved since the commit's
    parent was read (412)."""

    status = 409


class InvalidRequestError(RegistryError):
    """A path, name or payload the registry cannot accept (an unsafe path is 422)."""

    status = 400


class QuotaExceededError(RegistryError):
    """Storing this would take a namespace over its quota."""

    status = 413
