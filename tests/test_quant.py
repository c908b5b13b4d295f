"""Weight formats as served: ggml's block types, llama.cpp's K-quant mixes tensor by tensor, pinned
to published GGUF file sizes; GPU formats (AWQ/GPTQ, fp8 blocks, MXFP4, NVFP4) pinned to their
specs and to gpt-oss's published checkpoint; KV cache types; the words that name them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

import vram
from vram import catalog
from vram.catalog.params import count_parameters
from vram.errors import ConflictError, UnknownWordError, UnsupportedError
from vram.formula import formula
from vram.memory.quant import FORMATS, KV_BYTES, Tensor, ggml_bytes, gguf_bytes, tensor_type, tensors
from vram.request.enums import Dtype, Item
from vram.request.quant import QUANT_DTYPES, KvDtype
from vram.request.request import Request

DATA = Path(__file__).parent / "data"
GGUF_SIZES = [json.loads(line) for line in (DATA / "gguf_sizes.jsonl").read_text().splitlines()]

#: A published file is its tensors plus the header (the tokenizer's vocabulary and merges: a few
#: MB) and Hugging Face prints sizes to three figures (1.36 GB is 1.355 to 1.365): 1.5 % holds
#: every row, the median is under 0.2 %.
FILE_TOLERANCE = 0.015


# -- ggml's block types (ggml/src/ggml-common.h, the static_asserts on each block's size) -----------

@pytest.mark.parametrize("type_name, bits", [
    ("q4_0", 4.5),  # fp16 scale + 16 bytes of nibbles for 32 values: 18 B
    ("q4_1", 5.0),  # fp16 scale and min + 16 bytes: 20 B / 32
    ("q5_0", 5.5), ("q8_0", 8.5),  # 22 and 34 B / 32
    ("q2_k", 2.625), ("q3_k", 3.4375), ("q4_k", 4.5), ("q5_k", 5.5), ("q6_k", 6.5625),  # "Effectively N bits"
    ("iq4_xs", 4.25), ("iq4_nl", 4.5),
    ("mxfp4", 4.25),  # block_mxfp4: an e8m0 scale and 16 bytes for 32 values
    ("nvfp4", 4.5),  # block_nvfp4: four ue4m3 scales (one a 16 values) and 32 bytes for 64
    ("f16", 16), ("bf16", 16), ("f32", 32),
])
def test_ggml_block_bits(type_name, bits):
    assert ggml_bytes(type_name) * 8 == bits


@pytest.mark.parametrize("kv, nbytes", [
    (KvDtype.FP16, 2), (KvDtype.BF16, 2), (KvDtype.FP8, 1), (KvDtype.INT8, 1), (KvDtype.FP32, 4),
    (KvDtype.Q8_0, 34 / 32), (KvDtype.Q4_0, 18 / 32),  # llama.cpp --cache-type-k/-v: ggml blocks
])
def test_kv_cache_bytes_a_value(kv, nbytes):
    assert KV_BYTES[kv] == nbytes


# -- the GGUF tensors and their mix ------------------------------------------------------------------

@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.2-3b", "qwen2-7b", "mixtral-8x7b", "qwen3-30b-a3b",
                                   "phi-3-mini", "gpt-oss-20b", "qwen2.5-0.5b", "deepseek-v3", "deepseek-v2-lite"])
def test_gguf_tensors_hold_every_parameter(model):
    spec = catalog.find_model(model)
    found, flat = tensors(spec, fused_qkv=spec.family == "phi3")
    assert sum(t.row * t.rows for t in found) + flat == count_parameters(spec).total


def _types(model: str, file_type: str, category: str) -> list[str]:
    spec = catalog.find_model(model)
    found, _ = tensors(spec, fused_qkv=False)
    return [tensor_type(t, file_type, spec) for t in found if t.category == category]


@pytest.mark.parametrize("model, file_type, category, want", [
    # Q4_K_M: attn_v and ffn_down in q6_K where use_more_bits: layers 0-3, 28-31 and every third
    # between (6, 9, ... 27) of 32: 16 of 32
    ("llama-3.1-8b", "q4_k_m", "attn_v", {"q6_k": 16, "q4_k": 16}),
    ("llama-3.1-8b", "q4_k_m", "ffn_down", {"q6_k": 16, "q4_k": 16}),
    ("llama-3.1-8b", "q4_k_m", "ffn_up", {"q4_k": 32}),
    ("llama-3.1-8b", "q4_k_m", "output", {"q6_k": 1}),  # the output matrix: q6_K
    ("llama-3.1-8b", "q4_k_m", "token_embd", {"q4_k": 1}),  # untied embedding: the default type
    ("llama-3.2-3b", "q4_k_m", "output", {"q6_k": 1}),  # tied: the embedding takes the output's type
    ("llama-3.2-3b", "q4_k_m", "token_embd", {}),
    ("llama-3.1-8b", "q8_0", "output", {"q8_0": 1}),
    ("llama-3.1-8b", "q2_k", "attn_v", {"q4_k": 32}),  # 32 heads on 8 KV heads: n_gqa 4
    ("llama-3.1-8b", "q3_k_m", "attn_v", {"q5_k": 2, "q4_k": 30}),
    ("llama-3.1-8b", "q3_k_m", "ffn_down", {"q5_k": 2, "q4_k": 30}),  # first 32/16 layers
    ("llama-3.1-8b", "q4_k_s", "ffn_down", {"q5_k": 4, "q4_k": 28}),
    # 80 layers: 10 + 10 at the ends and 20 between take q6_K; LLM_TYPE_70B lifts the rest from q4_K to q5_K
    ("llama-3.1-70b", "q4_k_m", "attn_v", {"q6_k": 40, "q5_k": 40}),
    ("mixtral-8x7b", "q4_k_m", "attn_v", {"q8_0": 32}),  # 8 experts: attn_v and attn_k in q8_0
    ("mixtral-8x7b", "q4_k_m", "attn_output", {"q5_k": 32}),
    ("qwen2.5-0.5b", "q4_k_m", "attn_q", {"q5_0": 24}),  # rows of 896 do not split into 256s
    # Falcon's branches: the output always q8_0; Q4_K_M's ffn_down q6_K in the first 32/16 layers,
    # q5_K where use_more_bits; Q3_K_M's attn_output not lifted
    ("falcon-7b", "q4_k_m", "output", {"q8_0": 1}),
    ("falcon-7b", "q4_k_m", "ffn_down", {"q6_k": 2, "q5_k": 14, "q4_k": 16}),
    ("falcon-40b", "q3_k_m", "attn_output", {"q3_k": 60}),
    ("falcon-7b", "q3_k_m", "attn_output", {"q4_0": 32}),  # rows of 4544: q3_K falls back to q4_0
    # MLA (DeepSeek-V3/R1, 61 layers): attn_kv_b takes attn_v's rule (category_is_attn_v): q6_K where
    # use_more_bits(i, 61): 7 + 8 at the ends and 15 between; attn_q_a/q_b/kv_a_mqa match no
    # category and keep q4_K
    ("deepseek-r1", "q4_k_m", "attn_kv_b", {"q6_k": 30, "q4_k": 31}),
    ("deepseek-r1", "q4_k_m", "attn_kv_a_mqa", {"q4_k": 61}),
    ("deepseek-r1", "q4_k_m", "attn_q_b", {"q4_k": 61}),
    # ffn_down: 3 dense layers, then ffn_down_exps and ffn_down_shexp in each of 58 MoE layers, by
    # the layer's index: the 30 use_more_bits layers hold 3 + 27 x 2 = 57 tensors in q6_K
    ("deepseek-r1", "q4_k_m", "ffn_down", {"q6_k": 57, "q4_k": 62}),
    # MXFP4_MOE: 3-D expert tensors MXFP4, every other matrix and the output q8_0
    ("gpt-oss-20b", "mxfp4_moe", "ffn_up", {"mxfp4": 24}),
    ("gpt-oss-20b", "mxfp4_moe", "attn_q", {"q8_0": 24}),
    ("gpt-oss-20b", "mxfp4_moe", "output", {"q8_0": 1}),
    ("gpt-oss-20b", "mxfp4_moe", "token_embd", {"q8_0": 1}),
    ("deepseek-r1", "mxfp4_moe", "ffn_down", {"mxfp4": 58, "q8_0": 61}),  # the shared expert is 2-D: q8_0
])
def test_k_quant_mix(model, file_type, category, want):
    got = _types(model, file_type, category)
    assert {name: got.count(name) for name in set(got)} == want


@pytest.mark.parametrize("row", GGUF_SIZES, ids=lambda r: f"{r['model']}-{r['file_type']}")
def test_gguf_weights_match_published_files(row):
    spec = catalog.find_model(row["model"])
    weights = sum(size for _, size in gguf_bytes(spec, row["file_type"], False).values())
    assert weights / 1e9 == pytest.approx(row["file_gb"], rel=FILE_TOLERANCE), row["source"]


def test_gguf_median_error_is_small():
    errors = [abs(sum(s for _, s in gguf_bytes(catalog.find_model(r["model"]), r["file_type"], False).values())
                  / 1e9 / r["file_gb"] - 1) for r in GGUF_SIZES]
    assert statistics.median(errors) < 0.003


#: llama-quantize's file types from smallest to largest (its QUANT_OPTIONS list, by bits a weight).
BY_SIZE = ("q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "q8_0")


# Separate q, k, v only: a fused attn_qkv takes attn_v's rule whole (q6_K in half the layers for
# Q4_K_M), so GPT-2's Q4_K_M outgrows its Q5_K_S, as llama.cpp's rules make it.
@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.2-1b", "qwen2.5-7b", "gemma-2-9b", "mixtral-8x7b",
                                   "qwen3-30b-a3b", "llama-3.1-70b", "mistral-7b"])
def test_a_larger_file_type_never_takes_fewer_bytes(model):
    spec = catalog.find_model(model)
    sizes = [sum(s for _, s in gguf_bytes(spec, name, False).values()) for name in BY_SIZE]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


@pytest.mark.parametrize("model, match", [("qwen3.5-27b", "Gated DeltaNet"), ("gemma-4-31b", "global layers")])
def test_gguf_refuses_layers_its_layout_does_not_have(model, match):
    with pytest.raises(UnsupportedError, match=match):
        tensors(catalog.find_model(model), fused_qkv=False)


# -- GPU formats --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, bits", [
    ("awq", 4 + 20 / 128), ("gptq", 4 + 20 / 128),  # fp16 scale + 4-bit zero a group of 128
    ("fp8-block", 8 + 32 / (128 * 128)),  # an fp32 scale a 128x128 block
    ("mxfp4", 4.25),  # OCP MX: 32 e2m1 values share an e8m0 scale
    ("nvfp4", 4.5),  # 16 e2m1 values share an e4m3 scale
])
def test_gpu_format_bits(name, bits):
    fmt = FORMATS[name]
    assert fmt.value_bits + formula(fmt.scale_bits).value({}) == pytest.approx(bits)


@pytest.mark.parametrize("model, gib", [
    # OpenAI gpt-oss model card (arXiv 2508.10925) Table 1: checkpoint size 60.8 GiB / 12.8 GiB
    ("gpt-oss-120b", 60.8), ("gpt-oss-20b", 12.8),
])
def test_gpt_oss_served_as_released(model, gib):
    estimate = vram.ask(f"infer {model}")
    weights = sum(i.bytes for i in estimate.items if i.key in (Item.WEIGHTS, Item.QUANT_OVERHEAD))
    assert weights / 2**30 == pytest.approx(gib, rel=0.01)
    assert any("mxfp4" in line for line in estimate.assumptions)


def test_gpt_oss_in_bf16_when_asked():
    estimate = vram.ask("infer gpt-oss-120b bf16")
    weights = next(i for i in estimate.items if i.key is Item.WEIGHTS)
    assert weights.bytes == 2 * count_parameters(catalog.find_model("gpt-oss-120b")).total


@pytest.mark.parametrize("query, weights_gb", [
    ("infer llama-3.1-8b q4_k_m", 4.913),
    ("infer llama-3.1-8b awq", 5.59 + 0.14),  # int4 blocks + 16-bit embeddings/head, scales apart
    ("infer llama-3.1-8b nvfp4", 5.59 + 0.44),
])
def test_weights_of_a_format_in_an_estimate(query, weights_gb):
    estimate = vram.ask(query)
    weights = sum(i.bytes for i in estimate.items if i.key in (Item.WEIGHTS, Item.QUANT_OVERHEAD))
    assert weights / 1e9 == pytest.approx(weights_gb, abs=0.01)


def test_kv_cache_q8_0_is_17_32_of_fp16():
    fp16 = next(i for i in vram.ask("infer llama-3.1-8b seq 32k").items if i.key is Item.KV_CACHE)
    q8 = next(i for i in vram.ask("infer llama-3.1-8b kv q8_0 seq 32k").items if i.key is Item.KV_CACHE)
    assert q8.bytes * 32 == fp16.bytes * 17


# -- the request ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(QUANT_DTYPES))
def test_quant_round_trips(name):
    request = Request(task="inference", model="llama-3.1-8b", quant=name)
    assert request.dtype is QUANT_DTYPES[name]
    assert vram.parse(request.to_query()) == request
    assert Request.from_dict(request.to_dict()) == request


@pytest.mark.parametrize("fields, error, says", [
    (dict(task="inference", quant="q4_k_mm"), UnknownWordError, "did you mean q4_k_m"),
    (dict(task="inference", quant="awq", dtype="bf16"), ConflictError, "awq stores int4 weights, not bf16"),
    (dict(task="training", quant="q4_k_m"), ConflictError, "applies to inference"),
    (dict(task="inference", kv_dtype="q4_k_m"), UnknownWordError, "unknown KV cache dtype"),
])
def test_quant_errors(fields, error, says):
    with pytest.raises(error, match=says):
        Request(model="llama-3.1-8b", **fields)


@pytest.mark.parametrize("query, want", [
    ("infer llama-3.1-8b q4_k_m", dict(quant="q4_k_m", dtype="int4")),
    ("infer llama-3.1-8b Q4_K_M", dict(quant="q4_k_m")),
    ("infer llama-3.1-8b Q8_0", dict(quant="q8_0", dtype="int8")),
    ("infer llama-3.1-8b iq4_xs", dict(quant="iq4_xs")),
    ("infer llama-3.1-8b gguf q4", dict(quant="q4_k_m")),
    ("infer llama-3.1-8b q5 gguf", dict(quant="q5_k_m")),
    ("infer llama-3.1-8b q4_k", dict(quant="q4_k_m")),  # llama-quantize's alias
    ("infer Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", dict(model="llama-3.1-8b", quant="q4_k_m")),
    ("infer llama3.1:8b-instruct-q4_K_M", dict(model="llama-3.1-8b", quant="q4_k_m")),
    ("infer Qwen/Qwen2.5-32B-Instruct-AWQ", dict(model="qwen2.5-32b", quant="awq", dtype="int4")),
    ("infer Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", dict(model="qwen2.5-7b", quant="gptq", dtype="int4")),
    ("infer Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8", dict(quant=None, dtype="int8")),
    ("infer llama-3-8b --quantization awq", dict(quant="awq")),
    ("infer gpt-oss-120b mxfp4", dict(quant="mxfp4")),
    ("infer llama-3.1-8b nvfp4", dict(quant="nvfp4")),
    ("infer deepseek-v3 fp8 block", dict(quant="fp8-block", dtype="fp8")),
    ("infer llama-3.1-8b kv fp8", dict(kv_dtype="fp8", quant=None)),
    ("infer llama-3.1-8b fp8 kv", dict(kv_dtype="fp8", dtype=None)),
    ("infer llama-3.1-8b kv cache fp8", dict(kv_dtype="fp8")),
    ("infer llama-3.1-8b kv q8_0", dict(kv_dtype="q8_0", quant=None)),
    ("infer llama-3.1-8b q4_0 kv cache", dict(kv_dtype="q4_0", quant=None)),
    ("infer llama-3.1-8b q4_k_m kv q8_0", dict(kv_dtype="q8_0", quant="q4_k_m")),
    ("infer llama-3.1-8b --cache-type-k q8_0", dict(cache_type_k="q8_0", engine="llama.cpp")),  # K only
    ("infer llama-3.1-8b --kv-cache-dtype fp8", dict(kv_dtype="fp8")),
    ("infer llama-3.1-8b --kv-cache-dtype fp8_e5m2", dict(kv_dtype="fp8")),
])
def test_words_name_the_format(query, want):
    got = vram.parse(query).to_dict()
    assert {key: got[key] for key in want} == want


def test_a_gguf_name_says_what_it_read():
    request = vram.parse("infer Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    assert any("Q4_K_M" in note for note in request.notes)
    assert any("q4_k_m" in note.lower() for note in vram.parse("infer llama-3.1-8b gguf q4").notes)


def test_a_gguf_path_is_still_a_file():
    with pytest.raises(vram.VramError, match="no file or folder"):
        vram.ask("infer ./Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")


def test_advice_never_conflicts_with_a_format():
    estimate = vram.ask("infer llama-3.1-70b q8_0 on a 24gb gpu suggest")
    assert estimate.suggestions
    assert Dtype.INT4 not in {s.request.dtype for s in estimate.suggestions if s.request.quant}
