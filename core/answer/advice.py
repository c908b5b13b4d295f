"""What would make it fit: changed requests, each with its own estimate and what it trades away.

Candidates are a table, least change to the job first; each returns the changed request or None
where it does not apply. A candidate never changes the job silently: its label says what changes
and its trade-off what is given up.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from vram import catalog
from vram.errors import VramError
from vram.memory.result import Alternative, Estimate
from vram.memory.rules import DTYPE_BITS
from vram.request.enums import TRAINABLE_DTYPES, TRAINING_TASKS, Dtype, Optimizer, Recompute, Task
from vram.request.quant import KvDtype
from vram.request.request import Request

#: How an estimate is made for a changed request (the plain path: no advice of its own).
Estimator = Callable[[Request], Estimate]
#: How a changed request's estimate is judged on the request's GPUs.
Judge = Callable[[Estimate], object]

ZERO_TRADEOFF = {
    1: "shards optimizer states over the data-parallel GPUs: same traffic as plain DDP (ZeRO paper section 7)",
    2: "also shards gradients: same traffic as plain DDP (ZeRO paper section 7)",
    3: "also shards the weights: 1.5x plain DDP's traffic, gathering each layer as it runs (ZeRO paper section 7)",
}

#: What full recompute costs, here and where the fewest-GPUs search adds it (answer/pipeline.py).
RECOMPUTE_TRADEOFF = ("recomputes each layer's forward in backward: 30-40 % more step time "
                      "(Korthikanti et al. 2022)")


def _recompute(r: Request) -> Request | None:
    if r.task in TRAINING_TASKS and r.recompute is not Recompute.FULL:
        return dataclasses.replace(r, recompute=Recompute.FULL)
    return None


def _zero(stage: int) -> Callable[[Request], Request | None]:
    def change(r: Request) -> Request | None:
        if r.task in TRAINING_TASKS and (r.gpu_count or 1) > r.tp * r.pp and r.zero < stage:
            return dataclasses.replace(r, zero=stage, precision_regime=None)
        return None
    return change


def _halve_batch(r: Request) -> Request | None:
    if (r.batch_size or 1) > 1:
        return dataclasses.replace(r, batch_size=r.batch_size // 2)
    return None


def _adam8bit(r: Request) -> Request | None:
    if r.task in TRAINING_TASKS and r.optimizer in (None, Optimizer.ADAMW):
        return dataclasses.replace(r, optimizer=Optimizer.ADAM8BIT)
    return None


#: KV cache types an fp8 cache would shrink (None: the compute dtype, 16 bits).
_WIDER_THAN_FP8_KV = frozenset({None, KvDtype.FP32, KvDtype.FP16, KvDtype.BF16})


def _fp8_kv(r: Request) -> Request | None:
    if r.task is Task.INFERENCE and r.kv_dtype in _WIDER_THAN_FP8_KV:
        return dataclasses.replace(r, kv_dtype=KvDtype.FP8)
    return None


def _weights(dtype: Dtype) -> Callable[[Request], Request | None]:
    """Inference weights in ``dtype`` where the job's dtype is wider (more bits a value)."""
    wider = frozenset(d for d in Dtype if DTYPE_BITS[d] > DTYPE_BITS[dtype])

    def change(r: Request) -> Request | None:
        if r.task is Task.INFERENCE and (r.dtype is None or r.dtype in wider):
            return dataclasses.replace(r, dtype=dtype, quant=None)  # the format named goes with its dtype
        return None
    return change


def _adapters(task: Task) -> Callable[[Request], Request | None]:
    def change(r: Request) -> Request | None:
        if r.task is Task.TRAINING or (task is Task.QLORA and r.task is Task.LORA):
            dtype = r.dtype if task is Task.LORA and r.dtype in TRAINABLE_DTYPES else None
            return dataclasses.replace(r, task=task, dtype=dtype, mixed_precision=None, precision_regime=None,
                                       dropout=None, optimizer_foreach=None, zero=0)
        return None
    return change


Candidate = tuple[str, str, Callable[[Request], Request | None]]

#: The sharded strategies, also shown beside plain data parallelism.
ZERO_CANDIDATES: list[Candidate] = [
    ("ZeRO-1 over the GPUs named", ZERO_TRADEOFF[1], _zero(1)),
    ("ZeRO-2 over the GPUs named", ZERO_TRADEOFF[2], _zero(2)),
    ("ZeRO-3 / FSDP over the GPUs named", ZERO_TRADEOFF[3], _zero(3)),
]

#: (label, trade-off, change), least change to the job first.
CANDIDATES: list[Candidate] = [
    ("recompute activations (full checkpointing)", RECOMPUTE_TRADEOFF, _recompute),
    *ZERO_CANDIDATES,
    ("halve the micro-batch", "same result with twice the gradient-accumulation steps; slower steps", _halve_batch),
    ("8-bit AdamW (bitsandbytes)",
     "quantised optimizer states: close to 32-bit Adam (Dettmers et al. 2021), not bit-identical", _adam8bit),
    ("fp8 KV cache", "halves the cache; small accuracy loss at long context", _fp8_kv),
    ("int8 weights", "LLM.int8(): near-16-bit quality, slower matmuls",
     _weights(Dtype.INT8)),
    ("int4 weights (GPTQ/AWQ)", "some quality loss; needs a 4-bit checkpoint",
     _weights(Dtype.INT4)),
    ("LoRA instead of full training", "trains low-rank adapters only: a different fine-tune", _adapters(Task.LORA)),
    ("QLoRA (4-bit base + adapters)",
     "4-bit frozen base: QLoRA matched 16-bit fine-tuning in its paper, at slower steps", _adapters(Task.QLORA)),
]

MAX_SUGGESTIONS = 5


def alternatives(request: Request, estimator: Estimator, judge: Judge,
                 candidates: list[Candidate]) -> list[Alternative]:
    """Each applicable candidate with its estimate and verdict (invalid combinations skipped)."""
    found = []
    for label, tradeoff, change in candidates:
        try:
            changed = change(request)
            if changed is None:
                continue
            estimate = estimator(changed)
        except VramError:
            continue
        found.append(Alternative(label, tradeoff, changed, estimate.total_bytes, estimate.method,
                                 judge(estimate)))
    return found


def suggestions(request: Request, estimator: Estimator, judge: Judge,
                more_gpus: Callable[[Request], Alternative | None],
                shown: tuple[Alternative, ...] = (), notes: list[str] | None = None) -> tuple[Alternative, ...]:
    """The changes that make it fit, least change first; the closest ones when none does.
    Strategies already ``shown`` beside the answer are not listed again. A suggestion that cannot
    be computed is left out, with a line in ``notes``: advice never replaces the answer."""
    labels = {alt.label for alt in shown}
    found = alternatives(request, estimator, judge, [c for c in CANDIDATES if c[0] not in labels])
    extra = [_unless_error(more_gpus, request, "more GPUs", notes),
             _unless_error(lambda r: _bigger_gpu(r, estimator, judge), request, "a bigger GPU", notes)]
    found += [alt for alt in extra if alt is not None]
    # the same job first: a change that trains another way (LoRA, QLoRA) after one that keeps it
    found.sort(key=lambda alt: alt.request.task is not request.task)
    fitting = [alt for alt in found if alt.fit is not None and alt.fit.fits]
    if fitting:
        return tuple(fitting[:MAX_SUGGESTIONS])
    return tuple(sorted(found, key=lambda alt: alt.total_bytes)[:3])


def _unless_error(suggest: Callable[[Request], Alternative | None], request: Request, what: str,
                  notes: list[str] | None) -> Alternative | None:
    try:
        return suggest(request)
    except VramError as error:
        if notes is not None:
            notes.append(f"suggestion of {what} left out: {error.reason}")
        return None


def strategies(request: Request, estimator: Estimator, judge: Judge) -> tuple[Alternative, ...]:
    """Sharded strategies beside plain data parallelism, for training on several GPUs."""
    if (request.task not in TRAINING_TASKS or request.zero
            or (request.gpu_count or 1) <= request.tp * request.pp):
        return ()
    return tuple(alternatives(request, estimator, judge, ZERO_CANDIDATES))


def _bigger_gpu(request: Request, estimator: Estimator, judge: Judge) -> Alternative | None:
    if request.gpu is None:
        return None
    current = catalog.find_gpu(request.gpu)
    estimate = estimator(request)
    # a bigger card of the same kind of device: no laptop for a data-centre job, no TPU for a CUDA one
    bigger = sorted((g for g in catalog.gpus().by_id.values()
                     if g.memory_bytes > current.memory_bytes and g.vendor == current.vendor),
                    key=lambda g: (g.memory_bytes, g.id))
    for gpu in bigger:
        changed = dataclasses.replace(request, gpu=gpu.id)
        fit = judge(dataclasses.replace(estimate, request=changed))
        if fit is not None and fit.fits:
            return Alternative(f"a bigger GPU: {gpu.id}", f"{gpu.name} instead of {current.name}", changed,
                               estimate.total_bytes, estimate.method, fit)
    return None
