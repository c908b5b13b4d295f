"""Inference by the detailed method: weights as stored, the KV cache, the prefill working set.

Phases: load (weights, CUDA context), prefill (the whole context as one prompt, the worst case:
KV cache for every token, one layer's working set, the last token's logits) and decode (the
cache, one token at a time). The peak is prefill's.
"""

from __future__ import annotations

from vram.formula import Formula, formula
from vram.memory.detailed.activations import FUSED_QKV, prefill_formula
from vram.memory.detailed.common import DetailedJob, block_options, phase, quantised_weights
from vram.memory.job import Said
from vram.memory.quant import FORMATS, KV_BYTES, covered_params, gguf_weights
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import WEIGHT_FORMATS, compute_dtype, dtype_bytes
from vram.memory.runtime import cuda_context_item
from vram.request.enums import Item, PhaseName
from vram.request.quant import KvDtype

KV_SOURCE = "2 x layers x kv_heads x head_dim x tokens x batch x bytes (vLLM paper section 3)"
MLA_SOURCE = "DeepSeek-V2 paper section 2.1: MLA caches the kv_lora_rank latent and the rotary key"
KV_FULL = Formula("2*L*k*d*s*b*e")
#: MLA in the paper's symbols: d_c the compressed KV latent (kv_lora_rank), d_h^R the decoupled
#: rotary key's head dim (qk_rope_head_dim), one of each a token a layer.
KV_LATENT = Formula("L*(dc + dr)*s*b*e")
KV_WINDOWED = Formula("2*(L - W)*k*d*s*b*e + 2*W*k*d*min(s, w)*b*e")

#: The last token's logits in 16 bits and their fp32 upcast for sampling (transformers'
#: generate computes only the last position: logits_to_keep=1).
PREFILL_LOGITS = Formula("(c + 4)*b*v")


def inference_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase]]:
    values = job.values()
    split = job.gpu_count
    if split > 1:
        held = -(-job.spec.num_layers // split)
        said.say(f"{split} GPUs split the {job.spec.num_layers} layers (device_map='auto' style); "
                 f"the most-loaded holds {held}, with their weights and KV cache, one layer's "
                 "working set and the logits")
    working_set = formula(prefill_formula(block_options(job, said)))
    items = [
        *_weights(job, split),
        _split(_kv_cache(job, said, values), split, job.spec.num_layers),
        formula_item(Item.ACTIVATIONS, "Prefill working set (one layer)", working_set, values,
                     "no autograd: one layer's tensors are live at a time"),
        formula_item(Item.LOGITS, "Logits of the last token", PREFILL_LOGITS, values,
                     "transformers generate: logits_to_keep=1, fp32 for sampling"),
        cuda_context_item(),
    ]
    items = [item for item in items if item.bytes]
    keys = [item.key for item in items]
    weights = [k for k in keys if k in (Item.WEIGHTS, Item.QUANT_OVERHEAD)]
    phases = [
        phase(PhaseName.LOAD, items, weights + [Item.CUDA_CONTEXT], "weights in place"),
        phase(PhaseName.PREFILL, items, keys,
              "the whole context as one prompt: every token's K and V, one layer's working set"),
        phase(PhaseName.DECODE, items, [k for k in keys if k != Item.ACTIVATIONS],
              "one new token a step against the full cache"),
    ]
    return items, phases


def _weights(job: DetailedJob, split: int) -> list[LineItem]:
    if job.checkpoint is not None and job.request.dtype is None:
        return [_split(_stored_weights(job), split, job.spec.num_layers)]
    dtype, layers = job.dtype, job.spec.num_layers
    if job.quant in FORMATS:
        return [_split(item, split, layers) for item in _format_weights(job)]
    if job.quant is not None:  # a GGUF file type
        size = None if job.arch.spec is not None else job.params  # a bare size: the reference's mix
        return [_split(gguf_weights(job.spec, job.quant, job.spec.family in FUSED_QKV, size), split, layers)]
    if dtype not in WEIGHT_FORMATS:
        size = dtype_bytes(dtype)
        item = LineItem(Item.WEIGHTS, f"Model weights ({dtype})", round(size * job.params),
                        f"{size:g} B/param x params", {"params": job.params},
                        f"{dtype}: {size:g} bytes a parameter")
        return [_split(item, split, layers)]
    weights, scales = quantised_weights(job, "Model weights", "Quantisation scales and zeros")
    return [_split(weights, split, layers), _split(scales, split, layers)]


def _format_weights(job: DetailedJob) -> tuple[LineItem, LineItem]:
    """Weights in a GPU format (vram.memory.quant.FORMATS): the matrices it covers at its value bits,
    the rest in 16 bits, and its scales as their own item."""
    fmt = FORMATS[job.quant]
    covered = covered_params(job.spec, job.counts.attention, job.counts.mlp, fmt.experts_only)
    other = job.params - covered
    what = "the MoE experts" if fmt.experts_only and job.spec.num_experts else "the blocks' matrices"
    size = fmt.value_bits / 8
    weights = LineItem(
        Item.WEIGHTS, f"Model weights ({job.quant}: {what}, the rest 16-bit)", round(size * covered + 2 * other),
        f"{size:g} B/param x quantised_params + 2 B/param x other_params",
        {"quantised_params": covered, "other_params": other}, fmt.source)
    scales = formula_item(Item.QUANT_OVERHEAD, f"{job.quant} scales", formula(f"({fmt.scale_bits})/8*quantised_params"),
                          {"quantised_params": covered}, fmt.source)
    return weights, scales


def _stored_weights(job: DetailedJob) -> LineItem:
    checkpoint = job.checkpoint
    values = {name: size for name, size in checkpoint.by_type}
    return LineItem(
        Item.WEIGHTS, f"Weights as stored ({checkpoint.format}, {checkpoint.tensor_count} tensors)", checkpoint.bytes,
        " + ".join(values), values,
        f"{checkpoint.path}: the header's per-tensor dtypes and shapes (bytes by storage type)")


def _kv_cache(job: DetailedJob, said: Said, values: dict[str, float]) -> LineItem:
    spec = job.spec
    kv_dtype = said.default("kv_dtype", job.request.kv_dtype, KvDtype(compute_dtype(job.dtype)), "the compute dtype")
    values = {**values, "e": KV_BYTES[kv_dtype]}
    if spec.kv_lora_rank is not None:
        values.update(dc=spec.kv_lora_rank, dr=spec.qk_rope_head_dim)
        formula, source = KV_LATENT, MLA_SOURCE
    elif spec.sliding_window is not None:  # min(s, w): the full cache while the context is shorter
        windowed = spec.windowed_layers
        values.update(W=windowed, w=spec.sliding_window)
        formula = KV_WINDOWED
        source = f"{KV_SOURCE}; sliding-window layers keep only their last {spec.sliding_window} tokens"
    else:
        formula, source = KV_FULL, KV_SOURCE
    return formula_item(Item.KV_CACHE, f"KV cache ({kv_dtype})", formula, values, source)


def _split(item: LineItem, ways: int, layers: int) -> LineItem:
    """The most-loaded GPU's share of a per-layer item split by layers over ``ways`` GPUs: it holds
    ceil(L / gpus) of the L layers."""
    if ways == 1:
        return item
    held = -(-layers // ways)
    values = {**item.values, "held": held, "L": layers}
    shown = f"({item.formula}) x held / L"
    if item.expression is None:  # display text only (weights by the parameter): the bytes are final
        return LineItem(item.key, item.label, -(-item.bytes * held // layers), shown, values, item.source)
    # the expression a sweep re-evaluates is the inner one's, split the same way (L is the layers in both)
    split = formula(f"ceil(({item.expression.text})*held/L)")
    return LineItem(item.key, item.label, split.bytes(values), shown, values, item.source, split)
