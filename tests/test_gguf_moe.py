"""GGUF models served by llama.cpp and Ollama that were refused before issue 16's GGUF work (M):
gpt-oss's MXFP4 file, DeepSeek's MLA in a K-quant mix and its latent KV cache, Ollama's own tag over a
checkpoint's GPU format. The weights are pinned to published file sizes (tests/data/gguf_sizes.jsonl)
in test_quant.py; these pin what the launch answers."""

from __future__ import annotations

import pytest

import vram
from vram import catalog
from vram.memory.quant import gguf_bytes

MIB = 2**20


def test_gpt_oss_mxfp4_gguf_is_served_as_mxfp4_moe():
    """'-m gpt-oss-20b-mxfp4.gguf': llama.cpp's MXFP4_MOE file, the model buffer its blocks and output."""
    estimate = vram.ask("llama-server -m gpt-oss-20b-mxfp4.gguf -c 32768 -ngl 99 on rtx 4090")
    assert "MXFP4_MOE" in estimate.item("weights").label
    stored = sum(size for _, size in gguf_bytes(catalog.find_model("gpt-oss-20b"), "mxfp4_moe", False).values())
    embd = 201088 * 2880 * 34 // 32  # token_embd stays on the CPU, in q8_0
    assert estimate.item("weights").bytes == pytest.approx(stored - embd, rel=1e-3)
    assert estimate.fit[0].fits


@pytest.mark.parametrize(("query", "cells"), [
    ("llama.cpp deepseek-r1 q4_k_m -c 32768 -ngl 99 on 8x h200", 32768),
    ("llama.cpp deepseek-v3 q4_k_m -c 8192 -ngl 99 -ctk q8_0 on 8x h200", 8192),
])
def test_mla_caches_the_latent_and_rope_key_without_v(query, cells):
    """llama-kv-cache.cpp: has_v = !is_mla; K of kv_lora_rank 512 + n_rot 64 a cell a layer (f16: 1152 B,
    q8_0: 576 x 34/32); 61 layers over 8 GPUs, 8 on the most loaded."""
    estimate = vram.ask(query)
    k_bytes = 2 if "ctk" not in query else 34 / 32
    assert estimate.item("kv_cache").bytes == round(8 * cells * 576 * k_bytes)
    assert "no V" in estimate.item("kv_cache").label


def test_ollama_tag_is_its_q4_k_m_gguf_not_the_fp8_checkpoint():
    """deepseek-r1:671b is deepseek-r1:671b-q4_K_M (ollama/ollama#8954): the HF checkpoint's fp8 blocks do
    not carry over."""
    estimate = vram.ask("ollama run deepseek-r1:671b on 8x h100")
    assert "Q4_K_M" in estimate.item("weights").label
    assert any("deepseek-r1:671b" in line and "Q4_K_M" in line for line in estimate.assumptions)


def test_a_named_quant_still_wins_on_ollama():
    estimate = vram.ask("ollama deepseek-r1 q8_0 on 8x h200")
    assert "Q8_0" in estimate.item("weights").label


def test_fp8_weights_on_llama_cpp_are_still_refused():
    """llama.cpp has no fp8 GGUF: a DeepSeek fp8 checkpoint needs a GGUF type named."""
    with pytest.raises(vram.VramError, match="GGUF"):
        vram.ask("llama.cpp deepseek-r1 -c 4096 on 8x h200")
