"""Headless Chromium for the report tests: render a page, read back its DOM and a screenshot.

Chromium runs as the machine's packaged browser (Debian's `chromium`) with a fresh profile and
no background networking; the page gets no network anyway (its CSP forbids it). The DOM is read
with `--dump-dom` after the page's scripts ran, the screenshot with `--screenshot`. Outside CI a
machine without Chromium skips these tests with the reason; in CI (`CI` set, as `.ci/run` does)
a missing browser fails them, so they never pass by not running.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT = 60


def chromium() -> str:
    """The Chromium binary; skips the test (fails it in CI) when there is none."""
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is not None:
        return found
    reason = "Chromium is not installed (apt-get install chromium); the browser tests need it"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run them", pytrace=False)
    pytest.skip(reason)


def _run(page: Path, profile: Path, *args: str) -> str:
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(page: Path, profile: Path, *, wait_ms: int = 0) -> str:
    """The page's DOM after its scripts ran (and `wait_ms` of virtual time for timers)."""
    wait = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    return _run(page, profile, *wait, "--dump-dom")


def screenshot(page: Path, profile: Path, *, width: int = 1000, height: int = 600) -> Image:
    """A screenshot of the page's first `width` x `height` pixels."""
    png = profile.parent / f"{page.stem}.png"
    _run(page, profile, f"--window-size={width},{height}", f"--screenshot={png}")
    return read_png(png.read_bytes())


# -- the DOM ----------------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: float
    width: float


@dataclass
class Chart:
    metric: str
    caption: str = ""
    bars: list[Bar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Charts(HTMLParser):
    """Collects each `figure.chart`: its metric, caption, bars and the notes drawn for no bar."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[Chart] = []
        self._in_caption = False
        self._in_missing = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure" and "chart" in a.get("class", "").split():
            self.charts.append(Chart(metric=a.get("data-metric", "")))
        elif tag == "figcaption" and self.charts:
            self._in_caption = True
        elif tag == "rect" and a.get("class") == "bar":
            bar = Bar(a["data-label"], float(a["data-value"]), float(a["width"]))
            self.charts[-1].bars.append(bar)
        elif tag == "text" and a.get("class") == "missing":
            self._in_missing = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False
        elif tag == "text":
            self._in_missing = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.charts[-1].caption += data
        elif self._in_missing:
            self.charts[-1].notes.append(data)


def charts_in(dom: str) -> dict[str, Chart]:
    """The page's bar charts by metric."""
    parser = _Charts()
    parser.feed(dom)
    return {chart.metric: chart for chart in parser.charts}


# -- the screenshot ---------------------------------------------------------------------------


@dataclass
class Image:
    width: int
    height: int
    pixels: Counter[tuple[int, int, int]]
    """How many pixels of each RGB colour."""

    def count(self, hex_colour: str) -> int:
        """Pixels of exactly this colour (`#rrggbb`)."""
        rgb = bytes.fromhex(hex_colour.removeprefix("#"))
        return self.pixels[(rgb[0], rgb[1], rgb[2])]


def read_png(data: bytes) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8, "unsupported PNG bit depth"
    assert colour in (2, 6), "unsupported PNG colour type"
    assert interlace == 0, "interlaced PNG"
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(chunks[b"IDAT"])
    previous = bytearray(stride)
    pixels: Counter[tuple[int, int, int]] = Counter()
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        row = _unfilter(raw[start], line, previous, channels)
        pixels.update(zip(row[0::channels], row[1::channels], row[2::channels], strict=True))
        previous = row
    return Image(width, height, pixels)


def _unfilter(kind: int, row: bytearray, above: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return row
    if kind == 2:  # "up", most of a screenshot's rows: add bytewise without carries, at once
        a, b = int.from_bytes(row), int.from_bytes(above)
        high, low = int.from_bytes(b"\x80" * len(row)), int.from_bytes(b"\x7f" * len(row))
        return bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(len(row)))
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = above[i]
        corner = above[i - bpp] if i >= bpp else 0
        if kind == 1:
            row[i] = (row[i] + left) & 0xFF
        elif kind == 2:
            row[i] = (row[i] + up) & 0xFF
        elif kind == 3:
            row[i] = (row[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            row[i] = (row[i] + predictor) & 0xFF
    return row


# -- the MCP App view in a stand-in host ----------------------------------------------------


def app_host_page(view: str, tool_result: dict[str, object]) -> str:
    """A stand-in MCP Apps host: answers the view's handshake, sends it the tool result, then
    writes what the view asked and drew into its own page for `--dump-dom` to read."""
    return f"""<!DOCTYPE html><html><body><pre id="seen"></pre><iframe id="view"></iframe><script>
const frame = document.getElementById("view");
const handshake = [];
window.addEventListener("message", (event) => {{
  const m = event.data;
  if (event.source !== frame.contentWindow || !m.method) return;
  if (!m.method.includes("size-changed")) handshake.push(m.method);
  const send = (message) => frame.contentWindow.postMessage({{jsonrpc: "2.0", ...message}}, "*");
  if (m.method === "ui/initialize") {{
    send({{id: m.id, result: {{protocolVersion: "2026-01-26",
      hostInfo: {{name: "test", version: "1"}}, hostCapabilities: {{}}, hostContext: {{}}}}}});
  }} else if (m.method === "ui/notifications/initialized") {{
    send({{method: "ui/notifications/tool-result", params: {js_literal(tool_result)}}});
  }}
}});
const poll = setInterval(() => {{
  const drawn = frame.contentDocument.querySelector("figure[data-metric=tokens_per_second]");
  if (!drawn) return;
  clearInterval(poll);
  const bars = [...drawn.querySelectorAll("rect.bar")]
    .map((r) => [r.dataset.label, Number(r.dataset.value)]);
  document.getElementById("seen").textContent = JSON.stringify({{handshake, bars}});
}}, 20);
frame.srcdoc = {js_literal(view)};
</script></body></html>"""


def js_literal(value: object) -> str:
    """A JavaScript literal that cannot end the <script> block it sits in."""
    return json.dumps(value).replace("</", "<\\/")
