"""Media of tweets: uploads, their processing, and attaching them to a tweet (docs/timeline.md,
"Media").

An upload is sniffed by its bytes (kinds.py), bounded (bytes, pixels, frames, seconds) and, for
an image, decoded and re-encoded in the request with Pillow (images.py: orientation applied,
EXIF, GPS, XMP and comments gone); a video is probed with ffprobe (video.py) and stored as
uploaded. Files are stored whole or not at all (storage.py) under content-addressed names,
`media/<sha256>/original.<ext>`, and the row commits with an outbox event whose handler, on the
`media` queue, makes the WebP thumbnail and, for a video, the H.264/AAC transcodes beside it
(services.py). The item is `processing` until its last file exists, then `ready` (or `failed`,
saying why). A tweet stores only the URLs.
"""

from timeline.media.kinds import CONTENT_TYPES, NAME_RE, SUPPORTED
from timeline.media.services import (
    MAX_ATTACHMENTS,
    PROCESS,
    attach_media,
    media_backlog,
    media_detail,
    media_dict,
    media_of_owner,
    process_media_step,
    upload_media,
)

__all__ = [
    "CONTENT_TYPES", "MAX_ATTACHMENTS", "NAME_RE", "PROCESS", "SUPPORTED", "attach_media",
    "media_backlog", "media_detail", "media_dict", "media_of_owner", "process_media_step",
    "upload_media",
]  # fmt: skip
