"""The result of an estimate: line items that show their work, the total, assumptions, fit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping, Sequence

from vram.formula import Formula
from vram.request.enums import Item, Method, PhaseName, Solve
from vram.request.request import Request


@dataclass(frozen=True)
class LineItem:
    """One term of the memory budget, with the formula and numbers that give it."""

    key: Item  #: stable id (its value is the JSON's ``key``: weights, gradients, ...)
    label: str  #: short human label ("Optimizer states")
    bytes: int  #: on the most-loaded GPU
    formula: str  #: the formula as text, in the symbols of ``values``
    values: Mapping[str, float] = field(default_factory=dict)  #: numbers substituted into it
    source: str = ""  #: paper, official doc or framework file the formula comes from
    #: the compiled expression that gave ``bytes``, when one did: what a sweep re-evaluates at
    #: another batch or context. ``formula`` is display text (``2 B/param x params``) and is
    #: never compiled again, so a display form can never be run as code.
    expression: Formula | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "bytes": self.bytes, "formula": self.formula,
                "values": dict(self.values), "source": self.source}


def formula_item(key: Item, label: str, expression: Formula, values: Mapping[str, float], source: str) -> LineItem:
    """The line item ``expression`` gives at ``values``, showing the symbols it uses."""
    return LineItem(key, label, expression.bytes(values), expression.text, expression.used(values), source, expression)


class Verdict(StrEnum):
    FITS = "fits"  #: at most 90 % of the usable memory
    TIGHT = "tight"  #: above 90 %: fragmentation or a longer batch may tip it over
    DOES_NOT_FIT = "does_not_fit"


#: Above this share of the usable memory a job that fits is called tight. A policy choice, not a
#: measurement: the answer's range (allocator fragmentation, CUDA context size) commonly spans a few
#: percent of a card, so the last tenth is where a fit can turn on what no formula knows.
TIGHT_ABOVE = 0.9


@dataclass(frozen=True)
class Fit:
    """The most-loaded GPU's need against one GPU's usable memory."""

    gpu: str  #: catalog id
    gpu_name: str
    gpu_count: int
    per_gpu_bytes: int  #: the estimate's total for one GPU
    capacity_bytes: int  #: the GPU's total memory as the driver reports it
    deductions: tuple[LineItem, ...]  #: what the runtime takes first (CUDA context, workspaces)
    need_bytes: int  #: per_gpu_bytes less any deduction the estimate already counts
    usable_bytes: int  #: capacity less the deductions
    verdict: Verdict

    @property
    def fits(self) -> bool:
        return self.verdict is not Verdict.DOES_NOT_FIT

    @property
    def headroom_bytes(self) -> int:
        """Usable memory left over; negative when it does not fit."""
        return self.usable_bytes - self.need_bytes

    @property
    def utilisation(self) -> float:
        return self.need_bytes / self.usable_bytes

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "gpu_name": self.gpu_name, "gpu_count": self.gpu_count,
                "per_gpu_bytes": self.per_gpu_bytes, "capacity_bytes": self.capacity_bytes,
                "deductions": [d.to_dict() for d in self.deductions], "need_bytes": self.need_bytes,
                "usable_bytes": self.usable_bytes, "verdict": self.verdict.value, "fits": self.fits,
                "headroom_bytes": self.headroom_bytes, "utilisation": round(self.utilisation, 4)}


@dataclass(frozen=True)
class Alternative:
    """A changed request, what it trades away, and what it needs."""

    label: str  #: the change ("ZeRO-3 over the 8 GPUs")
    tradeoff: str  #: what the change costs or changes about the job
    request: Request
    total_bytes: int  #: one GPU's need under the change
    method: Method  #: the method that answered the changed request
    fit: Fit | None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "tradeoff": self.tradeoff, "query": self.request.to_query(),
                "request": self.request.to_dict(), "total_bytes": self.total_bytes, "method": self.method,
                "fit": self.fit.to_dict() if self.fit else None}


@dataclass(frozen=True)
class Solution:
    """A solver's answer: what was solved for, the value, and how it was found."""

    solve: Solve  #: what was solved for
    value: Any  #: an integer, a list of GPU ids, or None when nothing fits
    note: str
    estimates: int  #: estimate calls the solver made

    def to_dict(self) -> dict[str, Any]:
        return {"solve": self.solve, "value": self.value, "note": self.note, "estimates": self.estimates}


@dataclass(frozen=True)
class Phase:
    """One moment of a job (forward, optimizer step, prefill, ...) and what is live then."""

    name: PhaseName
    bytes: int
    live: tuple[Item, ...]  #: keys of the line items live in this phase
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "live": list(self.live), "note": self.note}


@dataclass(frozen=True)
class LayerServing:
    """What llama.cpp or Ollama makes of the GPUs (issue 16): the layers placed, their KV cache, the
    sequences it holds; the keys a pre-allocating engine's Serving has, and the placement.

    ``kv_cache_tokens`` is the cache in tokens as llama.cpp counts it (its cells, all sequences),
    ``max_concurrency`` the sequences of ``max_model_len`` tokens it holds at once; ``gpu_layers`` of
    ``total_layers`` (the blocks and the output layer, as ``-ngl`` counts them) are on the GPUs, the
    rest in ``host_bytes`` of host memory.
    """

    engine: str  #: the runtime's id ("llama.cpp", "ollama")
    engine_name: str
    kv_cache_bytes: int  #: the most-loaded GPU's KV buffer
    kv_cache_tokens: int
    max_concurrency: float
    max_model_len: int
    gpu_layers: int
    total_layers: int
    host_bytes: int  #: host memory the engine takes for what is not offloaded

    @property
    def partial_offload(self) -> bool:
        return self.gpu_layers < self.total_layers

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "engine_name": self.engine_name, "kv_cache_bytes": self.kv_cache_bytes,
                "kv_cache_tokens": self.kv_cache_tokens,
                "max_concurrency": self.max_concurrency, "max_model_len": self.max_model_len,
                "gpu_layers": self.gpu_layers, "total_layers": self.total_layers, "host_bytes": self.host_bytes,
                "partial_offload": self.partial_offload}


@dataclass(frozen=True)
class Comparison:
    """Another method's total for the same request, for "how far apart are they"."""

    method: Method
    total_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "total_bytes": self.total_bytes}


@dataclass(frozen=True)
class Serving:
    """A pre-allocating serving engine's start-up (vLLM, SGLang, TGI): its settings, and on a GPU
    the KV pool it sizes, the concurrency that holds, and whether it starts (design.md section 8)."""

    engine: str  #: runtime id ("vllm")
    engine_name: str
    max_model_len: int
    memory_fraction: float  #: the share of CUDA's memory the engine takes
    memory_fraction_flag: str  #: the engine's name for it ("gpu_memory_utilization")
    block_size: int  #: tokens a KV block holds
    max_num_batched_tokens: int  #: tokens of the profiled forward pass
    max_num_seqs: int
    kv_bytes_per_token: int  #: one token's K and V on one GPU, all its layers
    wiggle: float  #: share of what is left the pool takes
    rest_bytes: int  #: one GPU's bytes before the pool (weights, profiled peak, buffers)
    request_kv_bytes: int  #: one max_model_len sequence's KV on one GPU, in whole blocks
    concurrency_asked: int
    #: what the engine has taken before it reads the memory its fraction is a share of (SGLang: the CUDA
    #: context and the distributed init); 0 where the fraction is of CUDA's total
    startup_bytes: int = 0
    pool_set: int | None = None  #: the pool's bytes as the launch set them (vLLM's kv_cache_memory_bytes)
    weights_offloaded: int = 0  #: one GPU's weights kept in host memory (vLLM's cpu_offload_gb)
    pool_cap_tokens: int | None = None  #: the pool's most tokens as the launch capped it (SGLang's max_total_tokens)
    #: KV the engine's warm-up batch holds when it reads the free memory, added back to the pool whole (TGI)
    warmup_kv_bytes: int = 0
    #: what the engine leaves out of its share before the pool whatever is free (TGI 3: (1 - wiggle) x the
    #: fraction of CUDA's total); 0 where its wiggle is a share of what is left
    reserve_bytes: int = 0
    cuda_total_bytes: int | None = None  #: the GPU's memory as CUDA reports it; None without a GPU
    kv_cache_bytes: int | None = None  #: the pool on one GPU (0 when nothing is left for it)
    kv_cache_tokens: int | None = None  #: the pool of one replica in tokens, as the engine logs it
    max_concurrency: float | None = None  #: max_model_len sequences the pool holds at once
    starts: bool | None = None
    refusal: str | None = None  #: what the engine prints when it does not start
    #: the most sequences of max_model_len it runs at once: min(max_num_seqs, what the pool holds)
    max_running: int | None = None

    def usable_bytes(self, cuda_total: int) -> int:
        """The engine's share of a GPU with ``cuda_total`` bytes: of what is free after its start-up, and
        that start-up itself."""
        return math.floor(self.memory_fraction * (cuda_total - self.startup_bytes)) + self.startup_bytes

    def holds(self, sequences: int) -> bool:
        """Whether the engine runs ``sequences`` of max_model_len at once: the pool holds them and
        max_num_seqs lets them run."""
        # max_running: min(max_num_seqs, whole sequences the pool holds), not the rounded concurrency
        # (2.996 prints as 3.0 but runs 2)
        return self.max_running is not None and self.max_running >= sequences

    def short_of_cap(self) -> bool:
        """Whether the pool as set or capped holds fewer than the concurrency asked, whatever the memory."""
        kv = self.concurrency_asked * self.request_kv_bytes
        if self.pool_set is not None:
            return self.pool_set < kv
        cap = self.pool_cap_tokens
        return cap is not None and cap // self.block_size * self.block_size * self.kv_bytes_per_token < kv

    def need_bytes(self) -> int:
        """What one GPU needs for the concurrency asked to fit the engine's share; with the pool set
        in bytes, the engine allocates all of it beside the rest, and the concurrency asked (one
        max_model_len sequence at least, or it refuses to start) must fit in it; a warm-up batch's KV
        (TGI) is held whole beside the rest."""
        kv = self.concurrency_asked * self.request_kv_bytes
        if self.pool_set is not None:
            return self.rest_bytes + max(self.pool_set, kv)
        return (self.rest_bytes + self.warmup_kv_bytes + self.reserve_bytes
                + math.ceil(max(kv - self.warmup_kv_bytes, 0) / self.wiggle))

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
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
    total_bytes: int = -1  #: one GPU's bytes: the peak over phases, or the items' sum without phases
    phases: tuple[Phase, ...] = ()
    low_bytes: int | None = None  #: low end of the range, where the model cannot know
    high_bytes: int | None = None
    range_reasons: tuple[str, ...] = ()
    host_bytes: int = 0  #: CPU memory the job's offloaded states take, all GPUs' together
    strategies: tuple[Alternative, ...] = ()  #: sharded strategies beside plain data parallelism
    suggestions: tuple[Alternative, ...] = ()  #: changes that would make it fit, least change first
    solution: Solution | None = None
    #: other methods' totals for the same request (the article's beside a detailed answer); the
    #: answer pipeline fills it, lazily, so an estimate nobody shows never computes them
    comparisons: Sequence[Comparison] = ()
    #: a serving engine's KV cache and concurrency: a pre-allocating engine's pool (Serving), or
    #: llama.cpp's layers and cache (LayerServing); None: transformers, training
    serving: Serving | LayerServing | None = None
    #: torch.cuda.max_memory_reserved as far as a sourced rule gives it: the peak's tensors (no CUDA
    #: context) plus the blocks the caching allocator keeps for other streams (Item.STREAM_POOLS);
    #: None where the estimate has no such item (fragmentation alone is not modelled)
    reserved_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.total_bytes < 0:
            object.__setattr__(self, "total_bytes", sum(item.bytes for item in self.items))

    @property
    def peak_phase(self) -> Phase | None:
        """The phase whose bytes are the total, when the method models phases."""
        return max(self.phases, key=lambda p: p.bytes) if self.phases else None

    def item(self, key: Item | str) -> LineItem:
        """The line item with ``key``; KeyError when the estimate has none."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"no item {key!r} in this estimate; its items: {', '.join(i.key for i in self.items)}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of design.md section 3 (without the request, which has its own)."""
        return {
            "method": self.method.value,
            "total_bytes": self.total_bytes,
            "gpu_count": self.gpu_count,
            "job_total_bytes": self.job_total_bytes,
            "host_bytes": self.host_bytes,
            "items": [item.to_dict() for item in self.items],
            "assumptions": list(self.assumptions),
            "fit": [f.to_dict() for f in self.fit],
            "phases": [p.to_dict() for p in self.phases],
            "peak_phase": self.peak_phase.name if self.phases else None,
            **({"reserved_bytes": self.reserved_bytes} if self.reserved_bytes is not None else {}),
            "range": ({"low_bytes": self.low_bytes, "high_bytes": self.high_bytes,
                       "reasons": list(self.range_reasons)} if self.low_bytes is not None else None),
            "comparisons": [c.to_dict() for c in self.comparisons],
            "strategies": [a.to_dict() for a in self.strategies],
            "suggestions": [a.to_dict() for a in self.suggestions],
            **({"serving": self.serving.to_dict()} if self.serving is not None else {}),
        }
