"""Does it fit? One GPU's need against the memory the runtime leaves usable on a card."""

from __future__ import annotations

from vram import catalog
from vram.catalog.index import Gpu
from vram.memory import runtime
from vram.memory.result import TIGHT_ABOVE, Estimate, Fit, Verdict
from vram.units import MIB, format_bytes


def verdict_for(gpu: Gpu, estimate: Estimate) -> Fit:
    """The fit of ``estimate``'s most-loaded GPU on one ``gpu``."""
    deductions = runtime.deductions(gpu)
    # the detailed method counts the CUDA context with the job; here it belongs to the card's side
    # (and TPUs and Apple GPUs have none), so it leaves the need
    need = runtime.without_context(estimate.total_bytes, estimate.items)
    usable = runtime.usable_bytes(gpu)
    if need > usable:
        verdict = Verdict.DOES_NOT_FIT
    elif need > TIGHT_ABOVE * usable:
        verdict = Verdict.TIGHT
    else:
        verdict = Verdict.FITS
    return Fit(gpu.id, gpu.name, estimate.gpu_count, estimate.total_bytes, gpu.memory_bytes, deductions,
               need, usable, verdict)


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
    return f"{gpu.id} is the {gpu.name}: {size} of memory ({gpu.source}){runtime_note}"
