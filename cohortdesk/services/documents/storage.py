"""Where uploaded documents' bytes live: a folder laid out as DocuSeal's disk service lays it out.

A blob with key ``abcdef…`` is stored at ``<root>/attachments/ab/cd/abcdef…`` (no extension). The
store finds a document's bytes from its ``uploaded_documents`` record and checks size and checksum,
so a missing, truncated or swapped file is reported instead of shown.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cohortdesk import paths
from cohortdesk.errors import StorageError

_KEY_ALPHABET = string.ascii_lowercase + string.digits


def new_blob_key() -> str:
    """A 28-character lower-case base-36 token, like Active Storage's keys."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(28))


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


@dataclass(frozen=True)
class StoredFile:
    key: str
    file_name: str
    content_type: str
    size: int
    checksum: str
    uploaded_at: str

    def as_upload(self) -> dict[str, Any]:
        """The ``uploaded_documents`` entry for this file."""
        return {
            "file_name": self.file_name,
            "content_type": self.content_type,
            "size": self.size,
            "checksum": self.checksum,
            "storage_key": self.key,
            "uploaded_at": self.uploaded_at,
        }


class DocumentStore:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else paths.default_storage_root()

    def path_for_key(self, key: str) -> Path:
        if len(key) < 5 or not all(c in _KEY_ALPHABET for c in key):
            raise StorageError(f"{key!r} is not a valid storage key.")
        return self.root / "attachments" / key[0:2] / key[2:4] / key

    def put(self, data: bytes, file_name: str, content_type: str, key: str | None = None) -> StoredFile:
        key = key or new_blob_key()
        path = self.path_for_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return StoredFile(
            key=key,
            file_name=file_name,
            content_type=content_type,
            size=len(data),
            checksum=md5_base64(data),
            uploaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def read(self, upload: dict[str, Any], *, verify: bool = True) -> bytes:
        """The bytes of one ``uploaded_documents`` entry, checked against its size and checksum."""
        key = upload.get("storage_key")
        if not key:
            raise StorageError("This document record has no storage key.")
        path = self.path_for_key(str(key))
        name = upload.get("file_name") or key
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"The file for {name} is missing from document storage.") from exc
        except OSError as exc:
            raise StorageError(f"The file for {name} cannot be read: {exc.strerror}.") from exc
        if verify:
            if upload.get("size") is not None and len(data) != upload["size"]:
                raise StorageError(
                    f"The file for {name} is {len(data)} bytes but was uploaded as {upload['size']} bytes; "
                    "it may be incomplete."
                )
            if upload.get("checksum") and md5_base64(data) != upload["checksum"]:
                raise StorageError(f"The file for {name} does not match its recorded checksum.")
        return data
