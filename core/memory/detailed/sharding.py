"""What one GPU of a tensor x pipeline parallel group holds at inference: the reusable pieces
(layers a stage runs, KV heads a GPU keeps, parameters a GPU stores, the per-GPU symbols of the
formulas) that plain `generate` and the serving engines share.

Layouts, as the engines and Megatron-LM build them:
- tensor parallelism t: attention's Q and output projections and the MLP's matrices are split t
  ways (vLLM model_executor/layers/linear.py: ColumnParallelLinear for QKV and gate-up,
  RowParallelLinear for the output and down projections; Megatron-LM core/tensor_parallel/layers.py,
  Shoeybi et al. 2019 section 3); K and V keep max(1, kv_heads/t) heads a GPU, replicated when
  there are fewer KV heads than GPUs (vLLM QKVParallelLinear.__init__: num_kv_heads = 1 and
  num_kv_head_replicas = tp_size / total_num_kv_heads when tp_size >= total_num_kv_heads, else
  total_num_kv_heads / tp_size; https://github.com/vllm-project/vllm/blob/8c94938cfb92cc00b244ae4a933c5f60dbc1139f/vllm/model_executor/layers/linear.py#L1027-L1045); embedding and output head are vocabulary-parallel
  (vLLM vocab_parallel_embedding.py VocabParallelEmbedding / ParallelLMHead; Megatron
  VocabParallelEmbedding); norms are replicated on every GPU.
- MLA (DeepSeek-V2/V3) caches one latent a token with no head dimension to split: every
  tensor-parallel GPU keeps the whole latent cache (vLLM's MLA attention builds its impl and its
  MLAAttentionSpec with num_kv_heads=1 whatever the TP size).
- pipeline parallelism p: each stage runs L/p consecutive layers, the remainder one more on the
  stages before the last (vLLM distributed/utils.py get_pp_indices); the first stage holds the embedding, the last the
  final norm, the head and the logits; with tied embeddings the last stage keeps its own copy of
  the embedding matrix for the head (vLLM LlamaModel: embed_tokens built on the first rank, and on
  the last when tie_word_embeddings).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vram.catalog.params import conv_channels, count_parameters
from vram.errors import InvalidRequestError

if TYPE_CHECKING:
    from vram.catalog.index import ModelSpec
    from vram.memory.detailed.common import DetailedJob

TP_SOURCE = ("vLLM model_executor/layers/linear.py ColumnParallelLinear / RowParallelLinear, QKVParallelLinear "
             "(KV heads max(1, kv_heads/tp), replicated below tp); Megatron-LM tensor_parallel/layers.py")
PP_SOURCE = "vLLM distributed/utils.py get_pp_indices; Megatron-LM pipeline stages: L/p layers a stage"


@dataclass(frozen=True)
class Stage:
    """One pipeline stage, as its most-loaded GPU sees it."""

    name: str  #: "first", "middle", "last", or "only" (no pipeline)
    layers: int  #: transformer layers the stage runs
    embedding: bool  #: holds the (vocabulary-parallel) embedding
    head: bool  #: holds the final norm, the head and computes the logits


@dataclass(frozen=True)
class GpuParams:
    """The parameters one GPU stores."""

    block: float  #: attention and MLP matrices (those a quantised format stores packed)
    other: float  #: embeddings, head and norms (kept in 16 bits by the quantised formats)

    @property
    def total(self) -> float:
        return self.block + self.other


def stage_layers(layers: int, pp: int) -> list[int]:
    """Layers of each pipeline stage as vLLM splits them (distributed/utils.py get_pp_indices):
    L // p each, the remainder one a stage to the stages before the last, nearest it first."""
    partitions = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        partitions[-i] += 1
    return partitions


def stages(spec: ModelSpec, pp: int) -> tuple[Stage, ...]:
    """The stages that can be the most loaded: the first (embedding), the last (head), and the
    middle stage with the most layers."""
    if pp == 1:
        return (Stage("only", spec.num_layers, embedding=True, head=True),)
    layers = stage_layers(spec.num_layers, pp)
    ends = (Stage("first", layers[0], embedding=True, head=False),
            Stage("last", layers[-1], embedding=spec.tie_embeddings, head=True))
    return ends + ((Stage("middle", max(layers[1:-1]), embedding=False, head=False),) if pp > 2 else ())


def kv_heads_per_gpu(spec: ModelSpec, tp: int, heads: int | None = None) -> int:
    """KV heads one tensor-parallel GPU keeps of ``heads`` (the model's KV heads; Gemma 4's full
    layers have their own); MLA's latent is whole on every GPU (counted as 1)."""
    if spec.kv_lora_rank is not None:
        return 1
    kv = heads or spec.num_kv_heads
    if kv % tp and tp % kv:  # vLLM's divide() asserts one divides the other
        raise InvalidRequestError(
            f"tp {tp} neither divides nor is a multiple of {spec.id}'s {kv} KV heads, so they cannot be split "
            "or replicated evenly (vLLM QKVParallelLinear); take a tp that does", field="tp")
    return max(1, kv // tp)


def gpu_params(job: DetailedJob, stage: Stage, tp: int) -> GpuParams:
    """Parameters on one GPU of ``stage`` with tensor parallelism ``tp`` (bare sizes: the reference
    model's shares, as the counts are)."""
    spec, counts = job.spec, job.counts
    share = stage.layers / spec.num_layers
    scale = counts.attention / max(1, _attention_params(spec))
    projections = _kv_projections(spec)
    kv = sum(params for params, _ in projections) * scale
    kept = sum(params * kv_heads_per_gpu(spec, tp, heads) / heads for params, heads in projections) * scale
    attention = (counts.attention - kv) / tp + kept
    block = (attention + counts.mlp / tp) * share
    other = counts.norms * share
    if stage.embedding:
        other += counts.embedding / tp
    if stage.head:
        other += counts.head / tp
    return GpuParams(block, other)


def _attention_params(spec: ModelSpec) -> float:
    return count_parameters(spec).attention


def _kv_projections(spec: ModelSpec) -> list[tuple[int, int]]:
    """The K and V projections of all layers (weights and biases), with the KV heads they split
    into, by kind of layer (sliding and full differ in Gemma 4); MLA's are split as the rest is."""
    if spec.kv_lora_rank is not None:
        return []
    bias = spec.qkv_bias or spec.linear_bias
    local = spec.windowed_layers if spec.has_global_layers else 0
    kinds = [(local, spec.num_kv_heads, spec.head_dim, 2),
             (spec.attention_layers - local, spec.full_kv_heads, spec.full_head_dim, 1 if spec.global_k_eq_v else 2)]
    return [(layers * projections * (spec.hidden_size * heads * width + bias * heads * width), heads)
            for layers, heads, width, projections in kinds if layers]


def windowed_on_stage(spec: ModelSpec, pp: int) -> int:
    """Sliding-window layers on the stage with the fewest of them (the most full-attention layers,
    so the largest cache), counted by the model's layer pattern over each stage's run of layers."""
    return 0 if spec.sliding_window is None else _fewest_on_stage(spec, pp, "windowed_layers")


#: Bytes of one element of a Gated DeltaNet state: fp32 (transformers' torch_chunk_gated_delta_rule
#: computes and returns the final state in float32; llama.cpp allocates its recurrent memory F32,
#: src/llama-model.cpp; Qwen3.5/3.6 configs: mamba_ssm_dtype float32).
SSM_STATE_BYTES = 4


def recurrent_values(spec: ModelSpec, tp: int = 1) -> dict[str, float]:
    """A hybrid cache's symbols on one of ``tp`` GPUs: linear layers R, and for one sequence one
    layer's fp32 state r (a d_k x d_v matrix a value head) and conv inputs z (the last kernel - 1
    inputs of each q, k and v channel); heads and channels split over the GPUs as vLLM's
    GatedDeltaNet shards them."""
    state = SSM_STATE_BYTES * spec.linear_num_value_heads * spec.linear_key_head_dim * spec.linear_value_head_dim
    return {"R": spec.linear_layers, "r": state / tp, "z": (spec.linear_conv_kernel - 1) * conv_channels(spec) / tp}


def linear_on_stage(spec: ModelSpec, pp: int) -> int:
    """Linear-attention layers on the stage with the fewest of them (the most full-attention
    layers, so the largest KV cache), by the model's layer pattern."""
    return 0 if spec.linear_attention_layers is None else _fewest_on_stage(spec, pp, "linear_layers")


def _fewest_on_stage(spec: ModelSpec, pp: int, kind: str) -> int:
    """The fewest layers of ``kind`` (a ModelSpec count by its layer pattern: windowed_layers,
    linear_layers) on any stage: the count among the first layers up to each stage's end, differenced."""
    ends = itertools.accumulate(stage_layers(spec.num_layers, pp), initial=0)
    before = [getattr(dataclasses.replace(spec, num_layers=end), kind) if end else 0 for end in ends]
    return min(end - start for start, end in zip(before, before[1:]))


#: Symbols of the per-GPU formulas: a GPU's layers, KV heads, query heads and MLP width.
SHARDED_SYMBOLS = {"L": "Lg", "W": "Wg", "k": "kg", "a": "ag", "f": "fg", "R": "Rg", "r": "rg", "z": "zg", "kG": "kGg"}


def per_gpu_text(text: str, symbols: tuple[str, ...]) -> str:
    """``text`` with each of ``symbols`` replaced by its one-GPU symbol (k -> kg)."""
    names = "|".join(re.escape(s) for s in symbols)
    return re.sub(rf"\b({names})\b", lambda m: SHARDED_SYMBOLS[m[1]], text)


def per_gpu_values(job: DetailedJob, stage: Stage, tp: int) -> dict[str, float]:
    """The one-GPU symbols' values."""
    spec, values = job.spec, job.values()
    linear = {}
    if spec.linear_attention_layers is not None:
        state = recurrent_values(spec, tp)
        linear = {"Rg": linear_on_stage(spec, job.pp), "rg": state["r"], "zg": state["z"]}
    return {"Lg": stage.layers, "Wg": windowed_on_stage(spec, job.pp), "kg": kv_heads_per_gpu(spec, tp),
            "kGg": kv_heads_per_gpu(spec, tp, spec.full_kv_heads), "ag": spec.num_heads / tp, "fg": values["f"] / tp,
            "tp": tp, **linear}
