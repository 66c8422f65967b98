"""A tiny PNG encoder for the sandbox's barcode images (no imaging library needed)."""

from __future__ import annotations

import hashlib
import struct
import zlib

__all__ = ["barcode_png", "png"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(rows: list[bytes]) -> bytes:
    """A grayscale PNG of these pixel rows (one byte per pixel, 0 black, 255 white)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def barcode_png(text: str, kind: str) -> bytes:
    """A barcode-looking PNG of ``text``: bars for 1D types, a module grid for 2D ones.

    Not a scannable symbol: the sandbox promises real PNG bytes, not a barcode encoder.
    """
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(f"{kind}:{text}".encode()).digest())
    if kind in ("code39", "code128b"):
        modules = "0000" + "".join(f"{ord(c):08b}" for c in text) + "0000"
        row = bytes(0 if m == "1" else 255 for m in modules for _ in range(2))
        return png([row] * 40)
    side, scale = 16, 4
    rows = []
    for y in range(side):
        row = bytes(
            0 if bits[y * side + x] == "1" else 255 for x in range(side) for _ in range(scale)
        )
        rows.extend([row] * scale)
    return png(rows)
