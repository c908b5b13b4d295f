"""GGUF models served by llama.cpp and Ollama that were refused before issue 16's GGUF work (M):
gpt-oss's MXFP4 file, DeepSeek's MLA in a K-quant mix and its latent KV cache, Ollama's own tag over a
checkpoint's GPU format. The weights are pinned to published file sizes (tests/data/gguf_sizes.jsonl)
in test_quant.py; these pin what the launch answers."""

from __future__ import annotations

import pytest

import vram
from vram import catalog
from vram.memory.detailed import llamacpp
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
    not carry over. num_ctx 2048, as releases before 0.6.7 defaulted to (tests/test_ollama_releases.py has the
    defaults and placements by release)."""
    estimate = vram.ask("ollama run deepseek-r1:671b num_ctx 2048 on 8x h100")
    assert "Q4_K_M" in estimate.item("weights").label
    assert any("deepseek-r1:671b" in line and "Q4_K_M" in line for line in estimate.assumptions)


def test_a_named_quant_still_wins_on_ollama():
    estimate = vram.ask("ollama deepseek-r1 q8_0 on 8x h200")
    assert "Q8_0" in estimate.item("weights").label


def test_fp8_weights_on_llama_cpp_are_still_refused():
    """llama.cpp has no fp8 GGUF: a DeepSeek fp8 checkpoint needs a GGUF type named."""
    with pytest.raises(vram.VramError, match="GGUF"):
        vram.ask("llama.cpp deepseek-r1 -c 4096 on 8x h200")


# -- --n-cpu-moe: the first N blocks' experts in host memory ------------------------------------------------

QWEN3_MOE = "llama.cpp qwen3-30b-a3b q4_k_m -c 32768 -ngl 99 on rtx 4090"


@pytest.mark.parametrize("query", ["llama.cpp qwen3-30b-a3b q4_k_m --n-cpu-moe 20 -c 32768 on rtx 4090",
                                   "llama-server -m qwen3-30b-a3b -ncmoe 20", "infer qwen3-30b-a3b ncmoe 20"])
def test_n_cpu_moe_reads_as_llama_cpps(query):
    request = vram.parse(query)
    assert request.cpu_moe_layers == 20 and request.engine == "llama.cpp"
    assert vram.parse(request.to_query()) == request


@pytest.mark.parametrize("n", [1, 20, 48])
def test_n_cpu_moe_moves_the_first_blocks_experts_to_the_host(n):
    """common/arg.cpp -ncmoe N: a CPU buffer override for blk.i.ffn_*_exps, i < N: the GPU's model buffer
    loses those experts' bytes and the host gains them, nothing else moves."""
    spec = catalog.find_model("qwen3-30b-a3b")
    experts = llamacpp.expert_bytes(spec, "q4_k_m")
    base, moved = vram.ask(QWEN3_MOE), vram.ask(f"{QWEN3_MOE} --n-cpu-moe {n}")
    assert base.item("weights").bytes - moved.item("weights").bytes == sum(experts[:n])
    assert moved.host_bytes - base.host_bytes == sum(experts[:n])
    assert moved.item("kv_cache").bytes == base.item("kv_cache").bytes


def test_expert_bytes_are_the_experts_of_the_mix():
    """48 blocks of 128 experts, gate and up (2048 -> 768) and down (768 -> 2048): q4_K for gate/up,
    q4_K or q6_K for down by use_more_bits, rows of 2048 and 768 both split into 256s."""
    spec = catalog.find_model("qwen3-30b-a3b")
    experts = llamacpp.expert_bytes(spec, "q4_k_m")
    gate_up = 2 * 128 * 768 * 2048 * 144 // 256
    assert experts[1] == gate_up + 128 * 2048 * 768 * 210 // 256  # block 1: use_more_bits, down in q6_K
    assert experts[7] == gate_up + 128 * 2048 * 768 * 144 // 256  # block 7: down in q4_K


def test_more_cpu_moe_blocks_never_need_more_gpu_memory():
    totals = [vram.ask(f"{QWEN3_MOE} --n-cpu-moe {n}").total_bytes for n in range(0, 49, 6)]
    assert totals == sorted(totals, reverse=True)


def test_n_cpu_moe_on_a_dense_model_moves_nothing_and_says_so():
    estimate = vram.ask("llama.cpp llama-3.1-8b q4_k_m -c 8192 -ngl 99 --n-cpu-moe 10 on rtx 4090")
    assert estimate.total_bytes == vram.ask("llama.cpp llama-3.1-8b q4_k_m -c 8192 -ngl 99 on rtx 4090").total_bytes
    assert any("moves nothing" in line for line in estimate.assumptions)


def test_n_cpu_moe_is_not_ollamas():
    with pytest.raises(vram.VramError, match="n-cpu-moe"):
        vram.ask("ollama qwen3-30b-a3b ncmoe 10 on rtx 4090")


def test_cpu_moe_keeps_every_blocks_experts_on_the_host():
    """--cpu-moe (common/arg.cpp: llm_ffn_exps_cpu_override, every block) is -ncmoe of all 48 blocks."""
    every = vram.ask(f"{QWEN3_MOE} --cpu-moe")
    assert every.item("weights").bytes == vram.ask(f"{QWEN3_MOE} -ncmoe 48").item("weights").bytes
    assert vram.parse(f"{QWEN3_MOE} --cpu-moe").engine == "llama.cpp"
