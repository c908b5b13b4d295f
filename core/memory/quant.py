"""Weight bytes of a format as served: GGUF file types tensor by tensor, and GPU formats with scales.

GGUF (llama.cpp). A file type (``q4_k_m``) is a default ggml type and a mix: llama.cpp's quantizer
keeps some tensors at a higher type (``llama_tensor_get_type_impl`` in src/llama-quant.cpp, read at
commit 007dbbf3): the output matrix (and a tied token embedding) in q6_K, attn_v and ffn_down of
chosen layers in q6_K for Q4_K_M/Q5_K_M, and so on. Norms and biases are 1-D and stay f32 (only 2-D
and 3-D ``*weight`` tensors are quantised: ``tensor_allows_quantization``). Each ggml type stores
blocks of values with their scales (ggml/src/ggml-common.h): q4_K 144 bytes for 256 values, q6_K 210,
q8_0 34 for 32. So the weights are counted tensor by tensor: rows x (row / block) x bytes a block.

GPU formats (vLLM, transformers): the matrices a format covers take its value bits plus its scale
bits; the rest (embeddings, head, norms, and for gpt-oss everything but the MoE experts) stays in
16 bits, as the checkpoints' ``quantization_config`` leaves them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from vram.catalog.headers import GGML_BLOCKS
from vram.catalog.index import ModelSpec
from vram.catalog.params import MLP_MATRICES, NORM_VECTORS
from vram.errors import UnsupportedError
from vram.memory.result import LineItem
from vram.request.enums import Item
from vram.request.quant import KvDtype

LLAMA_QUANT = "llama.cpp src/llama-quant.cpp (007dbbf3) llama_tensor_get_type_impl and llama_ftype_get_default_type"
GGML_COMMON = "ggml/src/ggml-common.h block structs (block_q4_K 144 B / 256 values, block_q8_0 34 B / 32 ...)"

#: ggml block types by lower-case name: (values a block, bytes a block), from the header reader's
#: table of ggml's types (one table: vram.catalog.headers.GGML_BLOCKS).
GGML_TYPES: dict[str, tuple[int, int]] = {name.lower(): (block, size) for name, block, size in GGML_BLOCKS.values()}


def ggml_bytes(type_name: str) -> float:
    """Bytes of one value stored in a ggml type, its block's scales included (q8_0: 34/32)."""
    block, size = GGML_TYPES[type_name]
    return size / block


#: Bytes a value of each KV cache type: float dtypes, and llama.cpp's block types for
#: ``--cache-type-k/-v`` (the cache rows are quantised in the same blocks as weights).
KV_BYTES: dict[KvDtype, float] = {
    KvDtype.FP32: 4, KvDtype.FP16: 2, KvDtype.BF16: 2, KvDtype.FP8: 1, KvDtype.INT8: 1,
    KvDtype.Q8_0: ggml_bytes("q8_0"), KvDtype.Q4_0: ggml_bytes("q4_0"),
}

# -- GGUF file types ---------------------------------------------------------------------------------

#: Each file type's default ggml type (llama_ftype_get_default_type).
FILE_TYPES: dict[str, str] = {
    "q2_k": "q2_k", "q3_k_s": "q3_k", "q3_k_m": "q3_k", "q3_k_l": "q3_k", "q4_0": "q4_0", "q4_1": "q4_1",
    "q4_k_s": "q4_k", "q4_k_m": "q4_k", "q5_0": "q5_0", "q5_1": "q5_1", "q5_k_s": "q5_k", "q5_k_m": "q5_k",
    "q6_k": "q6_k", "q8_0": "q8_0", "iq4_xs": "iq4_xs", "iq4_nl": "iq4_nl", "mxfp4_moe": "mxfp4",
    "mxfp4_bf16": "mxfp4",
}

#: The GGUF file type llama.cpp makes of a GPU checkpoint format: gpt-oss's MXFP4 experts stay
#: MXFP4 (LLAMA_FTYPE_MOSTLY_MXFP4_MOE; the gpt-oss GGUFs on Hugging Face are that type, e.g.
#: bartowski/openai_gpt-oss-20b-GGUF "Full MXFP4 weights", 12.1 GB).
GGUF_OF_FORMAT: dict[str, str] = {"mxfp4": "mxfp4_moe"}

#: MXFP4_MOE's own rule (llama_tensor_get_type_impl): a 3-D expert tensor (ne[2] > 1) MXFP4, every
#: other matrix Q8_0, the output (and a tied embedding) Q8_0.
MXFP4_MOE = {"experts": "mxfp4", "other": "q8_0"}
#: Ollama's own gpt-oss GGUF (convert/convert_gptoss.go: the experts' MXFP4 blocks and scales
#: written as TensorTypeMXFP4, every other tensor in the checkpoint's own kind, BF16): the
#: gpt-oss:20b and gpt-oss:120b tags, 14 GB and 65 GB on ollama.com/library/gpt-oss.
MXFP4_BF16 = {"experts": "mxfp4", "other": "bf16"}
#: The file types whose rule is experts against the rest, not llama-quant.cpp's mixes.
EXPERT_SPLIT: dict[str, dict[str, str]] = {"mxfp4_moe": MXFP4_MOE, "mxfp4_bf16": MXFP4_BF16}


def _more_bits(layer: int, layers: int) -> bool:
    """llama-quant.cpp use_more_bits: the first and last eighth of the layers and every third between."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


#: Which layers a rule picks, by name: (layer index, layer count, model) -> bool.
CONDITIONS: dict[str, Callable[[int, int, ModelSpec], bool]] = {
    "all": lambda i, n, spec: True,
    "more_bits": lambda i, n, spec: _more_bits(i, n),
    "first_2": lambda i, n, spec: i < 2,
    "first_4": lambda i, n, spec: i < 4,
    "first_eighth": lambda i, n, spec: i < n // 8,
    "first_sixteenth": lambda i, n, spec: i < n // 16,
    "gqa_4": lambda i, n, spec: spec.num_heads // spec.num_kv_heads >= 4,
}

Rules = tuple[tuple[str, str], ...]  #: (condition, ggml type), the first that holds wins

#: The K-quant mixes: file type -> tensor category -> rules (llama_tensor_get_type_impl, the
#: branches for models that are neither Falcon nor 8-expert MoE; static quants, no imatrix). A
#: fused attn_qkv takes attn_v's branch: category_is_attn_v() is tested first.
MIXES: dict[str, dict[str, Rules]] = {
    "q2_k": {"attn_v": (("gqa_4", "q4_k"), ("all", "q3_k")), "ffn_down": (("all", "q3_k"),),
             "attn_output": (("all", "q3_k"),)},
    "q3_k_m": {"attn_v": (("first_2", "q5_k"), ("all", "q4_k")),
               "ffn_down": (("first_sixteenth", "q5_k"), ("all", "q4_k")), "attn_output": (("all", "q4_k"),)},
    "q3_k_l": {"attn_v": (("all", "q5_k"),), "ffn_down": (("all", "q5_k"),), "attn_output": (("all", "q5_k"),)},
    "q4_k_s": {"attn_v": (("first_4", "q5_k"),), "ffn_down": (("first_eighth", "q5_k"),)},
    "q4_k_m": {"attn_v": (("more_bits", "q6_k"),), "ffn_down": (("more_bits", "q6_k"),)},
    "q5_k_m": {"attn_v": (("more_bits", "q6_k"),), "ffn_down": (("more_bits", "q6_k"),)},
    "iq4_xs": {"attn_v": (("gqa_4", "q5_k"),), "ffn_down": (("first_eighth", "q5_k"),)},
    "iq4_nl": {"attn_v": (("gqa_4", "q5_k"),), "ffn_down": (("first_eighth", "q5_k"),)},
}

#: Falcon's own branches (LLM_ARCH_FALCON in the same function), over MIXES: its ffn_down and
#: attn_output rules, where an empty tuple is "no bump".
FAMILY_MIXES: dict[str, dict[str, dict[str, Rules]]] = {
    "falcon": {
        "q2_k": {"attn_output": ()},
        "q3_k_m": {"ffn_down": (("first_sixteenth", "q5_k"), ("more_bits", "q4_k"), ("all", "q3_k")),
                   "attn_output": ()},
        "q3_k_l": {"ffn_down": (("all", "q4_k"),), "attn_output": (("all", "q4_k"),)},
        "q4_k_m": {"ffn_down": (("first_sixteenth", "q6_k"), ("more_bits", "q5_k"))},
        "q4_k_s": {"ffn_down": ()},
    },
}
#: Families whose output matrix is always q8_0 (arch == LLM_ARCH_FALCON).
OUTPUT_Q8_0 = frozenset({"falcon"})

#: 8-expert models (Mixtral): attn_v and attn_k in q8_0 whatever the type ("bumping this to Q8_0
#: trades just ~128MB"), attn_output in q5_K for these file types.
EIGHT_EXPERT_OUTPUT = frozenset({"q2_k", "q3_k_s", "q3_k_m", "iq4_nl", "q4_k_s", "q4_k_m", "iq4_xs"})

#: Categories llama.cpp's mix treats as another (category_is_attn_v: attn_qkv and attn_kv_b take
#: attn_v's rules); MLA's attn_q_a/q_b/kv_a_mqa match no category and keep the default type.
CATEGORY_AS: dict[str, str] = {"attn_kv_b": "attn_v"}

#: A tensor whose rows do not split into the type's blocks falls back (tensor_type_fallback).
FALLBACK: dict[str, str] = {"q2_k": "q4_0", "q3_k": "q4_0", "q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0",
                            "iq4_xs": "iq4_nl"}


@dataclass(frozen=True, slots=True)
class Tensor:
    """One weight matrix of a GGUF file, as llama.cpp names its category."""

    category: str  #: token_embd, output, attn_q/k/v/output, ffn_gate/up/down
    layer: int  #: its block (-1 outside the blocks)
    row: int  #: ne[0], the length of a row: what the type's blocks divide
    rows: int  #: rows, times experts for a 3-D expert tensor
    experts: int = 1  #: ne[2]: the experts of a 3-D ffn_*_exps tensor, else 1


def tensors(spec: ModelSpec, fused_qkv: bool) -> tuple[list[Tensor], int]:
    """The 2-D weights of ``spec`` as llama.cpp's converter writes them, and the count of 1-D values
    (norms, biases: kept f32). MoE routers (ffn_gate_inp) are never quantised: counted as 1-D."""
    unmodelled = ("error.gguf_mix_linear_attention" if spec.linear_attention_layers is not None
                  else "error.gguf_mix_global_layers" if spec.has_global_layers else None)
    if unmodelled:
        raise UnsupportedError.said(unmodelled, model=spec.id, field="quant")
    h, layers, v = spec.hidden_size, spec.num_layers, spec.vocab_size
    q, kv = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
    found = [Tensor("output" if spec.tie_embeddings else "token_embd", -1, h, v)]
    if not spec.tie_embeddings:
        found.append(Tensor("output", -1, h, v))
    flat = (2 * layers + 1) * NORM_VECTORS[spec.norm] * h
    flat += layers * ((q + 2 * kv) * (spec.qkv_bias or spec.linear_bias) + h * spec.linear_bias)
    dense = layers if spec.num_experts is None else (spec.first_dense_layers or 0)
    for i in range(layers):
        if spec.kv_lora_rank is not None:
            attention = _latent_attention(spec)
            flat += spec.kv_lora_rank + (spec.q_lora_rank or 0)  # attn_kv_a_norm, attn_q_a_norm
        else:
            attention = ([("attn_v", h, q + 2 * kv)] if fused_qkv
                         else [("attn_q", h, q), ("attn_k", h, kv), ("attn_v", h, kv)])
            attention.append(("attn_output", q, h))
        found += [Tensor(c, i, row, rows) for c, row, rows in attention]
        mlp, flat_mlp = _mlp(spec, i < dense)
        found += [Tensor(c, i, row, rows, experts) for c, row, rows, experts in mlp]
        flat += flat_mlp
    return found, flat


def _latent_attention(spec: ModelSpec) -> list[tuple[str, int, int]]:
    """DeepSeek-V2/V3's MLA as llama.cpp's converter writes it (convert_hf_to_gguf.py DeepseekV2Model,
    the files of early 2025 that Ollama's deepseek-r1:671b and the Q4_K_M uploads are): attn_q_a and
    attn_q_b (or attn_q without a q LoRA), attn_kv_a_mqa (the latent and the rope key), attn_kv_b
    (latent to each head's nope key and value), attn_output. Later converters split attn_kv_b into
    attn_k_b and attn_v_b, the same values."""
    h, heads, latent = spec.hidden_size, spec.num_heads, spec.kv_lora_rank
    qk = spec.qk_nope_head_dim + spec.qk_rope_head_dim
    query = ([("attn_q_a", h, spec.q_lora_rank), ("attn_q_b", spec.q_lora_rank, heads * qk)] if spec.q_lora_rank
             else [("attn_q", h, heads * qk)])
    return [*query, ("attn_kv_a_mqa", h, latent + spec.qk_rope_head_dim),
            ("attn_kv_b", latent, heads * (spec.qk_nope_head_dim + spec.v_head_dim)),
            ("attn_output", heads * spec.v_head_dim, h)]


def _mlp(spec: ModelSpec, dense: bool) -> tuple[list[tuple[str, int, int, int]], int]:
    """A block's MLP matrices (category, row, rows, experts) and its 1-D values."""
    h = spec.hidden_size
    gate = MLP_MATRICES[spec.mlp] == 3
    if dense:
        f = spec.intermediate_size
        biases = (f + h) * spec.linear_bias
        return [*([("ffn_gate", h, f, 1)] if gate else []), ("ffn_up", h, f, 1), ("ffn_down", f, h, 1)], biases
    f, experts = spec.moe_intermediate_size or spec.intermediate_size, spec.num_experts
    shared = (spec.num_shared_experts or 0) * f
    found = [*([("ffn_gate", h, experts * f, experts)] if gate else []), ("ffn_up", h, experts * f, experts),
             ("ffn_down", f, experts * h, experts)]
    if shared:  # ffn_*_shexp: 2-D, one matrix however many shared experts
        found += [*([("ffn_gate", h, shared, 1)] if gate else []), ("ffn_up", h, shared, 1), ("ffn_down", shared, h, 1)]
    return found, h * experts  # the router


def tensor_type(tensor: Tensor, file_type: str, spec: ModelSpec) -> str:
    """The ggml type llama.cpp's quantizer gives ``tensor`` in ``file_type``."""
    default = FILE_TYPES[file_type]
    if file_type in EXPERT_SPLIT:
        return EXPERT_SPLIT[file_type]["experts" if tensor.experts > 1 else "other"]
    if tensor.category == "output":  # also a tied token embedding
        plain = file_type != "q8_0" and spec.family not in OUTPUT_Q8_0 and not tensor.row % GGML_TYPES[default][0]
        chosen = "q6_k" if plain else "q8_0"
    elif tensor.category == "token_embd":
        chosen = default
    else:
        chosen = _mixed(tensor, file_type, spec) or default
    if tensor.row % GGML_TYPES[chosen][0]:
        chosen = FALLBACK.get(chosen, "f16")
    return chosen


def _mixed(tensor: Tensor, file_type: str, spec: ModelSpec) -> str | None:
    category = CATEGORY_AS.get(tensor.category, tensor.category)
    if spec.num_experts == 8 and category in ("attn_v", "attn_k"):
        return "q8_0"
    if spec.num_experts == 8 and category == "attn_output":
        return "q5_k" if file_type in EIGHT_EXPERT_OUTPUT else None
    mix = {**MIXES.get(file_type, {}), **FAMILY_MIXES.get(spec.family, {}).get(file_type, {})}
    rules = mix.get(category, ())
    chosen = next((t for c, t in rules if CONDITIONS[c](tensor.layer, spec.num_layers, spec)), None)
    # src/models/llama.cpp: 80 layers with grouped KV heads is LLM_TYPE_70B, whose attn_v (8x
    # smaller than attn_q) goes up from q3_K/q4_K to q5_K
    if (category == "attn_v" and spec.family == "llama" and spec.num_layers == 80
            and spec.num_kv_heads < spec.num_heads and (chosen or FILE_TYPES[file_type]) in ("q3_k", "q4_k")):
        return "q5_k"
    return chosen


@functools.lru_cache(maxsize=256)
def gguf_bytes(spec: ModelSpec, file_type: str, fused_qkv: bool) -> dict[str, tuple[int, int]]:
    """Values and bytes of ``spec``'s weights in ``file_type``, by ggml type (f32 for 1-D tensors),
    largest first."""
    found, flat = tensors(spec, fused_qkv)
    values: dict[str, int] = {"f32": flat}
    sizes: dict[str, int] = {"f32": 4 * flat}
    for tensor in found:
        name = tensor_type(tensor, file_type, spec)
        block, size = GGML_TYPES[name]
        values[name] = values.get(name, 0) + tensor.row * tensor.rows
        sizes[name] = sizes.get(name, 0) + tensor.rows * (tensor.row // block) * size
    return {name: (values[name], sizes[name]) for name in sorted(sizes, key=sizes.get, reverse=True)}


def gguf_weights(spec: ModelSpec, file_type: str, fused_qkv: bool, params: float | None = None) -> LineItem:
    """The weights item of ``spec`` stored as GGUF ``file_type``, scales inside the blocks;
    ``params``: a bare size, given the reference architecture's mix at that size."""
    by_type = gguf_bytes(spec, file_type, fused_qkv)
    total = sum(count for count, _ in by_type.values())
    scale = 1 if params is None else params / total
    values = {f"{name}_values": count * scale for name, (count, _) in by_type.items()}
    terms = [f"{ggml_bytes(name) if name != 'f32' else 4:.4g} B x {name}_values" for name in by_type]
    mix = ", ".join(f"{name} {_share(count / total)}" for name, (count, _) in by_type.items())
    where = "" if params is None else f", as {spec.id}'s tensors"
    return LineItem(Item.WEIGHTS, f"Model weights (GGUF {file_type.upper()}: {mix} of the values{where})",
                    round(sum(size for _, size in by_type.values()) * scale), " + ".join(terms), values,
                    f"{LLAMA_QUANT}; {GGML_COMMON}; 1-D tensors (norms, biases) and MoE routers f32")


def _share(fraction: float) -> str:
    return f"{fraction:.0%}" if fraction >= 0.005 or not fraction else "<1%"


# -- GPU checkpoint formats --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WeightFormat:
    """A GPU format: the bits of a value, the bits of its scales a value, what it covers."""

    value_bits: int
    scale_bits: str  #: a formula: bits of scales (and zeros) a weight
    experts_only: bool  #: on a MoE model only the experts (the rest 16-bit); else the blocks' matrices
    source: str


FORMATS: dict[str, WeightFormat] = {
    "awq": WeightFormat(4, "(16 + 4)/128", False, "AWQ (AutoAWQ GEMM), group size 128: an fp16 scale and a "
                                                  "4-bit zero a group; embeddings and lm_head 16-bit"),
    "gptq": WeightFormat(4, "(16 + 4)/128", False, "GPTQ 4-bit, group size 128: an fp16 scale and a 4-bit zero "
                                                   "a group; embeddings and lm_head 16-bit"),
    "fp8-block": WeightFormat(8, "32/(128*128)", False,
                              "fp8 e4m3 in 128x128 blocks, an fp32 scale a block (DeepSeek-V3 and Qwen3-FP8 "
                              "config.json quantization_config weight_block_size [128, 128]); embeddings and "
                              "lm_head bf16"),
    "mxfp4": WeightFormat(4, "8/32", True,
                          "OCP Microscaling Formats (MX) v1.0: 32 e2m1 values share an e8m0 scale (4.25 bits); "
                          "gpt-oss config.json quantization_config mxfp4, modules_to_not_convert: self_attn, "
                          "router, embed_tokens, lm_head (bf16): only the MoE experts"),
    "nvfp4": WeightFormat(4, "8/16", False,
                          "NVIDIA NVFP4 (TensorRT Model Optimizer): 16 e2m1 values share an fp8 e4m3 scale, plus "
                          "one fp32 scale a tensor (4.5 bits); embeddings and lm_head 16-bit"),
}


def covered_params(spec: ModelSpec, attention: int, mlp: int, experts_only: bool) -> int:
    """The parameters a format quantises: the MoE experts' matrices, or the blocks' matrices."""
    if not (experts_only and spec.num_experts):
        return attention + mlp
    moe_layers = spec.num_layers - (spec.first_dense_layers or 0)
    f = spec.moe_intermediate_size or spec.intermediate_size
    return moe_layers * spec.num_experts * MLP_MATRICES[spec.mlp] * spec.hidden_size * f
