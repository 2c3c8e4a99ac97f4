"""A real browser for the page tests: Debian's headless Chromium, driven from its command
line, and what it drew read back from its screenshot."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

WINDOW = (1280, 1000)


def chromium() -> str:
    """The browser's path; missing, the test is skipped, but never under CI."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it: apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return found


@dataclass
class Visit:
    dom: str  # the document as the browser holds it after loading, redirects followed
    log: str  # the browser's console and network log: policy violations show here


def open_page(url: str) -> Visit:
    """Open ``url`` as a person would (a fresh profile, cookies kept across its redirects)."""
    with tempfile.TemporaryDirectory(prefix="outdial-chromium-") as profile:
        done = subprocess.run(
            [*_browser(profile), "--enable-logging=stderr", "--v=0", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    return Visit(dom=done.stdout, log=done.stderr)


def screenshot(url: str, into: Path, height: int = WINDOW[1]) -> Path:
    with tempfile.TemporaryDirectory(prefix="outdial-chromium-") as profile:
        subprocess.run(
            [
                *_browser(profile),
                "--hide-scrollbars",
                f"--window-size={WINDOW[0]},{height}",
                f"--screenshot={into}",
                url,
            ],
            capture_output=True,
            timeout=90,
            check=True,
        )
    return into


def _browser(profile: str) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]


def colours(png: Path) -> Counter[tuple[int, int, int]]:
    """How many pixels of each colour the screenshot holds (8-bit RGB or RGBA PNG)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, "an unexpected PNG"
    assert colour_type in (2, 6), "an unexpected PNG"
    assert interlace == 0, "an unexpected PNG"
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    counted: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfiltered(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        counted.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return counted


def _unfiltered(kind: int, line: bytearray, above: bytearray, step: int) -> bytearray:
    """Undo one scanline's PNG filter (None, Sub, Up, Average, Paeth); ``step`` is the
    bytes of one pixel."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    out = bytearray(len(line))
    for i, value in enumerate(line):
        left = out[i - step] if i >= step else 0
        up = above[i]
        corner = above[i - step] if i >= step else 0
        if kind == 1:
            predicted = left
        elif kind == 3:
            predicted = (left + up) // 2
        else:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            predicted = left if pa <= pb and pa <= pc else up if pb <= pc else corner
        out[i] = (value + predicted) & 0xFF
    return out
