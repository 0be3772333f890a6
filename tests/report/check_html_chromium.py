#!/usr/bin/python3
"""Open an HTML file in headless Chromium and check that it renders.

usage: check_html_chromium.py FILE.html

Fails (exit 1) when Chromium logs a console message of level warning or
error or any "Uncaught" exception, or when the screenshot is blank (few
distinct colours or almost no non-white pixels). The PNG is decoded with
zlib here, so PIL is not needed. Chromium is /usr/bin/chromium (Debian's
chromium package) unless CHROMIUM names another binary.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def decode_png(path):
    """Return (width, height, channels, rows) for an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat = 8, b""
    width = height = channels = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour_type not in (2, 6):
                raise ValueError("unsupported PNG: depth %d colour type %d" % (depth, colour_type))
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            up_left = prev[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 255
            elif filter_type == 2:
                line[i] = (line[i] + up) & 255
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                if pa <= pb and pa <= pc:
                    pred = left
                elif pb <= pc:
                    pred = up
                else:
                    pred = up_left
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def main():
    html = os.path.abspath(sys.argv[1])
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        print("FAILED: %s not found; install Debian's chromium package" % chromium)
        return 1
    profile = tempfile.mkdtemp(prefix="attnbench-chromium-")
    shot = os.path.join(profile, "screenshot.png")
    try:
        run = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
             "--screenshot=" + shot, "--window-size=1200,2000", "file://" + html],
            capture_output=True, text=True, timeout=180)
        problems = []
        # Console messages appear as "...:INFO:CONSOLE:<line>] "text", source: ..."
        # at every level; anything the page logs counts as a problem.
        console = [l for l in run.stderr.splitlines() if re.search(r":CONSOLE[:(]", l)]
        uncaught = [l for l in run.stderr.splitlines() if "Uncaught" in l]
        for line in console + [l for l in uncaught if l not in console]:
            problems.append("console error: " + line.strip())
        if not os.path.exists(shot):
            problems.append("no screenshot written (exit %d): %s" % (run.returncode, run.stderr[-2000:]))
        else:
            width, height, channels, rows = decode_png(shot)
            colours, non_white = set(), 0
            for row in rows[::4]:
                for x in range(0, width * channels, channels * 4):
                    pixel = row[x:x + 3]
                    colours.add(pixel)
                    if pixel != b"\xff\xff\xff":
                        non_white += 1
            sampled = len(rows[::4]) * len(range(0, width * channels, channels * 4))
            fraction = non_white / sampled
            print("screenshot %dx%d: %d distinct colours, %.1f%% non-white pixels" % (
                width, height, len(colours), 100 * fraction))
            if len(colours) < 16 or fraction < 0.01:
                problems.append("blank page: %d distinct colours, %.2f%% non-white" % (
                    len(colours), 100 * fraction))
        if problems:
            for p in problems:
                print("FAILED: " + p)
            return 1
        print("ok: %s renders without console errors" % html)
        return 0
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
