"""What a real CUDA run would do, where the CPU or fake tensors make the code do something else.

The harness runs on the CPU (for real on small models, on fake tensors for large ones) but the
estimate is about GPUs. Three code paths keep different tensors there than in a real GPU run,
and only while the harness runs are they switched to the GPU run's behaviour:

- **Autocast's fp32 list.** CUDA autocast runs ``layer_norm``, ``softmax``, ``log_softmax``,
  ``pow``, ``rsqrt``, ``exp``, ``sum``, the losses ... in fp32 and returns fp32 (PyTorch
  ``aten/src/ATen/autocast_mode.h``: ``AT_FORALL_FP32`` and ``AT_FORALL_FP32_SET_OPT_DTYPE``,
  registered for ``AutocastCUDA`` only); CPU autocast leaves them in the input's dtype. Under AMP
  that decides whether a GPT-2 LayerNorm output or a GELU's ``pow`` is 2 or 4 bytes a value. The
  same casts are registered here for ``AutocastCPU``, with the policy's own semantics: fp32 ops
  cast floating inputs to fp32 and run with autocast off; the set-opt-dtype ops get ``dtype=fp32``.
  The lower-precision list (``linear``, ``matmul``, ``bmm``, ``baddbmm``, sdpa ...) and the weight
  cast cache are the same on both devices already.
- **Flash attention with dropout.** CUDA's flash kernel applies attention dropout inside the kernel
  (saving only the RNG seed); the CPU flash kernel has no dropout, so CPU sdpa falls back to the
  math path, which materialises the b x a x s x s scores, their dropout mask and an fp32 upcast.
  Under fake tensors the flash op is called directly, as CUDA would (the kernel saves q, k, v,
  output and log-sum-exp: ``tools/autograd/derivatives.yaml``). Real CPU runs cannot do this and
  refuse (``UnsupportedRun``).
- **Dropout's mask.** On CUDA ``F.dropout`` runs the fused ``native_dropout`` kernel, which
  keeps a 1-byte bool mask for backward; on the CPU it multiplies by a noise tensor of the
  input's dtype and keeps that (``aten/src/ATen/native/Dropout.cpp``, ``is_fused_kernel_acceptable``:
  CUDA, XPU and lazy tensors only). The harness calls ``native_dropout`` as CUDA would.
- **transformers' causal-mask shortcut.** With no padding, transformers passes no mask to sdpa
  (``is_causal=True``), which is what lets sdpa run grouped-query attention without repeating K
  and V (``use_gqa_in_sdpa``). ``masking_utils`` takes a fake tensor for a traced graph and
  builds a b x s x s mask instead, which also makes sdpa repeat K and V to every head. Under
  fake tensors its tracing check is told what it would see in a real run.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

#: ``AT_FORALL_FP32`` entries a transformer's forward and loss can reach (autocast_mode.h).
FP32_OPS = (
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal",
    "rsqrt", "sinh", "tan", "pow.Tensor_Scalar", "pow.Tensor_Tensor", "pow.Scalar", "softplus",
    "layer_norm", "native_layer_norm", "group_norm", "cosine_similarity", "nll_loss", "nll_loss2d",
    "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss", "binary_cross_entropy_with_logits",
    "dist", "cdist", "renorm", "logsumexp",
)
#: ``AT_FORALL_FP32_SET_OPT_DTYPE``: run with ``dtype=float32`` unless a dtype was given.
FP32_SET_OPT_DTYPE_OPS = ("prod", "prod.dim_int", "softmax.int", "log_softmax.int", "cumprod", "cumsum",
                          "sum", "sum.dim_IntList")

_AUTOCAST_CPU = torch._C.DispatchKeySet(torch._C.DispatchKey.AutocastCPU)


class UnsupportedRun(Exception):
    """The harness cannot run this configuration here (and says why)."""


def _op(name: str):
    base, _, overload = name.partition(".")
    return getattr(getattr(torch.ops.aten, base), overload or "default")


def _eligible(value) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float64


def _to_fp32(value):
    if _eligible(value):
        return value.float()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_fp32(v) for v in value)
    return value


def _fp32_kernel(op) -> Callable:
    def kernel(*args, **kwargs):
        args = tuple(_to_fp32(a) for a in args)
        with torch._C._ExcludeDispatchKeyGuard(_AUTOCAST_CPU):
            return op(*args, **kwargs)
    return kernel


def _set_opt_dtype_kernel(op) -> Callable:
    def kernel(*args, **kwargs):
        if args and _eligible(args[0]) and kwargs.get("dtype") is None:
            position = _dtype_position(op)
            if position is not None and len(args) > position:
                if args[position] is None:
                    args = (*args[:position], torch.float32, *args[position + 1:])
            else:
                kwargs = {**kwargs, "dtype": torch.float32}
        with torch._C._ExcludeDispatchKeyGuard(_AUTOCAST_CPU):
            return op(*args, **kwargs)
    return kernel


def _dtype_position(op) -> int | None:
    for index, argument in enumerate(op._schema.arguments):
        if argument.name == "dtype":
            return None if argument.kwarg_only else index
    return None


def _register() -> torch.library.Library:
    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():  # CPU autocast's own kernels for a few of these are overridden
        warnings.simplefilter("ignore")
        for name in FP32_OPS:
            library.impl(name, _fp32_kernel(_op(name)), "AutocastCPU")
        for name in FP32_SET_OPT_DTYPE_OPS:
            library.impl(name, _set_opt_dtype_kernel(_op(name)), "AutocastCPU")
    return library


@contextlib.contextmanager
def cuda_autocast(dtype: torch.dtype) -> Iterator[None]:
    """``torch.autocast`` on the CPU with CUDA's op lists (the kernels are removed on exit)."""
    library = _register()
    try:
        with torch.autocast("cpu", dtype=dtype):
            yield
    finally:
        library._destroy()


@contextlib.contextmanager
def cuda_dropout() -> Iterator[None]:
    """``F.dropout`` as CUDA runs it: the fused kernel with a bool mask."""
    original = F.dropout

    def dropout(input, p=0.5, training=True, inplace=False):
        if training and 0 < p < 1 and input.numel() > 0:
            return torch.native_dropout(input, p, True)[0]
        return original(input, p, training, inplace)

    F.dropout = dropout
    try:
        yield
    finally:
        F.dropout = original


@contextlib.contextmanager
def untraced_masks() -> Iterator[None]:
    """transformers' mask builder, seeing fake tensors as the real ones they stand for."""
    from transformers import masking_utils

    originals = masking_utils.is_tracing, masking_utils.find_packed_sequence_indices
    masking_utils.is_tracing = lambda tensor=None: originals[0](None)  # compile/jit tracing still counts
    # the harness's position ids are 0..s-1 in every row: one sequence a row, never packed ones
    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    try:
        yield
    finally:
        masking_utils.is_tracing, masking_utils.find_packed_sequence_indices = originals


@contextlib.contextmanager
def cuda_attention(fake: bool) -> Iterator[None]:
    """sdpa as CUDA dispatches it: flash attention keeps its dropout inside the kernel."""
    original = F.scaled_dot_product_attention

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        flash_on_cuda = (attn_mask is None and query.dtype in (torch.float16, torch.bfloat16)
                         and query.shape[-1] <= 256)
        if dropout_p > 0 and torch.is_grad_enabled() and flash_on_cuda:
            if not fake:
                raise UnsupportedRun("attention dropout with sdpa: the CPU has no flash kernel with dropout "
                                     "(CUDA has); run it on fake tensors or a GPU")
            out, *_ = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                query, key, value, dropout_p, is_causal, scale=scale)
            return out
        return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                        scale=scale, enable_gqa=enable_gqa)

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original
