"""Post-training (core/memory/detailed/post_training.py): the models beside the policy and the
batch each objective runs, pinned to TRL's trainers and to the figures Unsloth's GRPO post breaks
down (tests/data/published_training.toml, the two grpo rows)."""

from __future__ import annotations

import pytest

import vram
from vram import catalog
from vram.catalog.params import count_parameters
from vram.errors import ConflictError, MissingError, UnknownWordError, UnsupportedError

GIB = 2**30


def items(query: str) -> dict[str, int]:
    return {item.key: item.bytes for item in vram.ask(query).items}


def values(query: str, key: str) -> dict[str, float]:
    return next(item.values for item in vram.ask(query).items if item.key == key)


#: query -> (sequences in the micro-batch, items the objective adds)
SHAPES = {
    # TRL DPOTrainer.concatenated_forward: chosen and rejected in one batch; ref_model a copy
    "train llama-3-8b dpo": (2, {"reference_model"}),
    "train llama-3-8b dpo batch 4": (8, {"reference_model"}),
    "train llama-3-8b dpo precompute_ref_log_probs": (2, set()),
    # a PEFT policy's reference is the base with the adapters disabled
    "lora llama-3-8b dpo": (2, set()),
    # GRPOConfig: num_generations 8, beta 0.0 (no reference loaded)
    "train qwen2.5-7b grpo": (8, set()),
    "train qwen2.5-7b grpo num_generations 16": (16, set()),
    "train qwen2.5-7b grpo batch 4 reference model": (4, {"reference_model"}),
    "train qwen2.5-7b grpo colocate on h100": (8, {"rollout_engine"}),
    # PPOTrainer: policy + value trained, reference and reward frozen
    "train llama-3-8b ppo": (1, {"reference_model", "value_model", "value_activations", "reward_model"}),
    "train llama-3-8b rm": (2, set()),
    "train llama-3.2-1b distill teacher=llama-3.1-8b": (1, {"teacher", "teacher_logits"}),
}
ADDED = {"reference_model", "value_model", "value_activations", "reward_model", "teacher", "teacher_logits",
         "rollout_engine"}


@pytest.mark.parametrize("query", SHAPES)
def test_each_objective_runs_its_batch_with_its_models(query):
    sequences, added = SHAPES[query]
    assert values(query, "activations")["b"] == sequences
    assert set(items(query)) & ADDED == added


def test_a_reference_model_is_a_copy_of_the_policys_weights():
    got = items("train llama-3-8b dpo")
    assert got["reference_model"] == got["weights"]  # AMP: the fp32 policy, copied (create_reference_model)


def test_ppo_value_and_reward_models_are_the_backbone_with_a_scalar_head():
    spec = catalog.find_model("llama-3-8b")
    counts = count_parameters(spec)
    backbone = counts.total - counts.head + spec.hidden_size
    got = items("train llama-3-8b ppo")
    states = got["weights"] + got["weight_casts"] + got["gradients"] + got["optimizer"]
    assert got["value_model"] == -(-states * backbone // counts.total)
    assert got["reward_model"] == 2 * backbone
    assert got["value_activations"] == got["activations"]


def test_a_reward_model_has_a_scalar_head_and_no_vocabulary_logits():
    spec = catalog.find_model("llama-3-8b")
    counts = count_parameters(spec)
    est = vram.ask("train llama-3-8b rm")
    got = {item.key: item for item in est.items}
    assert got["weights"].values["params"] == counts.total - counts.head + spec.hidden_size
    assert got["logits"].bytes == 4 * 2 * 2048 and "tied_gradients" not in got


def test_a_teacher_is_frozen_in_the_compute_dtype_with_its_logits():
    teacher = count_parameters(catalog.find_model("llama-3.1-8b")).total
    got = items("train llama-3.2-1b distill teacher=llama-3.1-8b")
    assert got["teacher"] == 2 * teacher
    assert got["teacher_logits"] == (2 + 4) * 1 * 2048 * 128_256


def test_a_colocated_vllm_takes_its_fraction_of_the_gpu():
    gpu = catalog.find_gpu("h100")
    assert items("train qwen2.5-7b grpo colocate on h100")["rollout_engine"] == -(-3 * gpu.memory_bytes // 10)
    half = items("train qwen2.5-7b grpo gpu_memory_utilization 0.5 on h100")["rollout_engine"]
    assert half == -(-gpu.memory_bytes // 2)


@pytest.mark.parametrize("query, kv_bytes", [
    # MLA (DeepSeek-V2 section 2.1): 27 layers x (512 latent + 64 rotary) a token, bf16, 8 x 2048 tokens
    ("train deepseek-v2-lite grpo colocate", 27 * (512 + 64) * 2 * 8 * 2048),
    # gemma-3-27b: 52 of its 62 layers keep only their 1024-token window
    ("train gemma-3-27b grpo colocate seq 32k", 2 * 16 * 128 * 2 * 8 * (10 * 32768 + 52 * 1024)),
])
def test_the_rollout_engines_kv_cache_is_the_inference_methods(query, kv_bytes):
    rollout = values(query, "rollout_engine")
    assert items(query)["rollout_engine"] - rollout["c"] * rollout["P"] == kv_bytes


#: Unsloth's GRPO post (unsloth.ai/blog/grpo), Llama 3.1 8B, 8 generations, 20K context: its
#: breakdown's parts that are formulas of the job: "GRPO memory cost" 78.3 GB = one fp32 copy of
#: 8 x 20K x 128,256 logits; "inference" 16 GB = the bf16 weights; "KV cache for 20K" 2.5 GB = one
#: sequence's keys and values. Its "GB" are GiB (78.3 = 84.06e9 / 2**30).
def test_grpo_terms_reproduce_unsloths_breakdown():
    query = "train llama-3.1-8b grpo seq 20k batch 8 colocate"
    logits = values(query, "logits")
    one_copy = 4 * logits["b"] * logits["s"] * logits["v"]
    assert round(one_copy / GIB, 1) == 78.3
    rollout = values(query, "rollout_engine")
    assert round(rollout["c"] * rollout["P"] / 1e9) == 16
    one_sequence_kv = 2 * rollout["L"] * rollout["k"] * rollout["d"] * rollout["c"] * rollout["s"]
    assert round(one_sequence_kv / GIB, 1) == 2.5


@pytest.mark.parametrize("query, error, words", [
    ("train llama-3-8b dpo method=article", UnsupportedError, "count one model"),
    ("train llama-3-8b distill", MissingError, "needs a teacher"),
    ("train llama-3-8b distill teacher=llama-9-zz", UnknownWordError, "unknown teacher"),
    ("train llama-3-8b generations 8", ConflictError, "applies to grpo"),
    ("train llama-3-8b dpo colocate", ConflictError, "applies to grpo or ppo"),
    ("infer llama-3-8b dpo", ConflictError, "applies to training"),
])
def test_refused(query, error, words):
    with pytest.raises(error, match=words):
        vram.ask(query)


@pytest.mark.parametrize("query", [*SHAPES, "train llama-3-8b ppo on 8x h100 zero3 tp 2"])
def test_queries_print_back(query):
    request = vram.parse(query)
    assert vram.parse(request.to_query()) == request
