"""The job a Request describes, as the harness runs it: the estimate's own defaults, resolved once.

The detailed estimate fills every open choice (dtype, sequence, batch, precision regime,
recompute, optimizer step, dropout, attention kernel, LoRA rank and targets) with a documented
default; the harness asks the same code (``DetailedJob``, ``training_settings``,
``adapter_settings``) so the run is the job the estimate describes, not a look-alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from vram.catalog.files import looks_like_path
from vram.catalog.index import ModelSpec
from vram.catalog.resolve import resolve_model, resolve_request
from vram.catalog.runtimes import Keeps, Loss
from vram.memory.detailed.adapters import adapter_settings
from vram.memory.detailed.common import detailed_job, kept, loss_terms
from vram.memory.detailed.training import training_settings
from vram.memory.job import Said
from vram.request.enums import ADAPTER_TASKS, Dtype, Optimizer, Recompute, Regime, Task
from vram.request.request import Request

from .emulation import UnsupportedRun

#: Weight formats that need bitsandbytes' CUDA kernels (LLM.int8(), NF4): GPU runs only.
QUANTISED = frozenset({Dtype.INT8, Dtype.NF4})


@dataclass(frozen=True, slots=True)
class Plan:
    """The job to run: what the estimate assumed, in the harness's terms."""

    task: Task
    spec: ModelSpec
    model_path: str | None  #: a config.json the request named, else None (the catalog's entry)
    dtype: Dtype  #: the request's weight dtype (int8/nf4 on a GPU only)
    amp: bool  #: fp32 weights, forward under autocast
    optimizer: Optimizer | None
    foreach: bool
    recompute: Recompute
    dropout: bool
    attention: str  #: "sdpa" or "eager"
    batch_size: int
    seq_len: int
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] = ()  #: the layers that get adapters, by the model family's own names
    per_op: bool = False  #: per-op selective checkpointing of each layer (torchtitan's SelectiveAC)
    loss_chunks: int = 0  #: head and cross-entropy a chunk of tokens at a time (torchtune); 0: whole logits
    adapter_dtype: Dtype = Dtype.FP32  #: the LoRA adapters' weights (and so their gradients and states)
    offload_activations: bool = False  #: saved tensors copied to host memory (torchtune's OffloadActivations)

    @property
    def needs_gpu(self) -> bool:
        return self.dtype in QUANTISED or self.task is Task.QLORA


def plan(request: Request) -> Plan:
    """The run that matches the detailed estimate of ``request`` (UnsupportedRun if none can)."""
    if request.tp > 1 or request.pp > 1 or request.zero or request.sp:
        raise UnsupportedRun("the harness runs one process: no tensor, pipeline or ZeRO parallelism")
    job = detailed_job(resolve_request(request), Said())
    if job.dtype not in (Dtype.FP32, Dtype.FP16, Dtype.BF16, *QUANTISED):
        raise UnsupportedRun(f"{job.dtype} weights need a quantisation kernel the harness does not run "
                             "(it runs bitsandbytes int8 and nf4, on a GPU)")
    common = {"spec": job.spec, "model_path": _config_path(request), "dtype": job.dtype,
              "batch_size": job.batch_size, "seq_len": job.seq_len,
              "attention": "sdpa" if job.fused_attention else "eager"}
    if request.task is Task.INFERENCE:
        return Plan(Task.INFERENCE, amp=False, optimizer=None, foreach=False, recompute=Recompute.NONE,
                    dropout=False, **common)
    if request.task in ADAPTER_TASKS:
        adapters = adapter_settings(job, Said())
        return Plan(request.task, amp=False, optimizer=job.optimizer, foreach=bool(request.optimizer_foreach),
                    dropout=adapters.options.dropout, lora_rank=adapters.rank, lora_targets=adapters.targets,
                    adapter_dtype=adapters.adapter_dtype, loss_chunks=_loss_chunks(job),
                    **_recompute_run(job, kept(job, adapters.recompute), adapters.recompute), **common)
    settings = training_settings(job, Said())
    if settings.regime is Regime.MASTER:
        raise UnsupportedRun("master-weight mixed precision is DeepSpeed's or Megatron's; the harness runs "
                             "plain PyTorch (amp or pure)")
    if settings.regime is Regime.AMP and not settings.autocast:
        raise UnsupportedRun("FSDP2's mixed precision (fp32 shards, 16-bit gathered copies) needs FSDP; say pure")
    run = _recompute_run(job, settings.keeps, settings.recompute)  # its refusal first: the checkpointing's
    return Plan(Task.TRAINING, amp=settings.regime is Regime.AMP, optimizer=job.optimizer,
                foreach=settings.foreach, dropout=settings.options.dropout, loss_chunks=_loss_chunks(job),
                **run, **common)


def _recompute_run(job, keeps: Keeps, recompute: Recompute) -> dict:
    """How the harness runs what the framework's recompute word keeps."""
    if keeps is Keeps.PER_OP:
        return {"recompute": Recompute.NONE, "per_op": True}
    if keeps is Keeps.LAYER_INPUT_ON_HOST:
        if not job.request.offload_activations:
            raise UnsupportedRun(f"{job.runtime.name}'s own offloaded checkpointing (layer inputs moved to host "
                                 "memory by its autograd function) is not written in the harness")
        if not _loss_chunks(job):
            raise UnsupportedRun("activation offloading runs as torchtune runs it, its model's forward offloaded "
                                 "and the head and loss after it: with torchtune's chunked loss")
        return {"recompute": Recompute.FULL, "offload_activations": True}
    return {"recompute": _runnable(recompute, job.fused_attention)}


#: Framework terms (vram.catalog.runtimes.TrainingTerms columns) the harness cannot run as the
#: framework does, and why: a run without them would measure another job than the one estimated.
NOT_RUN = (
    (lambda terms: terms.loss in (Loss.FUSED_LINEAR, Loss.LIGER),
     "a fused head-and-loss kernel (Triton) does not run on the CPU"),
    (lambda terms: terms.fused_norm, "the norms are Transformer Engine's fused LayerNorm-Linear CUDA kernels, "
                                     "which save other tensors than transformers' eager RMSNorm"),
    (lambda terms: terms.gradient_buffer, "the gradients live in a buffer allocated at start-up (Megatron's "
                                          "main_grad), which torch.optim on transformers does not have"),
    # the loss alone would run on the CPU, but the harness does not write it (Megatron, or a query naming it)
    (lambda terms: terms.loss is Loss.VOCAB_PARALLEL, "Megatron's vocab-parallel cross-entropy (an fp32 softmax "
                                                      "made in place) is not written in the harness"),
)


def _loss_chunks(job) -> int:
    terms = loss_terms(job)  # the loss the query names, as the estimate counts it, else the framework's
    for applies, reason in NOT_RUN:
        if applies(terms):
            raise UnsupportedRun(f"{job.runtime.name}: {reason}")
    return terms.loss_chunks if terms.loss is Loss.CHUNKED_LINEAR else 0


def _runnable(recompute: Recompute, fused_attention: bool) -> Recompute:
    if recompute is not Recompute.SELECTIVE:
        return recompute
    if not fused_attention:
        raise UnsupportedRun("selective recompute is Megatron's; transformers has no such option")
    return Recompute.NONE  # with a fused kernel there are no scores to recompute: the same tensors


def _config_path(request: Request) -> str | None:
    if request.model is None:
        return None
    resolved = resolve_model(request.model)
    if resolved.in_catalog:
        return None
    if not looks_like_path(request.model):
        raise UnsupportedRun("the harness builds catalog models and local config.json files, not Hub repo ids")
    if resolved.checkpoint is not None and resolved.checkpoint.format == "gguf":
        raise UnsupportedRun("a GGUF checkpoint runs in llama.cpp, not in transformers")
    return request.model
