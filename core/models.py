"""Any model a request can name: a catalog id or alias, a local file or folder, a Hub repo id."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from typing import TYPE_CHECKING

from . import catalog
from .catalog import ModelSpec

if TYPE_CHECKING:
    from .model_files import Checkpoint


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    checkpoint: Checkpoint | None  #: the header of a local checkpoint, when one was named
    in_catalog: bool


@functools.lru_cache(maxsize=256)
def resolve(name: str) -> ResolvedModel | None:
    """The model ``name`` names, or None when it names none (errors for unreadable files)."""
    spec = catalog.find_model(name)
    if spec is not None:
        return ResolvedModel(spec, None, True)
    # files and the Hub only when the name is not in the catalog: their imports cost a cold start
    from . import hub, model_files
    from .model_files import looks_like_path, read_json, spec_from_config

    if looks_like_path(name):
        spec, checkpoint = model_files.read_model_path(name)
        return ResolvedModel(spec, checkpoint, False)
    if hub.looks_like_repo_id(name):
        return ResolvedModel(spec_from_config(read_json(hub.config_path(name)), name), None, False)
    return None


def could_be_model(word: str) -> bool:
    """Whether a word the vocabulary does not know is worth trying as a model (path or repo id)."""
    if "/" not in word and not word.endswith((".json", ".safetensors", ".gguf")):
        return False  # neither a path nor a repo id: no need to import what reads them
    from . import hub
    from .model_files import looks_like_path

    return looks_like_path(word) or hub.looks_like_repo_id(word)
