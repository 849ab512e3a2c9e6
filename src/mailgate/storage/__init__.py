"""Persistence: the Store interface, its models and errors, and the drivers.

Sessions import only from here.
"""

from .base import ChangeListener, Store
from .blobs import BlobStore
from .errors import AlreadyExists, BlobMissing, NotFound, QuotaExceeded, StorageError
from .memory import MemoryStore
from .models import (
    Account,
    Change,
    FlagMode,
    Folder,
    FolderStatus,
    Message,
    MessageMeta,
    OutboundMessage,
    Role,
    StoreResult,
)
from .sqlite import SqliteStore

__all__ = [
    "Account", "AlreadyExists", "BlobMissing", "BlobStore", "Change", "ChangeListener",
    "FlagMode", "Folder", "FolderStatus", "Message", "MessageMeta", "MemoryStore",
    "NotFound", "OutboundMessage", "QuotaExceeded", "Role", "SqliteStore", "StorageError", "Store",
    "StoreResult",
]
