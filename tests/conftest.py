"""Shared helpers for the tests: the example files under tests/data."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# No network in tests: a word that looks like a Hub repo id must be answered from the (empty) cache.
os.environ["HF_HUB_OFFLINE"] = "1"
# Derived caches (the parsed catalogs) go to a folder of the test run, not the user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="vram-test-cache-")

DATA = Path(__file__).with_name("data")


def read_jsonl(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
