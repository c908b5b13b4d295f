"""Does one GPU's share fit the GPU? A first verdict: need against the device's total memory."""

from __future__ import annotations

from . import catalog
from .estimate import Fit
from .units import MIB, format_bytes


def fit_verdicts(gpu_id: str | None, gpu_count: int, per_gpu_bytes: int) -> tuple[Fit, ...]:
    """The verdict for the GPU the request names (none when it names none)."""
    if gpu_id is None:
        return ()
    gpu = catalog.find_gpu(gpu_id)
    headroom = gpu.memory_bytes - per_gpu_bytes
    return (Fit(gpu.id, gpu.name, gpu_count, per_gpu_bytes, gpu.memory_bytes, headroom >= 0, headroom),)


def gpu_assumption(gpu_id: str) -> str:
    """One sentence naming the card taken for ``gpu_id`` and the memory counted for it."""
    gpu = catalog.find_gpu(gpu_id)
    size = f"{format_bytes(gpu.memory_bytes)} GB"
    if gpu.memory_bytes % MIB == 0:
        size += f" ({gpu.memory_bytes // MIB} MiB)"
    return f"{gpu.id} is the {gpu.name}: {size} of memory ({gpu.source})"
