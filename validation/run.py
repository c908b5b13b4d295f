"""Run the job a Request describes, on real or fake tensors, and measure its peak live memory.

The job runs as a Hugging Face + PyTorch user runs it, with the settings the detailed estimate
assumed for the same request (the same defaults, resolved by the same code):

- training: ``model(input_ids=..., labels=...).loss``, ``loss.backward()``, ``optimizer.step()``,
  ``optimizer.zero_grad()`` (gradients set to None), twice, so that the second step's forward runs
  with the optimizer states the first step allocated; AMP runs the forward under autocast with
  fp32 weights, pure runs a model whose weights are in the 16-bit dtype; gradient checkpointing
  is transformers' own (non-reentrant ``torch.utils.checkpoint``);
- LoRA: PEFT adapters on a frozen base, gradient checkpointing as the request says;
- inference: ``torch.no_grad()``, the prompt in one forward pass into transformers' ``DynamicCache``
  keeping only the last position's logits (as ``generate`` does), then one decode step.

What is live is logged by :class:`~vram.validation.tracker.LiveMemory`; the result is the peak,
its phase, and what was live there by kind.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field

import torch

from vram import models
from vram.model_files import looks_like_path
from vram.detailed import DetailedJob, training_settings
from vram.enums import Dtype, Optimizer, Recompute, Regime, Task
from vram.request import Request

from .build import build, model_config
from .emulation import UnsupportedRun, cuda_attention, cuda_autocast, cuda_dropout, untraced_masks
from .tracker import LiveMemory, Peak

TORCH_DTYPES = {Dtype.FP32: torch.float32, Dtype.FP16: torch.float16, Dtype.BF16: torch.bfloat16}

#: Peak kinds of the tracker, and the estimate's line item each one is compared with.
KIND_ITEMS = {
    "weights": "weights", "buffers": "weights", "weight casts": "weight_casts", "gradients": "gradients",
    "optimizer": "optimizer", "optimizer temporaries": "optimizer_temp", "activations": "activations",
    "logits and loss": "logits", "kv_cache": "kv_cache", "prefill working set": "activations",
    "decode working set": "activations", "adapters": "adapters",
}


@dataclass(frozen=True, slots=True)
class Plan:
    """The job to run: what the estimate assumed, in the harness's terms."""

    task: Task
    model_path: str | None  #: a config.json the request named, else None (the catalog's entry)
    weight_dtype: torch.dtype
    compute_dtype: torch.dtype
    amp: bool
    optimizer: Optimizer | None
    foreach: bool
    recompute: Recompute
    dropout: bool
    attention: str  #: "sdpa" or "eager"
    batch_size: int
    seq_len: int
    lora_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Measurement:
    """The peak of live tensor bytes of one run, and what was live there."""

    peak_bytes: int
    phase: str
    by_kind: dict[str, int]
    phase_peaks: dict[str, dict[str, int]]  #: each phase's own peak, by kind
    device: str  #: "cpu", "cpu, fake tensors" or the GPU's name
    largest: tuple[tuple[str, int, int], ...] = ()
    gpu: dict[str, int] = field(default_factory=dict)  #: allocated / reserved / driver bytes on a GPU

    def by_item(self, phase: str | None = None) -> dict[str, int]:
        """The peak's live bytes (or one phase's peak's), keyed like the estimate's line items."""
        items: dict[str, int] = {}
        for kind, size in (self.by_kind if phase is None else self.phase_peaks[phase]).items():
            key = KIND_ITEMS.get(kind, kind)
            items[key] = items.get(key, 0) + size
        return items


def plan(request: Request) -> Plan:
    """The run that matches the detailed estimate of ``request``."""
    job = DetailedJob(request)
    if request.task is Task.QLORA:
        raise UnsupportedRun("QLoRA needs bitsandbytes' 4-bit kernels: run it on a GPU")
    if job.dtype not in TORCH_DTYPES:
        raise UnsupportedRun(f"{job.dtype} weights need bitsandbytes or a quantisation kernel: run it on a GPU")
    if request.tp > 1 or request.pp > 1 or request.zero or request.sp:
        raise UnsupportedRun("the harness runs one process: no tensor, pipeline or ZeRO parallelism")
    compute = TORCH_DTYPES[job.dtype]
    path = _config_path(request)
    if request.task is Task.INFERENCE:
        return Plan(Task.INFERENCE, path, compute, compute, False, None, False, Recompute.NONE, False,
                    "sdpa" if job.fused_attention else "eager", job.batch_size, job.seq_len)
    if request.task is Task.LORA:
        recompute = request.recompute or Recompute.FULL
        return Plan(Task.LORA, path, compute, compute, False, job.optimizer, bool(request.optimizer_foreach),
                    recompute, bool(request.dropout), "sdpa" if job.fused_attention else "eager",
                    job.batch_size, job.seq_len, request.lora_rank or 8)
    settings = training_settings(job)
    if settings.regime is Regime.MASTER:
        raise UnsupportedRun("master-weight mixed precision is DeepSpeed's or Megatron's; the harness runs "
                             "plain PyTorch (amp or pure)")
    recompute = settings.recompute
    if recompute is Recompute.SELECTIVE:
        if not settings.options.fused_attention:
            raise UnsupportedRun("selective recompute is Megatron's; transformers has no such option")
        recompute = Recompute.NONE  # with flash attention there are no scores to recompute: the same tensors
    amp = settings.regime is Regime.AMP
    return Plan(Task.TRAINING, path, torch.float32 if amp else compute, compute, amp, job.optimizer,
                settings.foreach, recompute, settings.options.dropout,
                "sdpa" if settings.options.fused_attention else "eager", job.batch_size, job.seq_len)


def _config_path(request: Request) -> str | None:
    if request.model is None:
        return None
    resolved = models.resolve(request.model)
    if resolved.in_catalog:
        return None
    if not looks_like_path(request.model):
        raise UnsupportedRun("the harness builds catalog models and local config.json files, not Hub repo ids")
    if resolved.checkpoint is not None and resolved.checkpoint.format == "gguf":
        raise UnsupportedRun("a GGUF checkpoint runs in llama.cpp, not in transformers")
    return request.model


def measure(request: Request, fake: bool = True) -> Measurement:
    """Run ``request``'s job on the CPU (fake tensors unless ``fake`` is False) and measure it."""
    run = plan(request)
    spec = DetailedJob(request).spec
    from torch._subclasses.fake_tensor import FakeTensorMode

    gc.collect()
    with FakeTensorMode(allow_non_fake_inputs=False) if fake else contextlib.nullcontext():
        torch.manual_seed(0)
        config = model_config(spec, run.dropout, run.model_path)
        model = build(config, run.weight_dtype, run.attention)
        memory = LiveMemory()
        with cuda_attention(fake), cuda_dropout(), untraced_masks():
            _run(run, model, config, memory, fake)
        peak = memory.peak()
        phases = {name: memory.peak({name}).by_kind for name in dict.fromkeys(memory.phases)
                  if name not in ("setup", "between steps")}
        del model
    return Measurement(peak.bytes, peak.phase, peak.by_kind, phases,
                       "cpu, fake tensors" if fake else "cpu", tuple(peak.largest(top=10)))


def _run(run: Plan, model: torch.nn.Module, config, memory: LiveMemory, fake: bool) -> None:
    if run.task is Task.LORA:
        model = _with_lora(model, run)
    for parameter in model.parameters():
        memory.track(parameter, "adapters" if run.task is Task.LORA and parameter.requires_grad else "weights")
    for buffer in model.buffers():
        memory.track(buffer, "buffers")
    memory.watch(model)
    ids = torch.randint(0, config.vocab_size, (run.batch_size, run.seq_len))
    memory.track(ids, "inputs")
    if run.task is Task.INFERENCE:
        _inference(model, ids, memory)
    else:
        _training(run, model, ids, memory)


def _training(run: Plan, model: torch.nn.Module, ids: torch.Tensor, memory: LiveMemory) -> None:
    model.train()
    if run.recompute is Recompute.FULL:
        model.gradient_checkpointing_enable()
        if run.task is Task.LORA:
            model.enable_input_require_grads()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(run, trainable)
    autocast = (lambda: cuda_autocast(run.compute_dtype)) if run.amp else contextlib.nullcontext
    with memory:
        for _ in range(2):
            memory.set_phase("forward")
            with autocast():
                loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            memory.set_phase("backward")
            loss.backward()
            del loss
            for parameter in trainable:
                memory.classify(parameter.grad, "gradients")
            memory.set_phase("optimizer step")
            optimizer.step()
            for state in optimizer.state.values():
                for value in state.values():
                    if isinstance(value, torch.Tensor) and value.dim() > 0:
                        memory.classify(value, "optimizer")
            optimizer.zero_grad(set_to_none=True)
            memory.set_phase("between steps")


def _optimizer(run: Plan, parameters: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    how = {"foreach": True} if run.foreach else {"fused": True}
    if run.optimizer is Optimizer.ADAMW:
        return torch.optim.AdamW(parameters, lr=1e-5, **how)
    if run.optimizer is Optimizer.SGD_MOMENTUM:
        return torch.optim.SGD(parameters, lr=1e-5, momentum=0.9, **how)
    if run.optimizer is Optimizer.SGD_PLAIN:
        return torch.optim.SGD(parameters, lr=1e-5, **how)
    if run.optimizer is Optimizer.ADAFACTOR:
        return torch.optim.Adafactor(parameters, lr=1e-5, foreach=run.foreach)
    raise UnsupportedRun(f"{run.optimizer} is not in torch.optim (bitsandbytes or a third-party package)")


def _inference(model: torch.nn.Module, ids: torch.Tensor, memory: LiveMemory) -> None:
    model.eval()
    with torch.no_grad(), memory:
        memory.set_phase("prefill")
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        # transformers generate: the last position's logits, copied to fp32, then the next token
        token = out.logits[:, -1, :].to(copy=True, dtype=torch.float32).argmax(-1, keepdim=True)
        del out
        _classify_cache(cache, memory)
        memory.set_phase("decode")
        out = model(input_ids=token, past_key_values=cache, use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1, :].to(copy=True, dtype=torch.float32).argmax(-1, keepdim=True)
        _classify_cache(cache, memory)
        del out, token, cache


def _classify_cache(cache, memory: LiveMemory) -> None:
    for layer in getattr(cache, "layers", ()):
        memory.classify(getattr(layer, "keys", None), "kv_cache")
        memory.classify(getattr(layer, "values", None), "kv_cache")


def _with_lora(model: torch.nn.Module, run: Plan) -> torch.nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise UnsupportedRun("LoRA runs need peft (pip install 'vram[validate]')") from error
    from peft.tuners import tuners_utils

    # PEFT's defaults (r 8, alpha 8, dropout 0, the family's default targets: q_proj and v_proj
    # for Llama-style models, c_attn for GPT-2; adapters kept in fp32 on a 16-bit base), with the
    # rank the request gives. PEFT moves each new adapter to its base layer's device and dtype
    # with Module.to, which fake tensors cannot do (parameters are swapped, and fake tensors
    # carry weak references); the adapters are made on the CPU in fp32 to begin with, which is
    # where that move and the fp32 upcast would leave them.
    move, to = tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer, torch.nn.Module.to
    tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer = lambda self, *a, **k: None
    torch.nn.Module.to = _to_unless_there
    try:
        return get_peft_model(model, LoraConfig(r=run.lora_rank, task_type="CAUSAL_LM"),
                              autocast_adapter_dtype=False)
    finally:
        tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer, torch.nn.Module.to = move, to


_module_to = torch.nn.Module.to


def _to_unless_there(module: torch.nn.Module, *args, **kwargs) -> torch.nn.Module:
    """Module.to, returning at once when every tensor is on that device already (PEFT's moves)."""
    device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
    tensors = [*module.parameters(), *module.buffers()]
    if all((device is None or t.device == device) and (dtype is None or t.dtype == dtype) for t in tensors):
        return module
    return _module_to(module, *args, **kwargs)


def peak_summary(peak: Peak) -> str:
    return ", ".join(f"{kind} {size / 2**20:.1f} MiB" for kind, size in peak.by_kind.items())
