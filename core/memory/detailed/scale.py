"""Scale: the global batch and its accumulation, context parallelism, and what a pipeline stage
holds in flight, applied to a training step's items after the parallel shares (parallel.py).

- Global batch = micro-batch x accumulation steps x data-parallel replicas (Megatron-LM
  arguments.py: --global-batch-size, --micro-batch-size; Hugging Face TrainingArguments:
  per_device_train_batch_size x gradient_accumulation_steps x processes). With more than one
  micro-batch a step, the gradients of the ones before are live when the next one's backward
  starts: autograd accumulates into ``.grad`` and the trainer zeroes it after the optimizer step.
- Context parallelism splits each sequence's tokens over cp GPUs: each holds s / cp tokens of
  activations and logits (Megatron-LM docs, context_parallel; torchtitan's context_parallel); the
  model states shard over the data-parallel and context-parallel GPUs together, as Megatron's
  distributed optimizer and torchtitan's FSDP mesh do (parallel.py's dp counts both).
- Pipelines (Megatron-LM theoretical_memory_usage.py, after Narayanan et al. 2021): the first
  stage holds p micro-batches of its layers in flight under 1F1B, L layers' worth; fewer when a
  step has fewer micro-batches than stages (x m / p); the interleaved schedule with v virtual
  stages a GPU more, x (1 + (p - 1) / (p v)). Uneven stages (126 layers on 8: Megatron's
  --decoder-first/last-pipeline-num-layers, torchtitan's split) put ceil(L / p) layers on the
  most loaded, whose p micro-batches then hold p ceil(L / p) layers' worth.
"""

from __future__ import annotations

import dataclasses
import math

from vram.errors import ConflictError, InvalidRequestError
from vram.memory.detailed.training import NO_GRADIENT_YET
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase
from vram.request.enums import Item, PhaseName

MEGATRON_BATCH = "Megatron-LM arguments.py: global batch = micro batch x data-parallel size x accumulation steps"
ACCUMULATED = "torch.autograd accumulates into .grad; the trainer zeroes it after the optimizer step"
CONTEXT_PARALLEL = "Megatron-LM docs (context_parallel): each GPU holds 1/cp of a sequence's activations"
PIPELINE = ("Megatron-LM theoretical_memory_usage.py: p micro-batches in flight on the first stage, x min(1, m / p), "
            "interleaved x (1 + (p - 1) / (p v)) (Narayanan et al. 2021)")

#: Items that grow with the tokens a GPU holds, split by context parallelism.
TOKEN_ITEMS = frozenset({Item.ACTIVATIONS, Item.BACKWARD_LAYER, Item.LOGITS, Item.VALUE_ACTIVATIONS,
                         Item.TEACHER_LOGITS})
#: Items saved through a whole forward pass, which a pipeline stage holds for each micro-batch in flight.
IN_FLIGHT_ITEMS = frozenset({Item.ACTIVATIONS, Item.VALUE_ACTIVATIONS})


def replicas(job) -> int:
    """Data-parallel replicas: the GPUs over tp x pp x cp."""
    return job.gpu_count // (job.tp * job.pp * job.request.cp)


def shaped(job, said: Said):
    """``job`` with its micro-batch from the global batch and the accumulation, where both were
    given and the micro-batch was not."""
    request = job.request
    if request.batch_size is not None or request.global_batch is None or request.grad_accum is None:
        return job
    per_step = request.grad_accum * replicas(job)
    if request.global_batch % per_step:
        raise InvalidRequestError(f"global batch {request.global_batch} does not split into accumulation "
                                  f"{request.grad_accum} x {replicas(job)} data-parallel replicas",
                                  field="global_batch")
    batch = request.global_batch // per_step
    said.say(f"micro-batch {batch}: global batch {request.global_batch} / ({request.grad_accum} accumulation steps "
             f"x {replicas(job)} data-parallel replicas) ({MEGATRON_BATCH})")
    return dataclasses.replace(job, batch_size=batch)


def accumulation(job, said: Said) -> int | None:
    """Micro-batches an optimizer step, from the global batch or as given; None when neither says."""
    request, dp = job.request, replicas(job)
    if request.global_batch is None:
        if request.grad_accum is not None:
            said.say(f"global batch {job.batch_size * request.grad_accum * dp}: micro-batch {job.batch_size} x "
                     f"{request.grad_accum} accumulation steps x {dp} data-parallel replicas ({MEGATRON_BATCH})")
        return request.grad_accum
    per_step = job.batch_size * dp
    if request.global_batch % per_step:
        raise InvalidRequestError(f"global batch {request.global_batch} is not a multiple of micro-batch "
                                  f"{job.batch_size} x {dp} data-parallel replicas = {per_step}", field="global_batch")
    steps = request.global_batch // per_step
    if request.grad_accum is not None and request.grad_accum != steps:
        raise ConflictError(f"global batch {request.global_batch} is micro-batch {job.batch_size} x {dp} replicas x "
                            f"{steps} accumulation steps, not {request.grad_accum}", field="grad_accum")
    said.say(f"{steps} accumulation step{'s' if steps > 1 else ''}: global batch {request.global_batch} = micro-batch "
             f"{job.batch_size} x {dp} data-parallel replicas x {steps} ({MEGATRON_BATCH})")
    return steps


def apply(job, items: list[LineItem], phases: list[Phase], said: Said) -> tuple[list[LineItem], list[Phase]]:
    """The step's items with context parallelism and the pipeline's in-flight micro-batches, and
    its phases with the accumulated gradients live where they are."""
    steps = accumulation(job, said)
    factors = _factors(job, steps, said)
    items = [_scaled(item, factors) for item in items]
    by_key = {item.key: item.bytes for item in items}
    accumulating = steps is not None and steps > 1 and Item.GRADIENTS in by_key
    if accumulating:
        said.say(f"the gradients of the micro-batches before are live when the next one's backward starts "
                 f"({ACCUMULATED})")
    return items, [_phase(p, by_key, accumulating) for p in phases]


def _factors(job, steps: int | None, said: Said) -> dict[str, tuple[float, frozenset[Item], str]]:
    """name -> (factor, the items it applies to, its source)."""
    factors = {}
    cp = job.request.cp
    if cp > 1:
        share = job.seq_len // cp if job.seq_len % cp == 0 else job.seq_len / cp
        said.say(f"context parallel {cp}: each GPU holds {share:g} "
                 f"of each sequence's {job.seq_len} tokens of activations ({CONTEXT_PARALLEL})")
        factors["1/cp"] = (1 / cp, TOKEN_ITEMS, CONTEXT_PARALLEL)
    p = job.pp
    if p == 1:
        return factors
    layers, per_stage = job.spec.num_layers, math.ceil(job.spec.num_layers / p)
    if layers % p:
        said.say(f"{layers} layers on {p} uneven pipeline stages: the most loaded holds {per_stage}, "
                 f"{p} micro-batches of them in flight on the first stage ({PIPELINE})")
        factors["uneven"] = (p * per_stage / layers, IN_FLIGHT_ITEMS, PIPELINE)
    v = job.request.vpp
    if v is not None and v > 1:
        penalty = 1 + (p - 1) / (p * v)
        said.say(f"interleaved schedule, {v} virtual stages a GPU: the first stage holds {penalty:.3g} x the "
                 f"activations of 1F1B ({math.ceil(penalty * p)} micro-batches in flight; {PIPELINE})")
        factors["interleaved"] = (penalty, IN_FLIGHT_ITEMS, PIPELINE)
    elif steps is not None and steps < p:
        said.say(f"{steps} micro-batch{'es' if steps > 1 else ''} a step on {p} pipeline stages: the first stage holds "
                 f"{steps} in flight, not {p} ({PIPELINE})")
        factors["m/p"] = (steps / p, IN_FLIGHT_ITEMS, PIPELINE)
    return factors


def _scaled(item: LineItem, factors: dict[str, tuple[float, frozenset[Item], str]]) -> LineItem:
    applied = {name: value for name, (value, keys, _) in factors.items() if item.key in keys}
    if not applied:
        return item
    sources = "; ".join(dict.fromkeys(source for name, (_, keys, source) in factors.items() if item.key in keys))
    text = f"({item.formula})" + "".join(f" x {name}" for name in applied)
    values = {**item.values, **{name: round(value, 6) for name, value in applied.items()}}
    return LineItem(item.key, item.label, math.ceil(item.bytes * math.prod(applied.values())), text, values,
                    f"{item.source}; {sources}")


def _phase(phase: Phase, by_key: dict[Item, int], accumulating: bool) -> Phase:
    live = phase.live
    if accumulating and phase.name == PhaseName.START_OF_BACKWARD and Item.GRADIENTS not in live:
        live = (*live, Item.GRADIENTS)
    note = phase.note
    if live != phase.live:  # the first micro-batch's start of backward has none; the later ones' are the peak
        note = note.replace(NO_GRADIENT_YET, "") + "; the gradients of the micro-batches before, accumulating"
    return Phase(phase.name, sum(by_key[k] for k in live), live, note)
