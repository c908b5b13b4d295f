"""Models outside the catalog: config.json, safetensors and GGUF headers, the Hub cache.

Every file is written by the test; nothing is fetched.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

import vram
from vram import catalog
from vram.catalog import resolve as models
from vram.catalog.files import read_model_path
from vram.catalog.params import count_parameters
from vram.errors import VramError

LLAMA_2_7B_CONFIG = {
    "model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000,
    "max_position_embeddings": 4096, "tie_word_embeddings": False, "hidden_act": "silu",
}


@pytest.fixture(autouse=True)
def fresh_caches():
    models.cache_clear()
    yield
    models.cache_clear()


def write_safetensors(path, tensors: dict[str, tuple[str, list[int], int]]):
    """A safetensors file: header of dtype/shape/offsets, then zero bytes for the data."""
    header, offset = {}, 0
    for name, (dtype, shape, nbytes) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


#: GGML (elements a block, bytes a block) of the types these tests write.
GGML_BLOCKS = {0: (1, 4), 1: (1, 2), 12: (256, 144), 14: (256, 210)}


def gguf_tensor_bytes(shape: list[int], ggml_type: int) -> int:
    block, block_bytes = GGML_BLOCKS[ggml_type]
    return math.prod(shape) // block * block_bytes


def write_gguf(path, metadata: dict[str, int | str], tensors: list[tuple[str, list[int], int]]):
    """A GGUF v3 file: metadata, tensor infos at 32-byte-aligned offsets, then zero bytes for the data."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, value in metadata.items():
        out += gguf_string(key)
        out += struct.pack("<I", 8) + gguf_string(value) if isinstance(value, str) else struct.pack("<II", 4, value)
    offset = 0
    for name, shape, ggml_type in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape)) + struct.pack(f"<{len(shape)}Q", *shape)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += -(-gguf_tensor_bytes(shape, ggml_type) // 32) * 32
    out += b"\0" * (-len(out) % 32)
    path.write_bytes(out + b"\0" * offset)


def test_config_json_path_gives_the_catalog_architecture(tmp_path):
    config = tmp_path / "my-llama" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(LLAMA_2_7B_CONFIG))
    request = vram.parse(f"infer {config} int4")
    assert request.model == str(config)
    spec = models.resolve_model(str(config)).spec
    assert count_parameters(spec).total == count_parameters(catalog.find_model("llama-2-7b")).total
    assert vram.ask(f"infer {config} fp16").item("weights").bytes == 2 * 6_738_415_616


def test_folder_with_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_2_7B_CONFIG))
    assert vram.ask(f"infer {tmp_path} fp16").item("kv_cache").bytes == 2 * 32 * 32 * 128 * 2048 * 2


def test_safetensors_weights_as_stored(tmp_path):
    tiny = {**LLAMA_2_7B_CONFIG, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 100}
    (tmp_path / "config.json").write_text(json.dumps(tiny))
    # a GPTQ-style layer: packed int32 weights, fp16 scales; and a bf16 embedding
    write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {
        "model.embed_tokens.weight": ("BF16", [100, 64], 100 * 64 * 2),
        "layers.0.q.qweight": ("I32", [8, 64], 8 * 64 * 4),
        "layers.0.q.scales": ("F16", [1, 64], 64 * 2),
    })
    write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"lm_head.weight": ("BF16", [100, 64], 12800)})
    est = vram.ask(f"infer {tmp_path}")
    weights = est.item("weights")
    assert weights.bytes == 12800 + 2048 + 128 + 12800
    assert weights.values == {"BF16": 25600, "I32": 2048, "F16": 128}
    assert "safetensors, 4 tensors" in weights.label


def test_single_safetensors_file_needs_its_config(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"w": ("F16", [2, 2], 8)})
    with pytest.raises(vram.InvalidRequestError, match="put its config.json in the same folder"):
        vram.ask(f"infer {path}")


def test_gguf_header(tmp_path):
    path = tmp_path / "tiny-Q4_K_M.gguf"
    metadata = {"general.architecture": "llama", "llama.embedding_length": 256, "llama.block_count": 2,
                "llama.attention.head_count": 4, "llama.attention.head_count_kv": 2,
                "llama.feed_forward_length": 512, "llama.context_length": 4096, "llama.vocab_size": 1000}
    write_gguf(path, metadata, [
        ("token_embd.weight", [256, 1000], 12),  # Q4_K: 144 bytes a 256-value block
        ("blk.0.ffn_down.weight", [512, 256], 14),  # Q6_K: 210 bytes a block
        ("output_norm.weight", [256], 0),  # F32
    ])
    est = vram.ask(f"infer {path} seq 4096")
    assert est.item("weights").values == {"Q4_K": 1000 * 144, "Q6_K": 512 * 210, "F32": 1024}
    assert est.item("kv_cache").bytes == 2 * 2 * 2 * 64 * 4096 * 2


@pytest.mark.parametrize("content, words", [
    (b"", "ends inside its header"), (b"\xff" * 8, "not a safetensors file"),
    (struct.pack("<Q", 5) + b"nope!", "as a safetensors header"),
])
def test_broken_safetensors_are_clear_errors(tmp_path, content, words):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_2_7B_CONFIG))
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(vram.InvalidRequestError, match=words):
        vram.ask(f"infer {path}")


@pytest.mark.parametrize("content, words", [(b"GGML", "not a GGUF file"), (b"GGUF\x03\0\0\0", "ends inside")])
def test_broken_gguf_are_clear_errors(tmp_path, content, words):
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(vram.InvalidRequestError, match=words):
        vram.ask(f"infer {path}")


@pytest.mark.parametrize("config, words", [
    ({"model_type": "unknown-arch"}, "model_type 'unknown-arch' is not one vram reads"),
    ({"model_type": "llama"}, "has no hidden_size"),
    ({**LLAMA_2_7B_CONFIG, "num_attention_heads": 0}, "num_attention_heads must be a whole number from 1 to [0-9,]*, not 0"),
    ({**LLAMA_2_7B_CONFIG, "hidden_size": -4096}, "hidden_size must be a whole number from 1 to [0-9,]*, not -4096"),
    ({**LLAMA_2_7B_CONFIG, "num_hidden_layers": "32"}, "num_hidden_layers must be a whole number from 1 to [0-9,]*, not '32'"),
    ({**LLAMA_2_7B_CONFIG, "num_key_value_heads": 3}, "num_kv_heads must divide num_heads"),
    ({**LLAMA_2_7B_CONFIG, "intermediate_size": 0}, "intermediate_size must be a whole number from 1 to"),
    ({**LLAMA_2_7B_CONFIG, "hidden_size": 4095}, "hidden size 4095 is not a multiple of 32 heads"),
])
def test_unreadable_configs(tmp_path, config, words):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(vram.InvalidRequestError, match=words):
        vram.ask(f"infer {path}")


def test_missing_path_through_the_cli(capsys):
    from vram import cli

    assert cli.main(["infer ./nowhere/config.json"]) == 2
    assert "no file or folder at './nowhere/config.json' (column 7)" in capsys.readouterr().err


def test_hub_repo_from_the_cache_offline(tmp_path, monkeypatch):
    snapshot = tmp_path / "models--acme--tiny-llama" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(LLAMA_2_7B_CONFIG))
    (tmp_path / "models--acme--tiny-llama" / "refs").mkdir()
    (tmp_path / "models--acme--tiny-llama" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    assert vram.ask("infer acme/tiny-llama fp16").item("weights").bytes == 2 * 6_738_415_616


def test_hub_repo_missing_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(vram.InvalidRequestError, match="hf download acme/absent config.json"):
        vram.ask("infer acme/absent fp16")


def test_catalog_aliases_win_over_the_hub():
    assert vram.parse("infer Qwen/Qwen2.5-7B-Instruct bf16").model == "qwen2.5-7b"


# -- config.json model types of today's families (issue 15): tiny fixtures in tests/data/models -------

TINY = Path(__file__).with_name("data") / "models"


@pytest.mark.parametrize("folder, facts", [
    ("tiny-gpt-oss", dict(family="gpt_oss", num_experts=8, qkv_bias=True, sliding_window=128, sliding_window_layers="alternate")),
    ("tiny-llama4", dict(family="llama4_text", num_experts=4, moe_intermediate_size=32, intermediate_size=128,
                         num_shared_experts=1, first_dense_layers=2, sliding_window=64,
                         sliding_window_layers="3:1")),  # chunked attention: a chunk a layer, every 4th global
    ("tiny-gemma3", dict(family="gemma3_text", num_layers=12, tie_embeddings=True, sliding_window=512,
                         sliding_window_layers="5:1")),
    ("tiny-qwen3-moe", dict(family="qwen3_moe", num_experts=8, moe_intermediate_size=32, sliding_window=None)),
    ("tiny-deepseek-v3", dict(family="deepseek_v3", kv_lora_rank=16, num_shared_experts=1, first_dense_layers=1)),
    ("tiny-glm4-moe", dict(family="glm4_moe", num_experts=8, qkv_bias=True, first_dense_layers=1)),
])
def test_config_json_of_todays_families(folder, facts):
    spec, checkpoint = read_model_path(str(TINY / folder))
    assert checkpoint is None
    assert {field: getattr(spec, field) for field in facts} == facts


def test_layer_types_with_an_unknown_kind_is_a_clear_error(tmp_path):
    config = json.loads((TINY / "tiny-gpt-oss" / "config.json").read_text())
    config["layer_types"] = ["sliding_attention", "linear_attention", "full_attention", "full_attention"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(VramError, match="layer_types"):
        read_model_path(str(tmp_path))


# -- config.json of linear-attention hybrids (Qwen3-Next, Qwen3.5) and Gemma 4 ------------------------

QWEN3_NEXT_CONFIG = {  # https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct/resolve/main/config.json
    "model_type": "qwen3_next", "hidden_size": 2048, "num_hidden_layers": 48, "num_attention_heads": 16,
    "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 5120, "vocab_size": 151936,
    "max_position_embeddings": 262144, "tie_word_embeddings": False, "use_sliding_window": False,
    "full_attention_interval": 4, "linear_num_key_heads": 16, "linear_num_value_heads": 32,
    "linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "num_experts": 512,
    "num_experts_per_tok": 10, "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
    "mlp_only_layers": [], "decoder_sparse_step": 1}
QWEN35_CONFIG = {  # https://huggingface.co/Qwen/Qwen3.5-27B/resolve/main/config.json (text_config)
    "model_type": "qwen3_5", "text_config": {
        "model_type": "qwen3_5_text", "hidden_size": 5120, "num_hidden_layers": 64, "num_attention_heads": 24,
        "num_key_value_heads": 4, "head_dim": 256, "intermediate_size": 17408, "vocab_size": 248320,
        "max_position_embeddings": 262144, "tie_word_embeddings": False, "attn_output_gate": True,
        "layer_types": ["linear_attention"] * 3 + ["full_attention"], "full_attention_interval": 4,
        "linear_num_key_heads": 16, "linear_num_value_heads": 48, "linear_key_head_dim": 128,
        "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4}}
QWEN35_CONFIG["text_config"]["layer_types"] *= 16
GEMMA4_CONFIG = {  # https://huggingface.co/google/gemma-4-26B-A4B-it/resolve/main/config.json (text_config)
    "model_type": "gemma4", "text_config": {
        "model_type": "gemma4_text", "hidden_size": 2816, "num_hidden_layers": 30, "intermediate_size": 2112,
        "num_attention_heads": 16, "head_dim": 256, "global_head_dim": 512, "num_key_value_heads": 8,
        "num_global_key_value_heads": 2, "num_kv_shared_layers": 0, "hidden_size_per_layer_input": 0,
        "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 5, "sliding_window": 1024,
        "attention_k_eq_v": True, "enable_moe_block": True, "num_experts": 128, "top_k_experts": 8,
        "moe_intermediate_size": 704, "use_double_wide_mlp": False, "tie_word_embeddings": True,
        "vocab_size": 262144, "max_position_embeddings": 262144}}


@pytest.mark.parametrize("config, model", [(QWEN3_NEXT_CONFIG, "qwen3-next-80b-a3b"), (QWEN35_CONFIG, "qwen3.5-27b"),
                                           (GEMMA4_CONFIG, "gemma-4-26b-a4b")])
def test_a_hybrid_config_reads_as_the_catalog_entry(tmp_path, config, model):
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec, _ = read_model_path(str(tmp_path))
    entry = catalog.find_model(model)
    fields = ("linear_attention_layers", "linear_num_value_heads", "attention_output_gate", "num_shared_experts",
              "global_head_dim", "global_kv_heads", "global_k_eq_v", "sliding_window_layers", "num_experts")
    assert {f: getattr(spec, f) for f in fields} == {f: getattr(entry, f) for f in fields}
    assert count_parameters(spec).total == count_parameters(entry).total


def _with(config: dict, **changes) -> dict:
    if "text_config" in config:
        return {**config, "text_config": {**config["text_config"], **changes}}
    return {**config, **changes}


@pytest.mark.parametrize("config, words", [
    (_with(QWEN3_NEXT_CONFIG, full_attention_interval=None), "full_attention_interval"),
    # more than its 48 layers: no full-attention layer (the serving pool divided by zero groups)
    (_with(QWEN3_NEXT_CONFIG, full_attention_interval=49), "leaves none of its 48 layers full attention"),
    (_with(QWEN35_CONFIG, layer_types=["full_attention"] + ["linear_attention"] * 63), "every N-th"),
    (_with(QWEN35_CONFIG, layer_types=["linear_attention"] * 3 + ["mamba"] + ["linear_attention"] * 60), "layer_types"),
    (_with(QWEN3_NEXT_CONFIG, mlp_only_layers=[0, 1]), "mlp_only_layers"),
    (_with(QWEN3_NEXT_CONFIG, shared_expert_intermediate_size=700), "whole number of experts"),
    (_with(GEMMA4_CONFIG, hidden_size_per_layer_input=256), "hidden_size_per_layer_input"),
    (_with(GEMMA4_CONFIG, num_global_key_value_heads=3), "global_kv_heads"),
])
def test_hybrid_configs_vram_cannot_model_say_why(tmp_path, config, words):
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(VramError, match=words):
        read_model_path(str(tmp_path))
