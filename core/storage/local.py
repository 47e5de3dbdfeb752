"""Local-disk file store: the embedded default, one directory per deployment."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import NotFound, StorageUnavailable, ValidationError


class LocalFileStore:
    backend = "local"

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # keys come from ids, but refuse anything that would escape the root anyway
        if self.root.resolve() not in path.parents:
            raise ValidationError(f"invalid storage key: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # write-then-rename so a crash never leaves a truncated file under the real key
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageUnavailable(f"local storage unavailable, nothing was saved: {exc.strerror}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"stored file {key!r} is missing") from exc
        except OSError as exc:
            raise StorageUnavailable(f"local storage unavailable: {exc.strerror}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"local storage unavailable: {exc.strerror}") from exc

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def list_keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith(".tmp-"))

    def download_url(self, key: str, filename: str, expires_s: int = 300, inline: bool = False) -> str | None:
        return None
