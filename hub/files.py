"""The file store: content-addressed bytes on disk, checked for size and sniffed for type."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import filetype

from hub.errors import InvalidRequest
from hub.messages import AttachmentRef


class FileStore:
    """Files kept under ``root/ab/cd/<sha256>``; the same bytes are stored once."""

    def __init__(self, root: Path, max_bytes: int, allowed_types: list[str]) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_types = frozenset(allowed_types)
        root.mkdir(parents=True, exist_ok=True)

    def sniff(self, data: bytes) -> str:
        """The type the bytes really are; what a client declared is never trusted."""
        kind = filetype.guess(data)
        if kind is not None:
            return kind.mime
        try:
            data[:4096].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        return "text/plain"

    def check(self, data: bytes) -> str:
        if len(data) > self.max_bytes:
            raise InvalidRequest(
                "file_too_large", f"file is larger than {self.max_bytes} bytes", status=413
            )
        if not data:
            raise InvalidRequest("file_empty", "file is empty")
        content_type = self.sniff(data)
        if content_type not in self.allowed_types:
            raise InvalidRequest(
                "file_type_refused", f"files of type {content_type} are not accepted", status=415
            )
        return content_type

    def store(self, data: bytes, filename: str) -> AttachmentRef:
        """Check and keep the bytes; returns a reference a message can carry."""
        content_type = self.check(data)
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a crash never leaves a half file under a valid name.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        return AttachmentRef(sha, safe_filename(filename), content_type, len(data))

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidRequest("bad_file_id", "not a file id")
        return self.root / sha256[:2] / sha256[2:4] / sha256


def safe_filename(name: str) -> str:
    """A display name with no path and no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>')
    return cleaned[:200] or "file"
