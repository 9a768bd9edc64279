"""shortener.qr: the images decode, with a real QR reader, to exactly the text given."""

import pytest

from shortener import qr
from tests.shortener.qr_reader import read_qr_png, read_qr_svg

URLS = [
    "http://testserver/aB3dE7x",
    "https://sho.rt/launch-2026",
    "https://links.example.com/" + "x" * 32,  # the longest alias on a longer host
]


@pytest.mark.parametrize("url", URLS)
def test_the_png_decodes_to_the_url(url):
    assert read_qr_png(qr.qr_png(url)) == [url]


@pytest.mark.parametrize("url", URLS)
def test_the_svg_decodes_to_the_url(url):
    assert read_qr_svg(qr.qr_svg(url)) == [url]


def test_the_svg_scales_to_its_box_and_has_a_title():
    svg = qr.qr_svg("https://sho.rt/x", title="QR code for https://sho.rt/<x>")

    assert svg.startswith(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox=')
    assert b"width=" not in svg.split(b">", 1)[0]  # no fixed size: it fills its box
    assert b"<title>QR code for https://sho.rt/&lt;x&gt;</title>" in svg


def test_the_png_has_a_quiet_zone_and_the_requested_scale():
    small, large = qr.qr_png("https://sho.rt/x", scale=2), qr.qr_png("https://sho.rt/x", scale=8)

    # IHDR width: (modules + 2 * border) * scale
    width = int.from_bytes(small[16:20], "big")
    assert width % 2 == 0 and int.from_bytes(large[16:20], "big") == width * 4
    assert (width // 2 - 2 * qr.BORDER) in {21 + 4 * v for v in range(40)}
