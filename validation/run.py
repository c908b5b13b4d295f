"""Run the job a Request describes, on real or fake tensors, and measure its peak live memory.

The job runs as a Hugging Face + PyTorch user runs it, with the settings the detailed estimate
assumed for the same request (:mod:`.plan`):

- training: ``model(input_ids=..., labels=...).loss``, ``loss.backward()``, ``optimizer.step()``,
  ``optimizer.zero_grad()`` (gradients set to None), twice, so that the second step's forward runs
  with the optimizer states the first step allocated; AMP runs the forward under autocast with
  fp32 weights, pure runs a model whose weights are in the 16-bit dtype; gradient checkpointing
  is transformers' own (non-reentrant ``torch.utils.checkpoint``);
- LoRA: PEFT adapters (its defaults) on a frozen base;
- inference: ``torch.no_grad()``, the prompt in one forward pass into transformers' ``DynamicCache``
  keeping only the last position's logits (as ``generate`` does), then one decode step.

What is live is logged by :class:`~vram.validation.tracker.LiveMemory`; the result is the peak,
its phase, and what was live there by kind. On the CPU the CUDA behaviours of
:mod:`.emulation` are switched on; on a GPU the real kernels run.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from dataclasses import dataclass, field
from typing import Callable

import torch

from vram.request.enums import Dtype, Item, Optimizer, Recompute, Task
from vram.request.lora import DEFAULT_TARGETS
from vram.request.request import Request

from .build import build, model_config
from .emulation import UnsupportedRun, cuda_attention, cuda_autocast, cuda_dropout, untraced_masks
from .plan import Plan, plan
from .tracker import HOST, LiveMemory

TORCH_DTYPES = {Dtype.FP32: torch.float32, Dtype.FP16: torch.float16, Dtype.BF16: torch.bfloat16}

#: Peak kinds of the tracker, and the estimate's line item each one is compared with.
KIND_ITEMS: dict[str, Item] = {
    "weights": Item.WEIGHTS, "buffers": Item.WEIGHTS, "weight casts": Item.WEIGHT_CASTS,
    "gradients": Item.GRADIENTS, "optimizer": Item.OPTIMIZER, "optimizer temporaries": Item.OPTIMIZER_TEMP,
    "activations": Item.ACTIVATIONS, "logits and loss": Item.LOGITS, "kv_cache": Item.KV_CACHE,
    "prefill working set": Item.ACTIVATIONS, "decode working set": Item.ACTIVATIONS, "adapters": Item.ADAPTERS,
}


@dataclass(frozen=True, slots=True)
class Measurement:
    """The peak of live tensor bytes of one run, and what was live there."""

    peak_bytes: int
    phase: str
    by_kind: dict[str, int]
    phase_peaks: dict[str, dict[str, int]]  #: each phase's own peak, by kind
    device: str  #: "cpu", "cpu, fake tensors" or the GPU's name
    largest: tuple[tuple[str, int, int], ...] = ()
    gpu: dict[str, int] = field(default_factory=dict)  #: CUDA's own counters, on a GPU
    parameters: int = 0  #: the parameters of the model that ran
    host_bytes: int = 0  #: the peak of the host copies offloaded activations made (not in peak_bytes)

    def by_item(self, phase: str | None = None) -> dict[str, int]:
        """The peak's live bytes (or one phase's peak's), keyed like the estimate's line items."""
        items: dict[str, int] = {}
        for kind, size in (self.by_kind if phase is None else self.phase_peaks[phase]).items():
            key = KIND_ITEMS.get(kind, kind)
            items[key] = items.get(key, 0) + size
        return items

    def to_dict(self) -> dict:
        return {"peak_bytes": self.peak_bytes, "phase": self.phase, "by_kind": self.by_kind,
                "phase_peaks": self.phase_peaks, "device": self.device, "gpu": self.gpu,
                "largest": [list(row) for row in self.largest], "parameters": self.parameters,
                "host_bytes": self.host_bytes}


def measure(request: Request, fake: bool = True) -> Measurement:
    """Run ``request``'s job on the CPU (fake tensors unless ``fake`` is False) and measure it."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    job = plan(request)
    if job.needs_gpu:
        raise UnsupportedRun(f"{job.dtype if job.task is not Task.QLORA else 'QLoRA'} needs bitsandbytes' "
                             "CUDA kernels: measured on a GPU only")
    gc.collect()
    quiet_transformers()
    # no fallback kernels: an op without a fake implementation must fail, not run for real
    with FakeTensorMode(allow_fallback_kernels=False) if fake else contextlib.nullcontext():
        torch.manual_seed(0)
        config = model_config(job.spec, job.dropout, job.model_path)
        model = build(config, _weight_dtype(job), job.attention)
        parameters = sum(p.numel() for p in model.parameters())
        memory = LiveMemory()
        with cuda_attention(fake), cuda_dropout(), untraced_masks():
            run_job(job, model, config, memory, "cpu", cuda_autocast, fake)
        del model
    return summarise(memory, "cpu, fake tensors" if fake else "cpu", parameters=parameters)


def quiet_transformers() -> None:
    """transformers' deprecation notices and config warnings are not the harness's business."""
    import warnings

    from transformers.utils import logging

    logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.nn.modules.module")


def summarise(memory: LiveMemory, device: str, gpu: dict[str, int] | None = None,
              parameters: int = 0) -> Measurement:
    peak = memory.peak()
    phases = {name: memory.peak({name}).by_kind for name in dict.fromkeys(memory.phases)
              if name not in ("setup", "between steps")}
    return Measurement(peak.bytes, peak.phase, peak.by_kind, phases, device, tuple(peak.largest(top=10)),
                       gpu or {}, parameters, memory.host_peak())


def _weight_dtype(job: Plan) -> torch.dtype:
    return torch.float32 if job.amp else TORCH_DTYPES.get(job.dtype, torch.bfloat16)


def run_job(job: Plan, model: torch.nn.Module, config, memory: LiveMemory, device: str,
            autocast: Callable, fake: bool = False) -> None:
    """The training steps or the prefill and decode of ``job`` on ``model``, logged in ``memory``."""
    if job.task in (Task.LORA, Task.QLORA):
        model = with_lora(model, job)
    for parameter in model.parameters():
        memory.track(parameter, "adapters" if job.task in (Task.LORA, Task.QLORA) and parameter.requires_grad
                     else "weights")
    for buffer in model.buffers():
        memory.track(buffer, "buffers")
    memory.watch(model)
    ids = torch.randint(0, config.vocab_size, (job.batch_size, job.seq_len), device=device)
    memory.track(ids, "inputs")
    if job.task is Task.INFERENCE:
        _inference(model, ids, memory)
    else:
        _training(job, model, ids, memory, autocast, fake)


def _training(job: Plan, model: torch.nn.Module, ids: torch.Tensor, memory: LiveMemory,
              autocast: Callable, fake: bool) -> None:
    model.train()
    if job.recompute is Recompute.FULL:
        model.gradient_checkpointing_enable()
        if job.task in (Task.LORA, Task.QLORA):
            model.enable_input_require_grads()  # PEFT's recipe: checkpointed blocks need a grad input
    if job.per_op:
        per_op_checkpointing(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(job, trainable, fake)
    compute = TORCH_DTYPES.get(job.dtype, torch.bfloat16)
    offload = OffloadActivations(memory) if job.offload_activations else None  # one for the run, as torchtune
    with memory:
        for _ in range(2):
            memory.set_phase("forward")
            with autocast(compute) if job.amp else contextlib.nullcontext():
                loss = (chunked_loss(model, ids, job.loss_chunks, offload) if job.loss_chunks
                        else model(input_ids=ids, labels=ids, use_cache=False).loss)
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


#: The ops per-op selective checkpointing saves, as torchtitan's SelectiveAC builds its list
#: (torchtitan/distributed/activation_checkpoint.py _get_default_save_ops at b5bcd76, Aug 2026): the
#: compute-intensive ops of torch's own default op list (mm, addmm, bmm, the sdpa kernels, ...), the
#: sdpa and max ops it names and aten.linear; the CPU flash kernel stands in for CUDA's.
def _per_op_save() -> frozenset:
    from torch._functorch.partitioners import get_default_op_list

    named = (torch.ops.aten._scaled_dot_product_cudnn_attention, torch.ops.aten._scaled_dot_product_attention_math,
             torch.ops.aten._scaled_dot_product_fused_attention_overrideable, torch.ops.aten.max,
             torch.ops.aten.linear, torch.ops.aten.topk, torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
    return frozenset({op.default for op in get_default_op_list().compute_intensive_ops} | {op.default for op in named})


#: The matmuls SelectiveAC counts, recomputing every second one (_get_custom_policy: mm_ops); addmm
#: (a Linear with a bias) is saved, not counted.
PER_OP_COUNTED = frozenset({torch.ops.aten.mm.default, torch.ops.aten.linear.default})


def per_op_checkpointing(model: torch.nn.Module) -> None:
    """Wrap each decoder layer as torchtitan's SelectiveAC does (_wrap_block): the save list's outputs
    kept but every second counted matmul's, the rest recomputed in backward, recomputing the whole
    block (``early_stop=False``, as it passes to checkpoint_wrapper)."""
    from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

    save = _per_op_save()

    def context():
        counts = {"forward": 0, "recompute": 0}

        def policy(ctx, func, *args, **kwargs):
            mode = "recompute" if ctx.is_recompute else "forward"
            if func in PER_OP_COUNTED:
                counts[mode] += 1
            if func in save and not (func in PER_OP_COUNTED and counts[mode] % 2 == 0):
                return CheckpointPolicy.MUST_SAVE
            return CheckpointPolicy.PREFER_RECOMPUTE
        return create_selective_checkpoint_contexts(policy)

    for layer in _blocks(model):
        forward = layer.forward
        layer.forward = functools.partial(checkpoint, forward, use_reentrant=False, context_fn=context,
                                          early_stop=False)


def _blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The decoder layers: Llama-style models' model.layers, GPT-2's transformer.h (under PEFT's wrapper)."""
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(model, "model", None) or model.transformer
    return inner.layers if hasattr(inner, "layers") else inner.h


class OffloadActivations:
    """torchtune's activation offloading, as its memory goes (torchtune/training/_activation_offloading.py
    OffloadActivations at bd2a0fc, defaults use_streams=True, max_fwd_stash_size=5, min_offload_size=1024):
    saved_tensors_hooks around the model's forward (the output head runs outside them: torchtune's
    NoOpManager, or skip_output_layer with its chunked loss). Each saved tensor of at least
    min_offload_size bytes that is not a parameter gets a host copy (logged as host memory); with
    streams the device tensor stays stashed until max_fwd_stash_size newer ones are packed (and the
    last ones past the step, into the next forward), and backward uses a stashed tensor as it is.
    Any other is brought back as a new device tensor, which lives while autograd holds it (torchtune
    keeps it until the next node that unpacks is done: one node longer, not emulated). No streams run
    here: only the lifetimes are kept."""

    MAX_STASH, MIN_BYTES = 5, 1024

    def __init__(self, memory: LiveMemory) -> None:
        self.memory, self.stash, self.count = memory, {}, 0

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, tensor: torch.Tensor):
        number, self.count = self.count, self.count + 1
        small = tensor.element_size() * tensor.nelement() < self.MIN_BYTES
        if small or isinstance(tensor, torch.nn.Parameter):
            return number, tensor, False
        for old in [k for k in self.stash if k <= number - self.MAX_STASH]:
            del self.stash[old]
        host = torch.empty_like(tensor)
        host.copy_(tensor)
        self.memory.classify(host, HOST)
        self.stash[number] = tensor
        return number, host, True

    def _unpack(self, packed) -> torch.Tensor:
        number, tensor, offloaded = packed
        if not offloaded:
            return tensor
        return self.stash[number] if number in self.stash else tensor.clone()


def chunked_loss(model: torch.nn.Module, ids: torch.Tensor, chunks: int,
                 offload: OffloadActivations | None = None) -> torch.Tensor:
    """torchtune's LinearCrossEntropyLoss (torchtune/modules/loss/cross_entropy_loss.py forward and
    compute_cross_entropy): the decoder's hidden states, flattened to tokens, the tokens whose label
    is not ignored picked out (``mask_inputs``: an index_select copy), split into ``chunks`` runs of
    tokens, and for each the output projection and an fp32 cross-entropy summed; the sum over the
    valid tokens. The labels are shifted as torchtune's recipes shift them, the last position
    ignored (recipes/full_finetune_single_device.py: ``ignore_labels_cache`` appended)."""
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps it
    with offload.hooks() if offload else contextlib.nullcontext():
        hidden = causal.model(input_ids=ids, use_cache=False).last_hidden_state.flatten(0, 1)
    labels = torch.cat([ids[:, 1:], torch.full_like(ids[:, :1], IGNORE_INDEX)], dim=1).flatten()
    # torch.where(labels != IGNORE_INDEX)[0] as torchtune takes it; the ids are never IGNORE_INDEX, so the
    # valid tokens are every position but each sequence's last, the same indices made without reading
    # the labels' values (fake tensors have none)
    valid = torch.arange(ids.numel(), device=ids.device).view_as(ids)[:, :-1].flatten()
    hidden, labels = hidden.index_select(0, valid), labels.index_select(0, valid)
    total = sum(torch.nn.functional.cross_entropy(causal.lm_head(h).float(), y, reduction="sum",
                                                  ignore_index=IGNORE_INDEX)
                for h, y in zip(hidden.tensor_split(chunks, dim=0), labels.tensor_split(chunks, dim=0)))
    return total / valid.numel()


#: The label cross-entropy skips (torch.nn.functional.cross_entropy's default, torchtune's too).
IGNORE_INDEX = -100


def _optimizer(job: Plan, parameters: list[torch.nn.Parameter], fake: bool) -> torch.optim.Optimizer:
    how = {"foreach": True} if job.foreach else {"fused": True}
    if job.optimizer is Optimizer.ADAMW:
        return torch.optim.AdamW(parameters, lr=1e-5, **how)
    if fake and not job.foreach:
        # _fused_sgd_ has no fake kernel; the single-tensor SGD updates in place just as it does
        how = {"foreach": False}
    if job.optimizer is Optimizer.SGD_MOMENTUM:
        return torch.optim.SGD(parameters, lr=1e-5, momentum=0.9, **how)
    if job.optimizer is Optimizer.SGD_PLAIN:
        return torch.optim.SGD(parameters, lr=1e-5, **how)
    raise UnsupportedRun(f"the harness runs torch.optim's AdamW and SGD; {job.optimizer} is not one of them")


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


def with_lora(model: torch.nn.Module, job: Plan) -> torch.nn.Module:
    """The estimate's adapters (its rank, targets and dtype, from ``Plan``) with PEFT's other
    defaults (alpha 8, no LoRA dropout). fp32 adapters on a 16-bit base are what PEFT's
    ``autocast_adapter_dtype`` leaves; 16-bit ones are made under that default dtype, as torchtune
    builds its LoRA model (recipes/lora_finetune_single_device.py _setup_model: the model, adapters
    included, made under ``training.set_default_dtype(self._dtype)``), and kept so."""
    try:
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from peft.tuners import tuners_utils
    except ImportError as error:
        raise UnsupportedRun("LoRA runs need peft: pip install 'vram[validate]'") from error
    if job.task is Task.QLORA:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=job.recompute is Recompute.FULL)
    # PEFT moves each new adapter to its base layer's device and dtype with Module.to, which fake
    # tensors cannot do (FakeTensor parameters are swapped, and they carry weak references): the
    # adapters are made on the CPU in fp32 to begin with, where that move and the fp32 upcast
    # would leave them. On a GPU PEFT runs as it is.
    fake = any(type(p).__name__ == "FakeTensor" for p in model.parameters())
    # GPT-2's Conv1D stores its weights transposed (fan_in_fan_out): said up front, as PEFT would set it
    conv1d = any(type(m).__name__ == "Conv1D" for m in model.modules())
    config = LoraConfig(r=job.lora_rank, task_type="CAUSAL_LM", target_modules=_target_modules(model, job),
                        fan_in_fan_out=conv1d)
    wide = job.adapter_dtype is Dtype.FP32
    if not fake:
        return get_peft_model(model, config, autocast_adapter_dtype=wide)
    move, to = tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer, torch.nn.Module.to
    tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer = lambda self, *a, **k: None
    torch.nn.Module.to = _to_unless_there
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32 if wide else TORCH_DTYPES[job.adapter_dtype])
    try:
        return get_peft_model(model, config, autocast_adapter_dtype=False)
    finally:
        torch.set_default_dtype(default)
        tuners_utils.BaseTunerLayer._move_adapter_to_device_of_base_layer, torch.nn.Module.to = move, to


def _target_modules(model: torch.nn.Module, job: Plan) -> list[str] | None:
    """PEFT's target_modules for the estimate's targets: their own names where the model has them
    (Llama-style families); None (PEFT's default for the family) for a fused-QKV model such as
    GPT-2 when the targets are LoRA's default q_proj and v_proj, since PEFT's default c_attn holds
    as many adapter parameters in a multi-head model: r x (h + 3h) = r x (h + h) x 2."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if set(job.lora_targets) <= names:
        return list(job.lora_targets)
    if job.lora_targets == DEFAULT_TARGETS[Task.LORA] and "c_attn" in names:
        return None
    raise UnsupportedRun(f"the model names its matrices otherwise than {', '.join(job.lora_targets)}: the "
                         "harness runs other targets on Llama-style models only")


_module_to = torch.nn.Module.to


def _to_unless_there(module: torch.nn.Module, *args, **kwargs) -> torch.nn.Module:
    """Module.to, returning at once when every tensor is on that device already (PEFT's moves)."""
    device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
    tensors = [*module.parameters(), *module.buffers()]
    if all((device is None or t.device == device) and (dtype is None or t.dtype == dtype) for t in tensors):
        return module
    return _module_to(module, *args, **kwargs)
