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
import operator
from collections.abc import Sequence

from vram.catalog.resolve import Resolved
from vram.catalog.runtimes import Keeps
from vram.errors import UnsupportedError
from vram.memory.detailed.common import DetailedJob, assembled, detailed_job, finish
from vram.memory.detailed.inference import inference_items
from vram.memory.job import Said, beyond
from vram.memory.result import Comparison, Estimate, LineItem, Phase
from vram.memory.runtime import usable_bytes
from vram.request.enums import PRE_ALLOCATING, Method, Task
from vram.request.request import Request


def estimate(resolved: Resolved, comparisons: Sequence[Comparison] = ()) -> Estimate:
    """Memory of a resolved request by the detailed model; ``comparisons``: other methods' figures to
    show beside it (the answer pipeline's, computed when shown)."""
    key = _job_key(resolved)
    kept = _KEPT.get(key) if key is not None else None
    if kept is not None:
        return _at_sizes(*kept, resolved, comparisons)
    result, general = _estimate(resolved, comparisons)
    sized = tuple(i for i, item in enumerate(result.items) if "b" in item.values or "s" in item.values)
    # only items with an expression can be evaluated again; a job with any other sized item is not kept
    if key is not None and all(result.items[i].expression is not None for i in sized):
        if len(_KEPT) >= MAX_KEPT:
            for old in list(_KEPT)[: MAX_KEPT // 2]:
                del _KEPT[old]
        _KEPT[key] = (result, sized, general)
    return result


#: The runtimes (design.md section 8) the detailed method models, by (kind, id); a runtime based
#: on another (axolotl and LLaMA-Factory on transformers) is modelled as that one with its defaults.
MODELLED_RUNTIMES = frozenset({("engine", "transformers"), ("engine", "vllm"), ("engine", "sglang"), ("engine", "tgi"),
                               ("engine", "llama.cpp"), ("engine", "ollama"), ("framework", "transformers"),
                               ("framework", "deepspeed"), ("framework", "megatron"), ("framework", "torchtune"),
                               ("framework", "torchtitan"), ("framework", "unsloth")})
#: Engines that run llama.cpp's buffers (Ollama on llama.cpp): answered by memory.detailed.llamacpp.
GGML_RUNTIMES = frozenset({"llama.cpp", "ollama"})


def _check_runtime(resolved: Resolved) -> None:
    runtime = resolved.runtime
    if (runtime.kind, runtime.id) in MODELLED_RUNTIMES or (runtime.kind, runtime.based_on) in MODELLED_RUNTIMES:
        return
    modelled = ", ".join(sorted(i for k, i in MODELLED_RUNTIMES if k == runtime.kind))
    raise UnsupportedError(f"{runtime.name}'s memory is not modelled yet; the detailed method models {modelled} "
                           f"({'leave the engine out' if runtime.kind == 'engine' else 'leave the framework out'} "
                           "for the transformers answer, or say method=article)", field=runtime.kind)


def _estimate(resolved: Resolved, comparisons: Sequence[Comparison]) -> tuple[Estimate, tuple[str, ...]]:
    """The estimate, and what it assumed less what depends on the context (a kept job says that anew)."""
    request = resolved.request
    _check_runtime(resolved)
    said = Said()
    job = detailed_job(resolved, said)
    if resolved.runtime.kind == "engine" and resolved.runtime.id in GGML_RUNTIMES:
        return _ggml_estimate(resolved, job, said, comparisons), said.lines()
    host_bytes = 0
    serving = None
    if request.task is Task.INFERENCE and job.runtime.pre_allocates:
        # each runtime's and task's modules load when a job needs them: a query starts faster
        from vram.memory.detailed.serving import serving_items

        items, phases, serving = serving_items(job, said)
        host_bytes = serving.weights_offloaded * job.gpu_count
    elif request.task is Task.INFERENCE:
        items, phases = inference_items(job, said)
    else:
        job, items, phases, host_bytes = _training(job, said, request.task)
    result = finish(job, items, phases, said, host_bytes, comparisons)
    return (result if serving is None else dataclasses.replace(result, serving=serving)), said.lines()


def _training(job: DetailedJob, said: Said, task: Task) -> tuple[DetailedJob, list[LineItem], list[Phase], int]:
    """A training job's items and phases on the most-loaded GPU, and its host bytes, all GPUs'."""
    from vram.memory.detailed import parallel, post_training, scale
    from vram.memory.detailed.adapters import lora_items
    from vram.memory.detailed.training import training_items

    job = post_training.shaped(scale.shaped(job, said), said)
    items, phases, host_each = (lora_items if task in (Task.LORA, Task.QLORA) else training_items)(job, said)
    host_bytes = host_each * job.gpu_count
    items, phases = post_training.added(job, items, phases, said)
    if parallel.is_parallel(job):
        items, phases, offloaded = parallel.apply(job, items, phases, said)
        host_bytes += offloaded
    items, phases = scale.apply(job, items, phases, said)
    return job, items, phases, host_bytes


def _ggml_estimate(resolved: Resolved, job, said: Said, comparisons: Sequence[Comparison]) -> Estimate:
    """llama.cpp's buffers on the most-loaded GPU, the rest in host memory (memory.detailed.llamacpp)."""
    from vram.memory.detailed import llamacpp

    gpu = resolved.gpu
    capacity = None if gpu is None else usable_bytes(gpu)
    placed, setup = llamacpp.estimate_llamacpp(job, said, gpu, capacity)
    request = resolved.request
    assumptions = said.lines()
    spec = job.spec
    if request.seq_len and request.seq_len > spec.max_seq_len:
        assumptions += (beyond(request.seq_len, spec),)
    total = placed.gpu_bytes
    return Estimate(request=request, method=Method.DETAILED, items=placed.items, assumptions=assumptions,
                    gpu_count=job.gpu_count, job_total_bytes=total * job.gpu_count, total_bytes=total,
                    host_bytes=placed.host_bytes, comparisons=comparisons,
                    serving=llamacpp.serving(job, setup, placed))


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


_JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Request) if f.compare and f.name not in _SIZE_FIELDS)


_job_fields = operator.attrgetter(*_JOB_FIELDS)


def _job_key(resolved: Resolved) -> tuple | None:
    request = resolved.request
    if request.tp > 1 or request.pp > 1 or request.cp > 1 or request.engine in PRE_ALLOCATING:
        return None  # a split model's items are shares of the formulas; an engine's pool depends on all of them
    if request.engine is not None and request.engine.value in GGML_RUNTIMES:
        return None  # llama.cpp's buffers are sized by the placement, not by b and s alone
    if request.task is not Task.INFERENCE and (request.offload_activations
                                               or Keeps.LAYER_INPUT_ON_HOST in resolved.runtime.terms.keeps.values()):
        return None  # the host memory of offloaded layer inputs grows with batch and context
    if request.global_batch is not None or request.grad_accum is not None:
        return None  # the accumulation depends on the micro-batch
    if request.objective is not None:
        return None  # the objective sizes the batch itself (a preference pair is two sequences)
    return (_job_fields(request), resolved.arch, resolved.checkpoint, request.batch_size is None,
            request.seq_len is None)


def _at_sizes(kept: Estimate, sized: tuple[int, ...], general: tuple[str, ...], resolved: Resolved,
              comparisons: Sequence[Comparison]) -> Estimate:
    """``kept``'s job at the request's batch size and context: only the ``sized`` items (those whose
    formulas use b or s) are evaluated again."""
    request = resolved.request
    items = list(kept.items)
    for i in sized:
        items[i] = _resized(items[i], request.batch_size, request.seq_len)
    by_key = {item.key: item.bytes for item in items}
    phases = tuple(Phase(p.name, sum(by_key[k] for k in p.live), p.live, p.note) for p in kept.phases)
    return assembled(request, resolved.arch.spec, tuple(items), phases, general, kept.gpu_count, kept.host_bytes,
                     comparisons)


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

