"""Exact parameter counts from a model's architecture (the standard Hugging Face module layout).

The groundwork of the detailed method (design.md 5.2): the article takes the nominal size ("6B"),
this counts every matrix, bias and norm of the config, as Megatron-LM's
``theoretical_memory_usage.py`` does (attention 2h^2(1 + g/a) with g KV groups, gated MLPs with
three matrices, untied heads counted twice), extended to MoE experts, DeepSeek's latent
attention (MLA, DeepSeek-V2 paper section 2.1) and the Gated DeltaNet layers of linear-attention
hybrids (Qwen3-Next, Qwen3.5).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vram.catalog.index import ModelSpec

#: Weights of one norm of width h: LayerNorm has a scale and a bias, RMSNorm a scale only.
NORM_VECTORS = {"layernorm": 2, "rmsnorm": 1}
#: Matrices of a dense MLP: up and down, plus the gate of SwiGLU/GeGLU.
MLP_MATRICES = {"plain": 2, "gated": 3}


@dataclass(frozen=True)
class ParameterCount:
    """A model's parameters, by where they sit."""

    embedding: int  #: token (and learned position) embeddings
    attention: int  #: all layers' attention projections and biases
    mlp: int  #: all layers' MLPs: dense, or routed and shared experts with their routers
    norms: int  #: every norm, the final one included
    head: int  #: the output projection when it is not tied to the embedding
    active_mlp: int  #: the MLP parameters one token uses (equal to mlp for dense models)

    @property
    def total(self) -> int:
        return self.embedding + self.attention + self.mlp + self.norms + self.head

    @property
    def active(self) -> int:
        """Parameters one token passes through (MoE: only its experts)."""
        return self.total - self.mlp + self.active_mlp

    def scaled_to(self, total: float) -> ParameterCount:
        """These proportions at ``total`` parameters: a bare size ("17m") has the reference
        model's shares of embeddings, blocks, norms and head, not its absolute counts (gpt2's
        38.6M of embeddings alone exceed 17M, which left the blocks' complement negative)."""
        ratio = total / self.total
        parts = [round(part * ratio) for part in (self.embedding, self.attention, self.mlp, self.norms, self.head)]
        largest = parts.index(max(parts))  # takes the rounding, so the parts add up to the total given
        parts[largest] += round(total) - sum(parts)
        active_mlp = round(self.active_mlp * ratio) if self.mlp else 0
        return ParameterCount(*parts, active_mlp=min(active_mlp, parts[2]))


@functools.lru_cache(maxsize=1024)
def count_parameters(spec: ModelSpec) -> ParameterCount:
    h, layers = spec.hidden_size, spec.num_layers
    positions = spec.max_seq_len * h if spec.position == "learned" else 0
    dense_layers = layers if spec.num_experts is None else (spec.first_dense_layers or 0)
    moe_layers = layers - dense_layers
    mlp, active = _dense_mlp(spec) * dense_layers, _dense_mlp(spec) * dense_layers
    if moe_layers:
        all_experts, used_experts = _moe_mlp(spec)
        mlp, active = mlp + all_experts * moe_layers, active + used_experts * moe_layers
    return ParameterCount(
        embedding=spec.vocab_size * h + positions,
        attention=_softmax_attention(spec) + _linear_attention(spec) * spec.linear_layers,
        mlp=mlp,
        norms=(2 * layers + 1) * NORM_VECTORS[spec.norm] * h + _latent_norms(spec) * layers,
        head=0 if spec.tie_embeddings else spec.vocab_size * h,
        active_mlp=active,
    )


def _softmax_attention(spec: ModelSpec) -> int:
    """Every softmax-attention layer: the sliding ones at head_dim, the full ones at their own
    width and KV heads where the model gives them (Gemma 4's global layers)."""
    windowed = spec.windowed_layers if spec.has_global_layers else 0
    full = _attention(spec, spec.full_head_dim, spec.full_kv_heads, 1 if spec.global_k_eq_v else 2)
    local = _attention(spec, spec.head_dim, spec.num_kv_heads, 2)
    return local * windowed + full * (spec.attention_layers - windowed)


def _attention(spec: ModelSpec, head_dim: int, kv_heads: int, kv_projections: int) -> int:
    """One layer's projections: q (and its output gate), k, v (none where V is K), o."""
    if spec.kv_lora_rank is not None:
        return _latent_attention(spec)
    h = spec.hidden_size
    q_width = spec.num_heads * head_dim
    kv_width = kv_heads * head_dim
    gate = h * q_width if spec.attention_output_gate else 0  # q_proj's second half: a sigmoid gate a head
    weights = h * q_width + gate + kv_projections * h * kv_width + q_width * h
    biases = q_width + kv_projections * kv_width if (spec.qkv_bias or spec.linear_bias) else 0
    if spec.linear_bias:
        biases += h  # the output projection's bias
    return weights + biases


def _linear_attention(spec: ModelSpec) -> int:
    """One Gated DeltaNet layer (transformers Qwen3NextGatedDeltaNet): in_proj_qkvz (queries and
    keys of the key heads, values and output gates of the value heads), in_proj_ba (beta and alpha,
    one each a value head), a depthwise causal conv over the q, k and v channels without bias,
    dt_bias and A_log a value head, the gated RMSNorm over one value head's width, out_proj."""
    if spec.linear_attention_layers is None:
        return 0
    h = spec.hidden_size
    keys = spec.linear_num_key_heads * spec.linear_key_head_dim
    values = spec.linear_num_value_heads * spec.linear_value_head_dim
    projections = h * (2 * keys + 2 * values) + h * 2 * spec.linear_num_value_heads + values * h
    conv = conv_channels(spec) * spec.linear_conv_kernel
    return projections + conv + 2 * spec.linear_num_value_heads + spec.linear_value_head_dim


def conv_channels(spec: ModelSpec) -> int:
    """The causal conv's channels in a Gated DeltaNet layer: queries, keys and values."""
    return 2 * spec.linear_num_key_heads * spec.linear_key_head_dim + spec.linear_num_value_heads * spec.linear_value_head_dim


def _latent_attention(spec: ModelSpec) -> int:
    # DeepSeek-V2/V3 MLA: queries through an optional low-rank q_lora_rank bottleneck, keys and
    # values through the kv_lora_rank latent plus a shared rotary key of qk_rope_head_dim.
    h, heads = spec.hidden_size, spec.num_heads
    qk_dim = spec.qk_nope_head_dim + spec.qk_rope_head_dim
    if spec.q_lora_rank:
        query = h * spec.q_lora_rank + spec.q_lora_rank * heads * qk_dim
    else:
        query = h * heads * qk_dim
    key_value = (h * (spec.kv_lora_rank + spec.qk_rope_head_dim)
                 + spec.kv_lora_rank * heads * (spec.qk_nope_head_dim + spec.v_head_dim))
    return query + key_value + heads * spec.v_head_dim * h


def _latent_norms(spec: ModelSpec) -> int:
    if spec.kv_lora_rank is None:
        return 0
    return spec.kv_lora_rank + (spec.q_lora_rank or 0)  # RMSNorms on the latents


def _dense_mlp(spec: ModelSpec) -> int:
    h, inner = spec.hidden_size, spec.intermediate_size
    biases = inner + h if spec.linear_bias else 0
    return MLP_MATRICES[spec.mlp] * h * inner + biases


def _moe_mlp(spec: ModelSpec) -> tuple[int, int]:
    """One MoE layer's MLP parameters: all of them, and those one token uses."""
    h = spec.hidden_size
    expert = MLP_MATRICES[spec.mlp] * h * (spec.moe_intermediate_size or spec.intermediate_size)
    shared = (spec.num_shared_experts or 0) * expert
    router = h * spec.num_experts
    return (spec.num_experts * expert + shared + router,
            spec.experts_per_token * expert + shared + router)
