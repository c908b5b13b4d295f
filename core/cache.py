"""A per-user cache folder for derived files that make a cold start faster (never facts).

The catalogs' parsed TOML (as JSON) lives here, keyed by a hash of what it comes from, so a stale
file is never read. Any failure to read or write only costs speed.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Any, Callable


def folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vram")


def cached_json(source: bytes, label: str, build: Callable[[], Any]) -> Any:
    """``build()``'s JSON-able result, stored under a hash of ``source`` and reused while it matches."""
    # crc32 and length: this keys a cache of our own files, it guards against staleness, not tampering
    digest = f"{zlib.crc32(source):08x}-{len(source)}"
    path = os.path.join(folder(), f"{label}-{digest}.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    value = build()
    try:
        os.makedirs(folder(), exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(partial, path)
    except OSError:
        pass
    return value
