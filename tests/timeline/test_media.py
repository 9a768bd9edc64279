"""Media: uploads through POST /api/v1/media (sniffed, bounded, re-encoded, EXIF gone), their
processing on the `media` queue (thumbnails; a video transcoded to 360p and 720p by ffmpeg, through
a real Celery worker), the stored files' URLs and cache headers, and attaching ready media to a
tweet. Real PostgreSQL and Redis; the outbox runs in-process except where the queue is the point.
Images are a few pixels and the video one second, so the whole file runs in seconds."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageSequence
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import OutboxEvent
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import run_outbox
from timeline import media
from timeline.models import Media, MediaStatus

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"/media/media/[0-9a-f]{64}/")


def signed_in(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def upload(client: APIClient, data: bytes, filename: str = "photo.jpg", **extra):
    return client.post(
        "/api/v1/media", {"file": SimpleUploadedFile(filename, data)}, format="multipart", **extra
    )


def image_bytes(fmt: str, size=(6, 4), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(out, fmt, **save)
    return out.getvalue()


def stored(url: str) -> bytes:
    with default_storage.open(url.removeprefix("/media/")) as f:
        return f.read()


def error(response) -> dict:
    return response.json()["error"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path, request) -> None:
    """Each test stores into a directory of its own, except those with a worker process, which
    shares the process's MEDIA_ROOT (from the environment) and cannot see a test's override."""
    if "celery_worker_process" not in request.fixturenames:
        settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def client(alice) -> APIClient:
    return signed_in(alice)


# --- Images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type"),
    [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"),
     ("WEBP", "webp", "image/webp"), ("GIF", "gif", "image/gif")],
)  # fmt: skip
def test_each_image_type_is_re_encoded_stored_by_its_hash_and_ready_once_its_thumbnail_exists(
    client, fmt, ext, content_type
):
    response = upload(client, image_bytes(fmt), filename=f"x.{ext}")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/media/{body['id']}"
    assert (body["type"], body["status"]) == ("image", "processing")
    assert body["content_type"] == content_type
    assert (body["width"], body["height"]) == (6, 4)
    item = Media.objects.get(id=int(body["id"]))
    data = stored(body["files"]["original"])
    assert body["files"]["original"] == f"/media/media/{item.sha256}/original.{ext}"
    assert item.size == len(data) and Image.open(io.BytesIO(data)).format == fmt
    event = OutboxEvent.objects.get(topic=media.PROCESS)  # committed with the row
    assert event.payload == {"media_id": item.id}

    run_outbox()

    done = client.get(f"/api/v1/media/{body['id']}").json()
    assert done["status"] == "ready" and done["error"] is None
    assert done["preview_url"] == done["files"]["thumb"] == f"/media/media/{item.sha256}/thumb.webp"
    assert done["url"] == body["files"]["original"]
    assert Image.open(io.BytesIO(stored(done["preview_url"]))).format == "WEBP"


def test_exif_gps_is_stripped_and_the_orientation_applied(client):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS IFD
    photo = image_bytes("JPEG", size=(40, 20), exif=exif.tobytes())
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)  # the upload has a position

    body = upload(client, photo).json()

    data = stored(body["files"]["original"])
    kept = Image.open(io.BytesIO(data))
    assert kept.size == (20, 40) == (body["width"], body["height"])  # turned upright
    assert not kept.getexif() and "exif" not in kept.info
    assert b"Exif" not in data and b"PhoneMaker" not in data


def test_png_text_chunks_go_and_the_colour_profile_stays(client):
    from PIL import ImageCms, PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "taken at home, 12 Secret Street")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = image_bytes("PNG", pnginfo=text, icc_profile=icc)

    body = upload(client, data, filename="x.png").json()

    kept = stored(body["files"]["original"])
    assert b"Secret Street" not in kept
    assert Image.open(io.BytesIO(kept)).info.get("icc_profile") == icc


def test_an_animated_gif_keeps_its_frames_and_its_thumbnail_is_the_first(client):
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "lime", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0,
                   comment=b"secret comment")  # fmt: skip

    body = upload(client, out.getvalue(), filename="a.gif").json()
    run_outbox()

    kept = stored(body["files"]["original"])
    again = Image.open(io.BytesIO(kept))
    assert b"secret comment" not in kept and again.info["duration"] == 50
    colours = [f.convert("RGB").getpixel((4, 4)) for f in ImageSequence.Iterator(again)]
    assert colours == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    preview = client.get(f"/api/v1/media/{body['id']}").json()["preview_url"]
    thumb = Image.open(io.BytesIO(stored(preview)))
    assert thumb.convert("RGB").getpixel((0, 0)) == pytest.approx((255, 0, 0), abs=8)


def test_a_large_image_is_stored_scaled_down_and_its_thumbnail_fits_the_box(client, settings):
    settings.MEDIA_IMAGE_MAX_SIDE, settings.MEDIA_THUMB_SIZE = 64, 16

    body = upload(client, image_bytes("PNG", size=(500, 250)), filename="big.png").json()
    run_outbox()

    assert (body["width"], body["height"]) == (64, 32)
    thumb = client.get(f"/api/v1/media/{body['id']}").json()["preview_url"]
    assert Image.open(io.BytesIO(stored(thumb))).size == (16, 8)


def test_the_same_bytes_twice_are_stored_once(client, alice):
    first = upload(client, image_bytes("PNG"), filename="a.png").json()
    run_outbox()
    second = upload(signed_in(UserFactory()), image_bytes("PNG"), filename="b.png").json()
    run_outbox()

    assert first["id"] != second["id"]
    assert first["files"]["original"] == second["files"]["original"]
    directory = Path(default_storage.path(first["files"]["original"].removeprefix("/media/")))
    assert sorted(p.name for p in directory.parent.iterdir()) == ["original.png", "thumb.webp"]


# --- Refusals --------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (a decompression bomb's shape): a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "filename", "status", "code"),
    [
        (b"just some text, honestly\n" * 4, "notes.jpg", 415, "unsupported_media_type"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg",
         415, "unsupported_media_type"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40, "a.heic", 415,
         "unsupported_media_type"),
        (b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\nfile:///etc/passwd\n", "a.mp4", 415,
         "unsupported_media_type"),
        (image_bytes("JPEG", size=(64, 64))[:200], "cut.jpg", 400, "invalid_media"),
        (image_bytes("PNG", size=(64, 64))[:60], "cut.png", 400, "invalid_media"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "bad.png", 400, "invalid_media"),
        (_png_claiming(30_000, 30_000), "bomb.png", 400, "image_too_large"),
        (_png_claiming(100_000, 10), "wide.png", 400, "image_too_large"),
        (b"\x00\x00\x00\x18ftypisom" + os.urandom(200), "noise.mp4", 400, "invalid_media"),
    ],
    ids=["text-as-jpg", "svg", "heic", "hls-playlist", "truncated-jpeg", "truncated-png",
         "corrupt-png", "bomb", "huge-dimension", "noise-mp4"],
)  # fmt: skip
def test_what_is_not_a_supported_decodable_file_is_refused_in_the_error_shape(
    client, data, filename, status, code
):
    response = upload(client, data, filename=filename)

    assert response.status_code == status, response.content
    assert error(response)["code"] == code and error(response)["fields"]["file"]
    assert not Media.objects.exists() and not OutboxEvent.objects.exists()


def test_a_missing_or_empty_file_or_a_json_body_is_refused(client):
    assert error(client.post("/api/v1/media", {}, format="multipart"))["fields"]["file"]
    empty = upload(client, b"")
    assert empty.status_code == 400 and error(empty)["fields"]["file"]
    extra = client.post("/api/v1/media", {"file": SimpleUploadedFile("a.png", image_bytes("PNG")),
                                          "alt": "x"}, format="multipart")  # fmt: skip
    assert extra.status_code == 400 and "alt" in error(extra)["fields"]
    as_json = client.post("/api/v1/media", {"file": "aGVsbG8="}, format="json")
    assert as_json.status_code == 415 and error(as_json)["code"] == "unsupported_media_type"


def test_an_image_over_its_byte_limit_is_413(client, settings):
    settings.MEDIA_MAX_IMAGE_BYTES = 1000
    data = image_bytes("PNG", size=(64, 64), compress_level=0)
    assert len(data) > 1000

    response = upload(client, data, filename="a.png")

    assert response.status_code == 413 and error(response)["code"] == "media_too_large"


def test_a_body_over_every_limit_is_413_before_it_is_read(client, settings, monkeypatch):
    settings.MEDIA_MAX_IMAGE_BYTES = settings.MEDIA_MAX_VIDEO_BYTES = 1000
    monkeypatch.setattr(media, "upload_media", lambda **kw: pytest.fail("the body was parsed"))

    response = upload(client, b"\xff\xd8\xff" + b"\x00" * 200_000)

    assert response.status_code == 413 and error(response)["code"] == "media_too_large"
    assert "an upload may be up to 1,000" in error(response)["message"]


def test_uploading_needs_a_token_and_has_its_own_rate_limit(client, settings):
    assert APIClient().post("/api/v1/media", {}, format="multipart").status_code == 401
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "media_upload": {**settings.RATELIMIT_POLICIES["media_upload"], "limit": 1, "burst": 1},
    }
    assert upload(client, image_bytes("PNG"), filename="a.png").status_code == 201

    refused = upload(client, image_bytes("PNG"), filename="a.png")

    assert refused.status_code == 429 and refused["Retry-After"]


def test_only_the_owner_sees_a_media_item(client):
    body = upload(client, image_bytes("PNG"), filename="a.png").json()

    assert signed_in(UserFactory()).get(f"/api/v1/media/{body['id']}").status_code == 404
    assert APIClient().get(f"/api/v1/media/{body['id']}").status_code == 401
    assert client.get("/api/v1/media/12345").status_code == 404
    assert client.get("/api/v1/media/x1").status_code == 400


# --- Attaching -------------------------------------------------------------------------------


def test_a_ready_image_attaches_to_a_tweet_and_a_processing_one_is_refused(client):
    ready = upload(client, image_bytes("JPEG"), filename="a.jpg").json()
    run_outbox()
    processing = upload(client, image_bytes("PNG"), filename="b.png").json()

    refused = client.post("/api/v1/tweets", {"text": "wait", "media_ids": [processing["id"]]},
                          format="json")  # fmt: skip
    posted = client.post("/api/v1/tweets", {"text": "look", "media_ids": [ready["id"]]},
                         format="json")  # fmt: skip

    assert refused.status_code == 400 and "processing" in error(refused)["message"]
    assert posted.status_code == 201, posted.content
    [shown] = posted.json()["media"]
    detail = client.get(f"/api/v1/media/{ready['id']}").json()
    assert shown == {"id": ready["id"], "type": "image", "url": detail["files"]["original"],
                     "preview_url": detail["files"]["thumb"]}  # fmt: skip
    assert detail["tweet_id"] == posted.json()["id"]
    tweet = client.get(f"/api/v1/tweets/{posted.json()['id']}").json()
    assert tweet["media"] == [shown]


# --- Files over HTTP -------------------------------------------------------------------------


def test_stored_files_are_served_with_immutable_cache_headers_and_byte_ranges(client):
    body = upload(client, image_bytes("PNG", size=(30, 30)), filename="a.png").json()
    url, data = body["files"]["original"], stored(body["files"]["original"])
    web = APIClient()

    whole = web.get(url)
    part = web.get(url, HTTP_RANGE="bytes=2-9")
    tail = web.get(url, HTTP_RANGE="bytes=-4")
    beyond = web.get(url, HTTP_RANGE=f"bytes={len(data)}-")

    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    assert whole["Content-Type"] == "image/png"
    assert whole["Cache-Control"] == "public, max-age=31536000, immutable"
    assert whole["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in whole["Content-Security-Policy"]
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[2:10]
    assert part["Content-Range"] == f"bytes 2-9/{len(data)}"
    assert b"".join(tail.streaming_content) == data[-4:]
    assert beyond.status_code == 416


@pytest.mark.parametrize(
    "path",
    ["/media/media/" + "a" * 64 + "/original.png", "/media/../config/settings.py",
     "/media/.staging/stage-x", "/media/media/" + "a" * 64 + "/evil.html"],
)  # fmt: skip
def test_a_name_not_stored_or_not_ours_is_a_404_nobody_caches(path):
    response = APIClient().get(path)

    assert response.status_code == 404 and response["Cache-Control"] == "no-store"


# --- Videos ----------------------------------------------------------------------------------


def make_video(path: Path, *, seconds: float = 1, size: str = "854x480", rate: int = 15) -> bytes:
    """A short video from ffmpeg's test sources (H.264/AAC, or VP8/Opus for .webm), with a
    location and a unique title (so its hash, and its storage names, are new on every run)."""
    webm = path.suffix == ".webm"
    codecs = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]
    if not webm:
        codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         *codecs, "-metadata", "location=+48.8584+002.2945/", "-metadata", f"title={uuid.uuid4()}",
         "-shortest", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def probe(url: str) -> dict:
    path = default_storage.path(url.removeprefix("/media/"))
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
        capture_output=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.mark.django_db(transaction=True)
def test_a_video_is_transcoded_to_360p_and_720p_by_a_real_worker_on_the_media_queue(
    celery_worker_process, tmp_path
):
    client = signed_in(UserFactory())
    video = make_video(tmp_path / "clip.mp4")

    body = upload(client, video, filename="clip.mp4").json()

    assert (body["type"], body["status"]) == ("video", "processing")
    assert body["content_type"] == "video/mp4"
    assert (body["width"], body["height"]) == (854, 480) and 900 <= body["duration_ms"] <= 1100
    assert body["url"] is None  # nothing to link before the transcodes exist
    deadline = time.monotonic() + 60
    item = Media.objects.get(id=int(body["id"]))
    while item.status == MediaStatus.PROCESSING:
        assert time.monotonic() < deadline, "the media worker did not finish within 60 s"
        time.sleep(0.2)
        item.refresh_from_db()
    done = client.get(f"/api/v1/media/{body['id']}").json()
    assert done["status"] == "ready", done["error"]
    files = done["files"]
    assert set(files) == {"original", "thumb", "360p", "720p"}
    assert done["url"] == files["720p"] and done["preview_url"] == files["thumb"]
    for role, (width, height) in (("360p", (640, 360)), ("720p", (854, 480))):
        found = probe(files[role])
        codecs = {s["codec_type"]: s for s in found["streams"]}
        assert (codecs["video"]["codec_name"], codecs["audio"]["codec_name"]) == ("h264", "aac")
        assert (codecs["video"]["width"], codecs["video"]["height"]) == (width, height)
        assert "location" not in found["format"].get("tags", {})  # the upload's is gone
    assert "location" in probe(files["original"])["format"]["tags"]  # never linked (docs)
    assert Image.open(io.BytesIO(stored(files["thumb"]))).size == (400, 225)

    posted = client.post("/api/v1/tweets", {"text": "a clip", "media_ids": [body["id"]]},
                         format="json")  # fmt: skip
    assert posted.status_code == 201
    assert posted.json()["media"][0]["url"] == files["720p"]


def test_a_small_video_gets_one_transcode_and_is_processed_step_by_step(client, tmp_path):
    body = upload(client, make_video(tmp_path / "s.webm", size="320x240"), filename="s.webm")

    assert body.status_code == 201, body.content
    assert body.json()["content_type"] == "video/webm"
    run_outbox()
    done = client.get(f"/api/v1/media/{body.json()['id']}").json()
    assert done["status"] == "ready" and set(done["files"]) == {"original", "thumb", "360p"}
    assert done["url"] == done["files"]["360p"]


def test_a_phone_video_shot_upright_keeps_its_orientation(client, tmp_path):
    landscape = tmp_path / "l.mp4"
    make_video(landscape, size="64x48")
    upright = tmp_path / "u.mp4"  # as phones write it: landscape pixels, a 90° display matrix
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(landscape), "-c", "copy",
         "-metadata:s:v:0", "rotate=90", str(upright)],
        check=True, timeout=30,
    )  # fmt: skip

    body = upload(client, upright.read_bytes(), filename="u.mp4").json()
    run_outbox()

    assert (body["width"], body["height"]) == (48, 64)
    done = client.get(f"/api/v1/media/{body['id']}").json()
    video = next(s for s in probe(done["files"]["360p"])["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (48, 64)


def test_a_video_over_the_duration_limit_is_refused(client, tmp_path, settings):
    settings.MEDIA_MAX_VIDEO_SECONDS = 1
    response = upload(client, make_video(tmp_path / "long.mp4", seconds=2, size="64x64"),
                      filename="long.mp4")  # fmt: skip

    assert response.status_code == 400 and error(response)["code"] == "video_too_long"


def test_a_video_ffmpeg_cannot_process_fails_with_a_reason_and_is_not_retried(client, alice):
    original = "media/" + "b" * 64 + "/original.mp4"
    item = Media.objects.create(
        id=1, owner=alice, kind="video", sha256="b" * 64, content_type="video/mp4", size=10,
        width=640, height=480, duration_ms=1000, files={"original": original},
    )  # fmt: skip
    default_storage.save(original, io.BytesIO(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 99))

    assert media.process_media_step({"media_id": item.id}, None) is None

    item.refresh_from_db()
    assert item.status == MediaStatus.FAILED and "could not process" in item.error
    assert client.get(f"/api/v1/media/{item.id}").json()["error"] == item.error


# --- Storage backends ------------------------------------------------------------------------


def _settings_with(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.STORAGES['default']['BACKEND'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )  # fmt: skip


def test_media_storage_s3_switches_the_default_storage_to_django_storages():
    """S3 itself cannot be reached from here; this proves the switch, not the bucket."""
    local = _settings_with(MEDIA_STORAGE="local")
    s3 = _settings_with(MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="sysdesign-media")
    bogus = _settings_with(MEDIA_STORAGE="ftp")

    assert local.stdout.strip() == "django.core.files.storage.FileSystemStorage"
    assert s3.stdout.strip() == "storages.backends.s3.S3Storage", s3.stderr
    assert bogus.returncode != 0 and "MEDIA_STORAGE is 'local' or 's3'" in bogus.stderr


def test_a_videos_original_is_never_served_only_its_transcodes(client, tmp_path):
    body = upload(client, make_video(tmp_path / "o.mp4", size="320x240"), filename="o.mp4")
    run_outbox()
    done = client.get(f"/api/v1/media/{body.json()['id']}").json()
    anonymous = APIClient()

    assert anonymous.get(done["files"]["360p"]).status_code == 200
    # Same content address, other file name: the upload as sent (its metadata, a location) stays
    # on the server, for the transcodes.
    assert anonymous.get(done["files"]["original"]).status_code == 404


def test_a_video_with_too_many_pixels_to_decode_is_refused(client, tmp_path, settings):
    settings.MEDIA_MAX_VIDEO_DECODED_PIXELS = 64 * 64 * 15 * 1  # less than 2 s of 64x64 at 15 fps
    response = upload(client, make_video(tmp_path / "p.mp4", seconds=2, size="64x64"),
                      filename="p.mp4")  # fmt: skip

    assert response.status_code == 400 and error(response)["code"] == "video_too_large"
    assert "pixels to decode" in error(response)["message"]
