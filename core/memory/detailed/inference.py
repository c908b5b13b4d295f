"""Inference by the detailed method: weights as stored, the KV cache, the prefill working set.

Phases: load (weights, CUDA context), prefill (the whole context as one prompt, the worst case:
KV cache for every token, one layer's working set, the last token's logits) and decode (the
cache, one token at a time). The peak is prefill's. With tokens to generate (``new_tokens``) the
prompt is ``seq_len``: its working set is prefill's, and the cache holds prompt and generated
tokens. Split over GPUs: layers over the GPUs as device_map='auto' does, or with tp/pp the
most-loaded GPU of the tensor x pipeline group (sharding.py).
"""

from __future__ import annotations

from vram.catalog.index import ModelSpec
from vram.formula import Formula, formula
from vram.memory.detailed import sharding
from vram.memory.detailed.activations import FUSED_QKV, prefill_formula
from vram.memory.detailed.common import DetailedJob, block_options, phase, quantised_weights
from vram.memory.job import Said
from vram.memory.quant import FORMATS, KV_BYTES, covered_params, gguf_weights
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import WEIGHT_FORMATS, compute_dtype, dtype_bytes
from vram.memory.runtime import cuda_context_item
from vram.messages import Note
from vram.request.enums import Item, PhaseName
from vram.request.quant import KvDtype
from vram.request.request import release

KV_SOURCE = "2 x layers x kv_heads x head_dim x tokens x batch x bytes (vLLM paper section 3)"
MLA_SOURCE = "DeepSeek-V2 paper section 2.1: MLA caches the kv_lora_rank latent and the rotary key"
#: The cache's formulas, over {L} layers, {k} KV heads and {T} tokens a sequence (a split model
#: writes a GPU's layers and heads; generation the prompt's s and the generated g). MLA in the
#: paper's symbols: d_c the compressed KV latent (kv_lora_rank), d_h^R the decoupled rotary key's
#: head dim (qk_rope_head_dim), one of each a token a layer.
KV_TEXTS = {
    "full": "2*{L}*{k}*d*{T}*b*e",
    "latent": "{L}*(dc + dr)*{T}*b*e",
    "windowed": "2*({L} - {W})*{k}*d*{T}*b*e + 2*{W}*{k}*d*min({T}, w)*b*e",
    "hybrid": "2*({L} - {R})*{k}*d*{T}*b*e + {R}*({r} + {z}*e)*b",
    # Gemma 4: the full layers' own KV heads kG of width D (V = K is still cached: vLLM copies k_proj
    # into v_proj, transformers caches value_states = key_states as its own tensor)
    "windowed_global": "2*({L} - {W})*{kG}*D*{T}*b*e + 2*{W}*{k}*d*min({T}, w)*b*e",
}
WHOLE = {"L": "L", "k": "k", "W": "W", "R": "R", "r": "r", "z": "z", "kG": "kG"}
#: Gated DeltaNet layers keep no per-token K and V but a fixed state a sequence (sharding.recurrent_values).
RECURRENT_SOURCE = ("Gated DeltaNet (arXiv 2412.06464 eq. 10) as transformers' Qwen3NextGatedDeltaNet caches it, a "
                    "linear layer a sequence: r = 4 B x value_heads x d_k x d_v (fp32 state), z = (conv_kernel - 1) x "
                    "conv_channels (conv inputs)")
#: One token's K and V in one layer (sliding windows aside: they bound the tokens, not a token's size).
TOKEN_LAYER = {"full": KV_TEXTS["full"].format(L=1, k="k", T=1), "latent": KV_TEXTS["latent"].format(L=1, T=1)}
#: transformers' generate: the cache grows by each generated token (DynamicCache.update), so it
#: ends holding the prompt and every generated token.
TOKENS = {False: "s", True: "(s + g)"}

#: The last token's logits in 16 bits and their fp32 upcast for sampling (transformers'
#: generate computes only the last position: logits_to_keep=1, in prefill and at each decode step).
PREFILL_LOGITS = Formula("(c + 4)*b*v")
#: transformers before runtimes.toml's prompt_logits_until: the head over every prompt position, 16-bit
#: logits and their fp32 copy live together at the upcast, after the last layer's working set is freed.
PROMPT_LOGITS = Formula("(c + 4)*b*s*v")


def inference_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase]]:
    values = job.values()
    generated = job.request.new_tokens is not None
    if generated:
        values["g"] = job.request.new_tokens
        said.say(f"generate {job.request.new_tokens}: the KV cache ends holding the prompt's {job.seq_len} "
                 f"tokens and the {job.request.new_tokens} generated; prefill's working set is the prompt's")
    if job.tp * job.pp > 1:
        return _most_loaded(job, said, values, kv_dtype(job, said))
    split = job.gpu_count
    if split > 1:
        held = -(-job.spec.num_layers // split)
        said.say(Note("note.layers_split", count=split, layers=job.spec.num_layers, held=held))
    cache_dtype = kv_dtype(job, said)
    working_set = formula(prefill_formula(block_options(job, said)))
    whole_prompt = _prompt_logits(job, said)
    items = [
        *weights_items(job, split),
        _split(kv_cache_item(job, values, cache_dtype, WHOLE), split, job.spec.num_layers),
        _working_set(working_set, values, ""),
        _logits(values, whole_prompt),
        cuda_context_item(),
    ]
    return _with_phases(items, generated, whole_prompt)


def kv_dtype(job: DetailedJob, said: Said) -> KvDtype:
    """The KV cache's dtype: the one asked, else the compute dtype (said); serving engines share it."""
    return said.default("kv_dtype", job.request.kv_dtype, KvDtype(compute_dtype(job.dtype)), Note("why.compute_dtype"))


def _most_loaded(job: DetailedJob, said: Said, values: dict[str, float],
                 kv_dtype: KvDtype) -> tuple[list[LineItem], list[Phase]]:
    """The most-loaded GPU of a tensor x pipeline parallel group (sharding.py: what each holds)."""
    text = prefill_formula(block_options(job, said))
    working_set = formula(sharding.per_gpu_text(text, ("a", "k", "f")) if job.tp > 1 else text)
    symbols = {name: sharding.SHARDED_SYMBOLS[name] if job.tp > 1 or name not in ("k", "kG") else name
               for name in WHOLE}
    whole_prompt = _prompt_logits(job, said)
    answers = []
    for stage in sharding.stages(job.spec, job.pp):
        shard = {**values, **sharding.per_gpu_values(job, stage, job.tp)}
        items = [*gpu_weights(job, stage), kv_cache_item(job, shard, kv_dtype, symbols),
                 _working_set(working_set, shard, ", one GPU's share" if job.tp > 1 else "")]
        items += [_logits(values, whole_prompt)] if stage.head else []
        items.append(cuda_context_item())
        answers.append((stage, *_with_phases(items, job.request.new_tokens is not None, whole_prompt)))
    stage, items, phases = max(answers, key=lambda answer: max(p.bytes for p in answer[2]))
    said.say(_layout(job, stage))
    return items, phases


def _layout(job: DetailedJob, stage: sharding.Stage) -> str:
    spec, tp = job.spec, job.tp
    parts = []
    if tp > 1:
        kv = sharding.kv_heads_per_gpu(spec, tp)
        heads = ("the whole MLA latent cache (it has no heads to split)" if spec.kv_lora_rank is not None
                 else f"{kv} of the {spec.num_kv_heads} KV heads"
                 + (f" (replicated: fewer KV heads than tp {tp})" if spec.num_kv_heads < tp else ""))
        parts.append(f"tp {tp}: each GPU holds 1/{tp} of the attention and MLP matrices, of the vocabulary-parallel "
                     f"embedding and head, {spec.num_heads // tp} of the {spec.num_heads} query heads and {heads}; "
                     "norms replicated")
    if job.pp > 1:
        which = {"first": "the first, with the embedding", "last": "the last, with the head and the logits",
                 "middle": "a middle one"}
        layers = sharding.stage_layers(job.spec.num_layers, job.pp)
        parts.append(f"pp {job.pp}: stages of {', '.join(map(str, layers))} layers; the most loaded is "
                     f"{which[stage.name]}, with {stage.layers}")
    replicas = job.gpu_count // (tp * job.pp)
    if replicas > 1:
        parts.append(f"{replicas} replicas of tp {tp} x pp {job.pp}, each running the batch of {job.batch_size}")
    return "; ".join(parts)


def _with_phases(items: list[LineItem], generated: bool,
                 whole_prompt: bool = False) -> tuple[list[LineItem], list[Phase]]:
    items = [item for item in items if item.bytes]
    keys = [item.key for item in items]
    weights = [k for k in keys if k in (Item.WEIGHTS, Item.QUANT_OVERHEAD)]
    prefill = (PREFILL_GENERATE if generated else PREFILL_WHOLE)
    # the whole prompt's logits come after the last layer, whose working set is freed by then
    later = [Item.ACTIVATIONS, Item.LOGITS] if whole_prompt else [Item.ACTIVATIONS]
    phases = [
        phase(PhaseName.LOAD, items, weights + [Item.CUDA_CONTEXT], "weights in place"),
        phase(PhaseName.PREFILL, items, [k for k in keys if k not in later[1:]], prefill),
        phase(PhaseName.DECODE, items, [k for k in keys if k not in later],
              "one new token a step against the full cache"),
    ]
    if whole_prompt:
        phases.insert(2, phase(PhaseName.PROMPT_LOGITS, items, [k for k in keys if k != Item.ACTIVATIONS],
                               "the head over every prompt token, 16-bit and fp32 copies"))
    return items, phases


PREFILL_WHOLE = "the whole context as one prompt: every token's K and V, one layer's working set"
#: Counted with the cache at its final size: transformers' StaticCache allocates it at once; the
#: default DynamicCache reaches it during decode, where the working set is gone (an upper bound).
PREFILL_GENERATE = ("the prompt as one batch, one layer's working set, beside the cache at its final size "
                    "(prompt + generated: a static cache allocates it at once)")


def _working_set(working_set: Formula, values: dict[str, float], share: str) -> LineItem:
    return formula_item(Item.ACTIVATIONS, f"Prefill working set (one layer{share})", working_set, values,
                        "no autograd: one layer's tensors are live at a time" + (f"; {sharding.TP_SOURCE}"
                                                                                  if share else ""))


def _prompt_logits(job: DetailedJob, said: Said) -> bool:
    """Whether the asked transformers release makes the logits of every prompt position (said)."""
    until = job.runtime.settings.get("prompt_logits_until")
    version = job.request.engine_version
    if until is None or version is None or release(version) >= release(until):
        return False
    if job.spec.family in job.runtime.settings.get("last_logit_families", ()):
        return False  # the model's own code keeps the last position (runtimes.toml)
    said.say(f"transformers {version}: generate's prefill makes the logits of all {job.seq_len} prompt positions "
             f"and upcasts them to fp32 (releases before {until}; "
             f"{job.runtime.settings['source_prompt_logits']})")
    return True


def _logits(values: dict[str, float], whole_prompt: bool = False) -> LineItem:
    # a split head's logits are gathered whole before sampling (transformers' tp_plan lm_head
    # "colwise_rep"; vLLM LogitsProcessor._gather_logits): one GPU holds all of the vocabulary's
    if whole_prompt:
        return formula_item(Item.LOGITS, "Logits of every prompt token", PROMPT_LOGITS, values,
                            "transformers generate before num_logits_to_keep: the head over the whole "
                            "prompt, then .float()")
    return formula_item(Item.LOGITS, "Logits of the last token", PREFILL_LOGITS, values,
                        "transformers generate: logits_to_keep=1, fp32 for sampling")


def gpu_weights(job: DetailedJob, stage: sharding.Stage) -> list[LineItem]:
    """One GPU's share of the weights: sharding.gpu_params of each kind of parameter."""
    held = sharding.gpu_params(job, stage, job.tp)
    source = f"{sharding.TP_SOURCE}; {sharding.PP_SOURCE}"
    if job.checkpoint is not None and job.request.dtype is None:
        stored = _stored_weights(job)
        share = held.total / job.params
        return [LineItem(Item.WEIGHTS, f"{stored.label}, one GPU's share", round(stored.bytes * share),
                         "stored_bytes x gpu_params / params",
                         {"stored_bytes": stored.bytes, "gpu_params": round(held.total), "params": job.params},
                         f"{stored.source}; {source}")]
    if job.dtype in WEIGHT_FORMATS:
        weights, scales = quantised_weights(job, "Model weights, one GPU's share", "Quantisation scales and zeros",
                                            (held.block, held.other))
        return [weights, scales]
    size = dtype_bytes(job.dtype)
    return [LineItem(Item.WEIGHTS, f"Model weights ({job.dtype}), one GPU's share", round(size * held.total),
                     f"{size:g} B/param x gpu_params", {"gpu_params": round(held.total)},
                     f"{job.dtype}: {size:g} bytes a parameter; {source}")]


def weights_items(job: DetailedJob, split: int) -> list[LineItem]:
    """The weights (and a quantised format's scales) as stored, the most-loaded of ``split`` GPUs' share."""
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


def kv_cache_item(job: DetailedJob, values: dict[str, float], kv_dtype: KvDtype, symbols: dict[str, str]) -> LineItem:
    """The KV cache over the layers and KV heads ``symbols`` name (the whole model's, or one GPU's)."""
    spec = job.spec
    values = {**values, "e": KV_BYTES[kv_dtype]}
    tokens = TOKENS["g" in values]
    if spec.kv_lora_rank is not None:
        values.update(dc=spec.kv_lora_rank, dr=spec.qk_rope_head_dim)
        kind, source = "latent", MLA_SOURCE
    elif spec.linear_attention_layers is not None:
        values = {**sharding.recurrent_values(spec), **values}
        kind, source = "hybrid", f"{KV_SOURCE} over the full-attention layers; {RECURRENT_SOURCE}"
    elif spec.sliding_window is not None:  # min(s, w): the full cache while the context is shorter
        values.update(W=spec.windowed_layers, w=spec.sliding_window)
        kind = "windowed"
        source = f"{KV_SOURCE}; sliding-window layers keep only their last {spec.sliding_window} tokens"
        if spec.has_global_layers:
            values = {"kG": spec.full_kv_heads, "D": spec.full_head_dim, **values}
            kind, source = "windowed_global", f"{source}; the full layers' own {spec.full_kv_heads} KV heads of {spec.full_head_dim}"
    else:
        kind, source = "full", KV_SOURCE
    if symbols is not WHOLE:
        source = f"{source}; {sharding.TP_SOURCE}; {sharding.PP_SOURCE}"
    text = KV_TEXTS[kind].format(T=tokens, **symbols)
    return formula_item(Item.KV_CACHE, f"KV cache ({kv_dtype})", formula(text), values, source)


def kv_token_layer(spec: ModelSpec, kv_heads: int, value_bytes: float) -> LineItem:
    """One token's K and V in one layer, over ``kv_heads`` heads (MLA: its latent) of ``value_bytes``
    each: the cache's formula at one layer, one token, one sequence, so that every runtime sizes
    its cache by the same rule and source (serving engines' blocks, llama.cpp's cells)."""
    kind, source = ("latent", MLA_SOURCE) if spec.kv_lora_rank is not None else ("full", KV_SOURCE)
    values = {"k": kv_heads, "d": spec.head_dim, "dc": spec.kv_lora_rank, "dr": spec.qk_rope_head_dim, "b": 1,
              "e": value_bytes}
    return formula_item(Item.KV_CACHE, "MLA latent" if kind == "latent" else "K and V", formula(TOKEN_LAYER[kind]),
                        values, source)


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
