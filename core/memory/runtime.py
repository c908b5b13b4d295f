"""What the runtime takes from a GPU before a job's tensors: the CUDA context, library workspaces.

One place for these facts: the detailed method counts the context as a line item of the job, and
the fit verdict subtracts context and workspaces from the card's memory to say what is usable.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from vram.catalog.index import Gpu
from vram.memory.result import LineItem
from vram.request.enums import Item
from vram.units import MIB

#: CUDA context and kernels, as the driver counts them outside PyTorch's allocator. Measured:
#: 426 MiB with PyTorch 2.10 + CUDA 13 (unsloth-zoo PR #1053, RTX 6000 Ada); 287,047,680 B with
#: lazy module loading and 666,632,192 B without it (PyTorch PR #86509).
CUDA_CONTEXT_BYTES = 426 * MIB
CUDA_CONTEXT_LOW = 287_047_680
CUDA_CONTEXT_HIGH = 666_632_192
CUDA_SOURCE = "measured: PyTorch PR #86509 (287 MB lazy, 667 MB eager loading); unsloth-zoo PR #1053 (426 MiB)"

#: cuBLAS handle workspace with PyTorch's default CUBLAS_WORKSPACE_CONFIG ":4096:2:16:8" (2 x 4 MiB
#: + 8 x 16 KiB), the fixed 8,519,680-byte block memory_snapshot shows after the first matmul
#: (discuss.pytorch.org/t/178671).
CUBLAS_WORKSPACE = 8_519_680
#: cuBLASLt workspace by GPU, PyTorch PR #120925 (cuBLAS's recommendation): 32 MiB from Hopper
#: (compute capability 9) on, 4 MiB on Ampere cards of 24 GiB or more, 1 MiB otherwise.
LT_WORKSPACE_SOURCE = "PyTorch PR #120925: cuBLASLt workspace 32 MiB (sm90+), 4 MiB (sm8x >= 24 GiB), else 1 MiB"

#: Vendors whose accelerators run a CUDA (or ROCm) context under PyTorch.
CONTEXT_VENDORS = frozenset({"nvidia", "amd"})


def context_bytes(items: Iterable[LineItem]) -> int:
    """The CUDA context counted among ``items`` (the detailed method counts it with the job; the
    article does not)."""
    context = Item.CUDA_CONTEXT  # looked up once, not an item at a time
    return sum(item.bytes for item in items if item.key == context)


def without_context(total: int, items: Iterable[LineItem]) -> int:
    """``total`` less the context counted among ``items``: the one place the context leaves a sum
    (the fit verdict puts it on the card's side, the range swaps it for the measured range, the
    harness compares tensors only)."""
    return total - context_bytes(items)


def cuda_context_item() -> LineItem:
    return LineItem(Item.CUDA_CONTEXT, "CUDA context", CUDA_CONTEXT_BYTES, "MiB x measured_mib",
                    {"MiB": MIB, "measured_mib": CUDA_CONTEXT_BYTES // MIB}, CUDA_SOURCE)


def cublaslt_workspace(gpu: Gpu) -> int:
    capability = gpu.compute_capability or 0
    if capability >= 9:
        return 32 * MIB
    if capability >= 8 and gpu.memory_bytes >= 24 * 2**30:
        return 4 * MIB
    return 1 * MIB


def deductions(gpu: Gpu) -> tuple[LineItem, ...]:
    """What the runtime takes from ``gpu`` before the job: context and the framework's reserve; on
    Apple's unified memory, what macOS does not let the GPU wire."""
    if gpu.working_set_fraction is not None:
        return (LineItem(Item.FRAMEWORK_RESERVE, "Outside Metal's working set", gpu.memory_bytes - gpu.working_memory_bytes,
                         "(1 - fraction) x memory", {"fraction": gpu.working_set_fraction, "memory": gpu.memory_bytes},
                         "Metal recommendedMaxWorkingSetSize as llama.cpp logs it (catalog working_set_fraction)"),)
    if gpu.vendor not in CONTEXT_VENDORS:
        return ()
    lt = cublaslt_workspace(gpu)
    if gpu.vendor == "amd":  # ROCm: the same runtime pieces under their HIP names
        context = dataclasses.replace(cuda_context_item(), label="ROCm (HIP) context")
        reserve = LineItem(Item.FRAMEWORK_RESERVE, "hipBLAS and hipBLASLt workspaces", CUBLAS_WORKSPACE + lt,
                           "blas + blaslt", {"blas": CUBLAS_WORKSPACE, "blaslt": lt},
                           f"PyTorch's cuBLAS workspace sizes, kept for HIP; {LT_WORKSPACE_SOURCE}")
        return (context, reserve)
    reserve = LineItem(Item.FRAMEWORK_RESERVE, "cuBLAS and cuBLASLt workspaces", CUBLAS_WORKSPACE + lt,
                       "cublas + cublaslt", {"cublas": CUBLAS_WORKSPACE, "cublaslt": lt},
                       f"PyTorch default CUBLAS_WORKSPACE_CONFIG :4096:2:16:8; {LT_WORKSPACE_SOURCE}")
    return (cuda_context_item(), reserve)


def usable_bytes(gpu: Gpu) -> int:
    """The memory a job can use on ``gpu``: what the driver lets the GPU have (Apple: the wired
    working set macOS allows, catalog ``working_set_fraction``) less what the runtime takes first."""
    return gpu.memory_bytes - sum(d.bytes for d in deductions(gpu))
