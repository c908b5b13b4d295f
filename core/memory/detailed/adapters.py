"""LoRA and QLoRA fine-tuning by the detailed method.

A frozen base (16-bit for LoRA; for QLoRA NF4 with double quantisation on the blocks' matrices,
Dettmers et al. 2023, embeddings and head left in 16 bits as bitsandbytes leaves them), low-rank
adapters r x (d_in + d_out) on each target matrix (Hu et al. 2021), kept in fp32 by PEFT with
their fp32 gradients and optimizer states, and the activations of the same block with gradient
checkpointing, as LoRA recipes turn it on. Only the adapters get gradients and optimizer states.
"""

from __future__ import annotations

from dataclasses import dataclass

from vram.memory.detailed.activations import BlockOptions
from vram.memory.detailed.common import (
    DetailedJob, activations_item, backward_layer_item, block_options, default_recompute as _recompute,
    host_activation_bytes, kept, logits_item, phase, quantised_weights, say_loss
)
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import WEIGHT_FORMATS, dtype_bytes, optimizer_bytes, state_bytes
from vram.memory.runtime import cuda_context_item
from vram.request.enums import Dtype, Item, PhaseName, Recompute, Regime, Task
from vram.request.lora import DEFAULT_RANK, DEFAULT_TARGETS

LORA = "Hu et al. 2021 (LoRA): r x (d_in + d_out) a target matrix"
PEFT_FP32 = "PEFT: adapter weights kept in fp32 (autocast_adapter_dtype), with fp32 gradients and states"

#: PEFT keeps the adapters in fp32 and trains them as plain fp32 parameters: no master copy, fp32
#: optimizer states (bitsandbytes 8-bit: its own format), the shared rules' pure fp32 regime.
ADAPTER_STATES = state_bytes(Regime.PURE, Dtype.FP32)


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


@dataclass(frozen=True)
class AdapterSettings:
    """How a LoRA or QLoRA job runs, every open choice filled with the recipe's default: what the
    estimate counts and what the measurement harness runs (validation/plan.py takes it from here)."""

    recompute: Recompute
    options: BlockOptions  #: the block as it runs: norm, MLP, attention kernel, dropout
    rank: int
    targets: tuple[str, ...]  #: the block matrices that get adapters
    trained: int  #: trainable (adapter) parameters


def adapter_settings(job: DetailedJob, said: Said) -> AdapterSettings:
    """The settings of ``job``'s adapter training; each default is said in ``said``."""
    request = job.request
    recompute = default_recompute(job, said)
    say_loss(job, said)
    options = block_options(job, said)  # the base runs in its own 16-bit dtype: no autocast copies of it
    rank = said.default("lora_rank", request.lora_rank, DEFAULT_RANK, "PEFT's default r")
    trained, targets = adapter_params(job.spec, request.task, rank, request.lora_targets)
    if request.lora_targets is None:
        said.say(f"adapter targets: {'PEFT' if request.task is Task.LORA else 'QLoRA'}'s default "
                 "(say 'targets q_proj v_proj' or 'targets all-linear')")
    said.say(f"adapters on {', '.join(targets)} of every layer: {trained:,} trainable parameters "
             f"({trained / job.params:.2%} of the model)")
    return AdapterSettings(recompute, options, rank, targets, trained)


def adapter_items(job: DetailedJob, settings: AdapterSettings, activations: LineItem, logits: LineItem,
                  backward_layer: LineItem) -> tuple[list[LineItem], list[Phase]]:
    """Line items and phases of a LoRA or QLoRA step; ``activations``, ``logits`` and
    ``backward_layer`` are built by the training model (with the settings' recompute)."""
    rank, trained = settings.rank, settings.trained
    per_param = optimizer_bytes(job.optimizer, ADAPTER_STATES)
    items = _base_weights(job)
    items += [
        LineItem(Item.ADAPTERS, f"LoRA adapters (r={rank}, fp32)", 4 * trained, "4 B/param x adapter_params",
                 {"adapter_params": trained}, f"{LORA}; {PEFT_FP32}"),
        LineItem(Item.GRADIENTS, "Gradients (adapters only, fp32)", 4 * trained, "4 B/param x adapter_params",
                 {"adapter_params": trained}, PEFT_FP32),
        LineItem(Item.OPTIMIZER, f"Optimizer states ({job.optimizer}, adapters only)", round(per_param * trained),
                 f"{per_param:g} B/param x adapter_params", {"adapter_params": trained}, PEFT_FP32),
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
    return _recompute(job, said, Recompute.FULL, "gradient checkpointing, as LoRA and QLoRA recipes turn it on")


def _base_weights(job: DetailedJob) -> list[LineItem]:
    if job.dtype not in WEIGHT_FORMATS:
        size = dtype_bytes(job.dtype)
        return [LineItem(Item.WEIGHTS, f"Frozen base weights ({job.dtype})", round(size * job.params),
                         f"{size:g} B/param x params", {"params": job.params}, "the base model, frozen")]
    return list(quantised_weights(job, "Frozen base", "Quantisation constants"))


def lora_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase], int]:
    """The step's items and phases, and the host memory its offloaded activations take."""
    settings = adapter_settings(job, said)
    keeps, options = kept(job, settings.recompute), settings.options
    values = {**job.values(), "g": 4}  # the adapters' gradients are fp32
    items, phases = adapter_items(job, settings, activations_item(options, keeps, values), logits_item(job, values),
                                  backward_layer_item(options, keeps, values))
    return items, phases, host_activation_bytes(keeps, values)
