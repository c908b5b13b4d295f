"""The byte rules, each with one home (memory/rules.py, memory/runtime.py, request/enums.py), and
the tables derived from them: the article's figures, the adapters', the fit's need."""

from __future__ import annotations

import pytest

import vram
from vram.memory import article, rules, runtime
from vram.memory.detailed.adapters import ADAPTER_STATES
from vram.request.enums import Dtype, Optimizer, Regime, mixed_by_default


@pytest.mark.parametrize("dtype, stored, computed, mixed", [
    (Dtype.FP32, 4, 4, False),
    (Dtype.FP16, 2, 2, True),
    (Dtype.BF16, 2, 2, True),
    (Dtype.FP8, 1, 2, False),
    (Dtype.INT8, 1, 2, False),
    (Dtype.INT4, 0.5, 2, False),
    (Dtype.NF4, 0.5, 2, False),
])
def test_a_dtype_s_bytes_compute_bytes_and_mixed_default(dtype, stored, computed, mixed):
    assert (rules.dtype_bytes(dtype), rules.compute_bytes(dtype), mixed_by_default(dtype)) == (stored, computed, mixed)


#: The article's optimizer bytes a parameter (design.md 5.1: AdamW 12, 8-bit 6, SGD with momentum 8;
#: the rest by the same rule), derived from the shared tables.
@pytest.mark.parametrize("optimizer, article_bytes, adapter_bytes", [
    (Optimizer.ADAMW, 12, 8),
    (Optimizer.ADAM8BIT, 6, 2 * (1 + 4 / 2048)),
    (Optimizer.SGD_MOMENTUM, 8, 4),
    (Optimizer.SGD_PLAIN, 4, 0),
    (Optimizer.LION, 8, 4),
    (Optimizer.ADAFACTOR, 4, 0),
    (Optimizer.MUON, 8, 4),  # one momentum buffer (KellerJordan/Muon muon.py)
    (Optimizer.ADAM_MINI, 8, 4),  # Adam's m; v one value a block (Adam-mini README: 50 % of Adam's states)
])
def test_optimizer_bytes_for_the_article_and_for_fp32_adapters(optimizer, article_bytes, adapter_bytes):
    assert article.OPTIMIZER_BYTES[optimizer] == article_bytes
    assert rules.optimizer_bytes(optimizer, ADAPTER_STATES) == adapter_bytes


@pytest.mark.parametrize("dtype, mixed, weights, gradients", [
    (Dtype.FP32, False, 4, 4),
    (Dtype.FP16, False, 2, 2),
    (Dtype.BF16, False, 2, 2),
    (Dtype.FP16, True, 2, 2),
    (Dtype.BF16, True, 2, 2),
])
def test_the_article_s_training_weights_and_gradients(dtype, mixed, weights, gradients):
    assert (article.TRAINING_WEIGHT_BYTES[dtype, mixed], article.GRADIENT_BYTES[dtype]) == (weights, gradients)


@pytest.mark.parametrize("regime, dtype, adamw", [
    (Regime.AMP, Dtype.BF16, 4 + 2 + 4 + 8),  # fp32 weights, their 16-bit casts, fp32 gradients and states
    (Regime.MASTER, Dtype.BF16, 2 + 2 + 12),  # the ZeRO paper's 2 + 2 + K
    (Regime.PURE, Dtype.BF16, 2 + 2 + 4),
    (Regime.PURE, Dtype.FP32, 4 + 4 + 8),
])
def test_a_parameter_s_model_states_by_regime(regime, dtype, adamw):
    states = rules.state_bytes(regime, dtype)
    total = states.weights + states.weight_casts + states.gradients + rules.optimizer_bytes(Optimizer.ADAMW, states)
    assert total == adamw


@pytest.mark.parametrize("query, context", [
    ("train llama-3-8b bf16 adamw on a100", runtime.CUDA_CONTEXT_BYTES),  # detailed: counted with the job
    ("infer 6b int8 method article on a100", 0),  # the article counts none
])
def test_the_context_leaves_the_need_in_one_place(query, context):
    estimate = vram.ask(query)
    assert runtime.context_bytes(estimate.items) == context
    assert estimate.fit[0].need_bytes == runtime.without_context(estimate.total_bytes, estimate.items)
    assert estimate.fit[0].need_bytes == estimate.total_bytes - context


#: Muon runs AdamW on what is not a block matrix (KellerJordan/Muon README): its bytes a parameter
#: are the mean over both kinds. (share of block matrices, fp32 state bytes a parameter)
@pytest.mark.parametrize("optimizer, share, pure_fp32", [
    (Optimizer.MUON, 1.0, 4), (Optimizer.MUON, 0.0, 8), (Optimizer.MUON, 0.75, 5),
    (Optimizer.ADAMW, 0.75, 8), (Optimizer.ADAM_MINI, 0.5, 4),
])
def test_an_optimizer_that_treats_the_matrices_apart(optimizer, share, pure_fp32):
    assert rules.optimizer_bytes(optimizer, ADAPTER_STATES, matrix_share=share) == pure_fp32


def test_muon_on_llama_3_8b_counts_adamw_on_embedding_and_head():
    # llama-3-8b: 2 x 128,256 x 4,096 untied embedding and head, 8,192 x 2 + 4,096 norm values
    est = vram.ask("train llama-3-8b bf16 muon")
    item = next(i for i in est.items if i.key == "optimizer")
    params = 8_030_261_248
    other = 2 * 128_256 * 4_096 + 65 * 4_096
    assert item.bytes == round((4 * params + 4 * other))  # AMP: fp32 momentum, and m, v on the rest
    mini = vram.ask("train llama-3-8b bf16 adam-mini")
    assert next(i for i in mini.items if i.key == "optimizer").bytes == 4 * params
