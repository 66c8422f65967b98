"""Render a built docs page in headless Chromium and check the PNG it gives.

``python -m tests._screenshot CHROMIUM PAGE.html OUT.png`` (what
``scripts/screenshot-docs`` runs): exit 0 and a one-line verdict when the picture is
the expected size, not blank, and painted with the theme's colours (so the page was
rendered with its stylesheet, not as bare HTML).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path

WIDTH, HEIGHT = 1280, 900
THEME_INDIGO = (0x40, 0x51, 0xB5)
"""mkdocs-material's ``primary: indigo`` header colour (``#4051b5``)."""


def capture(chromium: str, page: Path, png: Path) -> None:
    """Screenshot ``page`` at WIDTH x HEIGHT into ``png``."""
    if not page.is_file():
        raise SystemExit(f"screenshot: {page} does not exist (build the site first)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--screenshot={png.resolve()}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def pixels(png: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png} is not a PNG")
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if depth != 8 or colour not in (2, 6):
        raise ValueError(f"{png}: unsupported PNG (depth {depth}, colour type {colour})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prev = line
    rgb = [(r[i], r[i + 1], r[i + 2]) for r in rows for i in range(0, stride, bpp)]
    return width, height, rgb


def verdict(png: Path) -> list[str]:
    """What is wrong with the screenshot (empty: it is a rendered, styled page)."""
    width, height, rgb = pixels(png)
    problems = []
    if (width, height) != (WIDTH, HEIGHT):
        problems.append(f"size {width}x{height}, expected {WIDTH}x{HEIGHT}")
    counts = Counter(rgb)
    top_share = counts.most_common(1)[0][1] / len(rgb)
    if len(counts) < 50 or top_share > 0.97:
        problems.append(f"blank: {len(counts)} colours, the commonest covers {top_share:.0%}")
    header = Counter(rgb[: width * 40])  # the theme's header bar is the top of the page
    if header.most_common(1)[0][0] != THEME_INDIGO:
        problems.append(f"no theme header: top rows are {header.most_common(1)[0][0]}")
    return problems


def main(argv: list[str]) -> int:
    """Capture and check; print the verdict."""
    chromium, page, png = argv
    capture(chromium, Path(page), Path(png))
    problems = verdict(Path(png))
    if problems:
        print(f"screenshot {png}: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"screenshot {png}: {WIDTH}x{HEIGHT}, rendered with the theme")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
