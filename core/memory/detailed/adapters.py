"""LoRA and QLoRA fine-tuning by the detailed method.

A frozen base (16-bit for LoRA; for QLoRA NF4 with double quantisation on the blocks' matrices,
Dettmers et al. 2023, embeddings and head left in 16 bits as bitsandbytes leaves them), low-rank
adapters r x (d_in + d_out) on each target layer (Hu et al. 2021) named as the model's family names
its layers (catalog/data/lora_modules.toml: a fused layer takes one adapter), kept in fp32 by PEFT
with their fp32 gradients and optimizer states or in the model's 16 bits by torchtune ('pure'), and
the activations of the same block with gradient checkpointing, as LoRA recipes turn it on. Only
the adapters get gradients and optimizer states.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vram.catalog.modules import modules_of
from vram.errors import InvalidRequestError, UnsupportedError
from vram.formula import formula
from vram.memory.detailed.activations import UNSLOTH_SOURCE, BlockOptions
from vram.memory.detailed.common import (
    DetailedJob, activations_item, backward_layer_item, block_options, default_recompute as _recompute,
    host_activation_bytes, kept, logits_item, phase, quantised_weights, say_loss
)
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import WEIGHT_FORMATS, compute_dtype, dtype_bytes, optimizer_bytes, state_bytes
from vram.memory.runtime import cuda_context_item
from vram.messages import Note
from vram.request.enums import Dtype, Item, PhaseName, Recompute, Regime, Task
from vram.request.lora import BLOCK_MATRICES, DEFAULT_RANK, DEFAULT_TARGETS, OUTSIDE_BLOCKS

LORA = "Hu et al. 2021 (LoRA): r x (d_in + d_out) a target matrix"
PEFT_FP32 = "PEFT: adapter weights kept in fp32 (autocast_adapter_dtype), with fp32 gradients and states"
DORA = ("Liu et al. 2024 (DoRA), section 4.3: the weight norm detached; PEFT DoraLinearLayer: a magnitude a "
        "layer output, the base layer's output scaled by magnitude / norm (kept for its gradient)")
PEFT_SAVED = "PEFT modules_to_save (ModulesToSaveWrapper): a trainable copy of the layer beside the frozen original"
TORCHTUNE_16BIT = ("torchtune lora recipes: the model, adapters included, built in the recipe's dtype "
                   "(training.set_default_dtype(cfg.dtype)), bf16 gradients and states")

#: PEFT keeps the adapters in fp32 and trains them as plain fp32 parameters: no master copy, fp32
#: optimizer states (bitsandbytes 8-bit: its own format), the shared rules' pure fp32 regime.
ADAPTER_STATES = state_bytes(Regime.PURE, Dtype.FP32)

#: Whether a framework keeps the adapters in fp32 when the query does not say (pure: in the
#: model's 16-bit dtype; mixed: fp32), with the source; the rest run PEFT's fp32 adapters.
ADAPTER_FP32: dict[str, tuple[bool, str]] = {
    "transformers": (True, PEFT_FP32),
    "torchtune": (False, TORCHTUNE_16BIT),
}


def target_shapes(spec) -> dict[str, tuple[int, int]]:
    """(d_in, d_out) of each linear matrix of a block, by its usual name, and of the layers outside
    the blocks (the head h -> v; the embedding's adapter r x (v + h), PEFT's lora_embedding_A/B)."""
    h, q, kv, f = spec.hidden_size, spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim, \
        spec.moe_intermediate_size or spec.intermediate_size
    shapes = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
              "up_proj": (h, f), "down_proj": (f, h), "lm_head": (h, spec.vocab_size),
              "embed_tokens": (spec.vocab_size, h)}
    if spec.mlp == "gated":
        shapes["gate_proj"] = (h, f)
    return shapes


def target_layers(spec, names: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The linear layers ``names`` put adapters on, each (its name, the matrices it fuses), by the
    model family's own names (catalog/data/lora_modules.toml); a Llama-style name on a family that
    fuses it (q_proj on GPT-2) takes the layer that holds it (c_attn), as the whole layer gets one
    adapter. A name the family does not have is refused with the names it has."""
    table = modules_of(spec.family)
    shapes = target_shapes(spec)
    layers: dict[tuple[str, tuple[str, ...]], None] = {}
    for name in names:
        if name in OUTSIDE_BLOCKS:
            layers[name, (name,)] = None
        elif table is not None and name in table.modules:
            layers.update(dict.fromkeys((name, group) for group in table.modules[name]))
        elif name in BLOCK_MATRICES and table is not None:
            layers.update(dict.fromkeys((own, group) for own, groups in table.modules.items()
                                        for group in groups if name in group and name in shapes))
        elif name in BLOCK_MATRICES:
            if name in shapes:
                layers[name, (name,)] = None
        else:
            has = ", ".join(table.modules if table is not None else BLOCK_MATRICES)
            raise InvalidRequestError(f"{spec.id} has no layer named '{name}': its linear layers are {has}, "
                                      "lm_head and embed_tokens", field="lora_targets")
    return list(layers)


def _layer_dims(spec, task: Task, chosen: tuple[str, ...] | None) -> list[tuple[str, int, int, int]]:
    """(name, d_in, d_out, copies) of each linear layer that gets an adapter: a fused layer's
    outputs add up; copies: every block, every expert for a per-expert name, once outside the blocks."""
    table = modules_of(spec.family)
    if chosen is None:
        chosen = table.peft_default if table is not None and task is Task.LORA else DEFAULT_TARGETS[task]
    shapes = target_shapes(spec)
    experts = table.experts if table is not None else frozenset()
    dims = []
    for name, group in target_layers(spec, chosen):
        group = tuple(m for m in group if m in shapes)  # a plain MLP's dense_h_to_4h is up_proj alone
        copies = 1 if name in OUTSIDE_BLOCKS else spec.num_layers * (spec.num_experts if name in experts else 1)
        dims.append((name, shapes[group[0]][0], sum(shapes[m][1] for m in group), copies))
    return dims


def adapter_params(spec, task: Task, rank: int, chosen: tuple[str, ...] | None = None) -> tuple[int, tuple[str, ...]]:
    """Trainable adapter parameters, r x (d_in + d_out) a layer, and the layer names they go on."""
    dims = _layer_dims(spec, task, chosen)
    return sum(copies * rank * (d_in + d_out) for _, d_in, d_out, copies in dims), \
        tuple(dict.fromkeys(name for name, *_ in dims))


def dora_sizes(spec, task: Task, chosen: tuple[str, ...] | None) -> tuple[int, int]:
    """DoRA's magnitude parameters (one a target layer's output) and the outputs of one block's
    target layers, which DoRA's forward keeps for the magnitude's gradient."""
    dims = _layer_dims(spec, task, chosen)
    block = sum(d_out * copies // spec.num_layers for name, _, d_out, copies in dims if name not in OUTSIDE_BLOCKS)
    return sum(copies * d_out for _, _, d_out, copies in dims), block


@dataclass(frozen=True)
class AdapterSettings:
    """How a LoRA or QLoRA job runs, every open choice filled with the recipe's default: what the
    estimate counts and what the measurement harness runs (validation/plan.py takes it from here)."""

    recompute: Recompute
    options: BlockOptions  #: the block as it runs: norm, MLP, attention kernel, dropout
    rank: int
    targets: tuple[str, ...]  #: the layers that get adapters, by the model family's names
    trained: int  #: trainable (adapter) parameters
    adapter_dtype: Dtype = Dtype.FP32  #: the adapters' weights, gradients and states
    precision_source: str = PEFT_FP32
    dora_outputs: int = 0  #: DoRA: the outputs of one block's target layers, kept for the magnitude's gradient
    saved: int = 0  #: parameters of the layers trained in full beside the adapters (modules_to_save)


def adapter_settings(job: DetailedJob, said: Said) -> AdapterSettings:
    """The settings of ``job``'s adapter training; each default is said in ``said``."""
    request = job.request
    recompute = default_recompute(job, said)
    say_loss(job, said)
    options = block_options(job, said)  # the base runs in its own 16-bit dtype: no autocast copies of it
    rank = said.default("lora_rank", request.lora_rank, DEFAULT_RANK, Note("why.peft_rank"))
    trained, targets = adapter_params(job.spec, request.task, rank, request.lora_targets)
    if request.lora_targets is None:
        said.say(Note("note.adapter_targets_default", who="PEFT" if request.task is Task.LORA else "QLoRA"))
    said.say(Note("note.adapters_on", targets=", ".join(targets), trained=f"{trained:,}",
                  share=f"{trained / job.params:.2%}"))
    table = modules_of(job.spec.family)
    if table is not None and set(targets) & table.experts:
        said.say(f"an adapter on each expert's {', '.join(sorted(set(targets) & table.experts))}, as transformers "
                 f"4.x holds the experts (an nn.Linear an expert; {table.source})")
    dtype, source = _adapter_dtype(job, said)
    dora_outputs = 0
    if request.dora:
        magnitude, dora_outputs = dora_sizes(job.spec, request.task, request.lora_targets)
        trained += magnitude
        said.say(f"DoRA: a trained magnitude for each output of the target layers, {magnitude:,} parameters; the "
                 f"forward keeps each target layer's base output for the magnitude's gradient ({DORA})")
    options = _with_framework_kernels(job, options, targets, said)
    saved = len(request.modules_to_save or ()) * job.spec.vocab_size * job.spec.hidden_size
    if saved:
        said.say(f"{', '.join(request.modules_to_save)} trained in full beside the adapters: a trainable copy in the "
                 f"model's dtype, with its gradients and optimizer states ({PEFT_SAVED})")
    return AdapterSettings(recompute, options, rank, targets, trained, dtype, source, dora_outputs, saved)


#: The MLP layers that must all carry adapters for Unsloth's fused LoRA MLP to replace the module.
FUSED_MLP_LAYERS = frozenset({"gate_proj", "up_proj", "down_proj"})


def _with_framework_kernels(job: DetailedJob, options: BlockOptions, targets: tuple[str, ...],
                            said: Said) -> BlockOptions:
    """The block on the framework's own LoRA kernels, where its row names the model's family and
    the adapters are where the kernels need them (gate, up and down; no DoRA)."""
    terms = job.runtime.terms
    if job.spec.family not in terms.lora_kernel_families:
        return options
    if not FUSED_MLP_LAYERS <= set(targets) or job.request.dora:
        said.say(f"{job.runtime.name}'s fused LoRA MLP needs adapters on gate_proj, up_proj and down_proj and no "
                 "DoRA: the MLP is counted as transformers and PEFT keep it")
        return options
    # each kernel where it applies (activations._norm_terms, _fused_lora_mlp): an RMSNorm, a dense MLP
    kernels = [*(["its RMSNorm keeps the input and an fp32 rstd a row"] if options.norm == "rmsnorm" else []),
               *(["its LoRA MLP the gate and up outputs"] if not options.moe else [])]
    if not kernels:
        return options
    said.say(f"{job.runtime.name}'s own kernels: {', '.join(kernels)} ({terms.sources['lora_kernel_families']}; "
             f"{UNSLOTH_SOURCE})")
    return dataclasses.replace(options, unsloth_kernels=True)


def _adapter_dtype(job: DetailedJob, said: Said) -> tuple[Dtype, str]:
    """fp32 adapters (PEFT) or adapters in the model's 16-bit compute dtype (torchtune, or 'pure')."""
    runtime = job.runtime
    fp32, source = ADAPTER_FP32.get(runtime.id) or ADAPTER_FP32.get(runtime.based_on or "", (True, PEFT_FP32))
    if job.request.mixed_precision is not None:
        fp32 = job.request.mixed_precision
        source = PEFT_FP32 if fp32 else TORCHTUNE_16BIT
    else:
        said.say(Note(f"note.adapters_{'fp32' if fp32 else 'compute_dtype'}", runtime=runtime.name, source=source))
    return (Dtype.FP32 if fp32 else compute_dtype(job.dtype)), source


def adapter_items(job: DetailedJob, settings: AdapterSettings, activations: LineItem, logits: LineItem,
                  backward_layer: LineItem) -> tuple[list[LineItem], list[Phase]]:
    """Line items and phases of a LoRA or QLoRA step; ``activations``, ``logits`` and
    ``backward_layer`` are built by the training model (with the settings' recompute)."""
    rank, trained, dtype, source = settings.rank, settings.trained, settings.adapter_dtype, settings.precision_source
    per_param = optimizer_bytes(job.optimizer, state_bytes(Regime.PURE, dtype))
    size = dtype_bytes(dtype)
    # layers trained in full (modules_to_save): a copy in the model's dtype, its gradients and states
    c, saved = job.compute_bytes, settings.saved
    saved_states = optimizer_bytes(job.optimizer, state_bytes(Regime.PURE, compute_dtype(job.dtype)))

    def states(per: float, per_saved: float) -> tuple[int, str, dict[str, float]]:
        if not saved:
            return round(per * trained), f"{per:g} B/param x adapter_params", {"adapter_params": trained}
        return (round(per * trained + per_saved * saved), f"{per:g} B/param x adapter_params + {per_saved:g} B/param "
                f"x saved_params", {"adapter_params": trained, "saved_params": saved})

    also = f"; {PEFT_SAVED}" if saved else ""
    items = _base_weights(job)
    items += [
        LineItem(Item.ADAPTERS, f"LoRA adapters (r={rank}, {dtype})"
                 + (f" and layers trained in full ({compute_dtype(job.dtype)})" if saved else ""),
                 *states(size, c), f"{LORA}; {source}{also}"),
        LineItem(Item.GRADIENTS, f"Gradients (adapters, {dtype}; layers trained in full, {compute_dtype(job.dtype)})"
                 if saved else f"Gradients (adapters only, {dtype})",
                 *states(size, c), f"{source}{also}"),
        LineItem(Item.OPTIMIZER, f"Optimizer states ({job.optimizer}, adapters{'' if saved else ' only'})",
                 *states(per_param, saved_states), f"{source}{also}"),
        activations, logits, backward_layer, cuda_context_item(),
    ]
    keys = [item.key for item in items]
    frozen = [k for k in (Item.WEIGHTS, Item.QUANT_OVERHEAD) if k in keys]
    # a framework whose gradient buffer is allocated at start-up (Megatron's DDP) holds it throughout
    buffer = [Item.GRADIENTS] if job.runtime.terms.gradient_buffer else []
    phases = [
        phase(PhaseName.START_OF_BACKWARD, items,
              frozen + [Item.ADAPTERS, Item.OPTIMIZER, Item.ACTIVATIONS, Item.LOGITS, Item.CUDA_CONTEXT, *buffer],
              "adapter states from the step before; the checkpointed layer inputs; the loss's gradient"),
        *([phase(PhaseName.BACKWARD_LAST_LAYER, items,
                 frozen + [Item.ADAPTERS, Item.OPTIMIZER, Item.ACTIVATIONS, Item.BACKWARD_LAYER, Item.CUDA_CONTEXT,
                           *buffer],
                 "the last layer's backward, the first to run: every layer's checkpointed input still live, "
                 "this layer recomputed and its MLP's gradients (its adapters' gradients, one layer's, left out)")]
          if settings.recompute is Recompute.FULL else []),
        phase(PhaseName.BACKWARD_FIRST_LAYER, items,
              frozen + [Item.ADAPTERS, Item.OPTIMIZER, Item.GRADIENTS, Item.BACKWARD_LAYER, Item.CUDA_CONTEXT],
              "the adapters' gradients made; one layer's tensors, recomputed under checkpointing"),
        phase(PhaseName.OPTIMIZER_STEP, items,
              frozen + [Item.ADAPTERS, Item.GRADIENTS, Item.OPTIMIZER, Item.CUDA_CONTEXT],
              "activations freed; only the adapters are updated"),
    ]
    return items, phases


def default_recompute(job: DetailedJob, said: Said) -> Recompute:
    return _recompute(job, said, Recompute.FULL, Note("why.adapter_checkpointing"))


def _base_weights(job: DetailedJob) -> list[LineItem]:
    if job.dtype not in WEIGHT_FORMATS:
        size = dtype_bytes(job.dtype)
        return [LineItem(Item.WEIGHTS, f"Frozen base weights ({job.dtype})", round(size * job.params),
                         f"{size:g} B/param x params", {"params": job.params}, "the base model, frozen")]
    return list(quantised_weights(job, "Frozen base", "Quantisation constants"))


def lora_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase], int]:
    """The step's items and phases, and the host memory its offloaded activations take."""
    if job.request.optimizer_in_backward:
        raise UnsupportedError("the optimizer step in backward is modelled for full fine-tuning (torchtune's "
                               "full_finetune recipes); an adapter's gradients are small: leave it out",
                               field="optimizer_in_backward")
    settings = adapter_settings(job, said)
    keeps, options = kept(job, settings.recompute), settings.options
    values = {**job.values(), "g": dtype_bytes(settings.adapter_dtype)}  # the adapters' gradients
    activations = activations_item(options, keeps, values)
    backward_layer = backward_layer_item(options, keeps, values)
    if settings.dora_outputs:  # each target layer's base output, saved in every layer kept for backward
        values["D"] = settings.dora_outputs
        backward_layer = _plus(backward_layer, "c*b*s*D", values)
        if settings.recompute is not Recompute.FULL:
            activations = _plus(activations, "L*c*b*s*D", values)
    # PEFT's trainable copy of lm_head (modules_to_save) is in the model's dtype; a frozen head has no gradient
    head = job.compute_bytes if "lm_head" in (job.request.modules_to_save or ()) else 0
    logits = logits_item(job, values, _free_at_first_loss(job, settings, activations), head_gradient_bytes=head)
    items, phases = adapter_items(job, settings, activations, logits, backward_layer)
    return items, phases, host_activation_bytes(keeps, values, options, bool(job.request.offload_activations))


def _free_at_first_loss(job: DetailedJob, settings: AdapterSettings, activations: LineItem) -> int | None:
    """The GPU's memory free when the first step reaches the loss (the base, the adapters, the kept
    activations and the CUDA context; the optimizer's states come at the first step's end), where a
    framework sizes its loss by it (unsloth_zoo _get_chunk_multiplier reads torch.cuda.mem_get_info
    once, functools.cache); None without a GPU."""
    gpu = job.resolved.gpu
    if gpu is None or not job.runtime.terms.loss_chunk_free_share:
        return None
    live = sum(item.bytes for item in _base_weights(job)) + activations.bytes + cuda_context_item().bytes
    return gpu.memory_bytes - live - round(dtype_bytes(settings.adapter_dtype) * settings.trained)


def _plus(item: LineItem, term: str, values: dict[str, float]) -> LineItem:
    """``item`` with DoRA's saved outputs added to its formula."""
    return formula_item(item.key, f"{item.label} + DoRA's saved outputs", formula(f"{item.formula} + {term}"),
                        values, f"{item.source}; {DORA}")
