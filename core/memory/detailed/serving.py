"""Serving engines that pre-allocate a KV pool: vLLM, SGLang, TGI (design.md section 8).

Such an engine loads its weights (a tensor-parallel shard on each GPU), profiles one forward pass
of ``max_num_batched_tokens`` tokens, and gives what its memory fraction of the GPU leaves to a KV
pool counted in blocks. The answer is one GPU's items at the concurrency asked (one sequence of
``max_model_len`` unless more are asked: the least the engine starts with), and, on a GPU, the
pool in bytes and tokens, the concurrency it holds and whether the engine starts, with what it
prints when it refuses. Each engine's defaults and behaviours are columns of its row in
catalog/data/runtimes.toml; nothing here branches on an engine's name.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vram.catalog.runtimes import by_release
from vram.formula import formula
from vram.memory.detailed import allocator, sharding
from vram.memory.detailed.activations import prefill_formula
from vram.memory.detailed.common import DetailedJob, block_options, phase
from vram.memory.detailed.engine_defaults import (
    fixed_fraction, gpu_defaults, is_large, launcher_defaults, legacy_defaults, since_release
)
from vram.memory.detailed.inference import RECURRENT_SOURCE, gpu_weights, kv_dtype, kv_token_layer, weights_items
from vram.memory.job import Said
from vram.memory.quant import KV_BYTES
from vram.memory.result import LineItem, Phase, Serving, formula_item
from vram.memory.runtime import cuda_context_item
from vram.request.enums import Item, PhaseName
from vram.units import GIB

GLOBAL_SOURCE = ("full-attention layers at their own KV heads and width, tG = 2 x global_kv_heads x global_head_dim x "
                 "e (Gemma 4; vLLM caches V beside K though V is K: it copies k_proj into v_proj)")
#: The profile run's peak: one layer's working set at T tokens, or what the sampler holds for each
#: logit of max_num_seqs requests over the whole vocabulary (the row's sampler_bytes_per_logit),
#: the larger (vllm/v1/worker/gpu_model_runner.py profile_run: _dummy_run, then _dummy_sampler_run).
SAMPLER = "y*q*v"
#: What an engine has taken before it measures the memory its fraction is a share of, where it measures
#: the free memory rather than CUDA's total (runtimes.toml fraction_of_free_at_start): the CUDA context
#: and the distributed init (NCCL, all-reduce buffers).
STARTUP = (Item.CUDA_CONTEXT, Item.RUNTIME_OVERHEAD)


@dataclass(frozen=True)
class EngineSettings:
    """One job's engine settings: what the request says, else the row's default (each said)."""

    fraction: float
    batched_tokens: int
    max_num_seqs: int
    block_size: int
    cuda_total: int | None  #: the GPU's memory as CUDA reports it (None without a GPU)
    sampler_bytes_per_logit: int  #: what the profiled sampler holds for each logit of its batch
    legacy: bool  #: the engine's earlier scheduler (the row's legacy_* columns) runs
    pool_bytes: int | None = None  #: the pool set in bytes (vLLM's kv_cache_memory_bytes), not by the fraction
    max_input_tokens: int | None = None  #: the longest prompt the launcher sets (TGI before 2.4.1); None: unset
    wiggle: float = 1.0  #: the share the pool takes (the row's wiggle at the release)
    wiggle_of_total: bool = False  #: the share left out is of the fraction of CUDA's total, not of what is left
    max_total_tokens: int | None = None  #: TGI's max_total_tokens as the launch or its launcher sets it; None: unset
    pool_cap_tokens: int | None = None  #: SGLang's --max-total-tokens: the pool's most tokens; None: no cap


def settings_for(job: DetailedJob, said: Said) -> EngineSettings:
    runtime, request, gpu = job.runtime, job.request, job.resolved.gpu
    row, name = runtime.settings, runtime.name
    flag = row["memory_fraction_flag"]
    large = gpu is not None and is_large(row, gpu)
    legacy = legacy_defaults(row, request.engine_version, job.seq_len, _chunkable(job))
    default_seqs = legacy.max_num_seqs if legacy else \
        row.get("max_num_seqs_large" if large else "max_num_seqs", row["max_num_seqs"])
    # the cap is the launch's (or the engine's default), never the concurrency asked: vLLM profiles its
    # sampler at max_num_seqs whatever the load (gpu_model_runner.py profile_run: _dummy_sampler_run)
    seqs = request.max_num_seqs or default_seqs
    if request.max_num_seqs is None:
        said.say(f"max_num_seqs {seqs} ({name}'s default): the most sequences it runs at once")
    if gpu is not None and since_release(row, "by_gpu_since", request.engine_version):
        defaults = gpu_defaults(row, gpu, job.tp, job.pp, request.max_num_batched_tokens)
        fraction, batched = defaults.fraction, defaults.batched_tokens
        release_said = request.engine_version or f"{row['by_gpu_since']} and later"
        if request.memory_fraction is None:
            said.say(f"{flag} {fraction:g} ({name} {release_said}'s default {defaults.reason}; "
                     f"{row['by_gpu_source']})")
    else:
        fraction = fixed_fraction(row, request.tp)
        batched = request.max_num_batched_tokens or (legacy.batched_tokens if legacy else row.get(
            "batched_tokens_large" if large else "batched_tokens", row["batched_tokens"]))
        if request.memory_fraction is None:
            said.say(f"{flag} {fraction:g} ({name}{' ' + request.engine_version if request.engine_version else ''}"
                     "'s default)")
    launcher = launcher_defaults(row, request.engine_version, job.spec.max_seq_len, request.max_input_tokens)
    if launcher is not None and request.max_num_batched_tokens is None:
        batched = launcher.batched_tokens
    if request.max_num_batched_tokens is None and legacy is not None:
        said.say(f"max_num_batched_tokens {batched}, max_num_seqs {default_seqs} ({name} "
                 f"{request.engine_version}'s {row['legacy_name']}: {legacy.reason}): the profiled forward pass")
    elif request.max_num_batched_tokens is None and launcher is not None:
        said.say(f"max_num_batched_tokens {batched} ({name}"
                 f"{' ' + request.engine_version if request.engine_version else ''}'s launcher default, "
                 f"{launcher.reason}; launcher/src/main.rs): the warm-up's prefill")
    elif request.max_num_batched_tokens is None:
        said.say(f"max_num_batched_tokens {batched} ({name}'s default"
                 f"{' on a GPU this size' if 'batched_tokens_large' in row or 'by_gpu_since' in row else ''}): "
                 "the profiled forward pass")
    cuda_total = None
    if gpu is not None:
        cuda_total = gpu.engine_total_bytes
        if gpu.cuda_total_bytes is None:
            said.say(f"{gpu.id}: CUDA's total memory is not in the catalog; the driver's "
                     f"{cuda_total / GIB:.2f} GiB taken (CUDA reports a little less)")
    sampler = legacy.sampler_bytes_per_logit if legacy else by_release(row["sampler_bytes_per_logit"],
                                                                         request.engine_version)
    if request.kv_cache_memory_bytes is not None:
        said.say(f"kv_cache_memory_bytes {request.kv_cache_memory_bytes:,}: the KV pool a GPU, as set; {name} still "
                 f"profiles, but does not read {flag} (vllm/v1/worker/gpu_worker.py determine_available_memory)")
    if request.max_total_tokens is not None:
        said.say(f"max_total_tokens {request.max_total_tokens:,}: {name}'s KV pool holds at most that many tokens, "
                 f"fewer when the memory leaves fewer ({CAP_SOURCE})")
    wiggle = row["wiggle"] if isinstance(row["wiggle"], (int, float)) else by_release(row["wiggle"],
                                                                                       request.engine_version)
    of_total = since_release(row, "wiggle_of_total_since", request.engine_version)
    return EngineSettings(request.memory_fraction or fraction, batched, seqs, row["block_size"], cuda_total, sampler,
                          legacy is not None, request.kv_cache_memory_bytes,
                          launcher.max_input_tokens if launcher else None, wiggle, of_total,
                          job.seq_len if request.seq_len is not None or (launcher and launcher.sets_total) else None,
                          request.max_total_tokens)


#: SGLang caps the pool it profiled at the launch's --max-total-tokens, then rounds it down to whole pages.
CAP_SOURCE = ("python/sglang/srt/model_executor/model_runner.py init_memory_pool: max_total_num_tokens = "
              "min(profiled, max_total_tokens) // page_size x page_size")


def _chunkable(job: DetailedJob) -> bool:
    """Whether the engine's earlier scheduler turns chunked prefill on for a long context: not for
    sliding-window or MLA models (vllm/engine/arg_utils.py _set_default_args_v0)."""
    return not job.spec.sliding_window and job.spec.kv_lora_rank is None


def serving_items(job: DetailedJob, said: Said) -> tuple[list[LineItem], list[Phase], Serving]:
    """One GPU's items at the concurrency asked, the engine's phases, and the serving figures."""
    if job.request.new_tokens:  # a request's prompt and what it generates share its blocks
        job = dataclasses.replace(job, seq_len=job.seq_len + job.request.new_tokens)
        said.say(f"max_model_len {job.seq_len}: the prompt and the {job.request.new_tokens} tokens generated after it")
    row, spec, tp = job.runtime.settings, job.spec, job.tp
    engine = settings_for(job, said)
    stage = _stage(job)
    layers = stage.layers - sharding.linear_on_stage(spec, job.pp)  # linear-attention layers keep no K and V
    kv_heads = sharding.kv_heads_per_gpu(spec, tp)
    if tp * job.pp > 1:
        said.say(f"tp {tp}" + (f", pp {job.pp} (this GPU's stage: {stage.name}, {layers} layers)" if job.pp > 1 else "")
                 + f": each GPU holds its share of the weights and {kv_heads} KV head{'s' if kv_heads > 1 else ''} "
                 + ("(replicated: fewer KV heads than tp)" if spec.num_kv_heads < tp and spec.kv_lora_rank is None
                    else "") + f" ({sharding.TP_SOURCE})")
    weights, offloaded = _offloaded(job, stage, gpu_weights(job, stage) if tp * job.pp > 1 else weights_items(job, 1),
                                    said)
    items = [*weights, _profile_peak(job, engine, kv_heads, said)]
    segments = _weight_segments(job, stage, kv_heads, said)
    if segments is not None:
        items.insert(1, segments)
    logits = _warmup_logits(job, engine)
    if logits is not None:
        items.append(logits)
    outside = set()  # items the engine's share does not hold: they live in the memory it leaves
    if not row["pool_takes_activations"]:
        outside.update((Item.ACTIVATIONS, Item.LOGITS))
        said.say(f"{job.runtime.name}'s activations live in the memory {row['memory_fraction_flag']} leaves, "
                 "outside its share")
    column = ("legacy_" if engine.legacy else "") + ("non_torch_gib_tp" if tp > 1 else "non_torch_gib")
    non_torch = row[column]
    if non_torch:
        items.append(LineItem(Item.RUNTIME_OVERHEAD, "Non-torch memory (NCCL and all-reduce buffers)"
                              if tp > 1 else "Non-torch memory (cuBLAS workspaces, allocator)",
                              round(non_torch * GIB), "GiB x non_torch_gib", {"GiB": GIB, "non_torch_gib": non_torch},
                              f"{job.runtime.name}: runtimes.toml {column} (the median non_torch_memory of "
                              "vLLM's published startup logs)"))
    if row["pool_takes_context"]:
        items.append(cuda_context_item())
    graphs = _cuda_graphs(job, said)
    if graphs is not None:
        items.append(graphs)
    pool_layer = _per_token_layer(job, kv_heads, said)
    paged = _state_pages(job, engine, pool_layer, layers)
    if paged is not None:
        engine = dataclasses.replace(engine, block_size=paged.block)
        said.say(f"{job.runtime.name} pages the Gated DeltaNet states with the KV: attention blocks of {paged.block} "
                 f"tokens, so that one page ({paged.page:,} B a layer) holds a state; {paged.groups} groups of "
                 f"{paged.group_size} layers, {paged.state_groups} of them states, one block each a request "
                 f"({STATE_PAGES_SOURCE})")
    per_request = _request_bytes(job, engine, pool_layer, layers, job.seq_len)
    asked = job.batch_size
    items.append(LineItem(Item.KV_CACHE, f"KV cache: {asked} sequence{'s' if asked > 1 else ''} of max_model_len "
                          f"{job.seq_len} in blocks of {engine.block_size}", asked * per_request.bytes,
                          f"sequences x ({per_request.formula})", {"sequences": asked, **per_request.values},
                          per_request.source))
    if engine.cuda_total is None:
        said.say(f"{job.runtime.name} sizes its KV pool by the GPU's memory: name a GPU for the pool, its tokens "
                 "and the concurrency it holds")
    keys = [item.key for item in items]
    passing = (Item.ACTIVATIONS, Item.LOGITS, Item.KV_CACHE)  # what the profiled pass and the pool add
    phases = [phase(PhaseName.LOAD, items, [k for k in keys if k not in passing],
                    "weights in place"),
              phase(PhaseName.PREFILL, items, keys, "the profile run, then the pool at the concurrency asked")]
    rest = sum(item.bytes for item in items if item.key is not Item.KV_CACHE and item.key not in outside)
    startup = 0
    if row["fraction_of_free_at_start"]:
        startup = sum(item.bytes for item in items if item.key in STARTUP)
        said.say(f"{row['memory_fraction_flag']} is a share of the memory free once the CUDA context and the "
                 f"distributed init are taken, not of CUDA's total ({row['pool_source']})")
    warm = _warmup_kv(job, engine, pool_layer, layers)
    if warm:
        said.say(f"{job.runtime.name}'s warm-up holds its own batch's KV when it reads the free memory "
                 f"({warm / GIB:.2f} GiB: {_warmup_said(_warmup_requests(job, engine))}, enough for "
                 f"{engine.batched_tokens} prefill tokens) and adds those blocks back to the pool; it fails to "
                 f"start when they do not fit ({WARMUP_KV_SOURCE})")
    serving = _serving(job, engine, pool_layer, layers, rest, per_request.bytes, startup, warm)
    if offloaded:
        serving = dataclasses.replace(serving, weights_offloaded=offloaded)
    return items, phases, serving


#: vllm/model_executor/models/utils.py: make_layers passes each decoder layer to maybe_offload_to_cpu,
#: which moves its parameters, one at a time, to pinned host memory until cpu_offload_gb GiB a GPU are
#: there (the embeddings and the head stay); each step reads them back over PCIe
OFFLOAD_SOURCE = "vllm/model_executor/models/utils.py maybe_offload_to_cpu (from make_layers, parameter by parameter)"


def _offloaded(job: DetailedJob, stage: sharding.Stage, weights: list[LineItem],
               said: Said) -> tuple[list[LineItem], int]:
    """The weights on the GPU less what vLLM keeps in host memory (cpu_offload_gb): the decoder
    layers' parameters up to the GiB given, at most all of this GPU's; and the bytes kept there."""
    gib = job.request.cpu_offload_gib
    if not gib:
        return weights, 0
    held = sharding.gpu_params(job, stage, job.tp)
    first = weights[0]
    layer_bytes = round(sum(item.bytes for item in weights) * held.block / held.total)
    offloaded = min(round(gib * GIB), layer_bytes, first.bytes)
    said.say(f"cpu_offload_gb {gib:g}: {offloaded / GIB:.2f} GiB of this GPU's decoder-layer weights in pinned host "
             f"memory (up to one parameter more: it moves whole parameters), read back each step ({OFFLOAD_SOURCE})")
    kept = dataclasses.replace(first, label=f"{first.label}, less those in host memory", bytes=first.bytes - offloaded,
                               formula=f"{first.formula} - min(GiB x cpu_offload_gb, layer_weights)",
                               values={**first.values, "GiB": GIB, "cpu_offload_gb": gib, "layer_weights": layer_bytes},
                               source=f"{first.source}; {OFFLOAD_SOURCE}")
    return [kept, *weights[1:]], offloaded

#: TGI: router/client/src/v3/client.rs warmup (requests of max_input_tokens until max_batch_prefill_tokens
#: are reached, each with max_new_tokens = max_total_tokens - truncate); flash_causal_lm.py
#: FlashCausalLMBatch.from_pb (ceil((input + max_new_tokens - 1) / BLOCK_SIZE) blocks a request) and
#: FlashCausalLM.warmup (init_kv_cache(batch.num_blocks) inside the try whose OutOfMemoryError becomes
#: "Not enough memory to handle ... prefill tokens"; num_blocks = 0.95 x free // block + batch.num_blocks)
WARMUP_KV_SOURCE = ("TGI router/client/src/v3/client.rs warmup; server/text_generation_server/models/"
                    "flash_causal_lm.py FlashCausalLMBatch.from_pb, FlashCausalLM.warmup")


def _warmup_requests(job: DetailedJob, engine: EngineSettings) -> list[int]:
    """The warm-up's requests, each as the KV tokens it is given blocks for: prompts of the launch's
    max_input_tokens (TGI before 2.4.1 sets it, max_model_len - 1 when asked; else one prompt of all the
    prefill tokens) until the prefill tokens are reached, each with max_total_tokens - prompt tokens to
    generate where max_total_tokens is set (before 2.4.1 always, else when max-model-len is asked), else 1."""
    prompt = engine.max_input_tokens
    if prompt is None and job.request.seq_len is not None:
        prompt = job.seq_len - 1
    total = engine.max_total_tokens
    requests, n = [], 0
    while n < engine.batched_tokens:
        tokens = min(prompt, engine.batched_tokens - n) if prompt else engine.batched_tokens - n
        requests.append(tokens + (total - tokens if total is not None else 1) - 1)
        n += tokens
    return requests


def _warmup_said(requests: list[int]) -> str:
    counts = {tokens: requests.count(tokens) for tokens in requests}
    return ", ".join(f"{n} request{'s' if n > 1 else ''} of {tokens + 1:,} tokens" for tokens, n in counts.items())


def _warmup_kv(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int) -> int:
    """The KV blocks the engine's warm-up batch holds when it reads the free memory (runtimes.toml
    warmup_kv); 0 for an engine whose profile run keeps none."""
    if not job.runtime.settings.get("warmup_kv"):
        return 0
    blocks = sum(-(-tokens // engine.block_size) for tokens in _warmup_requests(job, engine))
    return blocks * engine.block_size * _token_bytes(job, token_layer, layers)


def _cuda_graphs(job: DetailedJob, said: Said) -> LineItem | None:
    """The CUDA graph memory the engine takes from its pool, in the releases that do (runtimes.toml
    cuda_graph_since); else None, and the answer says the graphs live in what the fraction leaves."""
    row, name, version = job.runtime.settings, job.runtime.name, job.request.engine_version
    since = row.get("cuda_graph_since")
    if job.request.enforce_eager:
        said.say(f"enforce_eager: {name} captures no CUDA graphs (cudagraph_mode NONE), so none are counted "
                 "(vllm/v1/worker/gpu_worker.py determine_available_memory estimates them only when "
                 "cudagraph_mode != NONE)")
        return None
    if not since_release(row, "cuda_graph_since", version):
        said.say(f"{name}{' ' + version if version else ''}'s CUDA graphs are not counted: captured after the pool "
                 f"is sized, they live in the memory {row['memory_fraction_flag']} leaves"
                 + (f" (vllm/v1/worker/gpu_worker.py: compile_or_warm_up_model after initialize_kv_cache); from "
                    f"{since} {name} estimates them first and takes them from the pool" if since else ""))
        return None
    said.say(f"{name} {version or f'{since} and later'} estimates its CUDA graphs before it sizes the pool and "
             f"takes them from it: {row['cuda_graph_gib']:g} GiB, the median of published estimates "
             "(VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0 turns it off; an older release is read as in "
             "engine-version=0.20)")
    return LineItem(Item.CUDA_GRAPHS, "CUDA graphs (the engine's estimate)", round(row["cuda_graph_gib"] * GIB),
                    "GiB x cuda_graph_gib", {"GiB": GIB, "cuda_graph_gib": row["cuda_graph_gib"]},
                    f"{name} from {since}: vllm/v1/worker/gpu_worker.py determine_available_memory subtracts "
                    "gpu_model_runner.py profile_cudagraph_memory's estimate; runtimes.toml cuda_graph_gib "
                    "(median of published startup logs)")


def _stage(job: DetailedJob) -> sharding.Stage:
    """The pipeline stage whose GPU holds the most weights (sharding.stages: first, last, the fullest middle)."""
    return max(sharding.stages(job.spec, job.pp), key=lambda stage: sharding.gpu_params(job, stage, job.tp).total)


def _profile_peak(job: DetailedJob, engine: EngineSettings, kv_heads: int, said: Said) -> LineItem:
    values = job.values()
    values.update(b=1, s=engine.batched_tokens, a=values["a"] / job.tp, k=kv_heads, f=values["f"] / job.tp,
                  q=engine.max_num_seqs, y=engine.sampler_bytes_per_logit)
    peak = formula(f"max({prefill_formula(block_options(job, said))}, {SAMPLER})")
    return formula_item(Item.ACTIVATIONS, f"Activations: one forward pass of {engine.batched_tokens} tokens",
                        peak, values, f"{job.runtime.settings['pool_source']}; one layer's working set at s = "
                        "max_num_batched_tokens, or the sampler's y bytes a logit of max_num_seqs requests "
                        "(runtimes.toml sampler_bytes_per_logit)")


def _weight_segments(job: DetailedJob, stage: sharding.Stage, kv_heads: int, said: Said) -> LineItem | None:
    """What the caching allocator reserves beyond this GPU's weight tensors, for an engine that sizes its pool
    from the free memory after loading (runtimes.toml weights_in_segments); None elsewhere, or where the
    tensors' shapes are not the plain decoder's."""
    if not job.runtime.settings.get("weights_in_segments"):
        return None
    sizes = _weight_tensors(job, stage, kv_heads)
    if sizes is None:
        said.say(f"{job.runtime.name} reads the free memory after loading: the allocator's rounding of each weight "
                 "tensor to its segment is computed for plain 16-bit decoders only, and left out here")
        return None
    stored, reserved = sum(sizes), allocator.reserved_for(sizes)
    return LineItem(Item.WEIGHT_SEGMENTS, f"Allocator segments beyond the {len(sizes)} weight tensors",
                    reserved - stored, "R - S", {"R": reserved, "S": stored},
                    f"{allocator.SEGMENTS}; each tensor of this GPU's shard allocated on its own (fused QKV and "
                    "gate-up), R the segments, S the tensors; the engine reads the free memory after them")


def _weight_tensors(job: DetailedJob, stage: sharding.Stage, kv_heads: int) -> list[int] | None:
    """The bytes of each weight tensor on this GPU of a plain 16-bit decoder, as the engines build its layers
    (QKVParallelLinear, MergedColumnParallelLinear: q, k and v fused, gate and up fused); None for a quantised or
    local checkpoint and for MoE, MLA, linear-attention or local/global models."""
    spec, tp = job.spec, job.tp
    if (job.quant is not None or job.checkpoint is not None or spec.num_experts or spec.kv_lora_rank is not None
            or spec.linear_attention_layers is not None or spec.has_global_layers or spec.attention_output_gate
            or spec.num_heads % tp or spec.intermediate_size % tp):
        return None
    e, h, d = job.compute_bytes, spec.hidden_size, spec.head_dim
    width = (spec.num_heads // tp + 2 * kv_heads) * d
    f = spec.intermediate_size // tp
    layer = [width * h * e, h * spec.num_heads // tp * d * e, (2 if spec.mlp == "gated" else 1) * f * h * e,
             h * f * e, h * e, h * e]
    if spec.qkv_bias:
        layer.append(width * e)
    ends = [spec.vocab_size // tp * h * e] * (stage.embedding + (stage.head and not spec.tie_embeddings))
    return layer * stage.layers + ends + ([h * e] if stage.head else [])


def _warmup_logits(job: DetailedJob, engine: EngineSettings) -> LineItem | None:
    """The logits of every prefill token the profiled pass holds, and their copies (runtimes.toml
    warmup_logits_copies, by release); None for an engine whose pass keeps only the last token's."""
    table = job.runtime.settings.get("warmup_logits_copies")
    if table is None:
        return None
    copies = by_release(table, job.request.engine_version)
    # every rank gathers the whole vocabulary (TGI layers/tensor_parallel.py TensorParallelHead.forward)
    values = {"n": copies, "T": engine.batched_tokens, "v": job.spec.vocab_size, "c": job.compute_bytes}
    label = "the logits" + (" and their log-softmax" if copies > 1 else "")
    return formula_item(Item.LOGITS, f"Warm-up: {label} of all {engine.batched_tokens} prefill tokens",
                        formula("n*T*v*c"), values,
                        f"{job.runtime.settings['pool_source']}; the warm-up asks every prompt token's logprobs, "
                        "so the head runs over all T tokens and log_softmax takes a copy (in place from TGI "
                        "2.4.0): runtimes.toml warmup_logits_copies")


def _per_token_layer(job: DetailedJob, kv_heads: int, said: Said) -> LineItem:
    # the KV heads of a tensor-parallel shard, at least one (vLLM ModelConfig.get_num_kv_heads, SGLang
    # get_num_kv_heads: max(1, k // tp)); MLA's latent is the same on every rank
    return kv_token_layer(job.spec, kv_heads, KV_BYTES[kv_dtype(job, said)])


def _windowed(job: DetailedJob, engine: EngineSettings, seq_len: int) -> tuple[int, int] | None:
    """(sliding layers, tokens each keeps) when the engine's pool keeps only their windows."""
    spec = job.spec
    if not job.runtime.settings["sliding_window_pool"] or not spec.sliding_window or not spec.windowed_layers:
        return None
    kept = min(spec.sliding_window - 1 + engine.batched_tokens, seq_len)
    return (sharding.windowed_on_stage(spec, job.pp), kept) if kept < seq_len else None


def _request_bytes(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int,
                   seq_len: int) -> LineItem:
    """One max_model_len sequence's KV on one GPU, in whole blocks (vLLM's max_memory_usage_bytes)."""
    paged = _state_pages(job, engine, token_layer, layers)
    if paged is not None:
        values = {"G": paged.group_size, "P": paged.page, "m": seq_len, "Bh": paged.block, "S": paged.state_groups}
        return formula_item(Item.KV_CACHE, "one sequence", formula("G*P*(ceil(m/Bh) + S)"), values,
                            f"{STATE_PAGES_SOURCE}: ceil(m/Bh) attention blocks and one block a state group, "
                            "each a page on each of the G layers of a group")
    B = engine.block_size
    values = {"B": B, "m": seq_len, "Lg": layers, "t": token_layer.bytes}
    windowed = _windowed(job, engine, seq_len)
    full = _full_layer_token(job, token_layer)
    if windowed is None and full is not None:  # every layer keeps the whole context, at its own width
        values.update(W=sharding.windowed_on_stage(job.spec, job.pp), tG=full)
        text = "ceil(m/B)*B*((Lg - W)*tG + W*t)"
        source = f"{token_layer.source}; whole blocks of {B} tokens; {GLOBAL_SOURCE}"
    elif windowed is None:
        text = "ceil(m/B)*B*Lg*t"
        source = f"{token_layer.source}; whole blocks of {B} tokens"
    elif full is not None:
        values.update(W=windowed[0], w=windowed[1], tG=full)
        text = "(Lg - W)*ceil(m/B)*B*tG + W*(ceil(w/B) + 1)*B*t"
        source = (f"{token_layer.source}; sliding-window layers keep min(window - 1 + max_num_batched_tokens, "
                  f"max_model_len) tokens and a block more (vllm/v1/kv_cache_interface.py SlidingWindowSpec); "
                  f"{GLOBAL_SOURCE}")
    else:
        values.update(W=windowed[0], w=windowed[1])
        text = "(Lg - W)*ceil(m/B)*B*t + W*(ceil(w/B) + 1)*B*t"
        source = (f"{token_layer.source}; sliding-window layers keep min(window - 1 + max_num_batched_tokens, "
                  "max_model_len) tokens and a block more (vllm/v1/kv_cache_interface.py SlidingWindowSpec)")
    if job.spec.linear_attention_layers is not None:
        state = sharding.recurrent_values(job.spec, job.tp)
        values.update(Rg=sharding.linear_on_stage(job.spec, job.pp), y=state["r"] + state["z"] * token_layer.values["e"])
        text += " + Rg*y"
        source += f"; Lg counts the full-attention layers; {RECURRENT_SOURCE}, y = r + z x e on this GPU"
    return formula_item(Item.KV_CACHE, "one sequence", formula(text), values, source)


@dataclass(frozen=True)
class StatePages:
    """How vLLM pages a linear-attention hybrid's pool: every page is one attention block or one
    recurrent state, on each of the ``group_size`` layers of a group."""

    block: int  #: attention tokens a block, enlarged so that a page holds one state
    page: int  #: bytes of one layer's page
    group_size: int  #: layers a group (the fewer kind's count)
    groups: int  #: attention groups and state groups together
    state_groups: int  #: groups of linear-attention layers: one block each a request


#: vLLM: model_executor/models/config.py HybridAttentionMambaModelConfig.verify_and_update_config (the
#: attention block is 16 x ceil(state page / (16 x one token's page)); the state page padded to it);
#: v1/core/kv_cache_utils.py _get_kv_cache_groups_uniform_page_size (layers grouped by kind, groups of
#: the fewer kind's count), get_kv_cache_config_from_groups (num_blocks = pool // page // group size),
#: _report_kv_cache_config (tokens = num_blocks // groups x the smallest block) and
#: _max_memory_usage_bytes_from_groups (a request: ceil(len / block) attention blocks, one a state group)
STATE_PAGES_SOURCE = ("vLLM's hybrid allocator (model_executor/models/config.py HybridAttentionMambaModelConfig; "
                      "v1/core/kv_cache_utils.py _get_kv_cache_groups_uniform_page_size, "
                      "_max_memory_usage_bytes_from_groups)")


def _state_pages(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int) -> StatePages | None:
    """The paging of a linear-attention hybrid's pool where the engine pages states with the KV
    (runtimes.toml state_pages); None elsewhere."""
    spec = job.spec
    if spec.linear_attention_layers is None or not job.runtime.settings.get("state_pages"):
        return None
    state = sharding.recurrent_values(spec, job.tp)
    # the conv inputs in the model's dtype (vLLM's mamba_cache_dtype "auto"), the state in fp32
    state_page = round(state["r"] + state["z"] * job.compute_bytes)
    block = 16 * -(-state_page // (16 * token_layer.bytes))
    linear = sharding.linear_on_stage(spec, job.pp)
    # groups of the fewer kind's count, or of the more's where it is under 1.5 times the fewer (fewer padding
    # layers: vllm/v1/core/kv_cache_utils.py _get_kv_cache_groups_uniform_page_size, its "1.5 is a heuristic")
    group = min(layers, linear) if max(layers, linear) >= 1.5 * min(layers, linear) else max(layers, linear)
    state_groups = -(-linear // group)
    return StatePages(block, block * token_layer.bytes, group, -(-layers // group) + state_groups, state_groups)


def _full_layer_token(job: DetailedJob, token_layer: LineItem) -> int | None:
    """One token's K and V on one full-attention layer of this GPU, where those layers have their
    own heads (Gemma 4's global layers); None where every layer caches alike."""
    spec = job.spec
    if not spec.has_global_layers:
        return None
    heads = sharding.kv_heads_per_gpu(spec, job.tp, spec.full_kv_heads)
    return round(2 * heads * spec.full_head_dim * token_layer.values["e"])


def _token_bytes(job: DetailedJob, token_layer: LineItem, layers: int) -> int:
    """One token's K and V over this GPU's caching layers, each at its own width."""
    full = _full_layer_token(job, token_layer)
    if full is None:
        return token_layer.bytes * layers
    windowed = sharding.windowed_on_stage(job.spec, job.pp)
    return (layers - windowed) * full + windowed * token_layer.bytes


def _serving(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int, rest: int,
             per_request: int, startup: int, warm: int) -> Serving:
    """The pool: the share of CUDA's total (or, where the row's fraction_of_free_at_start says so, of the
    memory free once the ``startup`` items are taken) less what the engine holds besides it, and the
    ``warm`` bytes of KV its warm-up held then, added back whole."""
    row, runtime = job.runtime.settings, job.runtime
    common = dict(engine=runtime.id, engine_name=runtime.name, max_model_len=job.seq_len,
                  memory_fraction=engine.fraction, memory_fraction_flag=row["memory_fraction_flag"],
                  block_size=engine.block_size, max_num_batched_tokens=engine.batched_tokens,
                  max_num_seqs=engine.max_num_seqs, kv_bytes_per_token=_token_bytes(job, token_layer, layers),
                  wiggle=1.0 if engine.wiggle_of_total else engine.wiggle, rest_bytes=rest,
                  request_kv_bytes=per_request,
                  concurrency_asked=job.batch_size, startup_bytes=startup, pool_set=engine.pool_bytes,
                  warmup_kv_bytes=warm, pool_cap_tokens=engine.pool_cap_tokens)
    if engine.cuda_total is None:
        return Serving(**common)
    # TGI 3: free - (1 - fraction x wiggle) x total, the wiggle's share of the fraction left out
    # (runtimes.toml wiggle_of_total_since; utils/import_utils.py get_cuda_free_memory)
    reserve = math.floor((1 - engine.wiggle) * engine.fraction * engine.cuda_total) if engine.wiggle_of_total else 0
    common.update(reserve_bytes=reserve)
    left = Serving(**common).usable_bytes(engine.cuda_total) - rest - warm - reserve
    pool = engine.pool_bytes if engine.pool_bytes is not None else \
        math.floor(common["wiggle"] * left) + (warm if left >= 0 else 0)
    block_bytes = engine.block_size * _token_bytes(job, token_layer, layers)
    if engine.pool_cap_tokens is not None:  # CAP_SOURCE: whole pages of the cap, when fewer than the memory holds
        pool = min(pool, engine.pool_cap_tokens // engine.block_size * block_bytes)
    paged = _state_pages(job, engine, token_layer, layers)
    if paged is not None:
        blocks = max(pool, 0) // paged.page // paged.group_size
        tokens = blocks // paged.groups * paged.block  # kv_cache_utils._report_kv_cache_config
        concurrency = blocks / (-(-job.seq_len // paged.block) + paged.state_groups)
    elif _windowed(job, engine, job.seq_len) is None and job.spec.linear_attention_layers is None:
        blocks = max(pool, 0) // block_bytes
        tokens = blocks * engine.block_size
        concurrency = blocks / -(-job.seq_len // engine.block_size)
    else:
        concurrency = max(pool, 0) / per_request
        tokens = int(concurrency * job.seq_len)
    refusal = _refusal(job, engine, token_layer, layers, pool, per_request, tokens)
    # the scheduler runs at most max_num_seqs sequences, and at max_model_len the pool holds
    # floor(concurrency) of them (vllm/v1/core/sched/scheduler.py: max_num_running_reqs)
    return Serving(**common, cuda_total_bytes=engine.cuda_total, kv_cache_bytes=max(pool, 0), kv_cache_tokens=tokens,
                   max_concurrency=round(concurrency, 2), starts=refusal is None, refusal=refusal,
                   max_running=min(engine.max_num_seqs, math.floor(concurrency)))


def _refusal(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int, pool: int,
             per_request: int, tokens: int) -> str | None:
    """What the engine prints when it will not start: no pool at all, or (where it checks) not one
    max_model_len sequence."""
    row = job.runtime.settings
    if pool <= 0:
        return row["refusal_no_memory"].format(batched_tokens=engine.batched_tokens)
    if per_request <= pool or "refusal_too_short" not in row:
        return None
    longest = _longest(job, engine, token_layer, layers, pool)
    text = row["legacy_refusal_too_short" if engine.legacy else "refusal_too_short"]
    return text.format(max_model_len=job.seq_len, need_gib=per_request / GIB, pool_gib=pool / GIB,
                       estimate=longest, tokens=tokens)


def _longest(job: DetailedJob, engine: EngineSettings, token_layer: LineItem, layers: int, pool: int) -> int:
    """The longest max_model_len one sequence of which fits ``pool`` (vLLM's estimate_max_model_len)."""
    low, high = 0, job.seq_len
    while high - low > 1:
        middle = (low + high) // 2
        if _request_bytes(job, engine, token_layer, layers, middle).bytes <= pool:
            low = middle
        else:
            high = middle
    return low
