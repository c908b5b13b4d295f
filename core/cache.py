"""A per-user cache folder for derived files that make a cold start faster (never facts).

The catalogs' parsed TOML (as JSON) and lark's parser tables live here, keyed by a hash of what
they come from, so a stale file is never read. Any failure to read or write only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable



def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vram"


def cached_json(source: bytes, label: str, build: Callable[[], Any]) -> Any:
    """``build()``'s JSON-able result, stored under a hash of ``source`` and reused while it matches."""
    digest = hashlib.sha256(source).hexdigest()[:20]
    path = folder() / f"{label}-{digest}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(value), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass
    return value
