"""The file store keeps each content once, refuses what is too big or not what it claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import InvalidRequest
from hub.files import FileStore

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
       b"\x00\x00IEND\xaeB`\x82")
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files", max_bytes=1024, allowed_types=["image/png", "text/plain"])


def test_the_same_bytes_are_stored_once(store: FileStore) -> None:
    first = store.store(PNG, "photo.png")
    second = store.store(PNG, "../../copy of photo.png")

    assert first.sha256 == second.sha256
    assert (first.content_type, first.size) == ("image/png", len(PNG))
    assert second.filename == "copy of photo.png"
    assert store.path(first.sha256).read_bytes() == PNG
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [first.sha256]


def test_a_file_over_the_limit_is_refused(store: FileStore) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.store(b"a" * 1025, "big.txt")

    assert (refused.value.error_id, refused.value.status) == ("file_too_large", 413)
    assert not any(p.is_file() for p in store.root.rglob("*"))


def test_a_file_at_the_limit_is_kept(store: FileStore) -> None:
    assert store.store(b"a" * 1024, "exact.txt").size == 1024


def test_an_executable_disguised_as_an_image_is_refused(store: FileStore) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.store(WINDOWS_EXE, "invoice.png")

    assert refused.value.error_id == "file_type_refused"
    assert refused.value.status == 415


def test_an_empty_file_is_refused(store: FileStore) -> None:
    with pytest.raises(InvalidRequest) as refused:
        store.store(b"", "nothing.txt")

    assert refused.value.error_id == "file_empty"


def test_a_file_id_must_be_a_sha256(store: FileStore) -> None:
    with pytest.raises(InvalidRequest):
        store.path("../../etc/passwd")
