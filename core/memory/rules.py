"""The byte rules, one table each: a dtype's bytes, the dtype a job computes in, quantised weight
formats, what a parameter takes in training by precision regime and optimizer, what ZeRO shards.
Both methods take them from here (the article's tables are derived from these).

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
- bf16 master (DeepSpeed's bf16_master_weights_and_grads and bf16_optimizer_states): the same
  copies, the master and the states in bf16: 2 + 2 + 2 + 4 for AdamW.
"""

from __future__ import annotations

from dataclasses import dataclass

from vram.request.enums import TRAINABLE_DTYPES, Dtype, Optimizer, Regime

AUTOCAST_DOC = "PyTorch docs, Automatic Mixed Precision (torch.autocast, cache_enabled)"
TORCH_OPTIM = "torch.optim: states created zeros_like(param), in the parameter's dtype"
ZERO_PAPER = "Rajbhandari et al. 2019 (ZeRO), section 3.1: 2 + 2 + K bytes a parameter"
DEEPSPEED_BF16_MASTER = ("DeepSpeed bf16_master_weights_and_grads, bf16_optimizer_states (deepspeed/runtime/"
                         "precision_config.py; zero/stage3.py master_weights_and_grads_dtype: the master partition "
                         "a bf16 clone); DeepSpeedExamples training/bf16_master_weight README: 2N + 2N + 2N + 2N + 2N")
MEGATRON = "Shoeybi et al. 2019 (Megatron-LM): tensor and pipeline parallel shares"
ZERO = "Rajbhandari et al. 2019 (ZeRO), sections 5.1-5.3"
BNB_8BIT = "Dettmers et al. 2021, 8-bit optimizers: 1-byte states, an fp32 scale per 2048-value block"


#: Storage bits of one value. The article's weights rule (int8 1 B, fp16/bf16 2 B, fp32 4 B a
#: parameter) is this table divided by 8; 4-bit types take half a byte.
DTYPE_BITS: dict[Dtype, int] = {
    Dtype.FP32: 32,
    Dtype.FP16: 16,
    Dtype.BF16: 16,
    Dtype.FP8: 8,
    Dtype.INT8: 8,
    Dtype.INT4: 4,
    Dtype.NF4: 4,
}


def dtype_bytes(dtype: Dtype) -> float:
    """Bytes of one value stored in ``dtype`` (half a byte for 4-bit types)."""
    return DTYPE_BITS[dtype] / 8


def compute_dtype(dtype: Dtype) -> Dtype:
    """The dtype a model held in ``dtype`` computes in: its own where it can train in it, else fp16
    (bitsandbytes, GPTQ/AWQ and fp8 kernels dequantise to 16 bits for the matmuls)."""
    return dtype if dtype in TRAINABLE_DTYPES else Dtype.FP16


def compute_bytes(dtype: Dtype) -> int:
    """Bytes of one value a model held in ``dtype`` computes with (whole: 2 or 4)."""
    return DTYPE_BITS[compute_dtype(dtype)] // 8


@dataclass(frozen=True, slots=True)
class WeightFormat:
    """How a weight dtype stores the block's matrices, and what it leaves in 16 bits."""

    overhead_bits: str  #: extra bits a quantised weight (scales, zeros), as a formula in h
    source: str


#: Quantised formats: the matrices of the transformer blocks take the dtype's bits plus their
#: scales; embeddings, the output head and norms stay 16-bit (bitsandbytes skips lm_head, GPTQ and
#: AWQ quantise only the blocks' linear layers, vLLM's fp8 keeps embeddings and head in bf16).
WEIGHT_FORMATS: dict[Dtype, WeightFormat] = {
    Dtype.FP8: WeightFormat("0", "fp8 (e4m3) weights with a per-tensor scale (vLLM, FBGEMM fp8)"),
    Dtype.INT8: WeightFormat("32/h", "LLM.int8() (Dettmers et al. 2022): int8 rows, an fp32 absmax a row"),
    Dtype.INT4: WeightFormat("(16 + 4)/128", "GPTQ/AWQ, group size 128: an fp16 scale and a 4-bit zero a group"),
    Dtype.NF4: WeightFormat("0.127", "QLoRA (Dettmers et al. 2023) section 3: NF4, blocks of 64, double "
                                     "quantisation: 0.127 bits a parameter"),
}


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
    if regime is Regime.BF16_MASTER:
        return StateBytes(2, 0, 2, 2, 2, DEEPSPEED_BF16_MASTER)
    size = dtype_bytes(dtype)
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
    # Muon keeps one momentum buffer a matrix of the blocks (KellerJordan/Muon muon.py:
    # state["momentum_buffer"] = zeros_like(grad)); the rest is AUX_STATE_VALUES' below
    Optimizer.MUON: 1,
    # Adam-mini keeps Adam's first moment and one second moment a block of the Hessian's
    # partition (a head, a neuron, a token): ">99.9%" of v removed, "50% less memory" than Adam for
    # every part of the model since v1.1.0 (zyushun/Adam-mini README; Zhang et al. 2024,
    # arXiv:2406.16793): the blocks' few values are under 0.1 % of the weights, so none a parameter
    Optimizer.ADAM_MINI: 1,
}

#: State values a parameter outside the blocks' matrices (embeddings, output head, norms and
#: biases) for optimizers that treat those apart: Muon is "intended to optimize only the internal
#: >=2D parameters"; embeddings, classifier heads, gains and biases "should be optimized using
#: AdamW" (KellerJordan/Muon README, MuonWithAuxAdam; Moonlight, Liu et al. 2025, likewise).
AUX_STATE_VALUES: dict[Optimizer, int] = {Optimizer.MUON: 2}
MUON = "KellerJordan/Muon (muon.py, README): one momentum buffer a block matrix, AdamW's two moments on the rest"
ADAM_MINI = "Zhang et al. 2024 (Adam-mini, arXiv:2406.16793; zyushun/Adam-mini README): Adam's m, v one value a block"

#: bitsandbytes 8-bit Adam: one byte a state value, plus an fp32 absmax a 2048-value block.
ADAM8BIT_STATE_BYTES = 1
ADAM8BIT_BLOCK_SCALE_BYTES = 4 / 2048

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
    # Muon orthogonalises one matrix's momentum at a time; Adam-mini updates block by block
    Optimizer.MUON: 0,
    Optimizer.ADAM_MINI: 0,
}


def optimizer_bytes(optimizer: Optimizer, states: StateBytes, block_scales: bool = True,
                    matrix_share: float = 1.0) -> float:
    """Optimizer bytes a parameter: master copy plus states (8-bit states with their block scales
    unless ``block_scales`` is False, as the article counts them). ``matrix_share``: the share of
    the parameters in the blocks' matrices, for an optimizer that treats the rest apart
    (AUX_STATE_VALUES; the mean over both is returned)."""
    value = states.state_value
    if optimizer is Optimizer.ADAM8BIT:
        value = ADAM8BIT_STATE_BYTES + (ADAM8BIT_BLOCK_SCALE_BYTES if block_scales else 0)
    count = STATE_VALUES[optimizer]
    count = matrix_share * count + (1 - matrix_share) * AUX_STATE_VALUES.get(optimizer, count)
    return states.master + count * value


def optimizer_source(optimizer: Optimizer, states: StateBytes) -> str:
    if optimizer is Optimizer.ADAM8BIT:
        return BNB_8BIT
    own = {Optimizer.MUON: MUON, Optimizer.ADAM_MINI: ADAM_MINI}.get(optimizer, TORCH_OPTIM)
    return f"{states.source}; {own}"
