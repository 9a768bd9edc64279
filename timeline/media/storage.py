"""Writing media files through Django's storage API (`default_storage`: the filesystem, or S3
by MEDIA_STORAGE), whole or not at all. A name is content-addressed and served with immutable
cache headers, so a half-written file must never be visible under it: a CDN would keep it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from django.core.files import File
from django.core.files.storage import default_storage

STAGING = ".staging"  # under MEDIA_ROOT: files being written (kinds.NAME_RE never serves them)


@contextlib.contextmanager
def staging() -> Iterator[str]:
    """A path to write a file to before it is stored: on the storage's own filesystem when it
    has one (MEDIA_ROOT/.staging), so that storing it is a rename, atomic; a temporary file
    otherwise (object storage makes an object visible only once it is whole). Removed after."""
    location = getattr(default_storage, "location", None)
    directory = os.path.join(location, STAGING) if location else None
    if directory:
        os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=directory, prefix="stage-")
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):  # stored by a rename: gone already
            os.unlink(path)


class _StagedFile(File):
    """A File Django's FileSystemStorage moves into place (os.rename) instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


def store(name: str, path: str, content_type: str) -> None:
    """Store the file at `path` (from `staging`) under `name`, unless `name` exists. Every write
    is whole or nothing (a rename, or an object storage's PUT), so a name that exists holds the
    complete file and is never written twice (a CDN may have it cached already); its bytes are
    what would be written, names being content-addressed."""
    if default_storage.exists(name):
        return
    with open(path, "rb") as staged:
        content = _StagedFile(staged, name=os.path.basename(name))
        content.content_type = content_type  # S3 sends it as the object's Content-Type
        saved = default_storage.save(name, content)
    if saved != name:  # another upload of the same bytes stored it meanwhile: one copy is enough
        default_storage.delete(saved)


@contextlib.contextmanager
def local_copy(name: str) -> Iterator[str]:
    """A local path to stored file `name` (ffmpeg reads files): the file itself on the
    filesystem storage, a temporary copy from object storage."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:  # not a filesystem (S3)
        path = None
    if path is not None:
        yield path
        return
    with default_storage.open(name) as stored, tempfile.NamedTemporaryFile() as copy:
        shutil.copyfileobj(stored, copy)
        copy.flush()
        yield copy.name
