"""The one resolver: a request's names looked up once, into what the memory model works on.

``resolve_request`` turns a Request into a frozen ``Resolved``: the model's architecture (from the
catalog, a config.json, a checkpoint header or the Hub), the checkpoint when one was named, the
GPU, and the checks that need them (tp dividing the heads, pp the layers, ...). ``resolve`` is the
one place that reads model files and the Hub, and it obeys the resolution policy in effect
(``policy.py``): with local files off, no path of any spelling reaches a reader. The memory model,
the fit verdict, advice and solvers take the Resolved and never read a file.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vram import catalog
from vram.catalog import architecture, policy
from vram.catalog.architecture import Architecture
from vram.catalog.index import MIN_GENERIC_GPU_GB, Gpu, ModelSpec
from vram.catalog.runtimes import Runtime, runtime_of
from vram.errors import InvalidRequestError, RangeError, UnknownWordError, UnsupportedError, VramError
from vram.messages import Note
from vram.request.enums import PRE_ALLOCATING, TRAINING_TASKS, Solve, Task
from vram.request.request import Request

if TYPE_CHECKING:
    from vram.catalog.files import Checkpoint


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name names: its architecture, and the checkpoint's header when a file was named."""

    spec: ModelSpec
    checkpoint: Checkpoint | None  #: the header of a local checkpoint, when one was named
    in_catalog: bool


def resolve_model(name: str) -> ResolvedModel | None:
    """The model ``name`` names, or None when it names none (errors for unreadable files).

    The policy is checked on every call, before any cache: a path read under one policy is never
    served from memory under a stricter one.
    """
    spec = catalog.find_model(name)
    if spec is not None:
        return ResolvedModel(spec, None, True)
    # files and the Hub only when the name is not in the catalog: their imports cost a cold start
    from vram.catalog import hub
    from vram.catalog.files import looks_like_path

    rules = policy.current()
    if looks_like_path(name) or "\\" in name:
        if not rules.local_files:
            raise UnsupportedError.said("error.file_on_server_model", name=name, field="model")
        if looks_like_path(name):
            return _from_path(name)
    if rules.hub and hub.looks_like_repo_id(name):
        return _from_hub(name)
    return None


@functools.lru_cache(maxsize=64)
def _from_path(name: str) -> ResolvedModel:
    from vram.catalog.files import read_model_path

    spec, checkpoint = read_model_path(name)
    return ResolvedModel(spec, checkpoint, False)


@functools.lru_cache(maxsize=256)
def _from_hub(name: str) -> ResolvedModel:
    # only successes are kept (an exception is not cached): a Hub that was down may answer later
    from vram.catalog import hub
    from vram.catalog.files import spec_from_config

    return ResolvedModel(spec_from_config(hub.config(name), name), None, False)


def could_be_model(word: str) -> bool:
    """Whether a word the vocabulary does not know is worth trying as a model (path or repo id)."""
    if "/" not in word and not word.endswith((".json", ".safetensors", ".gguf")):
        return False  # neither a path nor a repo id: no need to import what reads them
    from vram.catalog import hub
    from vram.catalog.files import looks_like_path

    return looks_like_path(word) or hub.looks_like_repo_id(word)


def cache_clear() -> None:
    """Forget the files and Hub answers read so far (tests that rewrite a file between reads)."""
    _from_path.cache_clear()
    _from_hub.cache_clear()
    _resolved.cache_clear()


# -- a request, resolved ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Resolved:
    """A request with every name in it looked up once."""

    request: Request  #: as asked, the model and GPU named as the catalog names them
    arch: Architecture  #: the model's (or, for a bare size, the typical one's) architecture
    checkpoint: Checkpoint | None  #: a local checkpoint's header, when one was named
    gpu: Gpu | None  #: the GPU named, if any
    runtime: Runtime  #: the engine or framework that runs the job (design.md section 8)

    def changed(self, request: Request) -> Resolved:
        """The same job asked differently (advice, solvers, sweeps): checked again against the
        architecture already read; the model is looked up again only if the request names another."""
        if _model_fields(request) != _model_fields(self.request):
            return resolve_request(request)
        gpu = self.gpu if request.gpu == self.request.gpu else _gpu(request)
        request = _canonical(request, None, gpu)
        _check_against(request, self.arch)
        return Resolved(request, self.arch, self.checkpoint, gpu, runtime_of(request))


def resolve_request(request: Request) -> Resolved:
    """``request`` resolved under the policy in effect; errors point at the word that named it."""
    try:
        if request.framework_config is not None:
            from vram.catalog.framework_files import with_framework_config

            request = with_framework_config(request)
        resolved = _resolved(request, policy.current())
    except VramError as error:
        raise error.at(dict(request.positions).get(error.field)) from None
    kept = resolved.request
    if kept.notes != request.notes or kept.positions != request.positions:
        # the cache matches requests for the same job; what was said reading this one is its own
        resolved = dataclasses.replace(resolved, request=dataclasses.replace(
            kept, notes=request.notes, positions=request.positions))
    return _engine_over_gpus(resolved)


#: solvers that choose the GPU count, and with it an engine's tp (answer/solvers.py _min_gpus)
SOLVES_OWN_GPUS = frozenset({Solve.MIN_GPU_COUNT})


def _engine_over_gpus(resolved: Resolved) -> Resolved:
    """A pre-allocating engine launched on several GPUs with no parallelism named ("vllm llama-70b on
    4x h100"): one replica over all of them, tensor-parallel, as such a launch is written
    (``--tensor-parallel-size 4``); vLLM's own default, tp 1, would use one GPU of the four. Taken
    only where tp = the GPU count splits the attention heads (and the KV heads, or replicates
    them, as vllm/config/model.py verify_with_parallel_config requires); the answer says so. A
    solver that keeps the GPUs named (the largest batch or context) takes it too; the fewest-GPUs
    solver picks its own tp for each count it tries."""
    request, arch = resolved.request, resolved.arch
    count = request.gpu_count or 1
    if (request.engine not in PRE_ALLOCATING or count == 1 or request.solve in SOLVES_OWN_GPUS
            or request.tp * request.pp * request.ep != 1):
        return resolved
    heads = arch.num_heads
    kv = arch.spec.num_kv_heads if arch.spec is not None else heads
    if heads % count or not (kv % count == 0 or count % kv == 0):
        return resolved
    note = Note("note.engine_tensor_parallel", engine=str(request.engine), count=count)
    return resolved.changed(dataclasses.replace(request, tp=count, notes=(*request.notes, note)))


@functools.lru_cache(maxsize=8192)
def _resolved(request: Request, rules: policy.ResolvePolicy) -> Resolved:
    # the policy is part of the key: a request answered under one policy is never served from
    # memory under a stricter one (the model lookup itself checks it again)
    checkpoint = None
    if request.model is not None:
        found = resolve_model(request.model)
        if found is None:
            raise UnknownWordError.said(
                "error.unknown_model", word=request.model, suggestion=catalog.models().close_match(request.model),
                expected=("a model from the catalog", "a size such as 7b",
                          "a config.json, .safetensors or .gguf path", "a Hugging Face repo id"),
                field="model")
        arch, checkpoint = architecture.of_model(found.spec, found.in_catalog), found.checkpoint
        spec_id = found.spec.id if found.in_catalog else None
    else:
        arch = architecture.of_size(request.params, request.hidden_size, request.num_layers, request.num_heads)
        spec_id = None
    gpu = _gpu(request)
    request = _canonical(request, spec_id, gpu)
    _check_against(request, arch)
    return Resolved(request, arch, checkpoint, gpu, runtime_of(request))


def _model_fields(request: Request) -> tuple:
    return request.model, request.params, request.hidden_size, request.num_layers, request.num_heads


def _gpu(request: Request) -> Gpu | None:
    if request.gpu is None:
        return None
    gpu = catalog.find_gpu(request.gpu)
    if gpu is not None and gpu.marketed_gb < MIN_GENERIC_GPU_GB:
        raise RangeError.said("error.gpu_too_small", size=f"{gpu.marketed_gb:g}", least=f"{MIN_GENERIC_GPU_GB:g}",
                              field="gpu")
    if gpu is None:
        raise UnknownWordError.said(
            "error.unknown_gpu", word=request.gpu, suggestion=catalog.gpus().close_match(request.gpu),
            expected=("a GPU from the catalog (a100, h100, rtx-4090)",), field="gpu")
    return gpu


def _canonical(request: Request, model_id: str | None, gpu: Gpu | None) -> Request:
    """The request with its catalog model and GPU under their catalog ids ("A100" -> a100-80gb)."""
    changes = {}
    if model_id is not None and request.model != model_id:
        changes["model"] = model_id
    if gpu is not None and request.gpu != gpu.id:
        changes["gpu"] = gpu.id
    changes.update(_sharded_by_framework(request))
    return dataclasses.replace(request, **changes) if changes else request


def _sharded_by_framework(request: Request) -> dict[str, int]:
    """A framework that always shards its data-parallel GPUs (torchtune's distributed recipes,
    torchtitan) runs ZeRO-3 / FSDP where the query names no stage (its row's zero_default)."""
    if request.task not in TRAINING_TASKS or request.framework is None or request.zero:
        return {}
    data_parallel = (request.gpu_count or 1) // (request.tp * request.pp)
    stage = runtime_of(request).terms.zero_default
    return {"zero": stage} if stage and data_parallel > 1 else {}


def _check_against(request: Request, arch: Architecture) -> None:
    """What a request can ask that its model's architecture cannot run."""
    heads, layers = arch.num_heads, arch.num_layers
    if arch.spec is None and arch.hidden_size % heads:  # each head takes hidden / heads of the width
        raise InvalidRequestError.said("error.hidden_heads", hidden=arch.hidden_size, heads=heads,
                                       field="hidden_size" if request.hidden_size else "num_heads")
    if heads % request.tp:
        raise InvalidRequestError.said("error.tp_heads", tp=request.tp, heads=heads, field="tp")
    # uneven stages are run (Megatron's --decoder-first/last-pipeline-num-layers, torchtitan's
    # pipeline split; vLLM's get_pp_indices for serving); a stage needs a layer at least, a virtual
    # stage too
    if request.pp * (request.vpp or 1) > layers:
        raise InvalidRequestError.said("error.pp_layers", pp=request.pp, layers=layers, field="pp",
                                       vpp=f" x vpp {request.vpp}" if request.vpp else "")
    # Inference on several GPUs without tp/pp splits the layers over them (device_map='auto'),
    # a whole layer at least a GPU; this holds for a bare size too, whose layer count is the
    # reference model's (the assumptions say which).
    if request.task is Task.INFERENCE and request.tp * request.pp == 1 and (request.gpu_count or 1) > layers:
        raise InvalidRequestError.said("error.gpus_over_layers", count=request.gpu_count, layers=layers,
                                       field="gpu_count")
    if request.ep > 1:
        experts = arch.spec.num_experts if arch.spec is not None else None
        if experts is None:
            raise InvalidRequestError.said("error.ep_dense", field="ep")
        if experts % request.ep:
            raise InvalidRequestError.said("error.ep_experts", ep=request.ep, experts=experts, field="ep")
        if request.gpu_count is not None and (request.gpu_count // (request.tp * request.pp)) % request.ep:
            raise InvalidRequestError.said("error.ep_data_parallel", ep=request.ep, field="ep")
    group = request.tp * request.pp * request.cp
    if request.gpu_count is not None and request.gpu_count % group:
        cp = f" x cp {request.cp}" if request.cp > 1 else ""
        raise InvalidRequestError.said("error.group_gpus", tp=request.tp, pp=request.pp, cp=cp, group=group,
                                       count=request.gpu_count, field="gpu_count")
