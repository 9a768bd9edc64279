"""The shortener's Redis key layout (the table in shortener/cache/__init__.py): one hash tag per
slot, codes spread over SLOTS slots by crc32."""

from __future__ import annotations

import functools
import secrets
import zlib
from dataclasses import dataclass

from django.conf import settings

SLOTS: int = settings.SHORTENER_REDIS_SLOTS


def slot_of(code: str) -> int:
    """The slot of `code`: stable across processes and restarts (crc32, not Python's hash)."""
    return zlib.crc32(code.encode()) % SLOTS


def _tag(slot: int) -> str:
    return f"sl:{{s{slot}}}"


def pending_key(slot: int) -> str:
    return f"{_tag(slot)}:pending"


def events_key(slot: int) -> str:
    return f"{_tag(slot)}:events"


def batches_key(slot: int) -> str:
    return f"{_tag(slot)}:batches"


def new_batch_key(slot: int) -> str:
    return f"{_tag(slot)}:batch:{secrets.token_hex(16)}"


@dataclass(frozen=True, slots=True)
class LinkKeys:
    """Every key of one code, in the order visit.lua takes them."""

    slot: int
    link: str  # the cached entry: one string (entries.CachedLink.packed)
    gate: str
    pending: str
    events: str
    lease: str
    gate_lease: str
    for_visit: tuple[str, ...]  # KEYS of visit.lua


@functools.lru_cache(maxsize=8192)  # hot codes repeat (Zipf): five f-strings saved per visit
def keys_for(code: str) -> LinkKeys:
    slot = slot_of(code)
    tag = _tag(slot)
    link, gate, pending = f"{tag}:entry:{code}", f"{tag}:gate:{code}", f"{tag}:pending"
    events, lease, gate_lease = f"{tag}:events", f"{tag}:lease:{code}", f"{tag}:gatelease:{code}"
    for_visit = (link, gate, pending, events, lease)
    return LinkKeys(slot, link, gate, pending, events, lease, gate_lease, for_visit)


def legacy_entry_key(code: str) -> str:
    """Where entries were cached until they became one string: a hash of seven fields, which
    Redis stored as a hashtable (~650 bytes) because a URL is longer than
    hash-max-listpack-value (64). Invalidations still delete it, so that a process running the
    old code during a rolling deploy cannot serve an edited or deleted link from it; it expires
    by itself within SHORTENER_CACHE_SECONDS. Drop this once no such process can be running."""
    return f"{_tag(slot_of(code))}:link:{code}"
