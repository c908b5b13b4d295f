"""Liger-Kernel's fused linear cross-entropy as a loss: its words, its chunk and its bytes, pinned to
src/liger_kernel/ops/fused_linear_cross_entropy.py fused_linear_cross_entropy_forward (ead96b6)."""

from __future__ import annotations

import pytest

import vram
from vram.memory.detailed.common import liger_chunk_tokens
from vram.request.enums import Loss

LLAMA_3_8B = {"v": 128256, "h": 4096}
QWEN_25_7B = {"v": 152064, "h": 3584}


@pytest.mark.parametrize("tokens, vocab, hidden, chunk", [
    # the source's own comment: BT = 4096*4, V = 32000, H = 4096 ==> inc_factor = 8, chunk_size = 2048
    (4096 * 4, 32000, 4096, 2048),
    # Llama-3-8B at 4 x 4096: ceil(128256 / 4096) = 32, 16384 / 32 = 512
    (4 * 4096, 128256, 4096, 512),
    # Qwen2.5-7B at 2048: ceil(152064 / 3584) = 43, ceil(2048 / 43) = 48, the next power of two 64
    (2048, 152064, 3584, 64),
    # the power of two past the tokens: the chunk is the slice [0, BT)
    (3, 4, 4, 3),
    (1, 128256, 4096, 1),
])
def test_the_chunk_is_the_sources_power_of_two(tokens, vocab, hidden, chunk):
    assert liger_chunk_tokens(tokens, vocab, hidden) == chunk


def _liger_bytes(c, k, v, h, n, b, s, head):
    """The loss at its last chunk: that chunk's logits and their product with the head, grad_input (in
    the hidden states' dtype n), the fp32 per-token loss, and the head's gradient (head bytes)."""
    return c * k * (v + h) + n * b * s * h + 4 * b * s + head * v * h


@pytest.mark.parametrize("query, shape", [
    # autocast over fp32 weights: the final norm's output, grad_input and grad_weight are fp32
    ("train llama-3-8b bf16 adamw liger seq 4096 batch 4 on h100",
     dict(c=2, k=512, n=4, b=4, s=4096, head=4, **LLAMA_3_8B)),
    # pure bf16: all of them bf16
    ("train llama-3-8b pure bf16 adamw use_liger_kernel=True seq 4096 batch 4 on h100",
     dict(c=2, k=512, n=2, b=4, s=4096, head=2, **LLAMA_3_8B)),
    # LoRA: the head is frozen, so Liger makes no grad_weight
    ("lora qwen2.5-7b bf16 liger seq 2048 batch 1 on a100",
     dict(c=2, k=64, n=2, b=1, s=2048, head=0, **QWEN_25_7B)),
    # PEFT's trainable copy of lm_head has its gradient, in the model's dtype
    ("lora qwen2.5-7b bf16 liger modules_to_save lm_head seq 2048 batch 1 on a100",
     dict(c=2, k=64, n=2, b=1, s=2048, head=2, **QWEN_25_7B)),
])
def test_the_loss_bytes_follow_the_source(query, shape):
    estimate = vram.ask(query)
    assert estimate.item("logits").bytes == _liger_bytes(**shape)
    assert "liger_kernel/ops/fused_linear_cross_entropy.py" in estimate.item("logits").source
    assert any("RMSNorm, SwiGLU, RoPE" in line for line in estimate.assumptions)


def test_liger_keeps_far_less_than_the_whole_fp32_logits():
    whole = vram.ask("train llama-3-8b bf16 adamw full seq 4096 batch 4 on h100")
    liger = vram.ask("train llama-3-8b bf16 adamw full liger seq 4096 batch 4 on h100")
    assert whole.item("logits").bytes == 12 * 4 * 4096 * LLAMA_3_8B["v"]
    assert liger.item("logits").bytes < whole.item("logits").bytes / 10
    assert liger.total_bytes < whole.total_bytes


@pytest.mark.parametrize("query, loss", [
    ("train llama-3-8b liger on a100", Loss.LIGER),
    ("train llama-3-8b liger kernel on a100", Loss.LIGER),
    ("train llama-3-8b with liger on a100", Loss.LIGER),
    ("train llama-3-8b use_liger_kernel=True on a100", Loss.LIGER),
    ("train llama-3-8b --use_liger_kernel true on a100", Loss.LIGER),
    ("train llama-3-8b --use-liger-kernel on a100", Loss.LIGER),
    ("lora llama-3-8b enable_liger_kernel=true on a100", Loss.LIGER),
    ("qlora llama-3-8b liger_fused_linear_cross_entropy=true on a100", Loss.LIGER),
    # switched off: transformers' own loss, the whole fp32 logits
    ("train llama-3-8b use_liger_kernel=False on a100", Loss.FP32_LOGITS),
    ("训练 llama-3-8b liger 内核 单卡a100", Loss.LIGER),
    ("lora llama-3-8b 开启 liger 单卡4090", Loss.LIGER),
])
def test_liger_words(query, loss):
    assert vram.parse(query).loss is loss


@pytest.mark.parametrize("query", [
    "train llama-3-8b bf16 adamw liger seq 4096 batch 4 on 1x h100-80gb",
    "lora qwen2.5-7b liger on 1x a100-80gb",
])
def test_liger_round_trips_through_the_query_and_json(query):
    request = vram.parse(query)
    assert request.to_query() == query
    assert type(request).from_dict(request.to_dict()) == request


def test_liger_is_refused_for_inference():
    with pytest.raises(vram.errors.ConflictError, match="a loss applies to training"):
        vram.parse("infer llama-3-8b liger on a100")
