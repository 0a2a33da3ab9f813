"""The wire format between the GUI and the render worker: length-prefixed frames over a pipe.

A frame is ``<u32 header length><u64 payload length>``, a UTF-8 JSON header, then raw payload bytes
(the document on the way in, pixels on the way out). No pickle: the worker only ever receives data.

Pixels may instead travel through a shared pixel file the GUI hands the worker at start
(``PIXELS_ENV``, Linux only): the reply then says ``"shared": true`` and carries no payload, and
the GUI copies the page out of the file before it sends the next request. A 1.5 MB page through
the pipe cost a copy into a frame, two pipe copies, two wake-ups and three copies on the GUI side.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

PREFIX = struct.Struct("<IQ")
MAX_HEADER = 4 * 1024 * 1024
MAX_PAYLOAD = 2 * 1024 * 1024 * 1024
PROTOCOL_VERSION = 1
#: The shared pixel file's path, in the worker's environment (see the module docstring).
PIXELS_ENV = "COHORTDESK_PREVIEW_PIXELS"


class ProtocolError(Exception):
    """The other side sent something that is not a frame."""


def encode(header: dict[str, Any], payload: bytes | bytearray | memoryview = b"") -> bytes:
    return encode_head(header, len(payload)) + bytes(payload)


def encode_head(header: dict[str, Any], payload_length: int) -> bytes:
    """A frame up to its payload, which the caller then writes as it is (no copy into the frame)."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(raw), payload_length) + raw


def _check(header_length: int, payload_length: int) -> None:
    if header_length > MAX_HEADER or payload_length > MAX_PAYLOAD:
        raise ProtocolError(f"frame too large ({header_length} + {payload_length} bytes)")


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """Blocking read of one frame (the worker side); None at end of input."""
    prefix = _read_exactly(stream, PREFIX.size)
    if prefix is None:
        return None
    header_length, payload_length = PREFIX.unpack(prefix)
    _check(header_length, payload_length)
    raw = _read_exactly(stream, header_length)
    payload = _read_exactly(stream, payload_length) if payload_length else b""
    if raw is None or payload is None:
        raise ProtocolError("input ended inside a frame")
    return json.loads(raw), payload


def _read_exactly(stream: BinaryIO, count: int) -> bytes | None:
    if count == 0:
        return b""
    chunks: list[bytes] = []
    remaining = count
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class FrameReader:
    """Incremental decoder for the GUI side, fed with whatever the pipe delivered."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[tuple[dict[str, Any], bytes]]:
        self._buffer += chunk
        frames: list[tuple[dict[str, Any], bytes]] = []
        while len(self._buffer) >= PREFIX.size:
            header_length, payload_length = PREFIX.unpack_from(self._buffer)
            _check(header_length, payload_length)
            end = PREFIX.size + header_length + payload_length
            if len(self._buffer) < end:
                break
            header = json.loads(bytes(self._buffer[PREFIX.size : PREFIX.size + header_length]))
            payload = bytes(self._buffer[PREFIX.size + header_length : end])
            del self._buffer[:end]
            frames.append((header, payload))
        return frames

    def reset(self) -> None:
        self._buffer = bytearray()
