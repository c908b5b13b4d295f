"""Does it fit? One GPU's need against the memory the runtime leaves usable on a card."""

from __future__ import annotations

from vram import catalog
from vram.catalog.index import Gpu
from vram.memory import runtime
from vram.memory.result import TIGHT_ABOVE, Estimate, Fit, LineItem, Serving, Verdict
from vram.messages import Note
from vram.request.enums import Item
from vram.units import MIB, format_bytes


def verdict_for(gpu: Gpu, estimate: Estimate) -> Fit:
    """The fit of ``estimate``'s most-loaded GPU on one ``gpu``."""
    if isinstance(estimate.serving, Serving):  # llama.cpp's LayerServing is fitted like any job
        return _engine_verdict(gpu, estimate, estimate.serving)
    deductions = runtime.deductions(gpu)
    # the detailed method counts the CUDA context with the job; here it belongs to the card's side
    # (and TPUs and Apple GPUs have none), so it leaves the need
    need = runtime.without_context(estimate.total_bytes, estimate.items)
    usable = runtime.usable_bytes(gpu)
    return Fit(gpu.id, gpu.name, estimate.gpu_count, estimate.total_bytes, gpu.memory_bytes, deductions,
               need, usable, _verdict(need, usable))


def _verdict(need: int, usable: int) -> Verdict:
    """Over the usable memory it does not fit; above TIGHT_ABOVE of it, it fits tight."""
    if need > usable:
        return Verdict.DOES_NOT_FIT
    return Verdict.TIGHT if need > TIGHT_ABOVE * usable else Verdict.FITS


def _engine_verdict(gpu: Gpu, estimate: Estimate, serving: Serving) -> Fit:
    """A pre-allocating engine takes its fraction of the memory CUDA reports and fills it: the job
    fits when that share holds the weights, the profiled peak and the KV of the concurrency asked."""
    cuda_total = gpu.engine_total_bytes
    usable = serving.usable_bytes(cuda_total)
    unreported = LineItem(Item.FRAMEWORK_RESERVE, "not reported to CUDA (driver total less CUDA's)",
                          gpu.memory_bytes - cuda_total, "driver_total - cuda_total",
                          {"driver_total": gpu.memory_bytes, "cuda_total": cuda_total},
                          gpu.cuda_total_source or "not in the catalog: none taken")
    if serving.pool_set is not None:  # the pool as set, beside the rest, in all CUDA has less its context
        context = runtime.cuda_context_item()
        need, usable = serving.need_bytes(), cuda_total - context.bytes
        # a pool set too small for the concurrency asked does not fit it, whatever the card has left
        return Fit(gpu.id, gpu.name, estimate.gpu_count, estimate.total_bytes, gpu.memory_bytes, (unreported, context),
                   need, usable, Verdict.DOES_NOT_FIT if serving.short_of_cap() else _verdict(need, usable))
    deductions = (
        unreported,
        LineItem(Item.FRAMEWORK_RESERVE, f"left by {serving.memory_fraction_flag} {serving.memory_fraction:g}",
                 cuda_total - usable, "(1 - fraction) x (cuda_total - startup)",
                 {"fraction": serving.memory_fraction, "cuda_total": cuda_total, "startup": serving.startup_bytes},
                 f"{serving.engine_name}: the memory outside its share (CUDA graphs, the CUDA context)"),
    )
    need = serving.need_bytes()
    # a pool capped in tokens (SGLang's max_total_tokens) below the concurrency asked does not hold it either
    return Fit(gpu.id, gpu.name, estimate.gpu_count, estimate.total_bytes, gpu.memory_bytes, deductions,
               need, usable, Verdict.DOES_NOT_FIT if serving.short_of_cap() else _verdict(need, usable))


def gpu_assumption(gpu_id: str, dtype: str | None = None) -> str:
    """One sentence naming the card taken for ``gpu_id`` and the memory counted for it (and a
    warning when the job's dtype is one the card cannot compute in)."""
    gpu = catalog.find_gpu(gpu_id)
    size = f"{format_bytes(gpu.memory_bytes)} GB"
    if gpu.memory_bytes % MIB == 0:
        size += f" ({gpu.memory_bytes // MIB} MiB)"
    runtime_note = "" if gpu.vendor in runtime.CONTEXT_VENDORS else "; no CUDA context on this kind of device"
    if gpu.working_set_fraction is not None:
        runtime_note += (f"; macOS lets the GPU wire {format_bytes(gpu.working_memory_bytes)} GB of it "
                         f"({gpu.working_set_fraction:.4g}: Metal's recommendedMaxWorkingSetSize)")
    if dtype == "bf16" and gpu.bf16_tflops == 0 and gpu.vendor == "nvidia" and gpu.compute_capability:
        runtime_note += f"; the {gpu.name} has no bf16: it would run in fp16 or fp32"
    return Note("note.gpu_card", gpu=gpu.id, name=gpu.name, size=size, source=gpu.source, more=runtime_note)
