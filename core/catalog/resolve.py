"""Any model a request can name: a catalog id or alias, a local file or folder, a Hub repo id.

``resolve`` is the one place that reads model files and the Hub, and it obeys the resolution
policy in effect (``policy.py``): with local files off, no path of any spelling reaches a reader.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vram import catalog
from vram.catalog import policy
from vram.catalog.index import ModelSpec
from vram.errors import UnsupportedError

if TYPE_CHECKING:
    from vram.catalog.files import Checkpoint


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    checkpoint: Checkpoint | None  #: the header of a local checkpoint, when one was named
    in_catalog: bool


def resolve(name: str) -> ResolvedModel | None:
    """The model ``name`` names, or None when it names none (errors for unreadable files).

    The policy is checked on every call, before any cache: a path read under one policy is never
    served from memory under a stricter one.
    """
    spec = catalog.find_model(name)
    if spec is not None:
        return ResolvedModel(spec, None, True)
    # files and the Hub only when the name is not in the catalog: their imports cost a cold start
    from vram.catalog import hub
    from vram.catalog.files import looks_like_path

    rules = policy.current()
    if looks_like_path(name) or "\\" in name:
        if not rules.local_files:
            raise UnsupportedError(
                f"'{name}' would be a file on the server, and files are not read here; name a model from "
                "the catalog (llama-3-8b), a Hugging Face repo id (owner/name), or a size and shape "
                "(7b hidden 4096 layers 32 heads 32)", field="model")
        if looks_like_path(name):
            return _from_path(name)
    if rules.hub and hub.looks_like_repo_id(name):
        return _from_hub(name)
    return None


@functools.lru_cache(maxsize=64)
def _from_path(name: str) -> ResolvedModel:
    from vram.catalog.files import read_model_path

    spec, checkpoint = read_model_path(name)
    return ResolvedModel(spec, checkpoint, False)


@functools.lru_cache(maxsize=256)
def _from_hub(name: str) -> ResolvedModel:
    # only successes are kept (an exception is not cached): a Hub that was down may answer later
    from vram.catalog import hub
    from vram.catalog.files import spec_from_config

    return ResolvedModel(spec_from_config(hub.config(name), name), None, False)


def could_be_model(word: str) -> bool:
    """Whether a word the vocabulary does not know is worth trying as a model (path or repo id)."""
    if "/" not in word and not word.endswith((".json", ".safetensors", ".gguf")):
        return False  # neither a path nor a repo id: no need to import what reads them
    from vram.catalog import hub
    from vram.catalog.files import looks_like_path

    return looks_like_path(word) or hub.looks_like_repo_id(word)


def cache_clear() -> None:
    """Forget the files and Hub answers read so far (tests that rewrite a file between reads)."""
    _from_path.cache_clear()
    _from_hub.cache_clear()
