"""Full training by the detailed method: the precision regime, the step's items and its phases.

A training step's forward pass keeps the weights, autocast's 16-bit copies, the optimizer states
from the step before, the saved activations, the logits and the loss; backward adds the gradients
layer by layer; the optimizer step its temporaries. Defaults follow a typical Hugging Face +
PyTorch job, each one said.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vram.catalog.runtimes import Keeps
from vram.formula import Formula, formula
from vram.memory.detailed.activations import BlockOptions
from vram.memory.detailed.common import (
    DetailedJob, activations_item, backward_layer_item, block_options, default_recompute,
    host_activation_bytes, kept, logits_item, phase, say_loss
)
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import STEP_TEMPORARIES, optimizer_bytes, optimizer_source, state_bytes
from vram.memory.runtime import cuda_context_item
from vram.messages import Note
from vram.request.enums import Dtype, Item, PhaseName, Recompute, Regime, mixed_by_default

#: A tied embedding's gradient reaches the shared matrix twice (the head's, then the embedding's):
#: autograd's input buffer sums the two out of place, so both halves and their sum are live
#: (measured: embedding_dense_backward and add, each vocab x hidden, at the end of backward).
TIED_GRADIENTS = Formula("2*g*v*h")
TIED_SOURCE = "torch.autograd InputBuffer::add accumulates a leaf's gradients out of place (measured)"












def _regime(job: DetailedJob, said: Said) -> Regime:
    request = job.request
    if request.precision_regime is not None:
        return request.precision_regime
    mixed_by_framework = job.runtime.precision_regime
    mixed = request.mixed_precision if request.mixed_precision is not None else mixed_by_default(job.dtype)
    if not mixed:
        return Regime.PURE
    if mixed_by_framework is not None:
        said.say(f"{job.runtime.name}'s mixed precision: {mixed_by_framework} ({job.runtime.source})")
        return mixed_by_framework
    if request.zero or request.tp > 1 or request.pp > 1:  # DeepSpeed's and Megatron's mixed precision
        who = "ZeRO (DeepSpeed)" if request.zero else "Megatron-style tensor/pipeline parallelism"
        said.say(f"{who} mixed precision: 16-bit weights and gradients, fp32 master weights and "
                 "states in the optimizer (2 + 2 + 12 bytes for AdamW, the ZeRO paper's count)")
        return Regime.MASTER
    said.say(Note("note.amp"))
    return Regime.AMP


#: What the start of backward says of the gradients: true of a step's first micro-batch only
#: (scale.py removes it where the gradients of the micro-batches before are live).
NO_GRADIENT_YET = "; no parameter gradient yet (zero_grad sets them to None)"


#: Regimes that compute under torch.autocast: AMP (fp32 weights), and DeepSpeed's bf16 master weights,
#: which its example runs with torch_autocast on (DeepSpeedExamples training/bf16_master_weight/configs/
#: bf16_full.json: "torch_autocast": {"enabled": true, "dtype": "torch.bfloat16"}).
AUTOCAST_REGIMES = frozenset({Regime.AMP, Regime.BF16_MASTER})


@dataclass(frozen=True)
class TrainingSettings:
    """How a training job runs, every open choice filled with the typical Hugging Face default."""

    regime: Regime
    recompute: Recompute
    keeps: Keeps  #: what the recompute word keeps in the job's framework
    autocast: bool  #: the AMP regime under torch.autocast (FSDP2's mixed precision casts parameters instead)
    foreach: bool  #: torch.optim foreach step (full-size temporaries) rather than fused
    options: BlockOptions  #: the block as it runs: norm, MLP, attention kernel, dropout


def training_settings(job: DetailedJob, said: Said) -> TrainingSettings:
    """The settings of ``job``'s training step; each default is said in ``said``."""
    if job.dp > 1 and job.request.zero == 0:
        said.say(Note("note.ddp", dp=job.dp))
    elif job.dp > 1:
        said.say(Note("note.zero_over", stage=job.request.zero, dp=job.dp, sharder=_sharder(job)))
    regime = _regime(job, said)
    recompute = default_recompute(job, said)
    keeps = kept(job, recompute)
    say_loss(job, said)
    foreach = said.default("optimizer_foreach", job.request.optimizer_foreach, False,
                          Note("why.fused_adamw"))
    autocast = regime in AUTOCAST_REGIMES and job.runtime.terms.autocast
    if regime is Regime.AMP and not autocast:
        said.say(f"{job.runtime.name}: fp32 sharded weights, gradients and states; layers compute on 16-bit "
                 f"gathered copies, without autocast ({job.runtime.terms.sources['autocast']})")
    return TrainingSettings(regime, recompute, keeps, autocast, foreach, block_options(job, said, autocast=autocast))


def _framework_states(job: DetailedJob, settings: TrainingSettings, said: Said):
    """The regime's bytes a parameter as the framework holds them."""
    states = state_bytes(settings.regime, job.dtype)
    terms = job.runtime.terms
    if settings.regime is Regime.AMP and not settings.autocast:  # the 16-bit copies are the gathered units
        states = dataclasses.replace(states, weight_casts=0)
    if terms.gradient_bytes is not None and terms.gradient_bytes != states.gradients:
        said.say(f"{job.runtime.name}: gradients accumulated in {terms.gradient_bytes} bytes a parameter "
                 f"({terms.sources['gradient_bytes']})")
        states = dataclasses.replace(states, gradients=terms.gradient_bytes,
                                     source=f"{states.source}; {terms.sources['gradient_bytes']}")
    return states


def training_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase], int]:
    """The step's items and phases, and the host memory its offloaded activations take."""
    settings = training_settings(job, said)
    regime, keeps, options = settings.regime, settings.keeps, settings.options
    states = _framework_states(job, settings, said)
    values = job.values()
    if settings.autocast:
        values["n"] = states.weights  # the embedding's output, the residual stream, in the weights' dtype
        values["u"] = 4  # autocast's fp32 ops (pow, softmax, layer_norm) return fp32
    params, param_values = job.params, {"params": job.params}
    casts = job.counts.attention + job.counts.mlp + job.spec.vocab_size * job.spec.hidden_size
    opt_bytes = optimizer_bytes(job.optimizer, states, matrix_share=(job.counts.attention + job.counts.mlp) / params)
    temporaries = STEP_TEMPORARIES[job.optimizer] * states.state_value if settings.foreach else 0
    if job.request.optimizer_in_backward:  # one parameter stepped at a time: its temporaries only
        temporaries *= _largest_parameter(job) / params
    tied = job.spec.tie_embeddings
    values["g"] = states.gradients
    items = [
        LineItem(Item.WEIGHTS, f"Model weights ({_regime_label(regime, job.dtype)})", round(states.weights * params),
                 f"{states.weights:g} B/param x params", param_values, states.source),
        LineItem(Item.WEIGHT_CASTS, "16-bit weight copies (autocast)", round(states.weight_casts * casts),
                 f"{states.weight_casts:g} B/param x matmul_params", {"matmul_params": casts}, states.source),
        _gradients_item(job, states, said),
        LineItem(Item.OPTIMIZER, f"Optimizer states ({job.optimizer})", round(opt_bytes * params),
                 f"{opt_bytes:g} B/param x params", param_values, optimizer_source(job.optimizer, states)),
        LineItem(Item.OPTIMIZER_TEMP, "Optimizer step temporaries (foreach)", round(temporaries * params),
                 f"{temporaries:g} B/param x params", param_values,
                 "torch.optim foreach AdamW (the CUDA default without fused=True): "
                 "_foreach_sqrt(exp_avg_sqs) makes a full-size list"),
        activations_item(options, keeps, values),
        logits_item(job, values, head_gradient_bytes=states.weights),  # a fused loss makes it in the weight's dtype
        backward_layer_item(options, keeps, values),
        formula_item(Item.TIED_GRADIENTS, "Tied embedding: both gradient halves, being summed",
                      TIED_GRADIENTS if tied else formula("0"), values, TIED_SOURCE),
        _step_gradient_item(job, regime),
        cuda_context_item(),
    ]
    items = [item for item in items if item.bytes or item.key == Item.ACTIVATIONS]
    keys = {item.key for item in items}

    def live(*wanted: str) -> list[str]:
        return [k for k in (*wanted, Item.CUDA_CONTEXT) if k in keys]

    buffer = job.runtime.terms.gradient_buffer
    phases = [
        phase(PhaseName.START_OF_BACKWARD, items,
              live(Item.WEIGHTS, Item.WEIGHT_CASTS, Item.OPTIMIZER, Item.ACTIVATIONS, Item.LOGITS,
                   *([Item.GRADIENTS] if buffer else [])),
              "optimizer states from the step before; every saved activation; "
              + (f"the loss's gradient; the gradient buffer, zeroed, not freed "
                 f"({job.runtime.terms.sources['gradient_buffer']})" if buffer else
                 f"the loss's gradient through log_softmax{NO_GRADIENT_YET}")),
        phase(PhaseName.BACKWARD_FIRST_LAYER, items,
              live(Item.WEIGHTS, Item.OPTIMIZER, Item.GRADIENTS, Item.BACKWARD_LAYER),
              "the last layer backward reaches: the other gradients made, its own saved tensors (recomputed "
              "under full recompute) and its MLP's gradients"),
        phase(PhaseName.OPTIMIZER_STEP, items,
              live(Item.WEIGHTS, Item.GRADIENTS, Item.OPTIMIZER, Item.OPTIMIZER_TEMP, Item.STEP_GRADIENT),
              "activations freed; the first step allocates the states here"),
    ]
    if tied:
        phases.insert(2, phase(PhaseName.TIED_GRADIENT_SUM, items,
                               live(Item.WEIGHTS, Item.OPTIMIZER, Item.GRADIENTS, Item.TIED_GRADIENTS),
                               "autograd sums the head's and the embedding's gradient of the shared matrix "
                               "out of place"))
    return items, phases, host_activation_bytes(keeps, values, options, bool(job.request.offload_activations))


#: torchtune's optimizer_in_bwd: a post-accumulate-grad hook on every parameter steps its own
#: optimizer and sets its gradient to None as soon as backward has made it, so one parameter's
#: gradient is live at a time, not the model's (the largest: the embedding or the head).
IN_BACKWARD_SOURCE = ("torchtune/training/memory.py register_optim_in_bwd_hooks: optim_dict[param].step(), "
                      "then zero_grad() in p.register_post_accumulate_grad_hook; recipes/full_finetune_single_device.py "
                      "_setup_optimizer(optimizer_in_bwd=True): one optimizer a parameter")


def _largest_parameter(job: DetailedJob) -> int:
    """Elements of the model's largest parameter: the embedding (or the untied head), or an MLP matrix."""
    spec = job.spec
    return max(spec.vocab_size * spec.hidden_size, spec.hidden_size * spec.intermediate_size)


def _gradients_item(job: DetailedJob, states, said: Said) -> LineItem:
    """Every parameter's gradient, or one parameter's at a time when the step runs in backward."""
    if not job.request.optimizer_in_backward:
        return LineItem(Item.GRADIENTS, "Gradients", round(states.gradients * job.params),
                        f"{states.gradients:g} B/param x params", {"params": job.params}, states.source)
    largest = _largest_parameter(job)
    said.say(Note("note.optimizer_in_backward", source=IN_BACKWARD_SOURCE))
    return LineItem(Item.GRADIENTS, "Gradient of the largest parameter (the step runs in backward)",
                    round(states.gradients * largest), f"{states.gradients:g} B/param x largest_param",
                    {"largest_param": largest}, IN_BACKWARD_SOURCE)


#: The master copy's bytes, which the step's flattened gradient takes (.to() the master partition's dtype).
STEP_GRADIENT_BYTES = {Regime.MASTER: 4, Regime.BF16_MASTER: 2}


def _step_gradient_item(job: DetailedJob, regime: Regime) -> LineItem:
    """ZeRO-3 with fp32 master weights: the step casts a sub-group's 16-bit gradient partition to fp32.

    The 16-bit gradient buffer stays allocated beside it; the partition is this GPU's 1/(dp x tp) of
    the parameters, cut into sub-groups of at most the framework's sub_group_size elements.
    """
    elements = job.runtime.terms.step_grad_elements
    if job.request.zero != 3 or regime not in STEP_GRADIENT_BYTES or not elements:
        return LineItem(Item.STEP_GRADIENT, "", 0, "0", {}, "")
    partition, size = job.params / (job.dp * job.tp), STEP_GRADIENT_BYTES[regime]
    return LineItem(Item.STEP_GRADIENT, "Master-dtype gradient of one sub-group at the step (ZeRO-3)",
                    round(size * min(partition, elements)), f"{size} B x min(params / (dp x tp), sub_group_size)",
                    {"params": job.params, "dp": job.dp, "tp": job.tp, "sub_group_size": elements},
                    job.runtime.terms.sources["step_grad_elements"])


def _sharder(job: DetailedJob) -> str:
    terms = job.runtime.terms
    if terms.zero_default and terms.zero_default == job.request.zero:
        return f"FSDP2 full shard, {job.runtime.name}'s way on several GPUs: {terms.sources['zero_default']}"
    if job.request.framework is not None:  # the framework named shards its own way
        return job.runtime.name
    return "FSDP full shard" if job.request.zero == 3 else "DeepSpeed"


def _regime_label(regime: Regime, dtype: Dtype) -> str:
    return {Regime.AMP: "fp32, AMP", Regime.MASTER: "16-bit, fp32 master",
            Regime.BF16_MASTER: "bf16, bf16 master"}.get(regime, f"pure {dtype}")
































