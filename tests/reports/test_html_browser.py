"""The HTML report in a real headless browser: it renders, styled, without fetching anything."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from mlops_platform.tools.reports import render
from tests.reports.report_fixtures import make_dev, make_prod, provenance

WIDTH, HEIGHT = 1280, 2000
HEADER_RGB = (0x24, 0x29, 0x2F)  # header background in the report's CSS
FAIL_RGB = (0xCF, 0x22, 0x2E)  # "Fail" badges and the failed environment's rule


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI to test the HTML report (apt-get install chromium)")
        pytest.skip("chromium not installed")
    return path


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path, max_rows: int) -> tuple[int, int, list[set[tuple[int, int, int]]]]:
    """Width, height and the set of RGB colours of each of the first ``max_rows`` rows (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and colour in (2, 6), "8-bit RGB(A), not interlaced"
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1), "pixel data matches the declared size"
    rows: list[set[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for y in range(min(height, max_rows)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
        rows.append({tuple(line[x : x + 3]) for x in range(0, stride, channels)})  # type: ignore[misc]
        previous = line
    return width, height, rows


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    browser = chromium()
    work = tmp_path_factory.mktemp("html-report")
    page = work / "report.html"
    page.write_text(
        render(
            [make_prod(), make_dev()], "html", provenance=provenance(), generated_at="2026-06-01T10:00:00Z"
        )
    )
    png = work / "report.png"
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={work / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert png.exists(), f"no screenshot (chromium exit {completed.returncode}): {completed.stderr[-2000:]}"
    return png


def test_html_report_renders_in_a_real_browser(screenshot: Path) -> None:
    # 400 rows hold the header, the summary cards and the top of the findings table.
    width, height, rows = read_png(screenshot, max_rows=400)
    assert (width, height) == (WIDTH, HEIGHT)
    colours = set().union(*rows)
    assert len(colours) > 50, "text and badges give many colours; a blank page has one or two"
    assert HEADER_RGB in rows[10], "the dark header is styled by the inline CSS"
    assert FAIL_RGB in colours, "the failed environment's red rule and badges are drawn"
    assert sum(len(r) > 1 for r in rows) > 100, "content spread over many rows"
