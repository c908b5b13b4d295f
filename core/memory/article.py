"""The seed article's rules (design.md 5.1), reproduced exactly, plus their plain extensions.

The article (shared/seed, after EleutherAI's "Transformer Math 101", Anthony et al. 2023) sums
weights, optimizer states, gradients and activations for training, and takes 1.2 x the weights
for inference. Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in
Large Transformer Models", arXiv:2205.05198, Table 2). Where the article is silent (several GPUs,
LoRA, 4-bit types) the same rules are extended with the source named on each line item.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from vram.catalog.resolve import Resolved
from vram.errors import UnsupportedError, VramError
from vram.formula import Formula
from vram.memory.job import Job, Said, job_fields
from vram.memory.result import Estimate, LineItem, formula_item
from vram.memory.rules import MEGATRON, ZERO, ZERO_SHARDED, dtype_bytes, optimizer_bytes, state_bytes
from vram.request.enums import (
    ADAPTER_TASKS, TRAINABLE_DTYPES, Dtype, Item, Method, Optimizer, Recompute, Regime, Task, mixed_by_default
)
from vram.request.lora import DEFAULT_RANK, DEFAULT_TARGETS
from vram.request.request import Request
from vram.units import format_count

ARTICLE = "seed article; EleutherAI Transformer Math 101"
KORTHIKANTI = "Korthikanti et al. 2022, Table 2"
LORA = "Hu et al. 2021 (LoRA), section 4; PEFT LoraConfig defaults"

#: Why a model-state item is divided by each degree.
SHARD_SOURCES: dict[str, str] = {"tp": MEGATRON, "pp": MEGATRON, "dp": ZERO, "gpus": MEGATRON}

#: Inference total = weights x (1 + this): the article's rule of thumb, overhead "within 20 %".
INFERENCE_OVERHEAD = 0.2

#: The article's precision regimes, by mixed precision or not: mixed is the master-weight regime
#: (16-bit weights and gradients, the fp32 master copy counted with the optimizer, as ZeRO counts
#: it); pure keeps everything in the model's dtype. The bytes are the shared rules' (memory/rules.py).
ARTICLE_REGIMES: dict[bool, Regime] = {True: Regime.MASTER, False: Regime.PURE}

#: Bytes a parameter of the weights take in training, by (dtype, mixed precision): 4 pure fp32,
#: 2 pure 16-bit, 2 mixed.
TRAINING_WEIGHT_BYTES: dict[tuple[Dtype, bool], float] = {
    (dtype, mixed): state_bytes(ARTICLE_REGIMES[mixed], dtype).weights
    for dtype in TRAINABLE_DTYPES for mixed in (False, True) if mixed_by_default(dtype) or not mixed
}

#: The article's mixed precision (the master-weight regime), where adapters and the optimizer table
#: take their bytes: 16-bit weights and gradients, the fp32 master copy and states in the optimizer.
MIXED = state_bytes(ARTICLE_REGIMES[True], Dtype.BF16)

#: Optimizer bytes a parameter: an fp32 master copy (4) plus the optimizer's own states, as the
#: article counts them (AdamW 4 + 4 + 4 = 12; bitsandbytes 8-bit 4 + 1 + 1 = 6, its block scales
#: left out; SGD with momentum 4 + 4 = 8). The others follow the same rule from their state count
#: (rules.STATE_VALUES): plain SGD 4, Lion 8, Adafactor 4.
OPTIMIZER_BYTES: dict[Optimizer, float] = {
    optimizer: optimizer_bytes(optimizer, MIXED, block_scales=False)
    for optimizer in Optimizer
}

#: Gradient bytes a parameter: gradients follow the model's dtype (article).
GRADIENT_BYTES: dict[Dtype, float] = {dtype: dtype_bytes(dtype) for dtype in TRAINABLE_DTYPES}


#: Activation bytes of all L layers, by (recompute, sequence parallel), from
#: Korthikanti et al. Table 2 (16-bit activations, 1-byte dropout masks). The first pipeline
#: stage holds p micro-batches of L/p layers, so the total does not depend on pp (their Eq. 5).
#: Flash attention (Dao et al. 2022) never stores the s x s scores, which drops the 5as/(ht) term
#: exactly as selective recompute does; the article's own formulas are the rows without it.
_NO_RECOMPUTE = Formula("s*b*h*L*(10 + 24/t + 5*a*s/(h*t))")
_SELECTIVE = Formula("s*b*h*L*(10 + 24/t)")
_SP_NO_RECOMPUTE = Formula("s*b*h*L*(34/t + 5*a*s/(h*t))")
_SP_SELECTIVE = Formula("s*b*h*L*34/t")
_FULL = Formula("2*s*b*h*L")
ACTIVATIONS: dict[tuple[Recompute, bool], Formula] = {
    (Recompute.NONE, False): _NO_RECOMPUTE,
    (Recompute.SELECTIVE, False): _SELECTIVE,
    (Recompute.FULL, False): _FULL,
    (Recompute.NONE, True): _SP_NO_RECOMPUTE,
    (Recompute.SELECTIVE, True): _SP_SELECTIVE,
    (Recompute.FULL, True): _FULL,  # the paper keeps 2sbhL: splitting it by t is possible but not used
}
#: The same formulas without the stored s x s attention scores (flash attention).
WITHOUT_SCORES: dict[Formula, Formula] = {_NO_RECOMPUTE: _SELECTIVE, _SP_NO_RECOMPUTE: _SP_SELECTIVE}

#: Defaults the article method fills in, each said among the assumptions.
DEFAULT_RECOMPUTE: dict[Task, Recompute] = {
    Task.TRAINING: Recompute.SELECTIVE,  # the article's training total uses it
    Task.LORA: Recompute.FULL,  # gradient checkpointing, as QLoRA and PEFT recipes enable it
    Task.QLORA: Recompute.FULL,
}


def estimate(resolved: Resolved) -> Estimate:
    """Memory of a resolved request by the article's rules."""
    request = resolved.request
    if request.objective is not None:
        raise UnsupportedError(f"the article's rules count one model; {request.objective} training runs more: "
                               "the detailed method answers it", field="method")
    if request.task in ADAPTER_TASKS and request.mixed_precision is not None:
        raise UnsupportedError("the article's rules keep adapters in one precision; for pure or mixed adapters "
                               "the detailed method answers", field="method")
    said = Said()
    job = _job(resolved, said)
    build: Callable[[_Job, Said], list[LineItem]] = _BUILDERS[request.task]
    items = tuple(build(job, said))
    per_gpu = sum(item.bytes for item in items)
    return Estimate(
        request=request, method=Method.ARTICLE, items=items, assumptions=said.lines(),
        gpu_count=job.gpu_count, job_total_bytes=per_gpu * job.gpu_count,
    )


@dataclass(frozen=True)
class _Job(Job):
    """The request with the article method's defaults filled in."""

    recompute: Recompute | None  #: None for inference
    flash: bool
    tp_pp_split: int  #: how many ways the model states split over tensor and pipeline parallelism

    def shards(self, key: Item) -> dict[str, int]:
        """The divisors of one GPU's share of a model-state item: tp, pp, and dp under ZeRO."""
        if self.request.task is Task.INFERENCE and self.tp * self.pp == 1:
            return {"gpus": self.tp_pp_split}
        shards = {"tp": self.tp, "pp": self.pp}
        if key in ZERO_SHARDED[self.request.zero]:
            shards["dp"] = self.dp
        return shards


def _job(resolved: Resolved, said: Said) -> _Job:
    fields = job_fields(resolved, said)
    request = resolved.request
    if request.engine is not None or request.framework is not None:
        said.say(f"the article's rules do not depend on the runtime: {resolved.runtime.name} is not "
                 "modelled by them (the detailed method models it)")
    recompute, flash = None, False
    if request.task is not Task.INFERENCE:
        recompute = said.default("recompute", request.recompute, DEFAULT_RECOMPUTE[request.task])
        flash = bool(request.flash_attention)
    split = _parallelism(request, fields["gpu_count"], fields["dp"], said)
    return _Job(**fields, recompute=recompute, flash=flash, tp_pp_split=split)


def _parallelism(request: Request, gpu_count: int, dp: int, said: Said) -> int:
    """How many ways tp and pp split the model states (said when the job spans GPUs)."""
    if gpu_count == 1:
        return 1
    if request.task is Task.INFERENCE and request.tp * request.pp == 1:
        said.say(f"{gpu_count} GPUs share one copy of the model, split evenly across them "
                 "(tensor or pipeline parallel); name tp/pp to be exact")
        return gpu_count
    if dp > 1:
        stage = request.zero
        how = ("each holds a full replica of the model states; say zero1-3 or fsdp to shard them"
               if stage == 0 else f"ZeRO stage {stage} shards {', '.join(sorted(ZERO_SHARDED[stage]))} over them")
        said.say(f"{dp} data-parallel GPU groups; {how}")
    return request.tp * request.pp


def _per_param_item(job: _Job, key: Item, label: str, per_param: float, count: float,
                    source: str, shard_key: Item | None = None, symbol: str = "params") -> LineItem:
    formula = f"{per_param:g} B/param x {symbol}"
    values: dict[str, float] = {symbol: count}
    divisor = 1
    for name, degree in job.shards(shard_key or key).items():
        if degree > 1:
            formula += f" / {name}"
            values[name] = degree
            divisor *= degree
            source += f"; / {name}: {SHARD_SOURCES[name]}"
    return LineItem(key, label, round(per_param * count / divisor), formula, values, source)


def _inference(job: _Job, said: Said) -> list[LineItem]:
    per_param = dtype_bytes(job.dtype)
    weights = _per_param_item(job, Item.WEIGHTS, f"Model weights ({job.dtype})", per_param, job.arch.params,
                              f"{ARTICLE}: {per_param:g} B a parameter in {job.dtype}")
    overhead = LineItem(
        Item.RUNTIME_OVERHEAD, f"Runtime overhead ({INFERENCE_OVERHEAD * 100:g} %)",
        round(weights.bytes * INFERENCE_OVERHEAD), f"{INFERENCE_OVERHEAD:g} x weights", {"weights": weights.bytes},
        f"{ARTICLE}: inference total ~ {1 + INFERENCE_OVERHEAD:g} x the weights",
    )
    return [weights, overhead]


def _training(job: _Job, said: Said) -> list[LineItem]:
    mixed = job.request.mixed_precision
    if mixed is None:
        mixed = mixed_by_default(job.dtype)
    regime = "mixed precision" if mixed else f"pure {job.dtype}"
    if job.request.mixed_precision is None:
        said.say(f"{regime} (default for {job.dtype} training)")
    if mixed:
        said.say("mixed precision: 16-bit weights and gradients, the fp32 master copy "
                 "counted with the optimizer (the article's accounting, as ZeRO's)")
    params = job.arch.params
    return [
        _per_param_item(job, Item.WEIGHTS, f"Model weights ({regime})", TRAINING_WEIGHT_BYTES[job.dtype, mixed],
                        params, ARTICLE),
        _per_param_item(job, Item.OPTIMIZER, f"Optimizer states ({job.optimizer})", OPTIMIZER_BYTES[job.optimizer],
                        params, _optimizer_source(job.optimizer)),
        _per_param_item(job, Item.GRADIENTS, f"Gradients ({job.dtype})", GRADIENT_BYTES[job.dtype], params, ARTICLE),
        _activations(job, said),
    ]


def _adapter_training(job: _Job, said: Said) -> list[LineItem]:
    rank = job.request.lora_rank or DEFAULT_RANK
    if job.request.lora_rank is None:
        said.say(f"LoRA rank {rank} (default, as PEFT's)")
    arch = job.arch
    targets = job.request.lora_targets or DEFAULT_TARGETS[job.request.task]
    adapters = arch.num_layers * len(targets) * rank * 2 * arch.hidden_size
    said.say(
        f"LoRA on {', '.join(targets)} of every layer, each taken as hidden x hidden (the article's model "
        f"has no other shape): r x (d_in + d_out) = {rank} x 2 x "
        f"{arch.hidden_size} parameters a module, {format_count(adapters)} trainable in all; the frozen base "
        f"has no gradients or optimizer states"
    )
    said.say("adapters trained in mixed precision: 16-bit weights and gradients, "
             "fp32 master copy with the optimizer (the article's accounting)")
    base_per_param = dtype_bytes(job.dtype)
    optimizer = OPTIMIZER_BYTES[job.optimizer]
    return [
        _per_param_item(job, Item.WEIGHTS, f"Frozen base weights ({job.dtype})", base_per_param, arch.params,
                        f"{ARTICLE}: {base_per_param:g} B a parameter in {job.dtype}"),
        _per_param_item(job, Item.ADAPTERS, "LoRA adapter weights", MIXED.weights, adapters, LORA, Item.WEIGHTS,
                        "adapter_params"),
        _per_param_item(job, Item.OPTIMIZER, f"Optimizer states ({job.optimizer}, adapters only)", optimizer,
                        adapters, _optimizer_source(job.optimizer), symbol="adapter_params"),
        _per_param_item(job, Item.GRADIENTS, "Gradients (adapters only)", MIXED.gradients, adapters, ARTICLE,
                        symbol="adapter_params"),
        _activations(job, said),
    ]


def _activations(job: _Job, said: Said) -> LineItem:
    sp, flash = job.request.sp, job.flash
    formula = ACTIVATIONS[job.recompute, sp]
    if flash:
        formula = WITHOUT_SCORES.get(formula, formula)
    if not sp:
        said.say("activations in 16-bit, no sequence parallelism (the article's formulas)")
    if job.recompute is Recompute.NONE and not flash:
        said.say("attention keeps its s x s scores (no flash attention), as in the article's formula")
    arch = job.arch
    values = {"s": job.seq_len, "b": job.batch_size, "h": arch.hidden_size, "L": arch.num_layers,
              "a": arch.num_heads, "t": job.tp}
    label = f"Activations ({job.recompute} recompute{', sp' if sp else ''}{', flash' if flash else ''})"
    return formula_item(Item.ACTIVATIONS, label, formula, values, KORTHIKANTI)


def _optimizer_source(optimizer: Optimizer) -> str:
    if optimizer in (Optimizer.ADAMW, Optimizer.ADAM8BIT, Optimizer.SGD_MOMENTUM):
        return ARTICLE
    return f"{ARTICLE}, extended: fp32 master copy 4 B + the optimizer's own states"


_BUILDERS: dict[Task, Callable[[_Job, Said], list[LineItem]]] = {
    Task.INFERENCE: _inference,
    Task.TRAINING: _training,
    **{task: _adapter_training for task in ADAPTER_TASKS},
}


@functools.lru_cache(maxsize=4096)
def article_total(resolved: Resolved) -> int | None:
    """The article's total for a resolved request (None where its rules cannot answer it)."""
    try:
        return estimate(resolved).total_bytes
    except VramError:
        return None
