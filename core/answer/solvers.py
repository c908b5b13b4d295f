"""Solvers: the largest batch or context that fits, the fewest GPUs, the GPUs on which it fits.

Bytes grow with batch and context and shrink (or stay) with more GPUs, so each search is an
exponential step to bracket the boundary and a bisection inside it: about 2 log2(range) estimates,
never a scan. The answer fits; one more (batch, token, GPU step) does not.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from vram import catalog
from vram.catalog.architecture import Architecture
from vram.errors import VramError
from vram.memory.detailed.llamacpp import offloadable_layers
from vram.memory.result import Estimate, Fit, Solution
from vram.request.enums import PRE_ALLOCATING, TRAINING_TASKS, Recompute, Solve, Task
from vram.request.request import RANGES, Request
from vram.units import format_bytes

Estimator = Callable[[Request], Estimate]
Judge = Callable[[Estimate], Fit | None]


class _Counted:
    """An estimator that counts its calls and remembers the estimate at each value tried."""

    def __init__(self, estimator: Estimator, judge: Judge, arch: Architecture) -> None:
        self.estimator, self.judge, self.calls = estimator, judge, 0
        self.arch = arch  #: the model's, as resolved once for the whole search
        self.seen: dict[Request, Estimate] = {}
        self.error: VramError | None = None  #: the first value that could not be estimated

    def fits(self, request: Request) -> bool:
        """Whether ``request`` fits; a value that cannot be estimated (a combination the model
        refuses, a number out of its range) does not fit, and the first such error is kept to say."""
        if request not in self.seen:
            self.calls += 1
            try:
                self.seen[request] = self.estimator(request)
            except VramError as error:
                self.error = self.error or error
                return False
        fit = self.judge(self.seen[request])
        return fit is not None and fit.fits


def _largest(fits: Callable[[int], bool], high: int) -> int | None:
    """The largest n in [1, high] with fits(n), for fits true up to a point and false after.

    The search halves down from ``high`` to the first n that fits, then bisects up to twice it: a
    fit that fails only at a few small values (TGI's warm-up gives each of its many one-token
    prompts a whole block) cannot stop it there, as a search up from 1 would."""
    good = high
    while good >= 1 and not fits(good):
        good //= 2
    if good < 1:
        return None
    bad = min(2 * good, high + 1)
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


def solve(request: Request, estimator: Estimator, judge: Judge, arch: Architecture) -> tuple[Solution, Request]:
    """The solution for ``request.solve`` and the request at that value (``arch``: its model's)."""
    counted = _Counted(estimator, judge, arch)
    solver = SOLVERS[request.solve]
    solution, at = solver(dataclasses.replace(request, solve=None), request.solve, counted)
    if solution.value is None and counted.error is not None:
        solution = dataclasses.replace(solution, note=f"{solution.note}; some values could not be estimated: "
                                                      f"{counted.error.reason}")
    return dataclasses.replace(solution, estimates=counted.calls), at


def _max_of(field: str, what: str) -> Callable[[Request, Solve, _Counted], tuple[Solution, Request]]:
    def solver(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
        high, limit = int(RANGES[field][1]), ""
        spec = counted.arch.spec
        if field == "seq_len" and spec is not None:  # no longer than the model was trained to read
            high, limit = spec.max_seq_len, f" ({spec.id}'s trained context)"
        if field == "batch_size" and request.max_num_seqs is not None:  # the engine runs no more at once
            high, limit = request.max_num_seqs, " (max_num_seqs: the engine runs no more at once)"
        value = _largest(lambda n: counted.fits(dataclasses.replace(request, **{field: n})), high)
        if value is None:
            return Solution(kind, None, f"does not fit even at {what} 1", 0), \
                dataclasses.replace(request, **{field: 1})
        note = f"{what} {value} fits; {value + 1} does not" if value < high else f"fits up to the limit, {high}{limit}"
        return Solution(kind, value, note, 0), dataclasses.replace(request, **{field: value})
    return solver


def _min_gpus(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
    """The fewest GPUs for ``request``; where no count fits it as asked, the same search with the
    rescues below, least change first, and the answer says which it took."""
    if request.engine in PRE_ALLOCATING and request.tp == 1 and request.pp == 1:
        return _min_tensor_parallel(request, kind, counted)
    solution, at = _fewest(request, kind, counted)
    if solution.value is not None or request.task not in TRAINING_TASKS:
        return solution, at
    for label, why, change in RESCUES:
        changed = change(request)
        if changed is None:
            continue
        try:
            rescued, at_rescued = _fewest(changed, kind, counted)
        except VramError:  # the method asked for does not model the change
            continue
        if rescued.value is not None:
            return dataclasses.replace(rescued, note=f"with {label} (not named: {why}); {rescued.note}"), at_rescued
    return solution, at


def _with_recompute(request: Request) -> Request | None:
    return None if request.recompute is Recompute.FULL else dataclasses.replace(request, recompute=Recompute.FULL)


def _with_zero3(request: Request) -> Request | None:
    if request.zero == 3 or request.tp * request.pp > 1:
        return None
    return dataclasses.replace(request, zero=3, precision_regime=None)


def _with_both(request: Request) -> Request | None:
    sharded = _with_zero3(request)
    return None if sharded is None else _with_recompute(sharded)


#: What the fewest-GPUs search adds when no count of GPUs holds the job as asked, least change
#: first: (what, why it can be needed, the change). More GPUs shrink the sharded model states,
#: never one GPU's activations of its own micro-batch, so recompute comes first (Korthikanti et
#: al. 2022: full recompute keeps each layer's input only); plain data parallelism keeps a full
#: replica on every GPU, so ZeRO-3 / FSDP (Rajbhandari et al. 2019) next, then both.
RESCUES: tuple[tuple[str, str, Callable[[Request], Request | None]], ...] = (
    ("full recompute", "each GPU keeps its own micro-batch's activations, which no number of GPUs shrinks; "
                       "checkpointing keeps only each layer's input", _with_recompute),
    ("ZeRO-3 / FSDP", "plain data parallelism keeps a full replica on every GPU, so no count of them fits",
     _with_zero3),
    ("ZeRO-3 / FSDP and full recompute", "plain data parallelism keeps a full replica on every GPU, and each "
                                         "GPU its own micro-batch's activations", _with_both),
)


def _fewest(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
    unit = request.tp * request.pp * request.cp * request.ep  # whole tp x pp x cp groups, ep of them
    high = _most_gpus(request, counted.arch) // unit

    def at(k: int) -> Request:
        return dataclasses.replace(request, gpu_count=k * unit)

    if counted.fits(at(1)):
        return Solution(kind, unit, f"{_gpus_word(unit)} already fit{'s' if unit == 1 else ''}", 0), at(1)
    if at(1) not in counted.seen or high < 2:  # not estimable at all, or nowhere to grow
        return Solution(kind, None, f"does not fit on {_gpus_word(unit)}, the most it can be split over"
                        if at(1) in counted.seen else "cannot be estimated", 0), at(1)
    if not counted.fits(at(2)) and (at(2) not in counted.seen
                                    or counted.seen[at(2)].total_bytes >= counted.seen[at(1)].total_bytes):
        note = ("more GPUs do not lower one GPU's bytes here (each holds a full replica); "
                "name a sharded strategy: zero1-3, fsdp, tp or pp")
        return Solution(kind, None, note, 0), at(1)
    bad, good = 1, 2
    while good < high and not counted.fits(at(good)):
        if _floor_reached(counted, at(good), at(bad)):
            return Solution(kind, None, f"does not fit on any number of GPUs: at {good * unit} one GPU's bytes "
                            "no longer shrink", 0), at(1)
        bad, good = good, good * 2
    good = min(good, high)  # the last step tries the bound itself, which need not be a power of 2
    if good <= bad or not counted.fits(at(good)):
        return Solution(kind, None, f"does not fit even on {max(high, 1) * unit} GPUs", 0), at(1)
    while good - bad > 1:
        middle = (good + bad) // 2
        bad, good = (bad, middle) if counted.fits(at(middle)) else (middle, good)
    fewer = (good - 1) * unit
    note = f"{_gpus_word(good * unit)} fit; {_gpus_word(fewer)} {'does' if fewer == 1 else 'do'} not"
    return Solution(kind, good * unit, note, 0), at(good)


def tensor_parallel_sizes(heads: int, kv_heads: int, most: int) -> list[int]:
    """The tensor-parallel sizes an engine takes for a model: the attention heads split evenly, and
    the KV heads split evenly or replicated whole (vllm/config/model.py verify_with_parallel_config;
    vllm/model_executor/layers/linear.py QKVParallelLinear)."""
    return [t for t in range(1, most + 1) if heads % t == 0 and (kv_heads % t == 0 or t % kv_heads == 0)]


def _min_tensor_parallel(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
    """A serving engine spreads one replica over tp GPUs: the smallest tensor-parallel size that
    starts with the concurrency asked (more replicas, data parallel, do not lower a GPU's bytes)."""
    spec = counted.arch.spec
    heads, kv = (spec.num_heads, spec.num_kv_heads) if spec is not None else (counted.arch.num_heads,) * 2
    sizes = tensor_parallel_sizes(heads, kv, heads)  # a size must divide the heads: no more than them
    for tp in sizes:
        at = dataclasses.replace(request, tp=tp, gpu_count=tp)
        if counted.fits(at):
            smaller = [t for t in sizes if t < tp]
            note = f"tp {tp} over {_gpus_word(tp)} starts" + (f"; tp {smaller[-1]} does not" if smaller else "")
            return Solution(kind, tp, f"{note} (tensor-parallel sizes that divide the {heads} attention heads: "
                            f"{', '.join(map(str, sizes))})", 0), at
    return Solution(kind, None, f"does not start even at tp {sizes[-1]}", 0), request


#: The share of the GPU's memory below which doubling the GPUs counts as no longer shrinking a
#: GPU's bytes: the sharded states are then under 1/1000 of it and the rest (activations, the
#: gathered layer) is what does not fit.
FLOOR_STEP = 1e-3


def _floor_reached(counted: _Counted, more: Request, fewer: Request) -> bool:
    """Whether doubling the GPUs from ``fewer`` to ``more`` changed one GPU's bytes by less than
    FLOOR_STEP of them: the search stops there instead of doubling up to a million GPUs."""
    if more not in counted.seen or fewer not in counted.seen:
        return False
    now, before = counted.seen[more].total_bytes, counted.seen[fewer].total_bytes
    return before - now < FLOOR_STEP * before


def _most_gpus(request: Request, arch: Architecture) -> int:
    """The most GPUs the request can name: inference split by layers puts one at least on each GPU
    (Request refuses more), anything else the range's bound."""
    if request.task is Task.INFERENCE and request.tp * request.pp == 1:
        return min(int(RANGES["gpu_count"][1]), arch.num_layers)
    return int(RANGES["gpu_count"][1])


def _gpus(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
    estimate = counted.estimator(request)
    counted.calls += 1
    fitting = []
    for gpu in sorted(catalog.gpus().by_id.values(), key=lambda g: (g.memory_bytes, g.id)):
        fit = counted.judge(dataclasses.replace(estimate, request=dataclasses.replace(request, gpu=gpu.id)))
        if fit is not None and fit.fits:
            fitting.append(gpu.id)
    count = request.gpu_count or 1
    note = (f"fits on {len(fitting)} of the catalog's {len(catalog.gpus().by_id)} GPUs ({count} of each)"
            if fitting else "fits on none of the catalog's GPUs")
    return Solution(kind, fitting, note, 0), request


def _gpu_layers(request: Request, kind: Solve, counted: _Counted) -> tuple[Solution, Request]:
    """llama.cpp's -ngl that fits: every layer, else the most blocks (the output layer last: a full
    offload's graph is smaller, so it is tried first), and the host memory the rest takes."""
    total = offloadable_layers(counted.arch.num_layers)

    def at(n: int) -> Request:
        return dataclasses.replace(request, gpu_layers=n)

    if counted.fits(at(total)):
        return Solution(kind, total, f"all {total} layers fit (-ngl {total})", 0), at(total)
    good = _largest(lambda n: counted.fits(at(n)), total - 1)
    if good is None:
        if counted.fits(at(0)):
            return Solution(kind, 0, "not one layer fits: the CPU runs it all", 0), at(0)
        return Solution(kind, None, "does not fit even at -ngl 0: what stays on the GPU without a layer does not", 0), at(0)
    host = counted.seen[at(good)].host_bytes
    return Solution(kind, good, f"-ngl {good} of {total} fits, {good + 1} does not; the other {total - good} layers "
                    f"take {format_bytes(host)} GB of host memory with the buffers (partial offload: slower)", 0), at(good)


SOLVERS = {
    Solve.MAX_BATCH_SIZE: _max_of("batch_size", "batch"),
    Solve.MAX_SEQ_LEN: _max_of("seq_len", "context"),
    Solve.MIN_GPU_COUNT: _min_gpus,
    Solve.GPUS: _gpus,
    Solve.GPU_LAYERS: _gpu_layers,
}


def _gpus_word(count: int) -> str:
    return f"{count} GPU{'' if count == 1 else 's'}"
