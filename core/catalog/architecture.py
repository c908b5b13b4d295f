"""The architecture a request is about: a catalog model's, or a typical one for a bare size."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vram import catalog
from vram.catalog.index import ModelSpec
from vram.messages import Note
from vram.units import format_count


@dataclass(frozen=True)
class Architecture:
    """The article's symbols for one model, and where they came from."""

    params: float  #: nominal parameter count
    hidden_size: int  #: h
    num_layers: int  #: L
    num_heads: int  #: a
    spec: ModelSpec | None  #: the catalog model, when one is named
    basis: str  #: one sentence saying where these numbers come from, for the assumptions


@functools.lru_cache(maxsize=1024)
def of_model(spec: ModelSpec, in_catalog: bool) -> Architecture:
    """The architecture of a named model: the catalog's, or one read from its files or the Hub."""
    basis = Note("note.model_catalog" if in_catalog else "note.model_read", model=spec.id,
                 params=format_count(spec.nominal_params), hidden=spec.hidden_size, layers=spec.num_layers,
                 heads=spec.num_heads, source=spec.source)
    return Architecture(spec.nominal_params, spec.hidden_size, spec.num_layers, spec.num_heads, spec, basis)


@functools.lru_cache(maxsize=4096)
def of_size(params: float, hidden_size: int | None = None, num_layers: int | None = None,
            num_heads: int | None = None) -> Architecture:
    """The architecture of a model given by size (and maybe h, L, a): the rest from the catalog's
    dense model nearest in size."""
    typical = catalog.nearest_dense_model(params)
    given = {"hidden": hidden_size, "layers": num_layers, "heads": num_heads}
    h = hidden_size or typical.hidden_size
    layers = num_layers or typical.num_layers
    heads = num_heads or typical.num_heads
    if all(v is not None for v in given.values()):
        basis = Note("note.size_shape", size=format_count(params), hidden=h, layers=layers, heads=heads)
    else:
        taken = ", ".join(f"{name} {value}" for name, value in
                          (("hidden", h), ("layers", layers), ("heads", heads)) if given[name] is None)
        basis = Note("note.size_only", size=format_count(params), taken=taken, model=typical.id)
    return Architecture(params, h, layers, heads, None, basis)
