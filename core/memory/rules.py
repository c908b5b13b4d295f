"""Bytes a parameter takes in training, by precision regime and optimizer, and what ZeRO shards.

The article counts one regime (16-bit weights and gradients, fp32 master copy with the optimizer);
real jobs run others, and the split matters for when each byte is live:

- AMP (``torch.autocast``, what Hugging Face's Trainer runs with ``bf16=True`` on a model loaded in
  fp32): fp32 weights and gradients, fp32 optimizer states, plus the 16-bit copies of the weights
  that autocast makes in the forward pass and autograd keeps for the backward pass (PyTorch docs,
  "Automatic Mixed Precision", ``cache_enabled``).
- pure bf16/fp16 (a model loaded with ``torch_dtype=torch.bfloat16``): weights, gradients and
  optimizer states all in the model's dtype (``torch.optim`` creates states ``zeros_like(param)``).
- master (DeepSpeed / Megatron mixed precision, ZeRO paper section 3.1): 16-bit weights and
  gradients, and in the optimizer an fp32 master copy beside fp32 states: 2 + 2 + 12 for AdamW.
"""

from __future__ import annotations

from dataclasses import dataclass

from vram.request.enums import DTYPE_BITS, Dtype, Optimizer, Regime

AUTOCAST_DOC = "PyTorch docs, Automatic Mixed Precision (torch.autocast, cache_enabled)"
TORCH_OPTIM = "torch.optim: states created zeros_like(param), in the parameter's dtype"
ZERO_PAPER = "Rajbhandari et al. 2019 (ZeRO), section 3.1: 2 + 2 + K bytes a parameter"
MEGATRON = "Shoeybi et al. 2019 (Megatron-LM): tensor and pipeline parallel shares"
ZERO = "Rajbhandari et al. 2019 (ZeRO), sections 5.1-5.3"
BNB_8BIT = "Dettmers et al. 2021, 8-bit optimizers: 1-byte states, an fp32 scale per 2048-value block"


@dataclass(frozen=True, slots=True)
class StateBytes:
    """Bytes a parameter of each model state in one regime."""

    weights: float
    weight_casts: float  #: 16-bit copies autocast keeps from forward to backward
    gradients: float
    master: float  #: the optimizer's fp32 copy of the weights
    state_value: float  #: one optimizer state value (a moment)
    source: str


def state_bytes(regime: Regime, dtype: Dtype) -> StateBytes:
    if regime is Regime.AMP:
        return StateBytes(4, 2, 4, 0, 4, AUTOCAST_DOC)
    if regime is Regime.MASTER:
        return StateBytes(2, 0, 2, 4, 4, ZERO_PAPER)
    size = DTYPE_BITS[dtype] / 8
    return StateBytes(size, 0, size, 0, size, TORCH_OPTIM)


#: What ZeRO shards over the data-parallel GPUs, by stage (FSDP full shard = 3): one table for
#: both methods (the article's shares and the detailed method's).
ZERO_SHARDED: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset({"optimizer"}),
    2: frozenset({"optimizer", "gradients"}),
    3: frozenset({"optimizer", "gradients", "weights"}),
}


#: Optimizer state values a parameter: AdamW two moments, SGD and Lion one momentum, plain SGD
#: none; Adafactor (HF default, no first moment) keeps a row and a column a matrix, under 0.1 %
#: of the weights for LLM-sized matrices, so none a parameter.
STATE_VALUES: dict[Optimizer, int] = {
    Optimizer.ADAMW: 2,
    Optimizer.ADAM8BIT: 2,
    Optimizer.SGD_MOMENTUM: 1,
    Optimizer.SGD_PLAIN: 0,
    Optimizer.LION: 1,
    Optimizer.ADAFACTOR: 0,
}

#: bitsandbytes 8-bit Adam: one byte a state value plus an fp32 absmax a 2048-value block.
ADAM8BIT_VALUE_BYTES = 1 + 4 / 2048

#: Full-size temporaries of one optimizer step, in state values a parameter, for torch.optim's
#: foreach implementations (the default of a plain ``torch.optim.AdamW`` on CUDA, PyTorch PR
#: #95415): foreach AdamW computes ``_foreach_sqrt(exp_avg_sqs)`` into a new list as large as the
#: second moments; Lion's update is one new tensor a parameter too; SGD updates in place;
#: bitsandbytes runs fused kernels. Fused optimizers (Hugging Face Trainer's default
#: ``adamw_torch_fused``) make none.
STEP_TEMPORARIES: dict[Optimizer, int] = {
    Optimizer.ADAMW: 1,
    Optimizer.ADAM8BIT: 0,
    Optimizer.SGD_MOMENTUM: 0,
    Optimizer.SGD_PLAIN: 0,
    Optimizer.LION: 1,
    Optimizer.ADAFACTOR: 0,
}


def optimizer_bytes(optimizer: Optimizer, states: StateBytes) -> float:
    """Optimizer bytes a parameter: master copy plus states."""
    value = ADAM8BIT_VALUE_BYTES if optimizer is Optimizer.ADAM8BIT else states.state_value
    return states.master + STATE_VALUES[optimizer] * value


def optimizer_source(optimizer: Optimizer, states: StateBytes) -> str:
    return BNB_8BIT if optimizer is Optimizer.ADAM8BIT else f"{states.source}; {TORCH_OPTIM}"
