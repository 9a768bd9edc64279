"""Read QR codes back in tests: a PNG decoder (stdlib zlib) and an SVG rasteriser for segno's
path output, feeding zxing-cpp's reader. A test then proves what a phone would scan, not that
the bytes look like an image."""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

import zxingcpp

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def png_to_grey(data: bytes) -> tuple[bytes, int, int]:
    """Pixels of a non-interlaced PNG (grey or RGB(A), 1 or 8 bits) as 8-bit grey, row-major."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth in (1, 8) and colour in _CHANNELS and interlace == 0, header
    channels = _CHANNELS[colour]
    stride = (width * channels * depth + 7) // 8
    bpp = max(1, channels * depth // 8)
    raw = zlib.decompress(idat)
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, bpp)
        rows.append(line)
        previous = line
    grey = bytearray()
    for line in rows:
        if depth == 1:
            grey += bytes(255 if line[x >> 3] >> (7 - (x & 7)) & 1 else 0 for x in range(width))
        else:
            grey += bytes(line[x * channels] for x in range(width))  # R (or grey) of each pixel
    return bytes(grey), width, height


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        corner = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF


def svg_to_grey(svg: bytes, *, scale: int = 8) -> tuple[bytes, int, int]:
    """Rasterise segno's SVG (a light square and one dark path of unit-wide horizontal strokes,
    drawn with M/m/h commands) at `scale` pixels per module."""
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    _, _, w, h = (int(float(v)) for v in root.attrib["viewBox"].split())
    modules = [[255] * w for _ in range(h)]
    dark = next(p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("stroke"))
    x = y = 0.0
    for command, args in re.findall(r"([MmHh])([-\d. ]+)", dark.attrib["d"]):
        numbers = [float(n) for n in args.split()]
        if command in "Mm":
            dx, dy = numbers
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
        else:
            end = numbers[0] if command == "H" else x + numbers[0]
            for column in range(int(x), int(end)):
                modules[int(y)][column] = 0
            x = end
    grey = bytearray()
    for row in modules:
        line = bytes(value for value in row for _ in range(scale))
        grey += line * scale
    return bytes(grey), w * scale, h * scale


def read_qr(grey: bytes, width: int, height: int) -> list[str]:
    """The texts of every QR code zxing-cpp finds in an 8-bit grey image."""
    image = memoryview(grey).cast("B", (height, width))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def read_qr_png(data: bytes) -> list[str]:
    return read_qr(*png_to_grey(data))


def read_qr_svg(data: bytes) -> list[str]:
    return read_qr(*svg_to_grey(data))
