"""The detailed method: pinned to published figures, and its phases consistent with its items."""

from __future__ import annotations

import dataclasses

import pytest

import vram
from vram.formula import Formula
from vram.memory.detailed.activations import BlockOptions, joined, layer_terms
from vram.memory.detailed.inference import KV_SOURCE, MLA_SOURCE, kv_token_layer

STATES = ("weights", "gradients", "optimizer")


def detailed(query: str) -> vram.Estimate:
    est = vram.ask(query, method="detailed")
    assert est.method == "detailed"
    return est


#: query -> {item key: bytes}, exact from the formulas and published figures
GOLDEN = {
    # vLLM paper section 3: OPT-13B, 800 KB a token, 1.6 GB for 2,048 tokens (fp16)
    "infer opt-13b fp16 seq 1": {"kv_cache": 819_200},
    "infer opt-13b fp16 seq 2048": {"kv_cache": 1_677_721_600},
    # reference file section 3 "KV B/token": GQA and MLA caches
    "infer llama-3-8b bf16 seq 1": {"kv_cache": 131_072},
    "infer llama-2-70b fp16 seq 1": {"kv_cache": 327_680},
    "infer deepseek-v3 bf16 seq 1": {"kv_cache": 70_272},
    # fp8 KV halves the cache
    "infer llama-3-8b bf16 seq 1 kv=fp8": {"kv_cache": 65_536},
    # Mistral 7B v0.1 keeps a 4,096-token window in every layer: 32k context costs 4k tokens;
    # v0.2 and v0.3 (the bare name) dropped the window and keep all 32k
    "infer mistral-7b-v0.1 fp16 seq 32k": {"kv_cache": 4096 * 131_072},
    "infer mistral-7b fp16 seq 32k": {"kv_cache": 32768 * 131_072},
    "infer mistral-7b-instruct-v0.2 fp16 seq 32k": {"kv_cache": 32768 * 131_072},
    # prefill's MLP working set (b = 1, c = 2): four hidden-size tensors, then the inner ones. Separate
    # gate and up keep 3f (activation, up, product); a fused gate-up matrix keeps its 2f output while
    # the activation's f and the product's f are made, 4f (transformers' Phi3MLP, GlmMLP; ChatGLM)
    "infer llama-3-8b bf16 seq 4096": {"activations": 2 * 4096 * (4 * 4096 + 3 * 14336)},
    "infer phi-3-mini-4k bf16 seq 4096": {"activations": 2 * 4096 * (4 * 3072 + 4 * 8192)},
    "infer chatglm3-6b bf16 seq 4096": {"activations": 2 * 4096 * (4 * 4096 + 4 * 13696)},
    # weights: exact counts at 2 bytes, fp32 at 4
    "infer llama-2-7b fp16": {"weights": 2 * 6_738_415_616},
    "infer llama-2-7b fp32": {"weights": 4 * 6_738_415_616},
    # ZeRO paper section 3.1: mixed-precision Adam is 16 bytes a parameter (7.5B -> 120 GB)
    "train 7.5b bf16 adamw master": {"weights": 15_000_000_000, "gradients": 15_000_000_000,
                                     "optimizer": 90_000_000_000},
    "train 7.5b bf16 adamw amp": {"weights": 30_000_000_000, "gradients": 30_000_000_000,
                                  "optimizer": 60_000_000_000},
    "train 7.5b bf16 adamw pure": {"weights": 15_000_000_000, "gradients": 15_000_000_000,
                                   "optimizer": 30_000_000_000},
    "train 7.5b bf16 adam8bit master": {"optimizer": round(7.5e9 * (4 + 2 * (1 + 4 / 2048)))},
    "train 7.5b bf16 sgd pure": {"optimizer": 15_000_000_000},
}


@pytest.mark.parametrize("query", GOLDEN)
def test_golden(query):
    est = detailed(query)
    for key, expected in GOLDEN[query].items():
        assert est.item(key).bytes == expected, key


@pytest.mark.parametrize("model, kv_heads, value_bytes, per_token", [
    ("opt-13b", 40, 2, 819_200 // 40),  # vLLM paper section 3: 800 KB a token over 40 layers
    ("llama-3-8b", 8, 2, 131_072 // 32),
    ("llama-3-8b", 2, 1, 512),  # a tensor-parallel shard of two KV heads, fp8: 2 x 2 x 128 x 1
    ("deepseek-v3", 128, 2, 70_272 // 61),  # MLA: the latent and the rotary key, whatever the heads
    ("llama-3-8b", 8, (34 / 32 + 18 / 32) / 2, 8 * 128 * (34 / 32 + 18 / 32)),  # llama.cpp K q8_0, V q4_0
])
def test_one_token_one_layer_is_the_cache_formula_at_one_of_each(model, kv_heads, value_bytes, per_token):
    # what the serving engines' blocks and llama.cpp's cells are counted in (serving.py, llamacpp.py)
    row = kv_token_layer(vram.catalog.find_model(model), kv_heads, value_bytes)
    assert row.expression.value(row.values) == per_token and row.source in (KV_SOURCE, MLA_SOURCE)


def test_model_states_are_16_bytes_a_parameter_in_both_mixed_regimes():
    for regime in ("master", "amp"):
        est = detailed(f"train 7.5b bf16 adamw {regime}")
        assert sum(est.item(k).bytes for k in STATES) == 120_000_000_000


def test_gpt_block_reproduces_korthikanti():
    """GPT-style layer, eager attention, dropout, 16-bit: 34sbh + 5as^2b (+ LayerNorm statistics)."""
    options = BlockOptions(norm="layernorm", mlp="plain", fused_attention=False, dropout=True, fp32_softmax=False)
    formula = Formula(joined(layer_terms(options)))
    for s, b, h, a in [(2048, 1, 4096, 32), (2048, 4, 6144, 64), (1024, 2, 12288, 96)]:
        values = {"s": s, "b": b, "h": h, "a": a, "k": a, "d": h // a, "f": 4 * h, "c": 2, "n": 2}
        korthikanti = 34 * s * b * h + 5 * a * s * s * b
        layernorm_statistics = 2 * 8 * b * s
        assert formula.bytes(values) == korthikanti + layernorm_statistics


def test_selective_recompute_drops_exactly_the_score_terms():
    options = BlockOptions(norm="layernorm", mlp="plain", fused_attention=False, dropout=True, fp32_softmax=False)
    values = {"s": 2048, "b": 1, "h": 4096, "a": 32, "k": 32, "d": 128, "f": 16384, "c": 2, "n": 2}
    selective = Formula(joined(layer_terms(options, drop_quadratic=True))).value(values)
    assert selective == 2048 * 4096 * 34 + 16 * 2048


def test_peak_is_the_largest_phase_and_phases_sum_their_items():
    for query in ("train llama-3-8b bf16 adamw", "train gpt2 fp32 adamw batch 8 foreach", "infer llama-3-8b int4 seq 8k"):
        est = detailed(query)
        by_key = {item.key: item.bytes for item in est.items}
        for phase in est.phases:
            assert phase.bytes == sum(by_key[k] for k in phase.live)
        assert est.total_bytes == max(p.bytes for p in est.phases) == est.peak_phase.bytes
        assert est.low_bytes <= est.total_bytes <= est.high_bytes


def test_foreach_adds_a_full_size_temporary_at_the_optimizer_step():
    fused = detailed("train llama-2-7b bf16 adamw amp")
    foreach = detailed("train llama-2-7b bf16 adamw amp foreach")
    assert foreach.item("optimizer_temp").bytes == 4 * 6_738_415_616
    assert foreach.total_bytes > fused.total_bytes


def test_eager_attention_keeps_the_scores():
    flash = detailed("train llama-2-7b bf16 adamw seq 4096 flash").item("activations").bytes
    eager = detailed("train llama-2-7b bf16 adamw seq 4096 eager").item("activations").bytes
    # Llama's eager softmax in fp32 (4 B) then cast to bf16 (2 B): 6 bytes a score, 32 heads, 32
    # layers; less the fused kernel's log-sum-exp, which eager does not keep (the kernel's output
    # is the output projection's input, as eager's contiguous copy is: measured, one tensor each)
    scores = 32 * 32 * 4096 * 4096 * 6
    kernel_extras = 32 * 4 * 32 * 4096
    assert eager - flash == scores - kernel_extras


def test_full_recompute_keeps_one_input_a_layer():
    none = detailed("train llama-2-7b bf16 adamw pure").item("activations").bytes
    full = detailed("train llama-2-7b bf16 adamw pure checkpointing").item("activations").bytes
    assert full < none / 10


def test_quantised_weights_keep_embeddings_and_head_in_16_bit():
    est = detailed("infer llama-2-7b nf4")
    values = est.item("weights").values
    assert values["other_params"] == 2 * 32000 * 4096 + (2 * 32 + 1) * 4096  # embedding, head, norms
    assert est.item("weights").bytes == round(0.5 * values["block_params"] + 2 * values["other_params"])
    assert est.item("quant_overhead").bytes == round(0.127 / 8 * values["block_params"])


def test_int4_group_scales():
    est = detailed("infer llama-2-7b int4")
    assert est.item("quant_overhead").bytes == round(20 / 128 / 8 * est.item("weights").values["block_params"])


def test_the_article_figure_stands_beside_the_detailed_answer():
    est = vram.ask("train chatglm-6b adamw bf16 selective")
    assert est.method == "detailed"
    assert [(c.method, c.total_bytes) for c in est.comparisons] == [("article", 103_985_954_816)]
    assert "The article method gives 103.99 GB" in vram.render_text(est)


def test_tensor_parallel_inference_is_answered_by_the_detailed_method():
    est = vram.ask("infer llama-2-70b fp16 tp 4 on 4 a100")  # tests/test_inference_parallel.py: the numbers
    assert est.method == "detailed"
    assert not any("does not model" in a for a in est.assumptions)


def test_every_detailed_item_shows_its_work():
    for query in ("train llama-3-8b bf16 adamw foreach", "infer mixtral-8x7b int4 on 2 a100", "infer gemma-2-9b bf16 seq 8k"):
        for item in detailed(query).items:
            assert item.formula and item.values and item.source, item


@pytest.mark.parametrize("base", ["train llama-3-8b bf16 adamw", "infer mistral-7b fp16", "lora llama-2-7b bf16",
                                  "train 7b bf16 adamw zero3 on 8 a100", "train gpt2 fp32 adamw foreach",
                                  "infer llama-3-8b fp16 seq 4096"])
def test_a_job_kept_for_sweeps_gives_what_a_fresh_estimate_gives(base):
    from vram.memory.detailed import method as model

    request = vram.parse(base)
    for batch, seq in [(1, 512), (4, 2048), (3, 9000), (None, 1024), (2, None), (7, 3)]:
        changed = dataclasses.replace(request, batch_size=batch, seq_len=seq)
        model._KEPT.clear()
        fresh = vram.estimate(changed, method="detailed")
        model._KEPT.clear()
        vram.estimate(dataclasses.replace(changed, batch_size=batch and batch + 5, seq_len=seq and seq + 77),
                      method="detailed")  # keeps the job at other sizes
        kept = vram.estimate(changed, method="detailed")
        assert kept.to_dict() == fresh.to_dict()
