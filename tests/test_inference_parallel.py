"""Tensor- and pipeline-parallel inference and generated tokens by the detailed method: golden
numbers worked by hand from the architectures (catalog), per the layouts in
core/memory/detailed/sharding.py (vLLM linear.py / QKVParallelLinear, Megatron-LM, get_pp_indices).
"""

from __future__ import annotations

import dataclasses

import pytest

import vram
from vram import catalog
from vram.memory.detailed.sharding import kv_heads_per_gpu, stage_layers


def detailed(query: str) -> vram.Estimate:
    return vram.ask(query, method="detailed")


# llama-3.1-70b: h 8192, 80 layers, 64 heads, 8 KV heads of 128, MLP 28672, vocabulary 128256, untied.
#   a layer: q and o 2 x 8192^2 = 134,217,728; k and v 2 x 8192 x 1024 = 16,777,216; MLP 3 x 8192 x 28672
#   = 704,643,072; norms 161 x 8192 = 1,318,912; embedding = head = 128256 x 8192 = 1,050,673,152.
#   tp 4: (134,217,728 / 4 + 16,777,216 x 2/8 + 704,643,072 / 4) x 80 + 1,318,912 + 2 x 1,050,673,152 / 4
#         = 17,639,415,808 parameters, x 2 bytes = 35,278,831,616
#   tp 16 (8 KV heads < 16: one a GPU, each replicated twice):
#         (8,388,608 + 16,777,216 x 1/8 + 44,040,192) x 80 + 1,318,912 + 2 x 1,050,673,152 / 16
#         = 4,494,729,216 parameters, x 2 = 8,989,458,432
# llama-3.1-8b: h 4096, 32 layers, 8 KV heads of 128, MLP 14336, untied. pp 4, 8 layers a stage:
#   (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336) x 8 = 1,744,830,464; norms 65 x 4096 x 8/32
#   = 66,560; the last stage's head 128256 x 4096 = 525,336,576 (the first's embedding is as large;
#   the last also computes the logits): 2,270,233,600 parameters, x 2 = 4,540,467,200
# llama-3.2-1b: h 2048, 16 layers, 8 KV heads of 64, MLP 8192, tied embeddings. pp 2, 8 layers:
#   (2 x 2048^2 + 2 x 2048 x 512 + 3 x 2048 x 8192) x 8 = 486,539,264; norms 33 x 2048 / 2 = 33,792;
#   the last stage keeps its own copy of the tied embedding for the head: 128256 x 2048 = 262,668,288;
#   749,241,344 parameters, x 2 = 1,498,482,688
GOLDEN = [
    # query, weights bytes, KV cache bytes (2 x layers x KV heads x 128 x tokens x batch x 2 bytes)
    ("infer llama-3.1-70b bf16 tp 4 batch 256 seq 32k on 4x a100", 35_278_831_616,
     2 * 80 * 2 * 128 * 32768 * 256 * 2),  # 687.19 GB: the issue's "about 690 GB a GPU"
    ("infer llama-3.1-70b bf16 tp 16 seq 8k on 16x h100", 8_989_458_432, 2 * 80 * 1 * 128 * 8192 * 2),
    ("infer llama-3.1-8b bf16 pp 4 seq 4k on 4x a100", 4_540_467_200, 2 * 8 * 8 * 128 * 4096 * 2),
    ("infer llama-3.2-1b bf16 pp 2 seq 4k on 2x a100", 1_498_482_688, 2 * 8 * 8 * 64 * 4096 * 2),
    # pp 3 over 32 layers: vLLM's 11, 11, 10; the first stage (11 layers and the embedding) is the
    # heaviest: 218,103,808 x 11 + 266,240 x 11/32 + 525,336,576 = 2,924,569,984 parameters
    ("infer llama-3.1-8b bf16 pp 3 seq 4k on 3x a100", 2 * 2_924_569_984, 2 * 11 * 8 * 128 * 4096 * 2),
    # tp 2 and pp 2: half of the 8b stage's matrices, 4 KV heads; the head / 2 on the last stage
    ("infer llama-3.1-8b bf16 tp 2 pp 2 seq 4k generate 1k on 4x a100",
     2 * ((2 * 4096**2 // 2 + 2 * 4096 * 1024 // 2 + 3 * 4096 * 14336 // 2) * 16 + 65 * 4096 // 2
          + 128256 * 4096 // 2),
     2 * 16 * 4 * 128 * (4096 + 1024) * 2),
]


@pytest.mark.parametrize("query, weights, kv_cache", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_most_loaded_gpu_holds_its_share(query, weights, kv_cache):
    est = detailed(query)
    assert est.method == "detailed"
    assert est.item("weights").bytes == weights
    assert est.item("kv_cache").bytes == kv_cache
    assert est.total_bytes == max(p.bytes for p in est.phases)


def test_the_issue_query_no_longer_fits():
    est = vram.ask("tp 4 infer llama-3.1-70b bf16 on 4x a100 batch 256 seq 32k")
    assert est.method == "detailed" and not est.fit[0].fits
    assert not any("does not model" in a for a in est.assumptions)


@pytest.mark.parametrize("query", ["infer llama-3.1-70b bf16 tp 4 on 4x a100",
                                   "infer llama-3.1-8b bf16 pp 2 on 2x a100",
                                   "infer mixtral-8x7b int4 tp 2 on 2x a100",
                                   "infer gemma-2-9b bf16 tp 2 pp 2 on 4x h100"])
def test_the_default_method_answers_parallel_inference(query):
    assert vram.ask(query).method == "detailed"


def test_tensor_parallelism_splits_the_prefill_working_set_per_head_and_column():
    one = detailed("infer llama-3.1-8b bf16 seq 4k on a100").item("activations")
    four = detailed("infer llama-3.1-8b bf16 tp 4 seq 4k on 4x a100").item("activations")
    v = one.values
    # the MLP's: 4 hidden-size tensors replicated, 3 of the MLP width split 4 ways
    assert four.bytes == 4 * 2 * v["s"] * v["h"] + 3 * 2 * v["s"] * v["f"] // 4
    assert four.values["ag"] == v["a"] / 4 and four.values["kg"] == v["k"] / 4


@pytest.mark.parametrize("layers, pp, stages", [(32, 3, [11, 11, 10]), (32, 5, [6, 6, 7, 7, 6]),
                                                 (80, 4, [20, 20, 20, 20]), (27, 2, [14, 13])])
def test_uneven_stages_split_as_vllm_does(layers, pp, stages):
    assert stage_layers(layers, pp) == stages


def test_stages_hold_a_layer_at_least():
    # uneven stages are run in serving (vLLM get_pp_indices) and training (Megatron's first/last
    # stage layers, torchtitan's split); more stages than layers is refused
    for query in ("infer llama-3.1-8b bf16 pp 40 on 40x a100", "train llama-3.1-8b bf16 adamw pp 40 on 40x a100"):
        with pytest.raises(vram.VramError, match="pp 40 stages for the model's 32 layers"):
            vram.ask(query)
    assert vram.ask("train llama-3.1-8b bf16 adamw pp 3 on 3x a100").total_bytes > 0


def test_mla_latent_cache_is_whole_on_every_tensor_parallel_gpu():
    one = detailed("infer deepseek-v2-lite bf16 on a100").item("kv_cache")
    two = detailed("infer deepseek-v2-lite bf16 tp 2 on 2x a100").item("kv_cache")
    assert two.bytes == one.bytes == 27 * (512 + 64) * 2048 * 2


def test_interleaved_window_layers_count_on_the_worst_stage():
    # gemma-2-9b: 42 layers, every other one windowed (4096); pp 2: 21 layers a stage, of which
    # the stage with the fewest windowed has 10 (ModelSpec.windowed_layers' pattern)
    kv = detailed("infer gemma-2-9b bf16 pp 2 seq 8k on 2x a100").item("kv_cache")
    assert kv.values["Lg"] == 21 and kv.values["Wg"] == 10
    assert kv.bytes == 2 * 11 * 8 * 256 * 8192 * 2 + 2 * 10 * 8 * 256 * 4096 * 2


def test_kv_heads_replicate_only_when_tp_is_a_multiple_of_them():
    spec = catalog.find_model("llama-3.1-70b")
    assert [kv_heads_per_gpu(spec, t) for t in (1, 2, 4, 8, 16, 32)] == [8, 4, 2, 1, 1, 1]
    odd = dataclasses.replace(spec, num_heads=48, num_kv_heads=12)
    with pytest.raises(vram.VramError, match="KV heads"):
        kv_heads_per_gpu(odd, 8)


def test_more_tensor_parallel_gpus_never_hold_more():
    sizes = [detailed(f"infer llama-3.1-70b bf16 tp {t} seq 8k batch 8 on {t}x h100").total_bytes
             for t in (2, 4, 8, 16)]
    assert sizes == sorted(sizes, reverse=True)


def test_replicas_beyond_the_group_change_nothing_a_gpu_holds():
    group = detailed("infer llama-3.1-8b bf16 tp 2 on 2x a100")
    replicated = detailed("infer llama-3.1-8b bf16 tp 2 on 8x a100")
    assert replicated.total_bytes == group.total_bytes
    assert any("4 replicas of tp 2" in a for a in replicated.assumptions)


@pytest.mark.parametrize("query", ["infer llama-3.1-8b bf16 seq 4k on a100",
                                   "infer llama-3.1-8b bf16 seq 4k on 2x a100",
                                   "infer gemma-2-9b bf16 seq 8k", "infer deepseek-v2-lite bf16"])
def test_without_tp_pp_or_generated_tokens_the_formulas_are_as_before(query):
    kv = detailed(query).item("kv_cache")
    assert "Lg" not in kv.formula and "g" not in kv.values


# -- generated tokens ---------------------------------------------------------------------------

def test_the_cache_holds_prompt_and_generated_tokens_the_working_set_the_prompt():
    generated = detailed("infer llama-3-8b bf16 seq 4096 generate 1024")
    whole = detailed("infer llama-3-8b bf16 seq 5120")
    prompt = detailed("infer llama-3-8b bf16 seq 4096")
    assert generated.item("kv_cache").bytes == whole.item("kv_cache").bytes == 2 * 32 * 8 * 128 * 5120 * 2
    assert generated.item("activations").bytes == prompt.item("activations").bytes
    assert generated.item("logits").bytes == prompt.item("logits").bytes  # one token's, in decode too
    assert prompt.total_bytes < generated.total_bytes < whole.total_bytes


def test_generated_tokens_in_a_sweep_keep_their_count():
    first = detailed("infer llama-3-8b bf16 seq 4096 generate 1024 batch 2")
    again = detailed("infer llama-3-8b bf16 seq 8192 generate 1024 batch 2")  # the kept job, re-evaluated
    assert again.item("kv_cache").bytes == 2 * 32 * 8 * 128 * (8192 + 1024) * 2 * 2
    assert first.item("kv_cache").bytes == 2 * 32 * 8 * 128 * (4096 + 1024) * 2 * 2


@pytest.mark.parametrize("query", ["infer llama-3-8b bf16 prompt 6144 generate 2048",
                                   "infer llama-3-8b bf16 seq 4096 generate 1024 tp 2 on 2x a100"])
def test_generated_tokens_round_trip(query):
    request = vram.parse(query)
    assert vram.parse(request.to_query()) == request
    assert vram.Request.from_dict(request.to_dict()) == request


@pytest.mark.parametrize("value", [0, -1, 2**24 + 1, 1.5])
def test_generated_tokens_are_range_checked(value):
    with pytest.raises(vram.VramError, match="generated tokens"):
        vram.Request(task="inference", model="llama-3-8b", new_tokens=value)
