"""The catalogs load, every entry has a source, and names are found however people type them."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

import vram
from vram import catalog
from vram.catalog.facts import FACTS

DATA_DIR = Path(catalog.DATA_DIR)


def test_every_model_has_a_source():
    for spec in catalog.models().by_id.values():
        assert spec.source.strip(), spec.id


def test_every_gpu_has_a_source_and_memory():
    for gpu in catalog.gpus().by_id.values():
        assert gpu.source.strip() and gpu.memory_bytes > 2**30, gpu.id


def test_chatglm_has_the_article_numbers():
    spec = catalog.find_model("chatglm-6b")
    assert (spec.nominal_params, spec.hidden_size, spec.num_layers, spec.num_heads, spec.max_seq_len) == \
        (6e9, 4096, 28, 32, 2048)


@pytest.mark.parametrize("name, gpu_id", [
    ("a100", "a100-80gb"), ("A100 80GB", "a100-80gb"), ("a100-40gb", "a100-40gb"), ("h100", "h100-80gb"),
    ("4090", "rtx-4090"), ("RTX_3090", "rtx-3090"), ("24gb", "gpu-24gb"), ("gpu-80gb", "gpu-80gb"),
])
def test_find_gpu(name, gpu_id):
    assert catalog.find_gpu(name).id == gpu_id


def test_plain_a100_is_80_gib():
    assert catalog.find_gpu("a100").memory_bytes == 80 * 2**30


@pytest.mark.parametrize("name, model_id", [
    ("Llama-2-7B", "llama-2-7b"), ("llama 2 7b", "llama-2-7b"), ("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
    ("chatglm-6b", "chatglm-6b"),
])
def test_find_model(name, model_id):
    assert catalog.find_model(name).id == model_id


@pytest.mark.parametrize("typo, close", [("a10O", "a100-80gb"), ("h1OO", "h100-80gb")])
def test_confusable_digits(typo, close):
    assert catalog.gpus().close_match(typo) == close


@pytest.mark.parametrize("params, model_id", [
    (1e6, "gpt2"), (350e6, "gpt2-medium"), (6e9, "chatglm-6b"), (7e9, "llama-2-7b"), (13e9, "llama-2-13b"),
    (70e9, "llama-2-70b"), (175e9, "gpt-3-175b"), (1e13, "llama-3.1-405b"),
])
def test_typical_architecture_for_a_bare_size(params, model_id):
    assert catalog.nearest_dense_model(params).id == model_id


@pytest.mark.parametrize("name, gpu_id", [("a100s", "a100-80gb"), ("24gb gpus", "gpu-24gb"), ("l40s", "l40s")])
def test_plural_gpu_names(name, gpu_id):
    assert catalog.find_gpu(name).id == gpu_id


def test_parsed_catalogs_are_cached_and_a_changed_source_is_reparsed(tmp_path, monkeypatch):
    from vram import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    build = lambda: calls.append(1) or {"n": len(calls)}  # noqa: E731
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 1}
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 1}  # read back, not rebuilt
    assert cache.cached_json(b"a = 2", "models.toml", build) == {"n": 2}  # another source, another file
    for path in (tmp_path / "vram").glob("*.json"):
        path.write_text("{broken")
    assert cache.cached_json(b"a = 1", "models.toml", build) == {"n": 3}  # unreadable: rebuilt


def test_an_unwritable_cache_only_costs_speed(monkeypatch, tmp_path):
    from vram import cache

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache.cached_json(b"x", "gpus.toml", lambda: [1, 2]) == [1, 2]


# -- the catalogs' headers document their fields --------------------------------------------------

def _documented_fields(filename: str) -> set[str]:
    """Field names the header's "Fields" list gives: lines '#   name   what it is'."""
    header = []
    for line in (DATA_DIR / filename).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    start = next(i for i, line in enumerate(header) if line.startswith("# Fields"))
    return {m.group(1) for line in header[start + 1:] if (m := re.match(r"#   ([a-z0-9_]+)\s", line))}


def _fields_used(filename: str, table: str) -> set[str]:
    data = tomllib.loads((DATA_DIR / filename).read_text(encoding="utf-8"))
    return {key for entry in data[table] for key in entry}


@pytest.mark.parametrize("filename, table, record, stored_as", [
    ("models.toml", "model", catalog.ModelSpec, {}),
    ("gpus.toml", "gpu", catalog.Gpu, {"memory_bytes": {"memory_mib", "memory_gib", "memory_gb"},
                                        "cuda_total_bytes": {"cuda_total_gib"}}),
])
def test_a_catalog_header_documents_every_field(filename, table, record, stored_as):
    accepted = set()
    for f in dataclasses.fields(record):
        accepted |= stored_as.get(f.name, {f.name})
    documented = _documented_fields(filename)
    assert documented == accepted, (sorted(documented - accepted), sorted(accepted - documented))
    assert _fields_used(filename, table) <= documented


# -- today's models and GPUs (issue 15): a few facts of each, from the sources the entries cite ---------

@pytest.mark.parametrize("name, model_id, facts", [
    ("openai/gpt-oss-20b", "gpt-oss-20b", dict(num_layers=24, num_experts=32, experts_per_token=4, head_dim=64, sliding_window=128)),
    ("gpt-oss-120b", "gpt-oss-120b", dict(num_layers=36, num_experts=128, vocab_size=201088, sliding_window_layers="alternate")),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout", dict(num_experts=16, num_shared_experts=1, max_seq_len=10485760)),
    ("llama4-maverick", "llama-4-maverick", dict(num_experts=128, first_dense_layers=24, intermediate_size=16384)),
    ("Qwen/Qwen3-4B-Instruct-2507", "qwen3-4b-2507", dict(hidden_size=2560, max_seq_len=262144, tie_embeddings=True)),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder-480b-a35b", dict(num_experts=160, hidden_size=6144)),
    ("Qwen/QwQ-32B", "qwq-32b", dict(num_layers=64, intermediate_size=27648, qkv_bias=True)),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1-distill-qwen-7b", dict(hidden_size=3584, num_kv_heads=4)),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "deepseek-r1-distill-llama-70b", dict(num_layers=80, vocab_size=128256)),
    ("mistral-nemo", "mistral-nemo-12b", dict(head_dim=128, vocab_size=131072)),
    ("mistralai/Mistral-Small-24B-Instruct-2501", "mistral-small-24b", dict(intermediate_size=32768)),
    ("mistral-large", "mistral-large-123b", dict(num_layers=88, hidden_size=12288)),
    ("google/gemma-3-1b-it", "gemma-3-1b", dict(num_kv_heads=1, sliding_window=512, sliding_window_layers="5:1")),
    ("gemma3-4b", "gemma-3-4b", dict(num_layers=34, sliding_window=1024)),
    ("gemma-3-27b", "gemma-3-27b", dict(sliding_window_layers="5:1")),
    ("allenai/OLMo-2-1124-7B", "olmo-2-7b", dict(num_kv_heads=32, vocab_size=100352)),
    ("command-r-plus", "command-r-plus-104b", dict(num_kv_heads=8, tie_embeddings=True)),
    ("command-a", "command-a-111b", dict(sliding_window=4096, sliding_window_layers="3:1")),
    ("zai-org/GLM-4.5-Air", "glm-4.5-air", dict(num_experts=128, first_dense_layers=1, moe_intermediate_size=1408)),
    ("glm-4.5", "glm-4.5", dict(num_layers=92, num_experts=160)),
    ("zai-org/GLM-4.7-Flash", "glm-4.7-flash", dict(kv_lora_rank=512, q_lora_rank=768, num_experts=64, vocab_size=154880)),
    ("moonshotai/Kimi-K2-Instruct", "kimi-k2", dict(num_experts=384, kv_lora_rank=512, native_dtype="fp8")),
    ("smollm", "smollm2-1.7b", dict(hidden_size=2048, num_layers=24)),
    ("HuggingFaceTB/SmolLM2-135M", "smollm2-135m", dict(num_heads=9, num_kv_heads=3)),
    ("codellama 34b", "codellama-34b", dict(num_kv_heads=8, intermediate_size=22016, vocab_size=32000)),
    ("code llama 7b", "codellama-7b", dict(vocab_size=32016, max_seq_len=16384)),
    ("codellama/CodeLlama-70b-Instruct-hf", "codellama-70b", dict(num_layers=80)),
    ("deepseek coder 6.7b", "deepseek-coder-6.7b", dict(vocab_size=32256)),
    ("deepseek-ai/deepseek-coder-33b-instruct", "deepseek-coder-33b", dict(num_layers=62, intermediate_size=19200)),
    ("deepseek-coder-v2-lite", "deepseek-v2-lite", dict(num_experts=64, kv_lora_rank=512)),
    ("phi 3.5 mini", "phi-3.5-mini", dict(max_seq_len=131072, head_dim=96)),
    ("microsoft/Phi-3-medium-128k-instruct", "phi-3-medium-128k", dict(num_kv_heads=10)),
    ("qwen2.5 coder 32b", "qwen2.5-coder-32b", dict(max_seq_len=32768, qkv_bias=True)),
    ("gemma 2b", "gemma-2b", dict(num_kv_heads=1, head_dim=256)),
    ("tinyllama 1.1b", "tinyllama-1.1b", dict(num_layers=22, num_kv_heads=4)),
    ("yi 1.5 9b", "yi-1.5-9b", dict(num_layers=48)),
    ("01-ai/Yi-1.5-34B-Chat", "yi-34b", dict(hidden_size=7168)),
    ("internlm2.5-7b", "internlm2-7b", dict(vocab_size=92544)),
    ("granite 3 8b", "granite-3.1-8b", dict(intermediate_size=12800, vocab_size=49155)),
    ("falcon 3 10b", "falcon3-10b", dict(num_layers=40, head_dim=256)),
    ("ministral 8b", "ministral-8b", dict(num_layers=36)),
])
def test_todays_models(name, model_id, facts):
    spec = catalog.find_model(name)
    assert spec.id == model_id
    assert {field: getattr(spec, field) for field in facts} == facts


@pytest.mark.parametrize("name, gpu_id, mib, vendor", [
    ("2080 ti", "rtx-2080-ti", 11264, "nvidia"), ("3060", "rtx-3060", 12288, "nvidia"),
    ("rtx 3060 8gb", "rtx-3060-8gb", 8192, "nvidia"), ("3080", "rtx-3080", 10240, "nvidia"),
    ("3080 12gb", "rtx-3080-12gb", 12288, "nvidia"), ("4060 ti 16gb", "rtx-4060-ti-16gb", 16380, "nvidia"),
    ("4090d", "rtx-4090d", 24564, "nvidia"), ("h800", "h800", 81559, "nvidia"), ("a5000", "rtx-a5000", 24564, "nvidia"),
    ("colab", "t4", 15360, "nvidia"), ("kaggle", "t4", 15360, "nvidia"),
    ("mi250x", "mi250x", 64 * 1024, "amd"), ("910b", "ascend-910b", 64 * 1024, "huawei"),
    ("gtx 1080 ti", "gtx-1080-ti", 11178, "nvidia"), ("1080ti", "gtx-1080-ti", 11178, "nvidia"),
    ("1060", "gtx-1060-6gb", 6077, "nvidia"), ("1070", "gtx-1070", 8119, "nvidia"), ("1080", "gtx-1080", 8118, "nvidia"),
    ("1650", "gtx-1650", 3911, "nvidia"), ("1660 super", "gtx-1660-super", 5944, "nvidia"),
    ("1660ti", "gtx-1660-ti", 5944, "nvidia"), ("2060", "rtx-2060", 5934, "nvidia"),
    ("2060 super", "rtx-2060-super", 7981, "nvidia"), ("rtx 2070", "rtx-2070", 7979, "nvidia"),
    ("2070 super", "rtx-2070-super", 7979, "nvidia"), ("2080", "rtx-2080", 7982, "nvidia"),
    ("2080 super", "rtx-2080-super", 8192, "nvidia"), ("titan rtx", "titan-rtx", 24220, "nvidia"),
    ("titan v", "titan-v", 12066, "nvidia"), ("rtx 6000 ada", "rtx-6000-ada", 49140, "nvidia"),
    ("rtx 4000 ada", "rtx-4000-ada", 20 * 1024, "nvidia"), ("a40", "a40", 46068, "nvidia"), ("a30", "a30", 24258, "nvidia"),
    ("p100", "p100-16gb", 16280, "nvidia"), ("tesla p40", "p40", 24451, "nvidia"), ("v100s", "v100s", 32510, "nvidia"),
    ("rx 7900 xtx", "rx-7900-xtx", 24 * 1024, "amd"), ("7900xtx", "rx-7900-xtx", 24 * 1024, "amd"),
    ("7900 xt", "rx-7900-xt", 20 * 1024, "amd"), ("rx 7800 xt", "rx-7800-xt", 16 * 1024, "amd"),
    ("6800 xt", "rx-6800-xt", 16 * 1024, "amd"), ("rx 6800", "rx-6800", 16 * 1024, "amd"),
    ("6900xt", "rx-6900-xt", 16 * 1024, "amd"), ("radeon pro w7900", "radeon-pro-w7900", 48 * 1024, "amd"),
])
def test_gpus_people_own(name, gpu_id, mib, vendor):
    gpu = catalog.find_gpu(name)
    assert (gpu.id, gpu.memory_bytes // 2**20, gpu.vendor) == (gpu_id, mib, vendor)


@pytest.mark.parametrize("field, value", [("sliding_window_layers", "every third"), ("sliding_window_layers", "1:5")])
def test_a_window_layout_outside_the_documented_values_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(catalog.find_model("gemma-3-1b"), **{field: value})


def test_the_facts_table_lists_every_architecture_field_of_a_spec():
    # ModelSpec declares each fact as a field; catalog/facts.py says where config.json keeps it
    kinds = {"int": True, "int | None": False}
    declared = {f.name: kinds[f.type] for f in dataclasses.fields(catalog.ModelSpec)
                if f.type in kinds and f.name != "published_params"}  # the model card's count, no config key
    assert declared == {name: fact.required for name, fact in FACTS.items()}


@pytest.mark.parametrize("spec", list(catalog.models().by_id.values()), ids=lambda spec: spec.id)
def test_catalog_models_are_in_the_ranges_a_config_json_is_held_to(spec):
    wrong = {name: getattr(spec, name) for name, fact in FACTS.items()
             if getattr(spec, name) is not None and not fact.rule.accepts(getattr(spec, name))}
    assert not wrong


def test_a_gpu_vendor_outside_the_table_is_refused():
    with pytest.raises(ValueError, match="vendor"):
        dataclasses.replace(catalog.find_gpu("t4"), vendor="intel")


@pytest.mark.parametrize("model, windowed", [
    ("gemma-3-27b", 52),  # 62 layers, 5 local : 1 global (transformers Gemma3TextConfig layer_types)
    ("gemma-3-1b", 22),  # 26 layers: four runs of six, then two local
    ("gemma-2-9b", 21),  # alternate
    ("command-a", 48),  # 3:1
    ("gpt-oss-20b", 12),  # alternate
    ("llama-4-scout", 36),  # 48 layers, 3 chunked : 1 global (Llama4TextConfig no_rope_layer_interval 4)
    ("mistral-7b-v0.1", 32),  # v0.1: every layer
    ("mistral-7b", 0),  # v0.3, the bare name: v0.2 dropped the window
    ("mistral-7b-v0.2", 0),
    ("llama-3-8b", 0),  # no window
])
def test_windowed_layers_follow_the_pattern(model, windowed):
    assert catalog.find_model(model).windowed_layers == windowed


# -- linear-attention hybrids (Qwen3-Next, Qwen3.5): the config facts and the layer pattern ---------

@pytest.mark.parametrize("name, model_id, facts", [
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "qwen3-next-80b-a3b",
     dict(num_layers=48, num_experts=512, experts_per_token=10, linear_num_value_heads=32, head_dim=256)),
    ("Qwen/Qwen3-Coder-Next", "qwen3-coder-next", dict(num_kv_heads=2, moe_intermediate_size=512)),
    ("Qwen/Qwen3.5-27B-FP8", "qwen3.5-27b", dict(hidden_size=5120, intermediate_size=17408, linear_num_value_heads=48)),
    ("qwen3.5 27b", "qwen3.5-27b", dict(vocab_size=248320, attention_output_gate=True)),
    ("Qwen/Qwen3.5-35B-A3B", "qwen3.5-35b-a3b", dict(num_layers=40, num_experts=256, experts_per_token=8)),
    ("Qwen3.8-27B-FP8", "qwen3.5-27b", dict(num_layers=64, linear_num_value_heads=48)),  # same shapes, later weights
    ("Qwen/Qwen3.6-35B-A3B", "qwen3.5-35b-a3b", dict(num_kv_heads=2, linear_num_value_heads=32)),
])
def test_linear_attention_models_resolve_with_their_config_facts(name, model_id, facts):
    spec = catalog.find_model(name)
    assert spec.id == model_id
    assert {field: getattr(spec, field) for field in facts} == facts


@pytest.mark.parametrize("model, linear, full", [
    ("qwen3-next-80b-a3b", 36, 12),  # 48 layers, full when (i + 1) % 4 == 0 (full_attention_interval 4)
    ("qwen3.5-27b", 48, 16),
    ("qwen3.5-35b-a3b", 30, 10),  # the Qwen3.6-35B-A3B GGUF header: 30 GDN / 10 GQA
    ("llama-3-8b", 0, 32),
])
def test_linear_layers_follow_the_pattern(model, linear, full):
    spec = catalog.find_model(model)
    assert (spec.linear_layers, spec.attention_layers) == (linear, full)


def test_a_run_cut_short_ends_the_model_with_linear_layers():
    spec = dataclasses.replace(catalog.find_model("qwen3.5-27b"), num_layers=6)  # L L L F L L
    assert spec.linear_layers == 5


@pytest.mark.parametrize("change, match", [
    (dict(linear_attention_layers="every fourth"), "linear_attention_layers"),
    (dict(linear_num_value_heads=None), "linear_num_value_heads"),
    (dict(linear_attention_layers=None), "linear_attention_layers"),  # dimensions without a layout
    (dict(sliding_window=4096), "sliding window"),
])
def test_a_linear_attention_model_without_its_facts_is_refused(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(catalog.find_model("qwen3.5-27b"), **change)


def test_hybrid_cache_keeps_kv_only_on_full_attention_layers():
    # Qwen3.5-27B at 32k: 16 full layers keep K and V (4 heads of 256); 48 Gated DeltaNet layers keep
    # one fp32 state of 48 heads x 128 x 128 and the conv's last 3 inputs of 2*16*128 + 48*128 channels
    kv = vram.ask("infer qwen3.5-27b bf16 seq 32k").item("kv_cache").bytes
    assert kv == 2 * 16 * 4 * 256 * 32768 * 2 + 48 * (4 * 48 * 128 * 128 + 3 * 10240 * 2)  # 2.30 GB, not 8.6


def test_hybrid_cache_splits_its_state_over_tensor_parallel_gpus():
    one = vram.ask("infer qwen3-next-80b-a3b bf16 seq 8k batch 4 on 2x h100").item("kv_cache").bytes
    two = vram.ask("tp 2 infer qwen3-next-80b-a3b bf16 seq 8k batch 4 on 2x h100").item("kv_cache").bytes
    whole = 2 * 12 * 2 * 256 * 8192 * 4 * 2 + 36 * (4 * 32 * 128 * 128 + 3 * 8192 * 2) * 4
    # device_map: the most-loaded GPU holds 24 of 48 layers; tp 2: every layer, half the heads
    assert (one, two) == (pytest.approx(whole / 2, abs=1), pytest.approx(whole / 2, abs=1))


def test_vllm_pages_states_with_the_kv():
    # Qwen3.5-27B: one token of one full layer is 2 x 4 x 256 x 2 = 4096 B; a state page is the fp32
    # state (48 x 128 x 128 x 4) and the conv inputs (3 x 10240 x 2): 3,207,168 B, so vLLM's attention
    # block is 16 x ceil(3,207,168 / 65,536) = 784 tokens and a page 784 x 4096 B
    # (HybridAttentionMambaModelConfig). 16 full and 48 linear layers: 4 groups of 16, 3 of them
    # states; a 32k request takes ceil(32768 / 784) = 42 attention blocks and 3 state blocks.
    serving = vram.ask("vllm qwen3.5-27b max-model-len 32768 on h200").serving
    page = 784 * 4096
    blocks = serving.kv_cache_bytes // page // 16
    assert serving.block_size == 784
    assert serving.request_kv_bytes == 16 * page * (42 + 3)
    assert serving.kv_cache_tokens == blocks // 4 * 784
    assert serving.max_concurrency == round(blocks / 45, 2)


@pytest.mark.parametrize("query", ["vllm qwen3.5-27b max-model-len 32768 on h200",
                                   "vllm qwen3-next-80b-a3b fp8 tp 4 max-model-len 65536 on 4x h100"])
def test_vllm_hybrid_pool_logs_its_own_ratio_of_tokens_to_concurrency(query):
    # the published Qwen3.5-27B log (vllm issue 40691): 290,864 tokens, 33.04x at 32,768: tokens per
    # concurrency = block x blocks a request / groups, 784 x 45 / 4 = 8,820 (8,803 logged, rounding)
    serving = vram.ask(query).serving
    assert serving.kv_cache_tokens / serving.max_concurrency == pytest.approx(
        serving.block_size * (-(-serving.max_model_len // serving.block_size) + 3) / 4, rel=0.01)


# -- Gemma 4: global layers with their own heads (global_head_dim, num_global_key_value_heads, K = V) --

@pytest.mark.parametrize("name, model_id, facts", [
    ("google/gemma-4-31B-it", "gemma-4-31b", dict(num_layers=60, global_head_dim=512, global_kv_heads=4, num_kv_heads=16)),
    ("nvidia/Gemma-4-31B-IT-NVFP4", "gemma-4-31b", dict(intermediate_size=21504, tie_embeddings=True)),
    ("gemma-4-31b-it", "gemma-4-31b", dict(sliding_window=1024, sliding_window_layers="5:1", global_k_eq_v=True)),
    ("google/gemma-4-26B-A4B", "gemma-4-26b-a4b", dict(num_experts=128, experts_per_token=8, moe_intermediate_size=704)),
    ("gemma-4-26b-a4b-it", "gemma-4-26b-a4b", dict(global_kv_heads=2, hidden_size=2816)),
])
def test_gemma4_models_resolve_with_their_config_facts(name, model_id, facts):
    spec = catalog.find_model(name)
    assert spec.id == model_id
    assert {field: getattr(spec, field) for field in facts} == facts


def test_gemma4_dense_mlp_beside_the_experts_counts_as_three_experts_of_704():
    # enable_moe_block: a 2112-wide GeGLU MLP runs beside the 128 experts on every token
    spec = catalog.find_model("gemma-4-26b-a4b")
    assert spec.num_shared_experts * spec.moe_intermediate_size == 2112 == spec.intermediate_size


@pytest.mark.parametrize("change", [dict(sliding_window=None), dict(sliding_window_layers="all"),
                                    dict(global_kv_heads=5)])
def test_global_layer_heads_without_a_layout_or_that_do_not_divide_are_refused(change):
    with pytest.raises(ValueError, match="global"):
        dataclasses.replace(catalog.find_model("gemma-4-31b"), **change)


def test_gemma4_global_layers_cache_their_own_heads():
    # at 128k: the 10 global layers keep 4 KV heads of 512 for every token; the 50 sliding layers
    # 16 heads of 256 for their window of 1024
    kv = vram.ask("infer gemma-4-31b bf16 seq 128k").item("kv_cache").bytes
    assert kv == 2 * 10 * 4 * 512 * 131072 * 2 + 2 * 50 * 16 * 256 * 1024 * 2  # 11.58 GB, not 66


def test_gemma4_global_heads_are_replicated_past_their_count_under_tensor_parallelism():
    # tp 8: 2 of the 16 sliding KV heads a GPU, and 1 of the 4 global ones (replicated: 4 < 8)
    kv = vram.ask("tp 8 infer gemma-4-31b bf16 seq 128k on 8x h100").item("kv_cache").bytes
    assert kv == 2 * 10 * 1 * 512 * 131072 * 2 + 2 * 50 * 2 * 256 * 1024 * 2


def test_vllm_counts_gemma4_global_layers_at_their_own_width():
    serving = vram.ask("vllm gemma-4-31b max-model-len 131072 on h100").serving
    assert serving.kv_bytes_per_token == 10 * 2 * 4 * 512 * 2 + 50 * 2 * 16 * 256 * 2


def test_gemma3_local_layers_keep_only_their_window():
    # issue 16: at 128k, 52 of 62 layers keep 1024 tokens; the 10 global ones the whole context
    kv = vram.ask("infer gemma-3-27b bf16 seq 128k").item("kv_cache").bytes
    assert kv == 2 * 10 * 16 * 128 * 131072 * 2 + 2 * 52 * 16 * 128 * 1024 * 2  # 11.17 GB


def test_llama4_chunked_layers_keep_one_chunk():
    # 36 of Scout's 48 layers attend within chunks of 8192 tokens (attention_chunk_size): at 128k
    # they hold one chunk, the 12 global layers the whole context
    kv = vram.ask("infer llama-4-scout bf16 seq 128k").item("kv_cache").bytes
    assert kv == 2 * 12 * 8 * 128 * 131072 * 2 + 2 * 36 * 8 * 128 * 8192 * 2  # 7.65 GB, not 19.3
