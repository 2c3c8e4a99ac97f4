"""A real browser for the page tests: Debian's headless Chromium, driven from its command
line, and what it drew read back from its screenshot."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import eventually, wait_for

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


class BrowserRefused(Exception):
    """The browser answered a command with an error."""


class Tab:
    """One tab of a browser that keeps running, driven over the DevTools protocol: its
    cookies last from one page to the next, as a person's do. It opens pages as typed into
    the address bar and clicks as a person does; it only reads what a page holds."""

    def __init__(self, socket: ClientConnection, log: Path) -> None:
        self._socket = socket
        self._log = log
        self._calls = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._calls += 1
        self._socket.send(json.dumps({"id": self._calls, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == self._calls:  # events in between are not needed
                if "error" in message:
                    raise BrowserRefused(f"{method}: {message['error']}")
                answer: dict[str, Any] = message["result"]
                return answer

    def open(self, url: str, until: Callable[[str, str], bool]) -> str:
        """Go to ``url`` and wait until ``until(address, document)`` holds; the document."""
        self.call("Page.navigate", url=url)
        return self.wait(until)

    def wait(self, until: Callable[[str, str], bool], timeout: float = 30) -> str:
        """Wait until a page has loaded whole and ``until(address, document)`` holds."""
        seen = ["", ""]

        def there() -> str | None:
            try:  # a page that goes away while it is read is read again
                loaded, seen[0], seen[1] = self._state()
            except BrowserRefused:
                return None
            return seen[1] if loaded and until(*seen) else None

        document = wait_for(there, timeout=timeout, interval=0.1)
        if document is None:
            pytest.fail(f"gave up waiting at {seen[0]}: {seen[1]}")
        return document

    def address(self) -> str:
        return self._state()[1]

    def _state(self) -> tuple[bool, str, str]:
        """Whether the page has loaded, its address and its document, read at one moment."""
        read = self.call(
            "Runtime.evaluate",
            expression="[document.readyState, location.href, document.documentElement.outerHTML]",
            returnByValue=True,
        )
        if "value" not in read["result"]:  # no document at this moment: between two pages
            raise BrowserRefused(f"the page could not be read: {read}")
        state, address, document = read["result"]["value"]
        return state == "complete", address, document

    def click(self, selector: str) -> None:
        """A click of the mouse at the middle of the first element ``selector`` finds."""
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        assert node, f"nothing on the page is {selector}"
        quad = self.call("DOM.getBoxModel", nodeId=node)["model"]["content"]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    @property
    def log(self) -> str:
        """The browser's console and network log so far."""
        return self._log.read_text(errors="replace")


@contextmanager
def browsing() -> Iterator[Tab]:
    """A fresh profile in a browser left running, and its one tab."""
    with tempfile.TemporaryDirectory(prefix="outdial-chromium-") as profile:
        log = Path(profile) / "browser.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [
                    *_browser(profile),
                    "--enable-logging=stderr",
                    "--v=0",
                    "--remote-debugging-port=0",  # the browser writes the port it took
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its helper processes with it, to end them all
            )
        try:
            port_file = Path(profile) / "DevToolsActivePort"

            def started() -> bool:
                assert process.poll() is None, log.read_text()
                return port_file.exists() and bool(port_file.read_text().strip())

            eventually(started, timeout=60, interval=0.1, what="the browser started")
            port = port_file.read_text().split()[0]
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            page = next(t for t in targets if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
                yield Tab(socket, log)
        finally:
            _end_group(process)


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """End the browser and its helpers, and wait until none is left to write to the
    profile being removed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)

    def gone() -> bool:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    if not wait_for(gone, timeout=30, interval=0.1):
        os.killpg(process.pid, signal.SIGKILL)


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
