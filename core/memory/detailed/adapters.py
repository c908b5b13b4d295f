"""LoRA and QLoRA fine-tuning by the detailed method.

A frozen base (16-bit for LoRA; for QLoRA NF4 with double quantisation on the blocks' matrices,
Dettmers et al. 2023, embeddings and head left in 16 bits as bitsandbytes leaves them), low-rank
adapters r x (d_in + d_out) on each target matrix (Hu et al. 2021), kept in fp32 by PEFT with
their fp32 gradients and optimizer states, and the activations of the same block with gradient
checkpointing, as LoRA recipes turn it on. Only the adapters get gradients and optimizer states.
"""

from __future__ import annotations

from vram.formula import formula
from vram.memory.detailed.common import (
    HF_LOSS, TRAINING_LOGITS, DetailedJob, activations_item, backward_layer_item, block_options, phase
)
from vram.memory.detailed.inference import WEIGHT_FORMATS
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import ADAM8BIT_VALUE_BYTES, STATE_VALUES
from vram.memory.runtime import cuda_context_item
from vram.request.enums import DTYPE_BITS, Dtype, Item, Optimizer, PhaseName, Recompute, Task
from vram.request.lora import DEFAULT_RANK, DEFAULT_TARGETS

LORA = "Hu et al. 2021 (LoRA): r x (d_in + d_out) a target matrix"
PEFT_FP32 = "PEFT: adapter weights kept in fp32 (autocast_adapter_dtype), with fp32 gradients and states"
QLORA = "Dettmers et al. 2023 (QLoRA), section 3: NF4 blocks of 64, double quantisation 0.127 bits a parameter"


def target_shapes(spec) -> dict[str, tuple[int, int]]:
    """(d_in, d_out) of each linear matrix of a block, by its usual name."""
    h, q, kv, f = spec.hidden_size, spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim, \
        spec.moe_intermediate_size or spec.intermediate_size
    shapes = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
              "up_proj": (h, f), "down_proj": (f, h)}
    if spec.mlp == "gated":
        shapes["gate_proj"] = (h, f)
    return shapes


def adapter_params(spec, task: Task, rank: int, chosen: tuple[str, ...] | None = None) -> tuple[int, tuple[str, ...]]:
    shapes = target_shapes(spec)
    targets = tuple(t for t in (chosen or DEFAULT_TARGETS[task]) if t in shapes)
    return spec.num_layers * sum(rank * (shapes[t][0] + shapes[t][1]) for t in targets), targets


def adapter_items(job: DetailedJob, said: Said, activations: LineItem, logits: LineItem,
                  backward_layer: LineItem) -> tuple[list[LineItem], list[Phase]]:
    """Line items and phases of a LoRA or QLoRA step; ``activations``, ``logits`` and
    ``backward_layer`` are built by the training model (with the recompute given here)."""
    request, spec = job.request, job.spec
    rank = said.default("lora_rank", request.lora_rank, DEFAULT_RANK, "PEFT's default r")
    trained, targets = adapter_params(spec, request.task, rank, request.lora_targets)
    if request.lora_targets is None:
        said.say(f"adapter targets: {'PEFT' if request.task is Task.LORA else 'QLoRA'}'s default "
                 "(say 'targets q_proj v_proj' or 'targets all-linear')")
    said.say(f"adapters on {', '.join(targets)} of every layer: {trained:,} trainable parameters "
             f"({trained / job.params:.2%} of the model)")
    state_bytes = _optimizer_bytes(job.optimizer)
    items = _base_weights(job, WEIGHT_FORMATS)
    items += [
        LineItem(Item.ADAPTERS, f"LoRA adapters (r={rank}, fp32)", 4 * trained, "4 B/param x adapter_params",
                 {"adapter_params": trained}, f"{LORA}; {PEFT_FP32}"),
        LineItem(Item.GRADIENTS, "Gradients (adapters only, fp32)", 4 * trained, "4 B/param x adapter_params",
                 {"adapter_params": trained}, PEFT_FP32),
        LineItem(Item.OPTIMIZER, f"Optimizer states ({job.optimizer}, adapters only)", round(state_bytes * trained),
                 f"{state_bytes:g} B/param x adapter_params", {"adapter_params": trained}, PEFT_FP32),
        activations, logits, backward_layer, cuda_context_item(),
    ]
    keys = [item.key for item in items]
    frozen = [k for k in (Item.WEIGHTS, Item.QUANT_OVERHEAD) if k in keys]
    phases = [
        phase(PhaseName.START_OF_BACKWARD, items,
              frozen + [Item.ADAPTERS, Item.OPTIMIZER, Item.ACTIVATIONS, Item.LOGITS, Item.CUDA_CONTEXT],
              "adapter states from the step before; the checkpointed layer inputs; the loss's gradient"),
        phase(PhaseName.BACKWARD_FIRST_LAYER, items,
              frozen + [Item.ADAPTERS, Item.OPTIMIZER, Item.GRADIENTS, Item.BACKWARD_LAYER, Item.CUDA_CONTEXT],
              "the adapters' gradients made; one layer's tensors, recomputed under checkpointing"),
        phase(PhaseName.OPTIMIZER_STEP, items,
              frozen + [Item.ADAPTERS, Item.GRADIENTS, Item.OPTIMIZER, Item.CUDA_CONTEXT],
              "activations freed; only the adapters are updated"),
    ]
    return items, phases


def default_recompute(job: DetailedJob, said: Said) -> Recompute:
    return said.default("recompute", job.request.recompute, Recompute.FULL,
                       "gradient checkpointing, as LoRA and QLoRA recipes turn it on")


def _base_weights(job, formats) -> list[LineItem]:
    counts = job.counts
    if job.dtype not in (Dtype.NF4, Dtype.INT4, Dtype.INT8):
        size = 4 if job.dtype is Dtype.FP32 else 2
        return [LineItem(Item.WEIGHTS, f"Frozen base weights ({job.dtype})", round(size * job.params),
                         f"{size} B/param x params", {"params": job.params}, "the base model, frozen")]
    quantised = counts.attention + counts.mlp
    other = job.params - quantised
    size = DTYPE_BITS[job.dtype] / 8
    fmt = formats[job.dtype]
    overhead_bits = formula(fmt.overhead_bits).value({"h": job.spec.hidden_size})  # the formats' one table
    return [
        LineItem(Item.WEIGHTS, f"Frozen base ({job.dtype} blocks, 16-bit embeddings and head)",
                 round(size * quantised + 2 * other), f"{size:g} B/param x block_params + 2 B/param x other_params",
                 {"block_params": quantised, "other_params": other}, QLORA if job.dtype is Dtype.NF4 else fmt.source),
        LineItem(Item.QUANT_OVERHEAD, "Quantisation constants", round(overhead_bits / 8 * quantised),
                 f"{overhead_bits:g}/8 B/param x block_params", {"block_params": quantised}, fmt.source),
    ]


def _optimizer_bytes(optimizer: Optimizer) -> float:
    # fp32 adapters need no master copy: the states alone, fp32 (bitsandbytes: 1 byte + block scales)
    value = ADAM8BIT_VALUE_BYTES if optimizer is Optimizer.ADAM8BIT else 4
    return STATE_VALUES[optimizer] * value


def lora_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase]]:
    recompute = default_recompute(job, said)
    values = {**job.values(), "g": 4}  # the adapters' gradients are fp32
    options = block_options(job, said)  # the base runs in its own 16-bit dtype: no autocast copies of it
    return adapter_items(job, said, activations_item(options, recompute, values),
                         formula_item(Item.LOGITS, "Logits and loss, start of backward (fp32)", TRAINING_LOGITS,
                                      values, HF_LOSS),
                         backward_layer_item(options, recompute, values))
