"""Canonical query text for a Request: the words the grammar reads back to the same Request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vram.request.enums import Recompute, mixed_by_default
from vram.request.quant import QUANT_DTYPES
from vram.request.vocabulary import CANONICAL
from vram.units import format_count

if TYPE_CHECKING:
    from vram.request.request import Request

#: Fields written as "key value", in this order.
_NUMBER_FIELDS = ("hidden_size", "num_layers", "num_heads", "seq_len", "new_tokens", "batch_size", "tp", "pp", "cp",
                  "dp", "vpp", "global_batch", "grad_accum", "lora_rank", "memory_fraction", "max_num_batched_tokens",
                  "max_num_seqs", "max_input_tokens", "kv_cache_memory_bytes", "max_total_tokens", "cpu_offload_gib",
                  "gpu_layers", "cpu_moe_layers", "parallel", "ubatch")


def request_to_query(request: Request) -> str:
    words = [CANONICAL[f"solve:{request.solve.value}"]] if request.solve else []
    words.append(CANONICAL[f"task:{request.task.value}"])
    words.append(request.model if request.model else format_count(request.params))
    for name in ("engine", "framework"):  # each runtime's id is a word of its own ("vllm", "torchtune")
        if getattr(request, name) is not None:
            words.append(getattr(request, name).value)
    if request.engine_version is not None:
        words.append(f"{CANONICAL['engine_version']}{request.engine_version}")
    if request.framework_version is not None:
        words.append(f"{CANONICAL['framework_version']}{request.framework_version}")
    if request.framework_config is not None:
        words.append(request.framework_config)
    if request.quant is not None:
        words.append(request.quant)  # it implies the dtype
    for name in ("dtype", "optimizer", "recompute"):
        value = getattr(request, name)
        if value is not None and not (name == "dtype" and request.quant and QUANT_DTYPES[request.quant] is value):
            # beside a post-training objective a bare "full" reads as a full fine-tune (the grammar's
            # _full_fine_tune), so there full recompute is written with its key
            explicit = name == "recompute" and request.objective is not None and value is Recompute.FULL
            words.append(f"recompute={value.value}" if explicit else value.value)
    if request.precision_regime is not None:
        words.append(request.precision_regime.value)
    else:
        words += _precision_words(request)
    if request.kv_dtype is not None:
        words.append(f"kv={request.kv_dtype.value}")
    for name, word in (("cache_type_k", "ctk"), ("cache_type_v", "ctv")):
        if getattr(request, name) is not None:
            words.append(f"{word}={getattr(request, name).value}")
    if request.lora_targets is not None:
        words += [CANONICAL["lora_targets"], *request.lora_targets]
    if request.modules_to_save is not None:
        words += [CANONICAL["modules_to_save"], *request.modules_to_save]
    if request.dora is not None:
        words.append(CANONICAL[f"dora:{request.dora}"])
    if request.objective is not None:
        words.append(request.objective.value)
    if request.reference is not None:
        words.append(CANONICAL[f"reference:{request.reference}"])
    if request.teacher is not None:
        words.append(CANONICAL["teacher"] + request.teacher)
    for name in ("generations", "rollout_fraction"):
        if getattr(request, name) is not None:
            words += [CANONICAL[name], f"{getattr(request, name):g}"]
    if request.offload is not None:
        words.append(CANONICAL[f"offload:{request.offload.value}"])
    if request.ep > 1:
        words += [CANONICAL["ep"], str(request.ep)]
    for name in ("dropout", "optimizer_foreach", "torch_compile", "offload_activations", "optimizer_in_backward",
                 "enforce_eager"):
        if getattr(request, name) is not None:
            words.append(CANONICAL[f"{name}:{getattr(request, name)}"])
    if request.loss is not None:
        words.append(CANONICAL[f"loss:{request.loss.value}"])
    for name in _NUMBER_FIELDS:
        value = getattr(request, name)
        if value is not None and not (name in ("tp", "pp", "cp") and value == 1):
            words += [CANONICAL[name], str(value)]
    if request.sp:
        words.append(CANONICAL["sp:True"])
    if request.zero:
        words += [CANONICAL["zero"], str(request.zero)]
    if request.flash_attention is not None:
        words.append(CANONICAL[f"flash_attention:{request.flash_attention}"])
    if request.method is not None:
        words += [CANONICAL["method"], request.method.value]
    if request.suggest:
        words.append(CANONICAL["suggest:True"])
    words += _gpu_words(request)
    return " ".join(words)


def _precision_words(request: Request) -> list[str]:
    # Training with a stated 16-bit dtype is mixed unless "pure" was said, and fp32 is never mixed;
    # write the word only where the dtype alone would not give the same value back.
    if request.mixed_precision is None:
        return []
    # adapters have no implied precision: only the words set it (pure: 16-bit adapters, mixed: fp32)
    implied = None if request.dtype is None or request.task.value != "training" else mixed_by_default(request.dtype)
    if request.mixed_precision == implied:
        return []
    return [CANONICAL[f"mixed_precision:{request.mixed_precision}"]]


def _gpu_words(request: Request) -> list[str]:
    if request.gpu is not None:
        return ["on", f"{request.gpu_count}x", request.gpu]
    if request.gpu_count is not None:
        return ["on", str(request.gpu_count), CANONICAL["gpu_count"]]
    return []
