"""Images with Pillow: an upload decoded and encoded again (the pixels and the colour profile,
nothing else), and thumbnails. Every bound is checked from the header, before pixels are decoded."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps, ImageSequence

from core.errors import ApplicationError
from timeline.errors import InvalidMediaError
from timeline.media.kinds import IMAGE_FORMATS, MediaProcessingError

logger = logging.getLogger(__name__)

MAX_DECODED_SIDE = 16_384  # WebP's own limit; a 100,000 x 10 strip is no photo


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int


def reencode_image(upload: IO[bytes], fmt: str) -> Encoded:
    """Decode `upload` as `fmt` and encode it again in `fmt`: the pixels only (and the colour
    profile: EXIF, GPS, XMP, comments and text chunks are gone), oriented as EXIF said, scaled
    down to fit MEDIA_IMAGE_MAX_SIDE. Animated images keep their frames and timing.
    InvalidMediaError (400): not decodable, or over MEDIA_MAX_IMAGE_PIXELS / the frame bounds."""
    upload.seek(0)
    try:
        source = Image.open(upload, formats=[fmt])
        check_pixels(source.width, source.height)  # from the header, before any decoding
        icc = source.info.get("icc_profile")
        if getattr(source, "is_animated", False):
            frames, durations = _frames(source)
            loop = source.info.get("loop", 0)
        else:
            if fmt == "JPEG":  # decode at 1/2..1/8 scale when that still covers the bound
                side = settings.MEDIA_IMAGE_MAX_SIDE
                source.draft("RGB" if source.mode == "CMYK" else source.mode, (side, side))
            source.load()  # a truncated or corrupt file fails here
            frames, durations, loop = [_clean(ImageOps.exif_transpose(source), fmt)], [], 0
    except ApplicationError:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, at twice its MAX_IMAGE_PIXELS
        raise _too_large() from None
    except Exception as exc:  # a decoder fed hostile bytes raises anything; it is a 400
        logger.info("media: %s upload not decoded: %r", fmt, exc)
        raise InvalidMediaError(
            f"The file looks like {fmt} but cannot be decoded (truncated or corrupt).",
            fields={"file": ["This image cannot be decoded."]},
        ) from None
    out = io.BytesIO()
    options: dict = {"icc_profile": icc} if isinstance(icc, bytes) and fmt != "GIF" else {}
    if len(frames) > 1:
        options |= {"save_all": True, "append_images": frames[1:], "duration": durations,
                    "loop": loop}  # fmt: skip
        if fmt == "GIF":  # each frame is whole: clear the last before drawing the next
            options["disposal"] = 2
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = 85
    frames[0].save(out, fmt, **options)
    return Encoded(out.getvalue(), frames[0].width, frames[0].height)


def thumbnail(source: str | IO[bytes]) -> bytes:
    """A WebP of the first frame of image `source`, fitting MEDIA_THUMB_SIZE on both sides.
    MediaProcessingError if it cannot be decoded."""
    try:
        image = Image.open(source, formats=list(IMAGE_FORMATS))
        check_pixels(image.width, image.height)
        side = settings.MEDIA_THUMB_SIZE
        image.draft("RGB", (side, side))
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    except Exception as exc:
        raise MediaProcessingError(f"No thumbnail could be made ({type(exc).__name__}).") from exc
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80)
    return out.getvalue()


def check_pixels(width: int, height: int) -> None:
    limit = settings.MEDIA_MAX_IMAGE_PIXELS
    if width * height > limit or max(width, height) > MAX_DECODED_SIDE:
        raise _too_large(width, height)


def _too_large(width: int | None = None, height: int | None = None) -> InvalidMediaError:
    limit = settings.MEDIA_MAX_IMAGE_PIXELS
    size = f"is {width} x {height} pixels" if width else "has far too many pixels"
    return InvalidMediaError(
        f"The image {size}; at most {limit:,} pixels and {MAX_DECODED_SIDE:,} a side are accepted.",
        fields={"file": [f"At most {limit:,} pixels, {MAX_DECODED_SIDE:,} a side."]},
        code="image_too_large",
    )


def _frames(source: Image.Image) -> tuple[list[Image.Image], list[int]]:
    """The frames of an animation, cleaned, the bounds checked before each is decoded."""
    max_frames = settings.MEDIA_MAX_ANIMATION_FRAMES
    max_pixels = settings.MEDIA_MAX_ANIMATION_PIXELS
    frames, durations = [], []
    for index, frame in enumerate(ImageSequence.Iterator(source)):
        if index >= max_frames or (index + 1) * source.width * source.height > max_pixels:
            raise InvalidMediaError(
                f"The animation is longer than {max_frames} frames or {max_pixels:,} pixels "
                "in all.",
                fields={"file": ["This animation is too long."]},
                code="image_too_large",
            )
        frames.append(_clean(frame.convert("RGBA"), source.format or ""))
        durations.append(int(frame.info.get("duration") or 100))  # WebP sets it on load
    return frames, durations


def _clean(image: Image.Image, fmt: str) -> Image.Image:
    """A new image holding only `image`'s pixels (nothing of `info` survives: no EXIF, XMP,
    comments), in a mode `fmt` can hold, scaled down to fit MEDIA_IMAGE_MAX_SIDE."""
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if fmt == "JPEG":
        mode = "L" if image.mode == "L" else "RGB"
    else:
        mode = "RGBA" if alpha else "L" if image.mode in ("L", "I", "I;16", "I;16B") else "RGB"
    if image.mode.startswith("I"):  # 16-bit grey: scaled to 8 bits (convert() would clip)
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode != mode:
        image = image.convert(mode)
    side = settings.MEDIA_IMAGE_MAX_SIDE
    if image.width > side or image.height > side:
        image = ImageOps.contain(image, (side, side), Image.Resampling.LANCZOS)
    clean = Image.new(mode, image.size)
    clean.paste(image)
    return clean
