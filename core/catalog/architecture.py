"""The architecture a request is about: a catalog model's, or a typical one for a bare size."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vram import catalog
from vram.catalog import resolve as models
from vram.catalog.index import ModelSpec
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


@functools.lru_cache(maxsize=4096)
def architecture_of(
    model: str | None,
    params: float | None,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    num_heads: int | None = None,
) -> Architecture:
    """The architecture of a named model, or of a model given by size (and maybe h, L, a)."""
    if model is not None:
        resolved = models.resolve(model)
        spec = resolved.spec
        how = "nominal" if resolved.in_catalog else "counted"
        return Architecture(
            spec.nominal_params, spec.hidden_size, spec.num_layers, spec.num_heads, spec,
            f"{spec.id}: {format_count(spec.nominal_params)} parameters ({how}), hidden {spec.hidden_size}, "
            f"{spec.num_layers} layers, {spec.num_heads} heads ({'catalog: ' if resolved.in_catalog else ''}"
            f"{spec.source})",
        )
    typical = catalog.nearest_dense_model(params)
    given = {"hidden": hidden_size, "layers": num_layers, "heads": num_heads}
    h = hidden_size or typical.hidden_size
    layers = num_layers or typical.num_layers
    heads = num_heads or typical.num_heads
    if all(v is not None for v in given.values()):
        basis = f"a {format_count(params)}-parameter model with the architecture given: hidden {h}, {layers} layers, {heads} heads"
    else:
        taken = ", ".join(f"{name} {value}" for name, value in
                          (("hidden", h), ("layers", layers), ("heads", heads)) if given[name] is None)
        basis = (f"{format_count(params)} given by size only: {taken} taken from {typical.id}, the catalog's "
                 f"dense model nearest in size; name the model for exact numbers")
    return Architecture(params, h, layers, heads, None, basis)
