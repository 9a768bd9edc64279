"""Videos with Debian's ffmpeg: probing an upload, a frame for its thumbnail, H.264/AAC MP4
transcodes. ffmpeg reads untrusted files: it is told the demuxer (the sniffed container, never
its own guess) and may open local files only, so an upload cannot make it fetch a URL or read
another file (the HLS-playlist attacks); every run has a timeout and is killed past it."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass

from django.conf import settings

from timeline.errors import InvalidMediaError, MediaUnavailableError
from timeline.media.kinds import MediaProcessingError

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 10  # seconds; it reads headers only
# name -> (the box of a landscape video, swapped for a portrait one; audio bit rate)
TRANSCODES = {"360p": (640, 360, "96k"), "720p": (1280, 720, "128k")}


@dataclass(frozen=True)
class Probe:
    width: int  # as displayed: a phone's rotation applied
    height: int
    duration_ms: int


def probe_video(path: str, demuxer: str) -> Probe:
    """What ffprobe reads of `path`. InvalidMediaError (400) for no readable video stream
    (`invalid_media`), over MEDIA_MAX_VIDEO_SECONDS (`video_too_long`) or
    MEDIA_MAX_VIDEO_SIDE (`video_too_large`); MediaUnavailableError (503) without ffprobe."""
    try:
        out = run(
            ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-f", demuxer,
             "-print_format", "json", "-show_format", "-show_streams", path],
            timeout=PROBE_TIMEOUT,
        )  # fmt: skip
        found = json.loads(out)
        video = next(
            s for s in found.get("streams") or []
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        )  # fmt: skip
        width, height = int(video["width"]), int(video["height"])
        num, _, den = str(
            video.get("avg_frame_rate") or video.get("r_frame_rate") or "0/1"
        ).partition("/")
        fps = float(num) / float(den or 1) if float(den or 1) else 0.0
        duration = float(found.get("format", {}).get("duration") or video.get("duration") or 0)
        rotation = int(float(video.get("tags", {}).get("rotate", 0)))
        for side_data in video.get("side_data_list") or []:
            rotation = int(float(side_data.get("rotation", rotation)))
    except (MediaProcessingError, ValueError, KeyError, TypeError, StopIteration):
        raise InvalidMediaError(
            "The file is not a video that can be read.", fields={"file": ["No readable video."]}
        ) from None
    if rotation % 180:
        width, height = height, width
    seconds, side = settings.MEDIA_MAX_VIDEO_SECONDS, settings.MEDIA_MAX_VIDEO_SIDE
    if not 0 < duration <= seconds + 0.5:  # containers round durations up a little
        raise InvalidMediaError(
            f"The video lasts {duration:.1f} s; videos may last up to {seconds} s.",
            fields={"file": [f"At most {seconds} seconds."]}, code="video_too_long",
        )  # fmt: skip
    if not (0 < width <= side and 0 < height <= side):
        raise InvalidMediaError(
            f"The video is {width} x {height}; at most {side} pixels a side.",
            fields={"file": [f"At most {side} pixels a side."]}, code="video_too_large",
        )  # fmt: skip
    # What decoding costs: an 800 KB file of 4096 x 4096 at 60 fps for 60 s is 6e10 pixels, and
    # its transcode ran into MEDIA_FFMPEG_TIMEOUT_SECONDS while the media queue waited.
    budget = settings.MEDIA_MAX_VIDEO_DECODED_PIXELS
    if width * height * max(fps, 1.0) * duration > budget:
        raise InvalidMediaError(
            f"The video has {width * height * fps * duration:.2g} pixels to decode (width x height"
            f" x frames); at most {budget:.2g}, e.g. 1080p at 30 fps for 30 s.",
            fields={"file": ["Too many pixels to transcode: shorter, smaller or fewer fps."]},
            code="video_too_large",
        )
    return Probe(width, height, round(duration * 1000))


def video_frame(path: str, demuxer: str, *, at_seconds: float) -> bytes:
    """One frame of the video at `path`, as PNG bytes (for its thumbnail)."""
    return _ffmpeg([
        "-ss", f"{at_seconds:.3f}", *_input(path, demuxer), "-frames:v", "1",
        "-f", "image2pipe", "-c:v", "png", "pipe:1",
    ])  # fmt: skip


def transcode(path: str, demuxer: str, *, role: str, width: int, height: int, out: str) -> None:
    """Write `out`: the video at `path` (displayed `width` x `height`) as an H.264/AAC MP4
    fitting TRANSCODES[role]'s box, never scaled up, at most 30 frames a second, its index at
    the front (it plays while it downloads), and none of the upload's metadata."""
    box_w, box_h, audio = TRANSCODES[role]
    if height > width:
        box_w, box_h = box_h, box_w
    fit_w, fit_h = min(box_w, width), min(box_h, height)
    _ffmpeg([
        *_input(path, demuxer), "-map", "0:v:0", "-map", "0:a:0?",
        "-t", str(settings.MEDIA_MAX_VIDEO_SECONDS),
        "-vf", f"scale=w={fit_w}:h={fit_h}:force_original_aspect_ratio=decrease"
        ":force_divisible_by=2,setsar=1",
        "-fpsmax", "30", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-profile:v", "main", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", audio, "-ac", "2",
        # No metadata of the upload's (a phone's location, its make) in what is served.
        "-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn",
        "-movflags", "+faststart", "-f", "mp4", out,
    ])  # fmt: skip


def _input(path: str, demuxer: str) -> list[str]:
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", path]


def _ffmpeg(args: list[str]) -> bytes:
    return run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
               timeout=settings.MEDIA_FFMPEG_TIMEOUT_SECONDS)  # fmt: skip


def run(args: list[str], *, timeout: float) -> bytes:
    """Run ffmpeg/ffprobe; its output. MediaProcessingError if it fails or overruns `timeout`
    (it is killed); MediaUnavailableError (503) if it is not installed."""
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise MediaUnavailableError(f"{args[0]} is not installed on this server.") from None
    except subprocess.TimeoutExpired:
        raise MediaProcessingError(f"{args[0]} took longer than {timeout} s.") from None
    if done.returncode != 0:
        # Its words name our paths: logged for us, not given to the uploader.
        logger.info("media: %s failed: %s", args[0], done.stderr.decode(errors="replace")[-500:])
        raise MediaProcessingError(f"{args[0]} could not process the file.")
    return done.stdout
