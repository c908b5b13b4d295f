"""The result of an estimate: line items that show their work, the total, assumptions, fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .enums import Method
from .request import Request


@dataclass(frozen=True, slots=True)
class LineItem:
    """One term of the memory budget, with the formula and numbers that give it."""

    key: str  #: stable id: weights, gradients, optimizer, activations, kv_cache, ...
    label: str  #: short human label ("Optimizer states")
    bytes: int  #: on the most-loaded GPU
    formula: str  #: the formula as text, in the symbols of ``values``
    values: Mapping[str, float] = field(default_factory=dict)  #: numbers substituted into it
    source: str = ""  #: paper, official doc or framework file the formula comes from

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "bytes": self.bytes, "formula": self.formula,
                "values": dict(self.values), "source": self.source}


@dataclass(frozen=True, slots=True)
class Fit:
    """Whether the most-loaded GPU's bytes fit one GPU of a kind."""

    gpu: str  #: catalog id
    gpu_name: str
    gpu_count: int
    per_gpu_bytes: int
    capacity_bytes: int  #: the GPU's total memory as the driver reports it
    fits: bool
    headroom_bytes: int  #: capacity minus need; negative when it does not fit

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "gpu_name": self.gpu_name, "gpu_count": self.gpu_count,
                "per_gpu_bytes": self.per_gpu_bytes, "capacity_bytes": self.capacity_bytes,
                "fits": self.fits, "headroom_bytes": self.headroom_bytes}


@dataclass(frozen=True, slots=True)
class Estimate:
    """Memory of one job: what the most-loaded GPU holds, item by item.

    ``total_bytes`` is the sum of the items (one GPU's share); ``job_total_bytes`` adds every
    GPU's share when the job spans ``gpu_count`` GPUs.
    """

    request: Request
    method: Method
    items: tuple[LineItem, ...]
    assumptions: tuple[str, ...]
    gpu_count: int
    job_total_bytes: int
    fit: tuple[Fit, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    def item(self, key: str) -> LineItem:
        """The line item with ``key``; KeyError when the estimate has none."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of design.md section 3 (without the request, which has its own)."""
        return {
            "method": self.method.value,
            "total_bytes": self.total_bytes,
            "gpu_count": self.gpu_count,
            "job_total_bytes": self.job_total_bytes,
            "items": [item.to_dict() for item in self.items],
            "assumptions": list(self.assumptions),
            "fit": [f.to_dict() for f in self.fit],
        }

    def __str__(self) -> str:
        from .render import render_text

        return render_text(self)
