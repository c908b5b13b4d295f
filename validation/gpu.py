"""The same runs on a real GPU, read from CUDA's own counters as well as the tensor log.

Three numbers a run, each the peak of what PyTorch or the driver reports:

- ``allocated``: ``torch.cuda.max_memory_allocated()``, the caching allocator's live blocks (the
  tensor log's peak, rounded up to 512-byte blocks, plus what kernels allocate for themselves:
  cuBLAS and flash-attention workspaces);
- ``reserved``: ``torch.cuda.max_memory_reserved()``, the segments the allocator holds from the
  driver (allocated plus cached free blocks: fragmentation);
- ``driver``: what the device has in use for this process, from ``torch.cuda.mem_get_info()`` after
  the run (total less free: the CUDA context, the reserved segments, library handles), and
  ``context``: the same before any tensor existed, which is the CUDA context.

Models in int8 or nf4 (and QLoRA bases) are loaded through bitsandbytes as transformers loads a
checkpoint: the random-weight model is saved to a temporary folder and loaded back with a
``BitsAndBytesConfig``.
"""

from __future__ import annotations

import gc
import importlib.util
import tempfile

import torch

from vram.request.enums import Dtype, Task
from vram.request.request import Request

from .build import build, model_config
from .emulation import UnsupportedRun
from .plan import Plan, plan
from .run import TORCH_DTYPES, Measurement, quiet_transformers, run_job, summarise
from .tracker import LiveMemory


def available() -> bool:
    return torch.cuda.is_available()


def device_name() -> str:
    properties = torch.cuda.get_device_properties(0)
    return f"{properties.name} ({properties.total_memory / 2**30:.0f} GiB)"


def free_bytes() -> int:
    return torch.cuda.mem_get_info()[0]


def measure_gpu(request: Request) -> Measurement:
    """Run ``request``'s job on GPU 0 and read the tensor log and CUDA's counters."""
    job = plan(request)
    quiet_transformers()
    _release()
    torch.cuda.init()
    torch.empty(1, device="cuda")  # create the context before reading it
    free, total = torch.cuda.mem_get_info()
    context = total - free - torch.cuda.memory_reserved()
    torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated()
    torch.manual_seed(0)
    config = model_config(job.spec, job.dropout, job.model_path)
    memory = LiveMemory()
    model = None
    try:
        model = _model(job, config)
        parameters = sum(p.numel() for p in model.parameters())
        run_job(job, model, config, memory, "cuda", lambda dtype: torch.autocast("cuda", dtype=dtype))
        torch.cuda.synchronize()
        free_after, _ = torch.cuda.mem_get_info()
        counters = {"allocated": torch.cuda.max_memory_allocated() - baseline,
                    "reserved": torch.cuda.max_memory_reserved(), "driver": total - free_after,
                    "context": context}
    finally:  # an out-of-memory run must not leave its tensors to the next one
        del model
        _release()
    return summarise(memory, device_name(), counters, parameters)


def _model(job: Plan, config) -> torch.nn.Module:
    compute = TORCH_DTYPES.get(job.dtype, torch.bfloat16)
    if not job.needs_gpu:
        return build(config, torch.float32 if job.amp else compute, job.attention, "cuda")
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if importlib.util.find_spec("bitsandbytes") is None:
        raise UnsupportedRun("int8/nf4 runs need bitsandbytes: pip install bitsandbytes")
    if job.dtype is Dtype.INT8:
        quantisation = BitsAndBytesConfig(load_in_8bit=True)
    else:  # nf4, QLoRA's base: double quantisation, bf16 compute (Dettmers et al. 2023)
        quantisation = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                          bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
    with tempfile.TemporaryDirectory() as folder:
        build(config, torch.bfloat16, job.attention).save_pretrained(folder)
        gc.collect()
        return AutoModelForCausalLM.from_pretrained(folder, quantization_config=quantisation, device_map="cuda",
                                                    attn_implementation=job.attention, dtype=torch.bfloat16)


def _release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def fits(estimate_bytes: int, margin: float = 0.9) -> bool:
    """Whether a job the estimate sizes at ``estimate_bytes`` can run on this GPU."""
    return estimate_bytes < margin * free_bytes()


__all__ = ["available", "device_name", "fits", "measure_gpu", "Task"]
