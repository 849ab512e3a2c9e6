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


class GuardFailed(StorageError):
    """A delivery's DeliveryGuard no longer holds; nothing was written.
    `held`: the mailbox carries the hold mark (being moved), a temporary
    condition; otherwise the account changed (moved to another database,
    removed, replaced) and the caller routes it again."""

    def __init__(self, message: str, *, held: bool) -> None:
        super().__init__(message)
        self.held = held
