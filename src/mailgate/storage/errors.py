"""Storage errors. Drivers translate their own exceptions into these."""


class StorageError(Exception):
    """Base class; anything a driver cannot express more precisely."""


class NotFound(StorageError):
    """The account, folder or message does not exist."""


class AlreadyExists(StorageError):
    """An account or folder of that name exists already."""


class QuotaExceeded(StorageError):
    """The account's storage quota would be exceeded."""


class BlobMissing(StorageError):
    """A row points at bytes that are not in the blob folder (should never happen)."""
