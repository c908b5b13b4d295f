"""Many GPUs and fine-tuning in the detailed method: ZeRO / FSDP, tensor, pipeline and sequence
parallelism, LoRA and QLoRA, pinned to the ZeRO and QLoRA papers."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings, strategies as st

import vram

STATES = ("weights", "gradients", "optimizer")


def detailed(query: str) -> vram.Estimate:
    est = vram.ask(query, method="detailed")
    assert est.method == "detailed"
    return est


#: ZeRO paper Figure 1: 7.5B parameters, Nd = 64, mixed-precision Adam: per-GPU model states.
@pytest.mark.parametrize("stage, states", [(1, 31_406_250_000), (2, 16_640_625_000), (3, 1_875_000_000)])
def test_zero_paper_figure_1(stage, states):
    est = detailed(f"train 7.5b bf16 adamw zero{stage} on 64 a100")
    assert abs(sum(est.item(k).bytes for k in STATES) - states) <= 3  # each item rounds up to a byte


def test_zero3_gathers_the_largest_layer():
    est = detailed("train llama-2-7b bf16 adamw zero3 on 8 a100")
    layer = 4 * 4096 * 4096 + 3 * 4096 * 11008  # q, k, v, o and the gated MLP: larger than the embedding
    gather = est.item("zero3_gather")
    assert gather.values == {"largest_layer_params": layer} and gather.bytes == 4 * layer


def test_plain_ddp_keeps_buckets_the_size_of_the_gradients():
    est = detailed("train llama-2-7b bf16 adamw on 8 a100")
    assert est.item("ddp_buckets").bytes == est.item("gradients").bytes
    assert "ddp_buckets" not in {i.key for i in detailed("train llama-2-7b bf16 adamw zero1 on 8 a100").items}


def test_the_articles_example_on_8xa100_per_gpu_with_sharded_strategies_beside_it():
    est = vram.ask("train chatglm-6b adamw bf16 selective on 8xA100")
    assert est.method == "detailed" and not est.fit[0].fits
    by_stage = {alt.request.zero: alt for alt in est.strategies}
    assert by_stage[3].fit.fits and by_stage[3].method == "detailed"
    assert by_stage[2].total_bytes < est.total_bytes


def test_tensor_parallel_splits_weights_and_the_per_head_activations():
    one = detailed("train llama-2-70b bf16 adamw selective pp 4 on 4 h100")
    eight = detailed("train llama-2-70b bf16 adamw selective tp 8 pp 4 on 32 h100")
    assert eight.item("weights").bytes == pytest.approx(one.item("weights").bytes / 8, rel=1e-6)
    assert one.item("activations").bytes / 8 < eight.item("activations").bytes < one.item("activations").bytes
    sp = detailed("train llama-2-70b bf16 adamw selective tp 8 pp 4 sp on 32 h100")
    assert sp.item("activations").bytes == pytest.approx(one.item("activations").bytes / 8, rel=0.02)


def test_pipeline_stages_answer_for_the_heaviest():
    est = detailed("train llama-2-7b bf16 adamw pp 4 on 4 a100")
    assert est.item("weights").values["stage_share"] > 0.25  # a quarter of the layers plus the embedding
    assert any("stage" in a and "holds the most" in a for a in est.assumptions)


def test_qlora_paper_65b_under_48gb_where_16_bit_full_finetuning_needs_over_780gb():
    qlora = detailed("qlora 65b seq 512 rank 64")
    full = detailed("train 65b bf16 master adamw seq 512 checkpointing")  # 16-bit weights, fp32 optimizer
    # 48.26 GB: within 1 % of the paper's 48 GB card. The paper pages optimizer states to the CPU
    # at peaks (paged optimizers), which this does not model; a bare 65b once passed under 48 GB
    # only because its embeddings and head came out negative (issue 13, item 5).
    assert qlora.total_bytes < 48e9 * 1.01 and 780e9 < full.total_bytes


def test_qlora_quantisation_constants_are_double_quantised():
    est = detailed("qlora llama-2-70b")
    block = est.item("weights").values["block_params"]
    assert est.item("quant_overhead").bytes == round(0.127 / 8 * block)


def test_lora_trains_only_the_adapters():
    est = detailed("lora llama-2-7b bf16 rank 16")
    adapters = 32 * 2 * 16 * (4096 + 4096)  # q_proj and v_proj, r x (d_in + d_out), 32 layers
    assert est.item("adapters").values == {"adapter_params": adapters}
    assert est.item("gradients").bytes == 4 * adapters and est.item("optimizer").bytes == 8 * adapters
    assert est.item("weights").bytes == 2 * 6_738_415_616


def test_qlora_adapters_on_every_linear_layer_with_gqa_shapes():
    est = detailed("qlora llama-3-8b rank 8")
    h, kv, f = 4096, 8 * 128, 14336
    per_layer = 8 * ((h + h) + (h + kv) * 2 + (h + h) + (h + f) * 2 + (f + h))
    assert est.item("adapters").values == {"adapter_params": 32 * per_layer}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["llama-2-7b", "7b", "mistral-7b", "gpt2"]), st.integers(1, 32), st.sampled_from([512, 2048, 8192]))
def test_lora_never_needs_more_than_full_fine_tuning(model, batch, seq):
    full = vram.parse(f"train {model} bf16 adamw batch {batch} seq {seq}")
    for task in ("lora", "qlora"):
        adapted = dataclasses.replace(full, task=task, dtype=None, mixed_precision=None)
        assert vram.estimate(adapted).total_bytes <= vram.estimate(full).total_bytes


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6))
def test_a_higher_zero_stage_or_more_gpus_never_needs_more(stage, doublings):
    n = 2 ** doublings
    lower = detailed(f"train llama-2-13b bf16 adamw zero{stage - 1} on {n} a100").total_bytes
    higher = detailed(f"train llama-2-13b bf16 adamw zero{stage} on {n} a100").total_bytes
    more = detailed(f"train llama-2-13b bf16 adamw zero{stage} on {2 * n} a100").total_bytes
    assert higher <= lower and more <= higher


def test_adapter_targets_on_a_full_fine_tune_refused():
    with pytest.raises(vram.VramError, match="adapter targets apply to lora or qlora"):
        vram.Request(task="training", params=7e9, lora_targets=("q_proj",))


def test_adapter_targets_are_settable():
    q_v = detailed("lora llama-2-7b bf16 rank 8").item("adapters").values["adapter_params"]
    every = detailed("lora llama-2-7b bf16 rank 8 targets all-linear").item("adapters").values["adapter_params"]
    o_only = detailed("lora llama-2-7b bf16 rank 8 targets o_proj").item("adapters").values["adapter_params"]
    assert q_v == 32 * 8 * 2 * (4096 + 4096) and o_only == q_v // 2
    assert every == 32 * 8 * (4 * (4096 + 4096) + 3 * (4096 + 11008))
    assert vram.parse("qlora llama-3-8b target_modules=q_proj,v_proj").lora_targets == ("q_proj", "v_proj")


@pytest.mark.parametrize("query, words", [
    ("infer 7b bf16 targets q_proj", "conflicting task 'targets'"),  # 'train ... targets' reads as lora (test_reading)
    ("lora 7b targets", "'targets' needs the matrices"),
    ("train 7b bf16 adamw offload on 8 a100", "CPU offload is a ZeRO feature"),
    ("train 7b bf16 adamw zero2 offload params on 8 a100", "parameters are offloaded by ZeRO-3 only"),
    ("train llama-2-7b bf16 adamw ep 2 on 2 a100", "expert parallelism (ep) applies to mixture-of-experts models"),
    ("train mixtral-8x7b bf16 adamw ep 3 on 6 a100", "ep 3 does not divide the model's 8 experts"),
])
def test_what_cannot_go_together(query, words):
    with pytest.raises(vram.VramError, match=re.escape(words)):
        vram.ask(query)


def test_cpu_offload_moves_states_to_host_memory():
    gpu = detailed("train llama-2-13b bf16 adamw zero3 on 8 a100")
    offloaded = detailed("train llama-2-13b bf16 adamw zero3 offload on 8 a100")
    everything = detailed("train llama-2-13b bf16 adamw zero3 offload params on 8 a100")
    assert offloaded.item("optimizer").bytes == offloaded.item("gradients").bytes == 0
    assert offloaded.host_bytes == 8 * (gpu.item("optimizer").bytes + gpu.item("gradients").bytes)
    assert everything.item("weights").bytes == 0 and everything.host_bytes > offloaded.host_bytes
    assert everything.total_bytes < offloaded.total_bytes < gpu.total_bytes


def test_expert_parallelism_splits_the_experts():
    whole = detailed("train mixtral-8x7b bf16 adamw zero1 on 8 h100")
    split = detailed("train mixtral-8x7b bf16 adamw ep 8 zero1 on 8 h100")
    # Mixtral's routed experts are 96 % of its parameters: ep 8 leaves each GPU about 16 % of them
    assert split.item("weights").bytes == pytest.approx(whole.item("weights").bytes * 0.155, rel=0.05)


@pytest.mark.parametrize("t, sp, expected", [
    (8, False, lambda s, b, h, a: s * b * h * (10 + 24 / 8 + 5 * a * s / (h * 8))),  # Korthikanti Eq. 2
    (8, True, lambda s, b, h, a: s * b * h * (34 / 8 + 5 * a * s / (h * 8))),  # Eq. 4
    (4, False, lambda s, b, h, a: s * b * h * (10 + 24 / 4 + 5 * a * s / (h * 4))),
])
def test_tensor_and_sequence_parallel_activations_follow_korthikanti(t, sp, expected):
    """A GPT block (LayerNorm, GELU MLP, dropout, eager attention): what tp leaves unsplit is the
    paper's 10sbh (plus the LayerNorm statistics it leaves out), and sp splits that too."""
    from types import SimpleNamespace

    from vram.formula import Formula
    from vram.memory.detailed import parallel
    from vram.memory.detailed.activations import BlockOptions, joined, layer_terms
    from vram.memory.result import formula_item

    options = BlockOptions(norm="layernorm", mlp="plain", fused_attention=False, dropout=True, fp32_softmax=False)
    text = joined(layer_terms(options))
    s, b, h, a = 2048, 1, 12288, 96
    values = {"s": s, "b": b, "h": h, "a": a, "k": a, "d": h // a, "f": 4 * h, "c": 2, "n": 2, "u": 2}
    item = formula_item("activations", "one layer", Formula(text), values, "")
    job = SimpleNamespace(tp=t, request=SimpleNamespace(sp=sp))
    statistics = 16 * b * s / (t if sp else 1)  # the two LayerNorms' mean and rstd, fp32
    assert parallel._activation_share(item, job).bytes == pytest.approx(expected(s, b, h, a) + statistics, abs=2)
