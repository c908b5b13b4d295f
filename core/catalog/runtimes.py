"""The runtime catalog (design.md section 8): serving engines and training frameworks as rows of
data (catalog/data/runtimes.toml), loaded once into frozen records.

A request names a runtime by id or names none; :func:`runtime_of` gives the row that runs it, the
default one (Hugging Face transformers) when none was named. The memory model reads a row's
columns; it never branches on a runtime's name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from vram.catalog.index import load_toml
from vram.request.enums import TRAINING_TASKS, Engine, Framework, Regime
from vram.request.request import Request

#: The fields every row has; any other column goes to ``settings``.
_FIELDS = ("id", "name", "source", "default", "based_on", "notes")


@dataclass(frozen=True, eq=False)  # one record a row, loaded once: compared and hashed by identity
class Runtime:
    """One engine or framework: who runs the job, with the defaults it runs it with."""

    kind: str  #: "engine" (serving) or "framework" (training)
    id: str
    name: str
    source: str
    default: bool = False  #: the runtime of a request that names none
    based_on: str | None = None  #: the runtime this one runs on (Ollama on llama.cpp)
    notes: str | None = None
    #: every other column of the row (``precision_regime`` ...), read by the parts that model it
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def pre_allocates(self) -> bool:
        """A serving engine that sizes a KV pool from a share of the GPU at start-up (vLLM, SGLang, TGI)."""
        return "memory_fraction" in self.settings

    @property
    def precision_regime(self) -> Regime | None:
        value = self.settings.get("precision_regime")
        return None if value is None else Regime(value)


@functools.cache
def runtimes() -> MappingProxyType:
    """Every runtime, by (kind, id)."""
    data = load_toml("runtimes.toml")
    found: dict[tuple[str, str], Runtime] = {}
    for kind, enum in (("engine", Engine), ("framework", Framework)):
        rows = data.get(kind, [])
        for row in rows:
            runtime = Runtime(kind, **{k: v for k, v in row.items() if k in _FIELDS},
                              settings=MappingProxyType({k: v for k, v in row.items() if k not in _FIELDS}))
            enum(runtime.id)  # a row the request cannot name is a catalog error
            found[kind, runtime.id] = runtime
        missing = {member.value for member in enum} - {i for k, i in found if k == kind}
        defaults = [r.id for (k, _), r in found.items() if k == kind and r.default]
        if missing or len(defaults) != 1:
            raise ValueError(f"runtimes.toml: every {kind} needs a row ({sorted(missing)} missing) and exactly "
                             f"one default (found {defaults})")
    return MappingProxyType(found)


def runtime_of(request: Request) -> Runtime:
    """The runtime that runs ``request``: the engine or framework it names, else the default."""
    kind, named = (("framework", request.framework) if request.task in TRAINING_TASKS
                   else ("engine", request.engine))
    table = runtimes()
    if named is not None:
        return table[kind, named.value]
    return next(r for (k, _), r in table.items() if k == kind and r.default)


__all__ = ["Runtime", "runtime_of", "runtimes"]
