"""The detailed method (design.md 5.2): exact architecture, saved tensors, peak over the phases.

Where the article sums weights, optimizer, gradients and activations, this models when each is
live: a training step's forward pass (weights, autocast's 16-bit copies, optimizer states from the
step before, saved activations, logits and loss) and its optimizer step (weights, gradients,
states, the step's temporaries); inference's load, prefill and decode. The answer is the peak,
its phase, what is live there, and a range for what no formula can know (CUDA context size,
allocator fragmentation). Defaults follow a typical Hugging Face + PyTorch job, each one said.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from dataclasses import dataclass

from . import catalog, models, parallel
from .activations import (
    FAMILY_ACTIVATIONS, FUSED_GATE_UP, FUSED_QKV, KORTHIKANTI, LAYER_INPUT, MEASURED, QK_NORM_FAMILIES, BlockOptions,
    backward_terms, joined, layer_terms, outside_terms,
)
from .catalog import ModelSpec
from .enums import DTYPE_BITS, Dtype, Method, Recompute, Regime, Task
from .errors import UnsupportedError
from .estimate import Estimate, LineItem, Phase, formula_item
from .formula import Formula, formula
from .job import BEYOND as _BEYOND, Job, beyond as _beyond
from .params import ParameterCount, count_parameters
from .precision import (
    STEP_TEMPORARIES, state_bytes, optimizer_bytes, optimizer_source,
)
from .request import Request
from .runtime import CUDA_CONTEXT_BYTES, CUDA_CONTEXT_HIGH, CUDA_CONTEXT_LOW, cuda_context_item
from .units import format_bytes, format_count

#: Source: transformers PreTrainedModel._autoset_attn_implementation (huggingface/transformers#27940):
#: sdpa is the default attention when torch >= 2.1.1.
HF_SDPA = "transformers uses sdpa attention with PyTorch >= 2.1.1"
HF_LOSS = ("transformers ForCausalLMLoss: logits upcast to fp32 before cross_entropy (log_softmax output saved); "
           "at the start of backward nll_loss's gradient and the logits' gradient beside it (measured)")

#: Logits and loss of training, at their largest: the start of backward. In the forward pass the
#: head's 16-bit logits, their fp32 upcast and log_softmax's fp32 output are live together
#: ((c + 4 + 4)bsv, or (4 + 4)bsv in fp32); the 16-bit logits go with the model's output, and the
#: loss's backward then holds log_softmax's saved output, nll_loss's gradient of it and
#: _log_softmax_backward_data's gradient of the logits, each fp32: 12bsv, the larger (measured).
TRAINING_LOGITS = Formula("(4 + 4 + 4)*b*s*v")
#: A tied embedding's gradient reaches the shared matrix twice (the head's, then the embedding's):
#: autograd's input buffer sums the two out of place, so both halves and their sum are live
#: (measured: embedding_dense_backward and add, each vocab x hidden, at the end of backward).
TIED_GRADIENTS = Formula("2*g*v*h")
TIED_SOURCE = "torch.autograd InputBuffer::add accumulates a leaf's gradients out of place (measured)"


def estimate(request: Request) -> Estimate:
    """Memory of ``request`` by the detailed model."""
    uncovered = not_covered(request)
    if uncovered:
        raise UnsupportedError(f"the detailed method does not model {uncovered} yet; "
                               "method=article answers it", field="method")
    key = _job_key(request)
    kept = _KEPT.get(key) if key is not None else None
    if kept is not None:
        return _at_sizes(*kept, request)
    result = _estimate(request)
    sized = tuple(i for i, item in enumerate(result.items) if "b" in item.values or "s" in item.values)
    # only items with an expression can be evaluated again; a job with any other sized item is not kept
    if key is not None and all(result.items[i].expression is not None for i in sized):
        if len(_KEPT) >= MAX_KEPT:
            for old in list(_KEPT)[: MAX_KEPT // 2]:
                del _KEPT[old]
        general = tuple(a for a in result.assumptions if not a.startswith(_BEYOND))
        _KEPT[key] = (result, sized, general)
    return result


def _estimate(request: Request) -> Estimate:
    from .detailed_inference import inference_items

    job = DetailedJob(request)
    if request.task is Task.INFERENCE:
        items, phases = inference_items(job)
    else:
        items, phases = _adapter_items(job) if request.task in (Task.LORA, Task.QLORA) else _training_items(job)
        if parallel.is_parallel(job):
            items, phases = parallel.apply(job, items, phases)
    return finish(job, items, phases)


def not_covered(request: Request) -> str | None:
    """What of ``request`` the detailed method cannot answer yet (None when it can)."""
    if request.task is Task.INFERENCE and (request.tp > 1 or request.pp > 1):
        return "tensor or pipeline parallel inference"
    return None


class DetailedJob(Job):
    """The request with the detailed method's defaults, and the model's exact architecture."""

    def __init__(self, request: Request) -> None:
        self.checkpoint = models.resolve(request.model).checkpoint if request.model else None
        super().__init__(request)
        self.spec = _model_spec(self)
        self.counts: ParameterCount = count_parameters(self.spec)
        self.params = self.counts.total if self.arch.spec is not None else self.arch.params
        if self.arch.spec is None:  # a bare size: the reference's shares, at the size given
            self.counts = self.counts.scaled_to(self.params)
        if self.arch.spec is not None:
            self.assumptions.append(
                f"{self.spec.id} has {self.params:,} parameters counted from its architecture "
                f"(the article takes the nominal {format_count(self.spec.nominal_params)})")
        self.fused_attention = self.default(
            "flash_attention", request.flash_attention, True, f"{HF_SDPA}, which keeps no s x s scores")
        self.compute_bytes = 4 if self.dtype is Dtype.FP32 else 2

    def default_dtype(self) -> tuple[Dtype, str]:
        if self.checkpoint is not None and self.request.task is Task.INFERENCE:
            return Dtype.FP16, "compute; the weights are sized as the checkpoint stores them"
        return super().default_dtype()

    def values(self) -> dict[str, float]:
        """The symbols of the formulas, for this job."""
        spec, moe = self.spec, self.spec.num_experts is not None
        inner = spec.moe_intermediate_size or spec.intermediate_size
        if moe:  # each token runs its experts (and the shared ones): their inner size adds up
            inner *= spec.experts_per_token + (spec.num_shared_experts or 0)
        return {"b": self.batch_size, "s": self.seq_len, "h": spec.hidden_size, "a": spec.num_heads,
                "k": spec.num_kv_heads, "d": spec.head_dim, "f": inner, "v": spec.vocab_size,
                "L": spec.num_layers, "c": self.compute_bytes, "n": self.compute_bytes, "p": self.compute_bytes,
                "x": spec.experts_per_token or 0}


def _model_spec(job: Job) -> ModelSpec:
    """The catalog's model, or for a bare size the reference architecture (with any h, L, a given)."""
    if job.arch.spec is not None:
        return job.arch.spec
    base = catalog.nearest_dense_model(job.arch.params)
    request = job.request
    if not (request.hidden_size or request.num_layers or request.num_heads):
        return base
    h, heads = job.arch.hidden_size, job.arch.num_heads
    job.assumptions.append(
        f"the rest of the architecture (MLP {base.mlp}, {base.intermediate_size / base.hidden_size:g} x hidden, "
        f"{base.norm}, vocabulary {base.vocab_size}) follows {base.id}")
    return dataclasses.replace(
        base, id=f"{base.id}-shaped", hidden_size=h, num_layers=job.arch.num_layers, num_heads=heads,
        num_kv_heads=heads, head_dim=h // heads,
        intermediate_size=round(base.intermediate_size * h / base.hidden_size))


# -- training -------------------------------------------------------------------------------------

def _regime(job: DetailedJob) -> Regime:
    request = job.request
    if request.precision_regime is not None:
        return request.precision_regime
    mixed = request.mixed_precision if request.mixed_precision is not None else job.dtype is not Dtype.FP32
    if not mixed:
        return Regime.PURE
    if request.zero or request.tp > 1 or request.pp > 1:  # DeepSpeed's and Megatron's mixed precision
        who = "ZeRO (DeepSpeed)" if request.zero else "Megatron-style tensor/pipeline parallelism"
        job.assumptions.append(f"{who} mixed precision: 16-bit weights and gradients, fp32 master weights and "
                               "states in the optimizer (2 + 2 + 12 bytes for AdamW, the ZeRO paper's count)")
        return Regime.MASTER
    job.assumptions.append("PyTorch AMP (autocast): fp32 weights, gradients and optimizer states, 16-bit "
                           "compute, as Hugging Face's Trainer runs bf16=True on a model loaded in fp32; "
                           "say 'pure' for a model loaded in 16 bits, 'master' for DeepSpeed/Megatron")
    return Regime.AMP


@dataclass(frozen=True)
class TrainingSettings:
    """How a training job runs, every open choice filled with the typical Hugging Face default."""

    regime: Regime
    recompute: Recompute
    foreach: bool  #: torch.optim foreach step (full-size temporaries) rather than fused
    options: BlockOptions  #: the block as it runs: norm, MLP, attention kernel, dropout


def training_settings(job: DetailedJob) -> TrainingSettings:
    """The settings of ``job``'s training step; each default is said among the assumptions."""
    if job.dp > 1 and job.request.zero == 0:
        job.assumptions.append(f"{job.dp} data-parallel GPU groups: each holds a full replica and its own batch "
                               "(DDP); say zero1-3 or fsdp to shard the model states")
    elif job.dp > 1:
        job.assumptions.append(f"ZeRO stage {job.request.zero} over {job.dp} data-parallel GPU groups "
                               f"({'FSDP full shard' if job.request.zero == 3 else 'DeepSpeed'})")
    regime = _regime(job)
    recompute = job.default("recompute", job.request.recompute, Recompute.NONE,
                            "Hugging Face's gradient_checkpointing is off by default")
    foreach = job.default("optimizer_foreach", job.request.optimizer_foreach, False,
                          "fused, as Hugging Face Trainer's adamw_torch_fused; say 'foreach' for torch.optim's default")
    return TrainingSettings(regime, recompute, foreach, block_options(job, autocast=regime is Regime.AMP))


def _training_items(job: DetailedJob) -> tuple[list[LineItem], list[Phase]]:
    settings = training_settings(job)
    regime, recompute, options = settings.regime, settings.recompute, settings.options
    states = state_bytes(regime, job.dtype)
    values = job.values()
    if regime is Regime.AMP:
        values["n"] = 4  # the fp32 embedding output makes the residual stream fp32
        values["p"] = 4  # autocast's fp32 ops (pow, softmax, layer_norm) return fp32
    params, p = job.params, {"params": job.params}
    casts = job.counts.attention + job.counts.mlp + job.spec.vocab_size * job.spec.hidden_size
    opt_bytes = optimizer_bytes(job.optimizer, states)
    temporaries = STEP_TEMPORARIES[job.optimizer] * states.state_value if settings.foreach else 0
    tied = job.spec.tie_embeddings
    values["g"] = states.gradients
    items = [
        LineItem("weights", f"Model weights ({_regime_label(regime, job.dtype)})", round(states.weights * params),
                 f"{states.weights:g} B/param x params", p, states.source),
        LineItem("weight_casts", "16-bit weight copies (autocast)", round(states.weight_casts * casts),
                 f"{states.weight_casts:g} B/param x matmul_params", {"matmul_params": casts}, states.source),
        LineItem("gradients", "Gradients", round(states.gradients * params),
                 f"{states.gradients:g} B/param x params", p, states.source),
        LineItem("optimizer", f"Optimizer states ({job.optimizer})", round(opt_bytes * params),
                 f"{opt_bytes:g} B/param x params", p, optimizer_source(job.optimizer, states)),
        LineItem("optimizer_temp", "Optimizer step temporaries (foreach)", round(temporaries * params),
                 f"{temporaries:g} B/param x params", p,
                 "torch.optim foreach AdamW (the CUDA default without fused=True): "
                 "_foreach_sqrt(exp_avg_sqs) makes a full-size list"),
        _activations_item(options, recompute, values),
        formula_item("logits", "Logits and loss, start of backward (fp32)", TRAINING_LOGITS, values, HF_LOSS),
        _backward_layer_item(options, recompute, values),
        formula_item("tied_gradients", "Tied embedding: both gradient halves, being summed",
                      TIED_GRADIENTS if tied else formula("0"), values, TIED_SOURCE),
        cuda_context_item(),
    ]
    items = [item for item in items if item.bytes or item.key == "activations"]
    keys = {item.key for item in items}

    def live(*wanted: str) -> list[str]:
        return [k for k in (*wanted, "cuda_context") if k in keys]

    phases = [
        phase("start of backward", items, live("weights", "weight_casts", "optimizer", "activations", "logits"),
              "optimizer states from the step before; every saved activation; the loss's gradient through "
              "log_softmax; no parameter gradient yet (zero_grad sets them to None)"),
        phase("backward, first layer", items, live("weights", "optimizer", "gradients", "backward_layer"),
              "the last layer backward reaches: the other gradients made, its own saved tensors (recomputed "
              "under full recompute) and its MLP's gradients"),
        phase("optimizer step", items, live("weights", "gradients", "optimizer", "optimizer_temp"),
              "activations freed; the first step allocates the states here"),
    ]
    if tied:
        phases.insert(2, phase("tied embedding gradient sum", items,
                               live("weights", "optimizer", "gradients", "tied_gradients"),
                               "autograd sums the head's and the embedding's gradient of the shared matrix "
                               "out of place"))
    return items, phases


def _adapter_items(job: DetailedJob) -> tuple[list[LineItem], list[Phase]]:
    from .detailed_adapters import adapter_items, default_recompute

    recompute = default_recompute(job)
    values = {**job.values(), "g": 4}  # the adapters' gradients are fp32
    options = block_options(job)  # the base runs in its own 16-bit dtype: no autocast copies of it
    return adapter_items(job, _activations_item(options, recompute, values),
                         formula_item("logits", "Logits and loss, start of backward (fp32)", TRAINING_LOGITS,
                                       values, HF_LOSS),
                         _backward_layer_item(options, recompute, values))


def _regime_label(regime: Regime, dtype: Dtype) -> str:
    return {Regime.AMP: "fp32, AMP", Regime.MASTER: "16-bit, fp32 master"}.get(regime, f"pure {dtype}")


def block_options(job: DetailedJob, autocast: bool = False) -> BlockOptions:
    spec = job.spec
    dropout = job.request.dropout
    if dropout is None:
        dropout = spec.dropout
        if job.request.task is not Task.INFERENCE:
            job.assumptions.append(f"dropout {'on' if dropout else 'off'}, as {spec.id}'s config sets it")
    # Hugging Face's Llama-family eager attention (RMSNorm models) takes the softmax in fp32;
    # GPT-2, OPT and BLOOM take it in the compute dtype.
    return BlockOptions(norm=spec.norm, mlp=spec.mlp, fused_attention=job.fused_attention,
                        dropout=dropout, fp32_softmax=spec.norm == "rmsnorm",
                        activation=FAMILY_ACTIVATIONS.get(spec.family, "gelu"), autocast=autocast,
                        half=job.compute_bytes == 2, fused_qkv=spec.family in FUSED_QKV,
                        fused_gate_up=spec.family in FUSED_GATE_UP, moe=spec.num_experts is not None,
                        qk_norm=spec.family in QK_NORM_FAMILIES)


def _activations_item(options: BlockOptions, recompute: Recompute, values: dict[str, float]) -> LineItem:
    text, why = _activations_formula(options, recompute)
    label = f"Activations ({recompute} recompute, {'flash/sdpa' if options.fused_attention else 'eager'})"
    return formula_item("activations", label, formula(text), values, f"{KORTHIKANTI}; {MEASURED}; {why}")


@functools.lru_cache(maxsize=256)
def _activations_formula(options: BlockOptions, recompute: Recompute) -> tuple[str, str]:
    """The activations' formula text for a block and a recompute policy (built once for each)."""
    layer = joined(layer_terms(options, drop_quadratic=recompute is Recompute.SELECTIVE))
    outside = joined(outside_terms(options))
    if recompute is Recompute.FULL:
        text = f"L*{LAYER_INPUT.formula} + {outside}"
        why = ("checkpointing keeps each layer's input; the layer recomputed in backward is counted "
               "where backward reaches it")
    else:
        text = f"L*({layer}) + {outside}"
        why = f"every layer's saved tensors ({recompute} recompute)"
    return text, why


def _backward_layer_item(options: BlockOptions, recompute: Recompute, values: dict[str, float]) -> LineItem:
    return formula_item("backward_layer", "Backward through one layer (its tensors, its MLP's gradients)",
                         _backward_formula(options, recompute), values,
                         f"{MEASURED}: the first layer's backward, the last to run, with every other gradient made")


@functools.lru_cache(maxsize=256)
def _backward_formula(options: BlockOptions, recompute: Recompute) -> Formula:
    terms = backward_terms(options)
    if recompute is Recompute.SELECTIVE:
        terms = [t for t in terms if not t.quadratic]
    return formula(joined(terms))


# -- shared pieces --------------------------------------------------------------------------------

def phase(name: str, items: list[LineItem], keys: list[str], note: str) -> Phase:
    by_key = {item.key: item.bytes for item in items}
    return Phase(name, sum(by_key[k] for k in keys), tuple(keys), note)


def finish(job: DetailedJob, items: list[LineItem], phases: list[Phase]) -> Estimate:
    """The Estimate: peak over the phases, range, fit, and the article's figure beside it."""
    return _assembled(job.request, tuple(items), tuple(phases), tuple(job.assumptions), job.gpu_count,
                      getattr(job, "host_bytes", 0))


def _assembled(request: Request, items: tuple[LineItem, ...], phases: tuple[Phase, ...],
               assumptions: tuple[str, ...], gpu_count: int, host_bytes: int = 0) -> Estimate:
    # the one assumption that depends on the context length goes last, so a kept job can redo it
    assumptions = tuple(a for a in assumptions if not a.startswith(_BEYOND))
    spec = request.architecture().spec
    if spec is not None and request.seq_len and request.seq_len > spec.max_seq_len:
        assumptions += (_beyond(request.seq_len, spec),)
    peak = max(p.bytes for p in phases)
    slack_item = max((i for i in items if i.key in ("activations", "logits")), key=lambda i: i.bytes)
    low = peak - CUDA_CONTEXT_BYTES + CUDA_CONTEXT_LOW
    high = peak - CUDA_CONTEXT_BYTES + CUDA_CONTEXT_HIGH + slack_item.bytes
    return Estimate(
        request=request, method=Method.DETAILED, items=items, assumptions=assumptions,
        gpu_count=gpu_count, job_total_bytes=peak * gpu_count, total_bytes=peak, phases=phases,
        low_bytes=low, high_bytes=high, range_reasons=_range_reasons(slack_item.label), host_bytes=host_bytes,
    )


@functools.lru_cache(maxsize=64)
def _range_reasons(slack_label: str) -> tuple[str, str]:
    return (f"CUDA context: {format_bytes(CUDA_CONTEXT_LOW)} to {format_bytes(CUDA_CONTEXT_HIGH)} GB depending on "
            "the CUDA version and lazy module loading",
            f"PyTorch's caching allocator can hold freed blocks it cannot reuse: up to the largest "
            f"transient tensors again ({slack_label.lower()})")


# -- sweeps: the same job at another batch size or context -----------------------------------------
#
# A sweep varies batch and context over one job; everything else of the estimate (the model, its
# parameters, the states, the formulas, the defaults said) is the same. An estimate is kept a
# job (its fields less batch and context, and whether those were given); another batch or context
# re-evaluates only the items whose formulas use b or s, and the phases over them.

#: Jobs kept (a sweep's distinct jobs): beyond this the oldest half goes.
MAX_KEPT = 4096
_KEPT: dict[tuple, Estimate] = {}
_SIZE_FIELDS = ("batch_size", "seq_len")
_JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Request) if f.name not in _SIZE_FIELDS)


_job_fields = operator.attrgetter(*_JOB_FIELDS)


def _job_key(request: Request) -> tuple | None:
    if request.tp > 1 or request.pp > 1:
        return None  # tensor-parallel activations are shares of the items, not their formulas
    return _job_fields(request), request.batch_size is None, request.seq_len is None


def _at_sizes(kept: Estimate, sized: tuple[int, ...], general: tuple[str, ...], request: Request) -> Estimate:
    """``kept``'s job at ``request``'s batch size and context: only the ``sized`` items (those whose
    formulas use b or s) are evaluated again."""
    items = list(kept.items)
    for i in sized:
        items[i] = _resized(items[i], request.batch_size, request.seq_len)
    by_key = {item.key: item.bytes for item in items}
    phases = tuple(Phase(p.name, sum(by_key[k] for k in p.live), p.live, p.note) for p in kept.phases)
    return _assembled(request, tuple(items), phases, general, kept.gpu_count, kept.host_bytes)


def _resized(item: LineItem, b: int | None, s: int | None) -> LineItem:
    values = item.values
    new_b = b is not None and values.get("b", b) != b
    new_s = s is not None and values.get("s", s) != s
    if not (new_b or new_s):
        return item
    values = dict(values)
    if new_b:
        values["b"] = b
    if new_s:
        values["s"] = s
    return LineItem(item.key, item.label, item.expression.bytes(values), item.formula, values, item.source,
                    item.expression)


def storage_bytes(dtype: Dtype) -> float:
    return DTYPE_BITS[dtype] / 8
