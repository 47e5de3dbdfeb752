"""File stores: where the original uploaded bytes live (local disk or S3)."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import StorageUnavailable

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger(__name__)


@runtime_checkable
class FileStore(Protocol):
    """Bytes by key. Keys are derived from ids ("classes/<id>/documents/<id>"), never filenames.

    Every failure to reach the backend raises core.errors.StorageUnavailable.
    """

    backend: str  # "local" | "s3"

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes: ...  # NotFound if absent

    def delete(self, key: str) -> None: ...  # absent key is not an error

    def size(self, key: str) -> int | None: ...  # None if absent

    def list_keys(self, prefix: str = "") -> list[str]: ...

    def download_url(self, key: str, filename: str, expires_s: int = 300, inline: bool = False) -> str | None: ...
    # a time-limited URL, or None when the backend has none (local disk); `inline` opens it in
    # the browser (a PDF at #page=N) instead of saving it


def checksum(data: bytes) -> str:
    """The SHA-256 a document row records for its file."""
    return hashlib.sha256(data).hexdigest()


def is_intact(data: bytes, size: int, sha256: str) -> bool:
    """Whether bytes read back from a store are the file the row recorded (size, then SHA-256)."""
    return len(data) == size and checksum(data) == sha256


def make_file_store(settings: "Settings", backend: str | None = None) -> FileStore:
    """Build the store the settings select (or `backend` when given, e.g. for migration)."""
    chosen = backend or settings.storage_backend
    if chosen == "s3":
        from core.storage.s3 import S3FileStore

        return S3FileStore.from_settings(settings)
    from core.storage.local import LocalFileStore

    return LocalFileStore(settings.files_dir)


class StoreResolver:
    """One store per backend, built on first request and reused. Rows record which store holds
    their file, so reads, deletes, backups and `storage migrate` work while files sit on both;
    `known` stores by backend (the configured one, or test doubles) are used as given."""

    def __init__(self, settings: "Settings", known: Mapping[str, FileStore] | None = None):
        self.settings = settings
        self._stores: dict[str, FileStore] = dict(known or {})

    def __call__(self, backend: str) -> FileStore:
        if backend not in self._stores:
            self._stores[backend] = make_file_store(self.settings, backend)
        return self._stores[backend]


def remove_leftover(store: FileStore, key: str, after: str) -> None:
    """Delete an object no row will name any more (after a failed upload or ingest); where the store
    cannot be reached it stays, and is said to: `storage check --fix` finds and removes it."""
    try:
        store.delete(key)
    except StorageUnavailable:
        log.error("could not remove %s after %s; `storage check --fix` will", key, after)
