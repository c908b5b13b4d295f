"""One GPU's share of a training job spread over GPUs: ZeRO / FSDP, tensor, pipeline and sequence
parallelism, applied to the detailed method's line items (the most-loaded GPU's).

- Model states: tensor parallelism splits every matrix t ways (Megatron-LM, Shoeybi et al. 2019;
  vocabulary-parallel embedding and head); pipeline parallelism gives each stage ceil(L/p) layers,
  the first stage the embedding and the last the head, and the most loaded of the two is answered
  for. ZeRO then shards over the data-parallel group what its stage shards (Rajbhandari et al.
  2019: optimizer states, + gradients, + weights; FSDP full shard is stage 3), and stage 3 gathers
  the layer it runs: DeepSpeed's estimator counts 4 bytes for each parameter of the largest layer.
- Activations (Korthikanti et al. 2022): tensor parallelism splits what is per head or per MLP
  column (the symbols a, k, f of each term), sequence parallelism also the rest (norms, dropout,
  the residual stream) along the sequence; the first pipeline stage holds p micro-batches of L/p
  layers, L layers' worth, so pipelining does not reduce it. Logits are vocabulary-parallel.
- Plain DDP keeps its all-reduce buckets beside the gradients, a second copy of them (PyTorch
  DistributedDataParallel docs, gradient_as_bucket_view).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vram.catalog.runtimes import Fsdp2Groups
from vram.memory.detailed.allocator import (
    CACHING_ALLOCATOR, FSDP2_POOLS, all_gather_pool, reduce_scatter_pool
)
from vram.memory.result import LineItem, Phase
from vram.memory.rules import MEGATRON, ZERO, ZERO_SHARDED
from vram.request.enums import Item, Offload, PhaseName

if TYPE_CHECKING:
    from vram.memory.detailed.common import DetailedJob
    from vram.memory.job import Said

#: Which model-state category each line item belongs to.
STATE_CATEGORIES: dict[Item, str] = {
    Item.WEIGHTS: "weights", Item.WEIGHT_CASTS: "weights", Item.ADAPTERS: "weights",
    Item.QUANT_OVERHEAD: "weights",
    Item.GRADIENTS: "gradients", Item.TIED_GRADIENTS: "gradients",
    Item.OPTIMIZER: "optimizer", Item.OPTIMIZER_TEMP: "optimizer",
    # post-training's other models: frozen ones are weights (ZeRO-3 shards them as it does the
    # policy's; TRL prepares them with the same DeepSpeed config); the value model's states are
    # mostly optimizer states, sharded from stage 1 on
    Item.REFERENCE_MODEL: "weights", Item.REWARD_MODEL: "weights", Item.TEACHER: "weights",
    Item.VALUE_MODEL: "optimizer",
}
ACTIVATION_KEYS = frozenset({Item.ACTIVATIONS, Item.BACKWARD_LAYER, Item.VALUE_ACTIVATIONS})
KORTHIKANTI_TP = "Korthikanti et al. 2022, Table 2: tensor / sequence parallel activations"
DDP_BUCKETS = "PyTorch DistributedDataParallel docs: all-reduce buckets hold a copy of the gradients " \
              "(gradient_as_bucket_view=False, the default)"
DEEPSPEED_GATHER = "DeepSpeed memory estimator (docs memory.rst): ZeRO-3 keeps 4 bytes a parameter of the largest layer"


def is_parallel(job) -> bool:
    """Spread over GPUs, or ZeRO offloading to host memory (which DeepSpeed does on one GPU too)."""
    return job.gpu_count > 1 or job.tp > 1 or job.pp > 1 or bool(
        job.request.zero and job.request.offload not in (None, Offload.NONE))


def _offloads_params(job) -> bool:
    return job.request.zero == 3 and job.request.offload is Offload.PARAMS


def apply(job: DetailedJob, items: list[LineItem], phases: list[Phase],
          said: Said) -> tuple[list[LineItem], list[Phase], int]:
    """The most-loaded GPU's items and phases for a training job spread over ``job.gpu_count`` GPUs,
    and the host memory (all GPUs' together) that CPU offload takes."""
    share, stage_note = _stage_share(job)
    share *= _expert_share(job, said)
    zero = job.request.zero
    shared: list[LineItem] = []
    for item in items:
        if item.key in STATE_CATEGORIES:
            shared.append(_state_share(item, job, share, STATE_CATEGORIES[item.key] in ZERO_SHARDED[zero]))
        elif item.key in ACTIVATION_KEYS and job.tp > 1:
            shared.append(_activation_share(item, job))
        elif item.key == Item.LOGITS and job.tp > 1:
            shared.append(_divided(item, {"tp": job.tp}, KORTHIKANTI_TP))
        else:
            shared.append(item)
    shared, host_bytes = _offloaded(job, shared)
    extra = _extra_items(job, shared)
    if stage_note:
        said.say(stage_note)
    by_key = {item.key: item.bytes for item in shared + extra}
    phases = [Phase(p.name, sum(by_key[k] for k in p.live) + sum(e.bytes for e in extra if _live(e, p)),
                    p.live + tuple(e.key for e in extra if _live(e, p)), p.note) for p in phases]
    return shared + extra, phases, host_bytes


#: What DeepSpeed's CPU offload moves to host memory, by what the query offloads (its memory
#: estimator: ZeRO-2 with offload keeps 2 bytes a parameter on the GPU, the fp16 weights; ZeRO-3
#: offloading the parameters too keeps only the layer it gathers).
OFFLOADED: dict[Offload, frozenset[str]] = {
    Offload.NONE: frozenset(),
    Offload.OPTIMIZER: frozenset({Item.OPTIMIZER, Item.OPTIMIZER_TEMP, Item.GRADIENTS, Item.STEP_GRADIENT}),
    Offload.PARAMS: frozenset({Item.OPTIMIZER, Item.OPTIMIZER_TEMP, Item.GRADIENTS, Item.STEP_GRADIENT,
                               Item.WEIGHTS, Item.WEIGHT_CASTS}),
}
DEEPSPEED_OFFLOAD = "DeepSpeed memory estimator (docs memory.rst): offloaded states live in CPU memory"


def _offloaded(job, items: list[LineItem]) -> tuple[list[LineItem], int]:
    """Items moved to host memory show as 0 bytes on the GPU; their sum over all GPUs is the host's."""
    moved = OFFLOADED[job.request.offload or Offload.NONE]
    host = sum(item.bytes for item in items if item.key in moved) * job.gpu_count
    return [LineItem(item.key, f"{item.label}: in CPU memory (offloaded)", 0, item.formula, item.values,
                     f"{item.source}; {DEEPSPEED_OFFLOAD}") if item.key in moved else item for item in items], host


def _expert_share(job: DetailedJob, said: Said) -> float:
    """With expert parallelism each GPU holds 1/ep of the routed experts (and their states)."""
    spec = job.spec
    if job.request.ep == 1 or spec.num_experts is None:
        return 1.0
    moe_layers = spec.num_layers - (spec.first_dense_layers or 0)
    matrices = 3 if spec.mlp == "gated" else 2
    routed = spec.num_experts * matrices * spec.hidden_size * (spec.moe_intermediate_size or spec.intermediate_size)
    routed *= moe_layers
    said.say(f"expert parallelism {job.request.ep}: each GPU holds {spec.num_experts // job.request.ep} "
             f"of the {spec.num_experts} routed experts of each layer")
    return 1 - routed * (1 - 1 / job.request.ep) / job.counts.total


def _live(item: LineItem, phase: Phase) -> bool:
    # buckets stay allocated from the first backward on; a ZeRO-3 gather lives while layers run
    return item.key == Item.DDP_BUCKETS or (item.key == Item.ZERO3_GATHER
                                            and phase.name != PhaseName.OPTIMIZER_STEP) or (
        item.key == Item.REDUCE_BUCKET and phase.name != PhaseName.START_OF_BACKWARD)


def _stream_pools(job) -> LineItem:
    """FSDP2's all-gather and reduce-scatter pools, which the caching allocator keeps for their
    streams: reserved beside the peak, never live in it (the gradients in the pool are counted as
    gradients where they are live)."""
    counts, layers, terms = job.counts, job.spec.num_layers, job.runtime.terms
    groups = _fsdp2_groups(counts, job.spec.hidden_size, layers, job.tp, terms.fsdp2_groups)
    gathered = all_gather_pool(groups, terms.gathered_bytes)
    reduced = reduce_scatter_pool(groups, job.dp, terms.fsdp2_reduce_bytes)
    return LineItem(Item.STREAM_POOLS, "FSDP2's collective streams' pools (reserved, not live at the peak)",
                    gathered + reduced, "all_gather_pool + reduce_scatter_pool",
                    {"all_gather_pool": gathered, "reduce_scatter_pool": reduced, "block_params": round(groups[1]),
                     "embedding_params": round(counts.embedding / job.tp), "shards": job.dp},
                    f"{CACHING_ALLOCATOR}; {FSDP2_POOLS}; {terms.sources['fsdp2_reduce_bytes']}; "
                    f"{terms.sources.get('fsdp2_groups', '')}".rstrip("; "))


def _fsdp2_groups(counts, hidden: int, layers: int, tp: int, layout: Fsdp2Groups) -> list[float]:
    """One GPU's parameters a group, in forward order: the blocks, and around them the embedding,
    the final norm and the head as ``layout`` groups them (a tensor-parallel GPU holds 1/tp)."""
    block = (counts.total - counts.embedding - counts.head - hidden) / layers / tp
    if layout is Fsdp2Groups.ROOT or not counts.head:  # a tied head: one group with the embedding, used first
        return [(counts.embedding + counts.head + hidden) / tp] + [block] * layers
    return [counts.embedding / tp] + [block] * layers + [(counts.head + hidden) / tp]


def _stage_share(job) -> tuple[float, str]:
    """The share of the model's parameters the most-loaded pipeline stage holds."""
    if job.pp == 1:
        return 1.0, ""
    counts, spec = job.counts, job.spec
    per_layer = (counts.attention + counts.mlp) / spec.num_layers + 2 * (counts.norms / (2 * spec.num_layers + 1))
    layers = math.ceil(spec.num_layers / job.pp)
    first = layers * per_layer + counts.embedding
    last = layers * per_layer + counts.head + counts.norms / (2 * spec.num_layers + 1)
    heaviest, which = max((first, "first"), (last, "last"))
    uneven = f" (uneven: {spec.num_layers} layers on {job.pp} stages, the most loaded counted)" \
        if spec.num_layers % job.pp else ""
    note = (f"pipeline stages of {layers} layers{uneven}; the {which} stage, with the "
            f"{'embedding' if which == 'first' else 'output head'}, holds the most")
    return heaviest / counts.total, note


def _state_share(item: LineItem, job, share: float, sharded: bool) -> LineItem:
    divisors = {"tp": job.tp} if job.tp > 1 else {}
    if sharded and job.dp > 1:
        divisors["dp"] = job.dp
    if share != 1.0:
        divisors["1/stage_share"] = 1 / share
    return _divided(item, divisors, f"{MEGATRON}; {ZERO}" if sharded else MEGATRON)


def _divided(item: LineItem, divisors: dict[str, float], source: str) -> LineItem:
    if not divisors:
        return item
    text = f"({item.formula})" + "".join(f" / {name}" for name in divisors if not name.startswith("1/"))
    values = {**item.values, **{k: v for k, v in divisors.items() if not k.startswith("1/")}}
    if "1/stage_share" in divisors:
        text += " x stage_share"
        values["stage_share"] = round(1 / divisors["1/stage_share"], 6)
    total = item.bytes / math.prod(divisors.values())
    return LineItem(item.key, item.label, math.ceil(total), text, values, f"{item.source}; {source}")


def _activation_share(item: LineItem, job) -> LineItem:
    """Per-head and per-column terms split t ways; with sp the rest too (along the sequence)."""
    t = job.tp
    text, values, expression = item.formula, dict(item.values), item.expression
    if expression is None:
        raise TypeError(f"{item.key} has no expression to split by tp")  # a bug, not a query's fault
    split = {**values, **{s: values[s] / t for s in ("a", "k", "f") if s in values}}
    total = expression.value(split)
    if job.request.sp:
        rest = expression.value({**values, **{s: 0 for s in ("a", "k", "f") if s in values}})
        total -= rest * (1 - 1 / t)
    label = f"{item.label}, / tp{' and sp' if job.request.sp else ''}"
    shown = f"{text}  with a, k, f / tp" + ("; the rest / tp (sp)" if job.request.sp else "")
    return LineItem(item.key, label, math.ceil(total), shown, {**values, "tp": t}, f"{item.source}; {KORTHIKANTI_TP}")


def _extra_items(job, items: list[LineItem]) -> list[LineItem]:
    extra = []
    by_key = {item.key: item for item in items}
    # PyTorch DDP's buckets; Megatron (tp/pp) reduces from its own contiguous gradient buffer
    if job.request.zero == 0 and job.dp > 1 and job.tp * job.pp == 1 and Item.GRADIENTS in by_key:
        grads = by_key[Item.GRADIENTS]
        extra.append(LineItem(Item.DDP_BUCKETS, "DDP all-reduce buckets (a copy of the gradients)", grads.bytes,
                              "gradients", {"gradients": grads.bytes}, DDP_BUCKETS))
    terms = job.runtime.terms
    if job.request.zero == 3 and (job.dp > 1 or _offloads_params(job)):  # on one GPU: brought in from the host
        largest = max(job.counts.embedding, (job.counts.attention + job.counts.mlp) / job.spec.num_layers) / job.tp
        units, size = terms.gathered_units, terms.gathered_bytes
        label = "ZeRO-3: the largest layer, gathered" if units == 1 else \
            f"ZeRO-3 / FSDP: {units} of the largest layer gathered (running, prefetched)"
        extra.append(LineItem(Item.ZERO3_GATHER, label, math.ceil(units * size * largest),
                              f"{units} x {size} B/param x largest_layer_params" if units > 1 else
                              f"{size} B/param x largest_layer_params",
                              {"largest_layer_params": round(largest)},
                              terms.sources.get("gathered_units", DEEPSPEED_GATHER)))
    if terms.fsdp2_reduce_bytes and job.request.zero == 3 and job.dp > 1 and job.pp == 1 and job.request.ep == 1:
        extra.append(_stream_pools(job))
    if job.request.zero in (1, 2) and job.dp > 1 and terms.reduce_bucket_elements and Item.GRADIENTS in by_key:
        size = job.compute_bytes  # the bucket is in the optimizer's (the model's 16-bit) dtype
        extra.append(LineItem(Item.REDUCE_BUCKET, "ZeRO gradient reduce bucket", size * terms.reduce_bucket_elements,
                              f"{size} B x reduce_bucket_size", {"reduce_bucket_size": terms.reduce_bucket_elements},
                              terms.sources["reduce_bucket_elements"]))
    return extra
