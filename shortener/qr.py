"""QR codes of short links, as SVG and PNG, drawn by segno (pure Python, no image library).

A QR code encodes only the short URL, never the destination: the poster keeps working when the
owner changes where the link goes, and every scan is a counted click.
"""

from __future__ import annotations

import io

import segno

# "M" recovers ~15 % of damaged modules; segno raises it for free when the symbol has room
# (boost_error), so short URLs usually come out at "Q" (~25 %) in the same size.
ERROR_LEVEL = "m"
BORDER = 4  # the quiet zone the QR specification asks for, in modules
PNG_SCALE = 10  # pixels per module: a 7-character code on a typical host is ~370 px square


def _symbol(data: str) -> segno.QRCode:
    return segno.make(data, error=ERROR_LEVEL, micro=False)


def qr_svg(data: str, *, title: str | None = None) -> bytes:
    """An SVG document (UTF-8) of the QR code for `data`: no width/height, only a viewBox, so it
    scales to whatever box shows it; black on white whatever the page's colour scheme, because
    scanners expect dark modules on a light ground."""
    out = io.BytesIO()
    _symbol(data).save(
        out,
        kind="svg",
        scale=1,
        border=BORDER,
        dark="#000",
        light="#fff",
        xmldecl=False,
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        title=title,
        encoding="utf-8",
    )
    return out.getvalue()


def qr_png(data: str, *, scale: int = PNG_SCALE) -> bytes:
    """A greyscale PNG of the QR code for `data`, `scale` pixels per module."""
    out = io.BytesIO()
    _symbol(data).save(out, kind="png", scale=scale, border=BORDER, dark="#000", light="#fff")
    return out.getvalue()
