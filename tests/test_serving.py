"""Serving engines that pre-allocate a KV pool (vLLM, SGLang, TGI): their terms pinned to the
engines' own code, and their published startup logs replayed (tests/data/published_serving.toml)."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest

from vram import Request, ask, catalog, estimate, parse
from vram.answer.solvers import tensor_parallel_sizes
from vram.catalog.runtimes import runtimes
from vram.errors import ConflictError, RangeError, VramError
from vram.memory.detailed import allocator
from vram.memory.runtime import CUDA_CONTEXT_BYTES
from vram.request.enums import Item
from vram.request.request import release
from vram.units import GIB
from vram.validation.serving import (
    KNOWN_GAPS, all_replays, logs, replay_version, request_for, section_lines, summary
)

REPLAYED = all_replays()

# -- the published logs, replayed --------------------------------------------------------------

def test_every_engine_launch_with_a_catalog_model_is_answered():
    answerable = [row for row in logs() if request_for(row) is not None]
    assert len(answerable) >= 10
    for row in answerable:
        assert estimate(request_for(row)).serving is not None, row["id"]
    assert {r.id for r in REPLAYED} <= {row["id"] for row in answerable}


@pytest.mark.parametrize("replay", REPLAYED, ids=lambda r: f"{r.id}:{r.figure}")
def test_each_logged_figure_within_15_percent(replay):
    if replay.figure == "starts":
        assert replay.ours == replay.logged, "the engine's start or refusal"
        return
    if (replay.id, replay.figure) in KNOWN_GAPS:
        assert abs(replay.error) > 0.15, f"no longer a gap: remove it from KNOWN_GAPS ({replay.error:+.1%})"
        return
    assert abs(replay.error) <= 0.15, f"{replay.figure}: logged {replay.logged}, vram {replay.ours}"


#: The issue's targets: 2 % (weights) and 5 % (pool, concurrency) median, 15 % worst (held above for
#: every figure outside KNOWN_GAPS). docs/accuracy.md: 0.2 %, 0.7 % and 0.5 % median over 41, 40 and 32
#: launches (30 of them vLLM 0.15-0.19 on H100s; the 8 older pools alone: 6.4 %; SGLang's two pools
#: 9.2 % and 14.4 %, TGI's two both KNOWN_GAPS); the worst outside KNOWN_GAPS 6.7 % (weights, gpt-oss-20b
#: on an A100), 14.4 % (pool, SGLang's 2.8 GiB pool of QwQ-32B on 4 L4s) and 12.3 % (concurrency, the
#: 3 GiB pool of Qwen2.5-72B at tp 2).
@pytest.mark.parametrize("figure, median_within", [("weights_gib", 0.02), ("kv_cache_tokens", 0.05),
                                                   ("max_concurrency", 0.05)])
def test_median_error(figure, median_within):
    median, _, count = summary(REPLAYED)[figure]
    assert count >= 2 and median <= median_within


def test_accuracy_page_has_the_serving_table_as_generated():
    """docs/accuracy.md's serving section is what ``python -m vram.validation.serving`` writes now."""
    from vram.validation.serving import PAGE

    assert "\n".join(section_lines()) in PAGE.read_text()


def _legacy(log) -> bool:
    """A log of vLLM's V0 engine: its release (stated, or the one its replay follows) before legacy_until."""
    version, until = replay_version(log), runtimes()["engine", "vllm"].settings["legacy_until"]
    return version is not None and release(version) < release(until)


@pytest.mark.parametrize("legacy", [False, True])
def test_vllm_non_torch_column_is_the_published_median(legacy):
    """runtimes.toml's non_torch_gib columns are measurements: the median of the logs' non_torch_memory,
    one for tensor parallelism (NCCL, custom all-reduce buffers) and one without, for V1 and V0."""
    row = runtimes()["engine", "vllm"].settings
    prefix = "legacy_" if legacy else ""
    one, many = [], []
    for log in logs():
        if log["engine"] == "vllm" and "non_torch_memory_gib" in log["logged"] and _legacy(log) == legacy:
            tp = log["settings"].get("tp", 1)
            (many if isinstance(tp, int) and tp > 1 else one).append(log["logged"]["non_torch_memory_gib"])
    assert len(one) >= 3 and len(many) >= 3
    assert row[prefix + "non_torch_gib"] == pytest.approx(statistics.median(one))
    assert row[prefix + "non_torch_gib_tp"] == pytest.approx(statistics.median(many))


def test_vllm_cuda_graph_column_is_the_published_median():
    """runtimes.toml's cuda_graph_gib: the median of the logs' "Estimated CUDA graph memory"."""
    row = runtimes()["engine", "vllm"].settings
    estimates = [log["logged"]["cuda_graph_estimate_gib"] for log in logs()
                 if "cuda_graph_estimate_gib" in log["logged"]]
    assert len(estimates) >= 3 and row["cuda_graph_gib"] == pytest.approx(statistics.median(estimates))


def test_replays_follow_the_release_the_log_states_or_the_newest_it_can_come_from():
    for row in logs():
        request = request_for(row)
        if request is not None and row["engine"] == "vllm":
            assert request.engine_version is not None, row["id"]  # else the replay would follow the newest


# -- the engines' own terms --------------------------------------------------------------------

def _serving(query: str):
    return ask(query).serving


@pytest.mark.parametrize("query, batched, seqs", [
    # vllm/engine/arg_utils.py EngineArgs.get_batch_defaults: 8192 / 1024 from 70 GiB, not on an A100
    ("vllm llama-3-8b on h100", 8192, 1024),
    ("vllm llama-3-8b on a100", 2048, 256),
    ("vllm llama-3-8b on rtx-3090", 2048, 256),
    # sglang server_args.py: chunked_prefill_size 2048 below 25,000 MB
    ("sglang llama-3-8b on rtx-3090", 2048, 256),
    ("sglang llama-3-8b on h100", 8192, 256),
    ("sglang llama-3-8b on a100-40gb", 4096, 256),  # from 0.5.3: 4096 below 60 x 1024 MiB
    ("sglang llama-3-8b on a100-40gb engine-version=0.5.2", 8192, 256),  # v0.4: 8192 from 25,000 MB
    # TGI launcher (launcher/src/main.rs): before 2.4.1 max_batch_prefill_tokens max_input_tokens + 50 (4095 + 50);
    # from 2.4.1 4096.min(max_position_embeddings) (3.0's compute_optimal not modelled: its 4096 fallback)
    ("tgi llama-3-8b on h100 engine-version=2.2.0", 4145, 128),
    ("tgi llama-3-8b on h100", 4096, 128),
    ("vllm llama-3-8b max-num-batched-tokens 16k on h100", 16384, 1024),
    # V0 engine before 0.8.0 (arg_utils.py _set_default_args_v0, config.py SchedulerConfig): no chunked
    # prefill up to a 32768-token context, one pass of max(max_model_len, 2048); above, chunked prefill
    # with 512 tokens a pass, 2048 from 0.6.5 (PR #10544); 256 sequences on any GPU
    ("vllm llama-3-8b max-model-len 20000 on h100 engine-version=0.7.3", 20000, 256),
    ("vllm llama-3-8b max-model-len 1024 on h100 engine-version=0.7.3", 2048, 256),
    ("vllm llama-3-8b max-model-len 32768 on h100 engine-version=0.7.3", 32768, 256),
    ("vllm llama-3.1-8b max-model-len 32769 on h100 engine-version=0.7.3", 2048, 256),
    ("vllm llama-3.1-8b max-model-len 64k on h100 engine-version=0.6.4", 512, 256),
    ("vllm llama-3.1-8b max-model-len 64k on h100 engine-version=0.8.0", 8192, 1024),
    ("vllm gemma-2-9b max-model-len 64k on h100 engine-version=0.7.3", 65536, 256),  # sliding window: no chunks
])
def test_engine_batch_defaults(query, batched, seqs):
    serving = _serving(query)
    assert (serving.max_num_batched_tokens, serving.max_num_seqs) == (batched, seqs)


@pytest.mark.parametrize("engine, tp, fraction", [
    ("vllm", 1, 0.9), ("vllm", 8, 0.9), ("tgi", 1, 1.0),
    # sglang server_args.py __post_init__ (v0.4): 0.88, 0.87 from tp 2, 0.85 from 4, 0.81 from 8, 0.79 from 16
    ("sglang engine-version=0.4.9", 1, 0.88), ("sglang engine-version=0.4.9", 2, 0.87),
    ("sglang engine-version=0.5.2", 4, 0.85), ("sglang engine-version=0.5.2", 8, 0.81),
    ("sglang engine-version=0.5.2", 16, 0.79),
    # from 0.5.3, server_args.py _handle_gpu_memory_settings on an H100 (81,559 MiB): chunked_prefill_size
    # 8192, cuda_graph_max_bs 256 below tp 4 else 512; reserved = 512 + 1.5 x 8192 + 2 x bs + 128 x tp MiB
    ("sglang", 1, round((81559 - (512 + 12288 + 512 + 128)) / 81559, 3)),  # 0.835
    ("sglang", 2, round((81559 - (512 + 12288 + 512 + 256)) / 81559, 3)),  # 0.834
    ("sglang", 4, round((81559 - (512 + 12288 + 1024 + 512)) / 81559, 3)),  # 0.824
    ("sglang engine-version=0.5.3", 8, round((81559 - (512 + 12288 + 1024 + 1024)) / 81559, 3)),  # 0.818
    ("sglang engine-version=0.5.19", 16, round((81559 - (512 + 12288 + 1024 + 2048)) / 81559, 3)),  # 0.805
])
def test_memory_fraction_defaults(engine, tp, fraction):
    assert _serving(f"{engine} llama-3.1-70b tp {tp} on {tp}x h100").memory_fraction == fraction


@pytest.mark.parametrize("gpu, mib, chunked, graphs", [
    ("t4", 15360, 2048, 8),  # below 20 x 1024 MiB (T4, 4080)
    ("rtx-4090", 24564, 2048, 24),  # below 35 x 1024 (A10, 4090, 5090)
    ("a100-40gb", 40960, 4096, 32),  # below 60 x 1024 (A100 40GB, L40)
])
def test_sglang_defaults_by_the_gpus_memory(gpu, mib, chunked, graphs):
    """Below 60 x 1024 MiB no 10 GiB floor: the reserve is 512 + 1.5 x chunked + 2 x graphs + 128 MiB."""
    serving = _serving(f"sglang llama-3.2-1b on {gpu}")
    assert serving.max_num_batched_tokens == chunked
    assert serving.memory_fraction == round((mib - (512 + 1.5 * chunked + 2 * graphs + 128)) / mib, 3)


def test_sglang_default_fraction_as_an_l40s_log_prints_it():
    """From 0.5.3 mem_fraction_static comes from the GPU's memory: on a 46,068 MiB L40S at tp 1,
    round((46068 - (512 + 1.5 x 4096 + 2 x 32 + 128)) / 46068, 3) = 0.851, as sglang PR #13023's log prints."""
    row = next(r for r in logs() if r["id"] == "sglang-13023-llama31-8b-l40s-fraction")
    assert catalog.find_gpu(row["gpu"]).memory_bytes == row["logged"]["memory_mib"] * 2**20
    assert estimate(request_for(row)).serving.memory_fraction == row["logged"]["mem_fraction_static"]


@pytest.mark.parametrize("query, per_token", [
    ("vllm llama-3-8b on h100", 2 * 32 * 8 * 128 * 2),  # 2 x layers x kv_heads x head_dim x 2 bytes
    ("vllm llama-3-8b kv fp8 on h100", 2 * 32 * 8 * 128 * 1),
    ("vllm llama-3-8b tp 8 on 8x h100", 2 * 32 * 1 * 128 * 2),  # one KV head a GPU
    ("vllm llama-3-8b tp 16 on 16x h100", 2 * 32 * 1 * 128 * 2),  # 8 KV heads over 16 GPUs: replicated
    # MLA latent + rope key on every rank; the cache in the compute dtype (kv_cache_dtype "auto")
    ("vllm deepseek-v3 tp 8 on 8x h200", 61 * (512 + 64) * 2),
    ("vllm llama-3-8b pp 2 on 2x h100", 2 * 16 * 8 * 128 * 2),  # a stage holds half the layers
])
def test_kv_bytes_a_token_one_gpu(query, per_token):
    assert _serving(query).kv_bytes_per_token == per_token


def test_pool_is_the_fraction_of_cuda_total_less_the_rest():
    result = ask("vllm llama-3-8b max-model-len 8k on h100")
    serving, gpu = result.serving, catalog.find_gpu("h100-80gb")
    rest = sum(i.bytes for i in result.items if i.key is not Item.KV_CACHE)
    assert serving.cuda_total_bytes == gpu.cuda_total_bytes
    assert serving.kv_cache_bytes == math.floor(0.9 * gpu.cuda_total_bytes - rest)
    blocks = serving.kv_cache_bytes // (16 * serving.kv_bytes_per_token)
    assert serving.kv_cache_tokens == blocks * 16
    assert serving.max_concurrency == round(blocks / (8192 // 16), 2)


@pytest.mark.parametrize("version, graphs", [(None, True), ("0.21.0", True), ("0.27.1", True),
                                             ("0.20.2", False), ("0.9.2", False), ("0.10", False)])
def test_vllm_takes_cuda_graphs_from_the_pool_from_0_21(version, graphs):
    """vllm/v1/worker/gpu_worker.py determine_available_memory subtracts the CUDA graph estimate from
    v0.21.0 ("CUDA graph memory profiling is enabled (default since v0.21.0)"); before, the graphs are
    captured after the pool is sized, in the memory the fraction leaves."""
    said = f" engine-version={version}" if version else ""
    # 64 sequences: the forward pass, not the sampler (whose bytes change at 0.17.0), is the profiled peak
    result = ask(f"vllm llama-3-8b max-model-len 8k max-num-seqs 64 on h100{said}")
    taken = [i.bytes for i in result.items if i.key is Item.CUDA_GRAPHS]
    assert taken == ([round(runtimes()["engine", "vllm"].settings["cuda_graph_gib"] * GIB)] if graphs else [])
    older = ask("vllm llama-3-8b max-model-len 8k max-num-seqs 64 on h100 engine-version=0.20").serving
    assert result.serving.kv_cache_bytes == older.kv_cache_bytes - sum(taken)


def test_other_engines_leave_cuda_graphs_outside_their_share():
    result = ask("sglang llama-3-8b max-model-len 8k on h100")
    assert Item.CUDA_GRAPHS not in {i.key for i in result.items}
    assert any("CUDA graphs are not counted" in str(a) for a in result.assumptions)


@pytest.mark.parametrize("tp", [1, 2])
def test_sglang_pool_is_the_fraction_of_what_is_free_at_start_less_the_weights(tp):
    """profile_max_num_token: the memory free after the weights (with their allocator segments) less (1 - f)
    x what was free once the CUDA context and the distributed init were taken (init_torch_distributed's
    min_per_gpu_memory); the activations live outside the share."""
    result = ask(f"sglang llama-3-8b mem-fraction-static 0.8 max-model-len 8k tp {tp} on {tp}x h100")
    serving = result.serving
    startup = sum(i.bytes for i in result.items if i.key in (Item.CUDA_CONTEXT, Item.RUNTIME_OVERHEAD))
    weights = sum(i.bytes for i in result.items if i.key in (Item.WEIGHTS, Item.WEIGHT_SEGMENTS))
    assert serving.kv_cache_bytes == math.floor(0.8 * (serving.cuda_total_bytes - startup) - weights)
    assert serving.kv_cache_tokens == serving.kv_cache_bytes // serving.kv_bytes_per_token  # a page is a token


def test_sglang_rule_gives_the_logged_pool_from_the_logs_own_figures():
    """The QwQ-32B log's free memory after its start (21.63 GiB), after its weights (6.09) and its pool:
    0.85 x 21.63 - (21.63 - 6.09) GiB over 2 x 2 KV heads x 128 x 2 bytes x 64 layers a token."""
    row = next(r for r in logs() if r["id"] == "sglang-llms-in-clouds-qwq-32b-4xl4")
    logged, fraction = row["logged"], row["settings"]["mem_fraction_static"]
    start, after = logged["load_begin_avail_mem_gb_as_printed"], logged["avail_mem_gb_as_printed"]
    tokens = (fraction * start - (start - after)) * GIB // (2 * 2 * 128 * 2 * 64)
    assert tokens == pytest.approx(logged["kv_cache_tokens"], rel=0.001)  # the log prints 2 decimals
    assert _serving("sglang qwq-32b tp 4 on 4x l4 engine-version=0.4.3").kv_bytes_per_token == 2 * 2 * 128 * 2 * 64


def test_tgi_keeps_its_wiggle_room_and_adds_its_warmup_batch_back():
    """FlashCausalLM.warmup: num_blocks = int(0.95 x free // block) + batch.num_blocks, the free memory read
    while the warm-up batch holds its blocks: two requests (4095 + 50 prompt tokens reach the 4145 prefill
    tokens), each ceil((max_total_tokens - 1) / 16) = 256 blocks (FlashCausalLMBatch.from_pb)."""
    result = ask("tgi llama-3-8b max-model-len 4096 on h100 engine-version=2.2.0")
    serving = result.serving
    rest = sum(i.bytes for i in result.items if i.key is not Item.KV_CACHE)
    warm = 2 * 256 * 16 * serving.kv_bytes_per_token
    assert serving.warmup_kv_bytes == warm
    assert serving.kv_cache_bytes == math.floor(0.95 * (serving.cuda_total_bytes - rest - warm)) + warm
    assert serving.kv_cache_tokens == (serving.kv_cache_bytes // (16 * serving.kv_bytes_per_token)) * 16


@pytest.mark.parametrize("query, context, prefill", [
    # launcher/src/main.rs before 2.4.1: max_default 4096; max_total_tokens min(max_position_embeddings, 4096),
    # max_input_tokens one less, max_batch_prefill_tokens max_input_tokens + 50
    ("tgi llama-3.1-8b on h100 engine-version=2.0.2", 4096, 4145),
    ("tgi llama-3.1-8b on h100 engine-version=2.4.0", 4096, 4145),
    ("tgi gpt2 on a10g engine-version=2.2.0", 1024, 1023 + 50),  # a context below the cap is the model's
    ("tgi llama-3.1-8b max-model-len 8192 on h100 engine-version=2.2.0", 8192, 4145),  # the prompt stays 4095
    # from 2.4.1 (PR #2673) the shard takes the model's context; prefill 4096.min(max_position_embeddings)
    ("tgi llama-3.1-8b on h100 engine-version=2.4.1", 131072, 4096),
    ("tgi llama-3.1-8b on h100 engine-version=3.3.7", 131072, 4096),
    ("tgi gpt2 on a10g engine-version=3.0.0", 1024, 1024),
    ("tgi llama-3.1-8b max-batch-prefill-tokens 8192 on h100 engine-version=2.2.0", 4096, 8192),
])
def test_tgi_launcher_defaults_by_release(query, context, prefill):
    serving = _serving(query)
    assert (serving.max_model_len, serving.max_num_batched_tokens) == (context, prefill)


@pytest.mark.parametrize("query, requests", [
    # router/client warmup: prompts of max_input_tokens (before 2.4.1 the launcher's, 4095) until the prefill
    # tokens are reached, each given blocks for max_total_tokens - 1 tokens (FlashCausalLMBatch.from_pb)
    ("tgi llama-3.1-8b on a10g engine-version=2.2.0", [4095, 4095]),
    ("tgi llama-3.1-8b max-model-len 8192 on h100 engine-version=2.2.0", [8191, 8191]),
    # from 2.4.1 no max_input_tokens: one prompt of every prefill token, 1 token to generate (max_total_tokens
    # unset), or max_total_tokens - prompt where max-model-len is asked
    ("tgi llama-3.1-8b on h100", [4096]),
    ("tgi llama-3.1-8b max-model-len 4096 on h100", [4095, 4095]),
    ("tgi llama-3.1-8b max-model-len 16384 on h100", [16383]),
])
def test_tgi_warmup_batch_by_release(query, requests):
    serving = _serving(query)
    blocks = sum(-(-tokens // 16) for tokens in requests)
    assert serving.warmup_kv_bytes == blocks * 16 * serving.kv_bytes_per_token


@pytest.mark.parametrize("version, wiggle, of_total", [
    # globals.py TGI_WIGGLE_ROOM at each tag (a literal 0.95 in flash_causal_lm.py before 2.3.0); from 3.0.0
    # get_free_memory(MEMORY_FRACTION x TGI_WIGGLE_ROOM) leaves (1 - wiggle) x fraction x total out
    ("2.2.0", 0.95, False), ("2.3.1", 0.95, False), ("2.4.0", 0.90, False), ("2.4.1", 0.90, False),
    ("3.0.0", 0.95, True), ("3.0", 0.95, True), ("3.0.2", 0.95, True), ("3.1.0", 0.93, True), ("3.2.3", 0.93, True),
    ("3.3.0", 0.90, True), (None, 0.90, True),
])
def test_tgi_wiggle_room_by_release(version, wiggle, of_total):
    query = "tgi llama-3-8b max-model-len 4096 on h100" + (f" engine-version={version}" if version else "")
    result = ask(query)
    serving = result.serving
    rest = sum(i.bytes for i in result.items if i.key is not Item.KV_CACHE)
    left = serving.cuda_total_bytes - rest - serving.warmup_kv_bytes
    if of_total:
        expected = left - math.floor((1 - wiggle) * serving.cuda_total_bytes)
    else:
        expected = math.floor(wiggle * left)
    assert serving.kv_cache_bytes == expected + serving.warmup_kv_bytes
    assert serving.need_bytes() <= serving.cuda_total_bytes  # one sequence fits: the inverse agrees


@pytest.mark.parametrize("query, starts", [
    # 4145 prefill tokens in one request of 131071: 8192 blocks (16 GiB) do not fit an A10G beside 15 GiB of weights
    ("tgi llama-3.1-8b max-model-len 131072 on a10g engine-version=2.2.0", False),
    ("tgi llama-3.1-8b max-model-len 4096 on a10g engine-version=2.2.0", True),
    ("tgi llama-3.1-8b max-model-len 131072 on h100 engine-version=2.2.0", True),
])
def test_tgi_warmup_refuses_when_its_own_batch_does_not_fit(query, starts):
    """The warm-up batch's blocks are allocated inside the try whose OutOfMemoryError TGI reports as
    "Not enough memory to handle N prefill tokens" (flash_causal_lm.py FlashCausalLM.warmup)."""
    serving = ask(query).serving
    assert serving.starts is starts
    assert (serving.refusal or "").startswith("" if starts else "RuntimeError: Not enough memory to handle")
    if starts:
        assert serving.kv_cache_bytes >= serving.warmup_kv_bytes >= serving.request_kv_bytes


MIB = 2**20


@pytest.mark.parametrize("sizes, reserved", [
    ([10 * MIB], 10 * MIB),  # kMinLargeAlloc and above: a segment of its own, rounded up to kRoundLarge
    ([round(12.5 * MIB)], 14 * MIB),
    ([135 * MIB], 136 * MIB),
    ([3 * MIB, 3 * MIB, 5 * MIB], 20 * MIB),  # above kSmallSize, below 10 MiB: shared kLargeBuffer segments
    ([9 * MIB, 9 * MIB, 9 * MIB], 40 * MIB),
    ([10240] * 129, 2 * MIB),  # kSmallSize and below: shared kSmallBuffer segments
])
def test_allocator_segments_of_kept_tensors(sizes, reserved):
    """c10/cuda/CUDACachingAllocator.cpp get_allocation_size."""
    assert allocator.reserved_for(sizes) == reserved


@pytest.mark.parametrize("query, extra_mib", [
    # QwQ-32B at tp 4, a GPU: fused QKV 17.5 MiB (18), o_proj 12.5 (14), gate-up 135 (136), down 67.5 (68) in
    # each of 64 layers; embedding and head 371.25 (372) each; the norms and biases one 2 MiB segment (1.51 used)
    ("sglang qwq-32b tp 4 on 4x l4", 64 * (0.5 + 1.5 + 1 + 0.5) + 2 * 0.75 + (2 - (129 * 10240 + 64 * 3584) / MIB)),
    ("tgi llama-3.1-8b max-model-len 4096 on a10g", (2 - (65 * 8192) / MIB)),  # every matrix a whole 2 MiB
    ("vllm qwq-32b tp 4 on 4x l4", None),  # vLLM counts the tensors (memory profiling), not free memory
    ("sglang qwen3-30b-a3b on h100", None),  # MoE: not computed
])
def test_engines_reading_free_memory_lose_the_weights_segments(query, extra_mib):
    result = ask(query)
    segments = [i for i in result.items if i.key is Item.WEIGHT_SEGMENTS]
    if extra_mib is None:
        assert segments == []
    else:
        assert segments[0].bytes == pytest.approx(extra_mib * MIB, abs=1)
        assert segments[0].values["S"] == result.item(Item.WEIGHTS).bytes
        assert Item.WEIGHT_SEGMENTS in result.peak_phase.live


@pytest.mark.parametrize("query, copies, prefill", [
    ("tgi llama-3.1-8b max-model-len 4096 on a10g engine-version=2.2.0", 2, 4145),
    ("tgi llama-3.1-8b max-model-len 4096 on a10g engine-version=2.0.2", 2, 4145),
    ("tgi llama-3.1-8b max-model-len 4096 on a10g engine-version=2.4.0", 1, 4145),
    ("tgi llama-3.1-8b max-model-len 4096 on a10g", 1, 4096),  # from 2.4.1: 4096.min(the model's context)
    ("tgi llama-3-8b max-model-len 4096 tp 2 on 2x h100 engine-version=2.2.0", 2, 4145),
    ("vllm llama-3.1-8b max-model-len 4096 on a10g", 0, 0),
    ("sglang llama-3.1-8b max-model-len 4096 on a10g", 0, 0),
])
def test_tgi_warmup_holds_every_prefill_tokens_logits(query, copies, prefill):
    """TGI's warm-up asks every prompt token's logprobs (router client warmup: prefill_logprobs true), so
    the lm_head runs over all max_batch_prefill_tokens (the launcher's default) and every rank gathers the whole
    vocabulary; log_softmax takes a copy until 2.4.0 (PR #2661 made it in place). Both in the model's
    dtype, taken from the pool. vLLM and SGLang profile the last token's logits only."""
    result = ask(query)
    logits = [i.bytes for i in result.items if i.key is Item.LOGITS]
    assert logits == ([copies * prefill * 128256 * 2] if copies else [])
    rest = sum(i.bytes for i in result.items if i.key is not Item.KV_CACHE)
    if copies:
        assert result.serving.rest_bytes == rest


@pytest.mark.parametrize("version, bytes_a_logit", [("0.7.3", 32), ("0.6.4", 32), ("0.8.0", 24), ("0.16.0", 24),
                                                    ("0.17.0", 14), (None, 14)])
def test_vllm_profiled_sampler_by_engine(version, bytes_a_logit):
    """V0's driver samples max_num_seqs requests with top-k and top-p on the PyTorch path (32 bytes a
    logit at its re-sort: runtimes.toml legacy_sampler_bytes_per_logit); V1 sorts too (24) until
    0.17.0, then masks in place (14: the 16-bit and fp32 logits, the softmax, the exponential noise).
    Qwen's 152k vocabulary over 256 or 1024 sequences outweighs a 2048-token pass of Qwen2.5-0.5B."""
    said = f" engine-version={version}" if version else ""
    result = ask(f"vllm qwen2.5-0.5b max-model-len 2048 on h100{said}")
    seqs = result.serving.max_num_seqs
    peak = next(i for i in result.items if i.key is Item.ACTIVATIONS)
    assert peak.bytes == bytes_a_logit * seqs * 151936


def test_sliding_window_layers_keep_their_window_in_vllm():
    """Gemma 3: 52 of 62 layers slide over 1024 tokens; vLLM keeps window - 1 + max_num_batched_tokens
    tokens and a block more of them (SlidingWindowSpec.max_memory_usage_bytes)."""
    serving = _serving("vllm gemma-3-27b max-model-len 128k on h100")
    token_layer = 2 * 16 * 128 * 2
    window = min(1024 - 1 + 8192, 131072)
    expected = (10 * math.ceil(131072 / 16) + 52 * (math.ceil(window / 16) + 1)) * 16 * token_layer
    assert serving.request_kv_bytes == expected
    assert serving.request_kv_bytes < 0.25 * 62 * 131072 * token_layer


@pytest.mark.parametrize("query, refusal", [
    # vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory
    ("vllm llama-3.1-8b max-model-len 29000 max-num-batched-tokens 29000 on rtx-3090",
     "ValueError: To serve at least one request with the model's max seq len (29000)"),
    ("vllm llama-3.1-8b gpu-memory-utilization 0.5 on rtx-3090", "ValueError: No available memory for the cache"),
    # V0: vllm/worker/worker.py raise_if_cache_size_invalid, as vllm issue #10517 quotes it
    ("vllm llama-3.1-8b max-model-len 29000 on rtx-3090 engine-version=0.6.4",
     "ValueError: The model's max seq len (29000) is larger than the maximum number of tokens that can be "
     "stored in KV cache ("),
    ("sglang llama-3.1-8b mem-fraction-static 0.5 on rtx-3090", "RuntimeError: Not enough memory"),
    # TGI flash_causal_lm.py FlashCausalLM.warmup
    ("tgi llama-3.1-8b on rtx-4060", "RuntimeError: Not enough memory to handle 4096 prefill tokens"),
    ("tgi llama-3.1-8b on rtx-4060 engine-version=2.2.0", "RuntimeError: Not enough memory to handle 4145 prefill"),
])
def test_refusals_say_what_the_engine_prints(query, refusal):
    result = ask(query)
    assert result.serving.starts is False and result.serving.refusal.startswith(refusal)
    assert not result.fit[0].fits


def test_without_a_gpu_the_answer_is_what_starting_needs():
    serving = _serving("vllm llama-3-8b max-model-len 8k")
    assert serving.kv_cache_bytes is None and serving.request_kv_bytes == 8192 * 2 * 32 * 8 * 128 * 2


def test_prompt_and_generated_tokens_make_the_model_length():
    assert _serving("vllm llama-3-8b prompt 6144 generate 2048 on h100").max_model_len == 8192


def test_json_carries_serving():
    document = ask("vllm llama-3-8b on h100").to_dict()["serving"]
    assert {"engine", "kv_cache_bytes", "kv_cache_tokens", "max_concurrency", "max_model_len"} <= document.keys()
    assert document["engine"] == "vllm" and document["max_model_len"] == 8192


def test_text_has_the_serving_block():
    from vram.render import render_text

    text = render_text(ask("vllm llama-3.1-8b max-model-len 20000 on rtx-3090"))
    assert "Serving (vLLM, gpu_memory_utilization 0.9, max_model_len 20000, one GPU):" in text
    assert "max concurrency at 20000 tokens a request:" in text


# -- solvers -----------------------------------------------------------------------------------

def test_max_concurrency_is_what_the_pool_holds():
    held = _serving("vllm llama-3.1-8b max-model-len 8k on a100").max_concurrency
    solved = ask("how many users vllm llama-3.1-8b max-model-len 8k on a100").solution.value
    assert solved == math.floor(held)


def test_max_context_is_one_sequence_in_the_pool():
    result = ask("max context vllm llama-3.1-8b on rtx-3090")
    at = estimate(dataclasses.replace(result.request, solve=None))
    assert at.serving.starts and at.serving.kv_cache_tokens >= result.solution.value
    longer = dataclasses.replace(result.request, solve=None, seq_len=result.solution.value + 16)
    assert not estimate(longer).serving.starts


def test_min_gpus_for_serving_is_a_tensor_parallel_size():
    result = ask("min gpus vllm llama-3.1-70b max-model-len 32k batch 32 on a100")
    assert result.solution.value == result.request.tp == result.request.gpu_count
    assert result.solution.value in tensor_parallel_sizes(64, 8, 64)
    smaller = dataclasses.replace(result.request, solve=None, tp=result.request.tp // 2,
                                  gpu_count=result.request.tp // 2)
    assert not estimate(smaller).fit[0].fits


@pytest.mark.parametrize("heads, kv, sizes", [(64, 8, [1, 2, 4, 8, 16, 32, 64]), (40, 8, [1, 2, 4, 8, 40]),
                                              (28, 4, [1, 2, 4, 28])])
def test_tensor_parallel_sizes(heads, kv, sizes):
    assert tensor_parallel_sizes(heads, kv, 64) == sizes


# -- reading -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, fields", [
    ("serve llama-3-8b on h100", {"engine": "vllm"}),
    ("infer llama-3-8b --gpu-memory-utilization 0.95 --max-model-len 32768", {"engine": "vllm",
                                                                              "memory_fraction": 0.95,
                                                                              "seq_len": 32768}),
    ("vllm llama-3-8b gpu-memory-utilization 0.85", {"memory_fraction": 0.85}),
    ("infer llama-3-8b mem-fraction-static 0.8", {"engine": "sglang", "memory_fraction": 0.8}),
    ("infer llama-3-8b --max-batch-prefill-tokens 4096", {"engine": "tgi", "max_num_batched_tokens": 4096}),
    ("vllm llama-3-8b max-num-batched-tokens 8k max-num-seqs 64", {"max_num_batched_tokens": 8192,
                                                                   "max_num_seqs": 64}),
    ("vllm llama-3-8b kv fp8", {"kv_dtype": "fp8"}),
    ("sglang serve llama-3-8b", {"engine": "sglang"}),
    ("vllm llama-3-8b engine-version=0.10.1", {"engine_version": "0.10.1"}),
    ("vllm llama-3-8b vllm_version=v0.21.0", {"engine_version": "0.21.0"}),
    ("infer llama-3-8b --vllm-version 0.9.2", {"engine": "vllm", "engine_version": "0.9.2"}),
])
def test_engine_words_read(query, fields):
    request = parse(query)
    assert {k: getattr(request, k) for k in fields} == fields
    assert parse(request.to_query()) == request


@pytest.mark.parametrize("query, error", [
    ("vllm llama-3-8b gpu-memory-utilization 1.5", RangeError),
    ("vllm llama-3-8b gpu-memory-utilization 0", RangeError),
    ("train llama-3-8b gpu-memory-utilization 0.9", ConflictError),
    ("transformers infer llama-3-8b gpu-memory-utilization 0.9", ConflictError),
    ("vllm llama-3-8b engine-version=latest", VramError),
    ("vllm llama-3-8b engine-version=0.10.x", VramError),
    ("train llama-3-8b engine-version=0.10", ConflictError),
])
def test_engine_words_refused(query, error):
    with pytest.raises(error):
        parse(query)


def test_engine_fields_need_a_pre_allocating_engine():
    with pytest.raises(VramError):
        Request(task="inference", model="llama-3-8b", memory_fraction=0.9)
    assert Request(task="inference", model="llama-3-8b", engine="sglang", memory_fraction=0.9).memory_fraction == 0.9


def test_cuda_total_is_below_the_driver_total():
    for gpu in catalog.gpus().by_id.values():
        if gpu.cuda_total_bytes is not None:
            assert 0.95 * gpu.memory_bytes < gpu.cuda_total_bytes < gpu.memory_bytes and gpu.cuda_total_source
    assert catalog.find_gpu("h100").cuda_total_bytes == round(79.22 * GIB)


# -- a launch's caps and flags (issue 16: a cap is a setting of the engine, not a demand) ---------

@pytest.mark.parametrize("query, cap, running, asked, holds", [
    # vLLM starts when one max_model_len sequence fits (kv_cache_utils.py check_enough_kv_cache_memory);
    # its scheduler then runs at most max_num_seqs (scheduler.py max_num_running_reqs), and the pool
    # holds floor(pool / one sequence) of them
    ("vllm serve Qwen/Qwen2.5-7B-Instruct --max-num-seqs 512 on l40s", 512, 3, 1, None),
    ("vllm qwen2.5-7b max-model-len 8k max-num-seqs 32 on h100", 32, 32, 1, None),
    # a demand beside a cap: the pool holds 64, the engine runs 32 of them at once
    ("vllm qwen2.5-7b max-model-len 8k batch 64 max-num-seqs 32 on h100", 32, 32, 64, False),
    ("vllm qwen2.5-7b max-model-len 8k batch 64 max-num-seqs 128 on h100", 128, 126, 64, True),
    # a demand the pool does not hold stays a demand: the launch does not fit it
    ("vllm qwen2.5-7b max-model-len 8k batch 512 on h100", 1024, 124, 512, False),
    # SGLang's --max-running-requests, TGI's --max-concurrent-requests
    ("sglang qwen2.5-7b --max-running-requests 512 --context-length 8192 on h100", 512, 117, 1, None),
    ("tgi qwen2.5-7b --max-concurrent-requests 16 --max-total-tokens 8192 on h100", 16, 16, 1, None),
])
def test_a_cap_is_the_engines_setting_and_the_demand_stays_a_demand(query, cap, running, asked, holds):
    result = ask(query)
    serving = result.serving
    assert (serving.max_num_seqs, serving.max_running, serving.concurrency_asked) == (cap, running, asked)
    assert serving.max_running == min(cap, math.floor(serving.max_concurrency))
    assert result.request.batch_size in (None, asked)
    if holds is None:  # a launch with no demand: it fits when the engine starts
        assert serving.starts and result.fit[0].fits
    else:
        assert serving.holds(asked) is holds


def test_the_issues_launch_starts_where_the_cap_was_read_as_a_batch():
    """The lead's case: 512 sequences x 131072 tokens asked 3,865 GB; vLLM starts with the cap as set."""
    result = ask("vllm serve Qwen/Qwen2.5-7B-Instruct --max-num-seqs 512 on l40s")
    kv = next(i for i in result.items if i.key is Item.KV_CACHE)
    assert kv.bytes == result.serving.request_kv_bytes  # one max_model_len sequence: what starting needs
    assert result.fit[0].need_bytes < 30e9 and result.serving.max_model_len == 131072


@pytest.mark.parametrize("cap", [64, 512])
def test_the_cap_sizes_the_profiled_sampler(cap):
    """vLLM's profile run samples max_num_seqs requests (gpu_model_runner.py profile_run:
    _dummy_sampler_run): Qwen's 152k vocabulary over the cap, 14 bytes a logit from 0.17.0."""
    result = ask(f"vllm qwen2.5-0.5b max-model-len 2048 max-num-seqs {cap} on h100")
    peak = next(i for i in result.items if i.key is Item.ACTIVATIONS)
    assert peak.values["q"] == cap
    assert peak.bytes >= 14 * cap * 151936


def test_a_demand_does_not_change_the_profiled_sampler():
    """The engine profiles at its own max_num_seqs whatever load is asked of it."""
    asked = ask("vllm qwen2.5-0.5b max-model-len 2048 batch 8 on h100")
    alone = ask("vllm qwen2.5-0.5b max-model-len 2048 on h100")
    peaks = [next(i.bytes for i in r.items if i.key is Item.ACTIVATIONS) for r in (asked, alone)]
    assert peaks[0] == peaks[1] == 14 * 1024 * 151936


def test_max_concurrency_stops_at_the_cap():
    result = ask("max concurrency vllm qwen2.5-7b max-model-len 8k max-num-seqs 32 on h100")
    assert result.solution.value == 32 and "max_num_seqs" in result.solution.note


@pytest.mark.parametrize("flag", ["--enforce-eager", "enforce-eager", "enforce_eager=true"])
def test_enforce_eager_takes_no_cuda_graphs(flag):
    """--enforce-eager sets cudagraph_mode NONE, and the worker estimates graphs only otherwise
    (vllm/v1/worker/gpu_worker.py determine_available_memory)."""
    eager = ask(f"vllm llama-3-8b max-model-len 8k {flag} on h100")
    graphs = ask("vllm llama-3-8b max-model-len 8k on h100")
    taken = sum(i.bytes for i in graphs.items if i.key is Item.CUDA_GRAPHS)
    assert taken > 0 and Item.CUDA_GRAPHS not in {i.key for i in eager.items}
    assert eager.serving.kv_cache_bytes == graphs.serving.kv_cache_bytes + taken
    assert eager.request.enforce_eager is True


@pytest.mark.parametrize("query, flag", [
    ("vllm serve Qwen/Qwen2.5-7B-Instruct --swap-space 8 on l40s", "--swap-space"),
    ("python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct --enable-dp-attention on h100",
     "--enable-dp-attention"),
    ("text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --max-batch-total-tokens 100000 on h100",
     "--max-batch-total-tokens"),
])
def test_flags_that_change_memory_unmodelled_are_refused_by_name(query, flag):
    with pytest.raises(VramError) as caught:
        parse(query)
    assert f"'{flag}' is not modelled" in str(caught.value)


def test_tgi_max_batch_total_tokens_refusal_says_tgi_ignores_it_for_flash_models():
    """router/src/server.rs (2.x), backends/v3/src/lib.rs (3.x) check_max_batch_total_tokens: a Flash
    Attention model's warm-up returns its pool and the flag is only warned about."""
    with pytest.raises(VramError) as caught:
        parse("text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --max-batch-total-tokens 100000")
    assert "deprecated for Flash Attention models" in str(caught.value)


@pytest.mark.parametrize("query, fields", [
    # launcher/src/main.rs Args: --max-input-tokens, and --max-input-length its deprecated spelling
    ("text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --max-input-tokens 4000 on h100",
     {"engine": "tgi", "max_input_tokens": 4000}),
    ("text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --max-input-length 4000 --max-total-tokens 8192",
     {"engine": "tgi", "max_input_tokens": 4000, "seq_len": 8192}),
    ("infer llama-3.1-8b max-input-tokens 2k", {"engine": "tgi", "max_input_tokens": 2048}),
])
def test_tgi_max_input_tokens_is_read(query, fields):
    request = parse(query)
    assert {k: getattr(request, k) for k in fields} == fields
    assert parse(request.to_query()) == request


@pytest.mark.parametrize("query", [
    "vllm llama-3.1-8b max-input-tokens 2048",  # TGI's launcher's setting
    "tgi llama-3.1-8b max-input-tokens 4096 max-model-len 4096",  # "`max_input_tokens` must be < `max_total_tokens`"
])
def test_tgi_max_input_tokens_refused_where_tgi_refuses_it(query):
    with pytest.raises(VramError):
        parse(query)


@pytest.mark.parametrize("query, prefill, requests", [
    # before 2.4.1 the launcher's max_batch_prefill_tokens is max_input_tokens + 50, and the warm-up's prompts
    # are max_input_tokens long, each given blocks for max_total_tokens - 1 (the launcher's 4096 unless set)
    ("tgi llama-3.1-8b max-input-tokens 1000 on a10g engine-version=2.2.0", 1050, [4095, 4095]),
    ("tgi llama-3.1-8b max-input-tokens 2048 max-model-len 8192 on h100 engine-version=2.2.0", 2098, [8191, 8191]),
    # from 2.4.1 the prefill does not follow it; no max_total_tokens set: each prompt generates 1 token
    ("tgi llama-3.1-8b max-input-tokens 1000 on a10g", 4096, [1000, 1000, 1000, 1000, 96]),
    ("tgi llama-3.1-8b max-input-tokens 2048 max-model-len 4096 on h100", 4096, [4095, 4095]),
])
def test_tgi_max_input_tokens_sets_prefill_and_warmup(query, prefill, requests):
    serving = _serving(query)
    assert serving.max_num_batched_tokens == prefill
    assert serving.warmup_kv_bytes == sum(-(-t // 16) for t in requests) * 16 * serving.kv_bytes_per_token


def test_tgi_max_total_tokens_stays_the_context():
    request = parse("text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --max-total-tokens 8192 on h100")
    assert (request.engine, request.seq_len) == ("tgi", 8192)


#: (query, cap: whether --max-total-tokens is below what the memory holds, fits at the concurrency asked)
SGLANG_CAPS = [
    ("sglang qwen2.5-7b --max-total-tokens 100000 max-model-len 8192 batch 8 on h100", True, True),
    ("sglang qwen2.5-7b --max-total-tokens 60000 max-model-len 8192 batch 8 on h100", True, False),
    ("python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct --max-total-tokens 10000000 "
     "--context-length 8192 on h100", False, True),
]


@pytest.mark.parametrize("query, binds, fits", SGLANG_CAPS)
def test_sglang_max_total_tokens_caps_the_pool(query, binds, fits):
    """python/sglang/srt/model_executor/model_runner.py init_memory_pool: max_total_num_tokens =
    min(profiled, max_total_tokens), in whole pages (page_size 1); the pool is allocated at that size,
    and a cap below the concurrency asked holds it whatever memory is left."""
    capped = ask(query)
    free = ask(query.replace(f"--max-total-tokens {capped.request.max_total_tokens} ", ""))
    serving, profiled = capped.serving, free.serving
    assert capped.request.engine == "sglang" and profiled.pool_cap_tokens is None
    cap = capped.request.max_total_tokens
    assert serving.kv_cache_tokens == min(cap, profiled.kv_cache_tokens)
    assert (serving.kv_cache_tokens < profiled.kv_cache_tokens) is binds
    assert serving.kv_cache_bytes == (cap * serving.kv_bytes_per_token if binds else profiled.kv_cache_bytes)
    assert serving.max_concurrency == round(serving.kv_cache_tokens / serving.max_model_len, 2)
    assert capped.fit[0].fits is fits and free.fit[0].fits
    assert serving.need_bytes() == profiled.need_bytes()  # the cap frees memory; it never asks for more


def test_max_total_tokens_is_sglangs_pool_or_tgis_context():
    """One spelling, two settings: SGLang's pool cap, TGI's context (and the context without an engine)."""
    sglang = parse("sglang qwen2.5-7b --context-length 8192 --max-total-tokens 100000 on h100")
    plain = parse("infer qwen2.5-7b --max-total-tokens 8k on h100")
    assert (sglang.max_total_tokens, sglang.seq_len) == (100000, 8192)
    assert (plain.engine, plain.max_total_tokens, plain.seq_len) == (None, None, 8192)
    with pytest.raises(ConflictError):
        parse("vllm qwen2.5-7b max-total-tokens 100000 seq 8192 on h100")  # vLLM's context, said twice


@pytest.mark.parametrize("pool, fits, starts", [(10**10, True, True), (4 * 10**10, False, True), (10**8, False, False)])
def test_kv_cache_memory_bytes_sets_the_pool(pool, fits, starts):
    """vllm/v1/worker/gpu_worker.py determine_available_memory: with kv_cache_memory_bytes the profile
    runs and the pool is the bytes given, gpu_memory_utilization unread; the pool then sits beside the
    weights, the profile's peak and the rest in what CUDA has, and must hold one max_model_len sequence."""
    query = f"vllm qwen2.5-7b --kv-cache-memory-bytes {pool} --max-model-len 8192 on l40s"
    result, other_fraction = ask(query), ask(query + " gpu-memory-utilization 0.5")
    serving, gpu = result.serving, catalog.find_gpu("l40s")
    assert serving.kv_cache_bytes == other_fraction.serving.kv_cache_bytes == pool
    assert serving.kv_cache_tokens == pool // (16 * serving.kv_bytes_per_token) * 16
    assert serving.starts is starts and result.fit[0].fits is fits
    assert result.fit[0].usable_bytes == gpu.cuda_total_bytes - CUDA_CONTEXT_BYTES
    assert result.fit[0].need_bytes == serving.rest_bytes + max(pool, serving.request_kv_bytes)


def test_kv_cache_memory_bytes_is_vllms_alone():
    with pytest.raises(ConflictError):
        parse("sglang qwen2.5-7b kv_cache_memory_bytes=10000000000 on h100")


@pytest.mark.parametrize("gib, tp", [(4, 1), (100, 1), (20, 2)])
def test_cpu_offload_gb_keeps_decoder_weights_in_host_memory(gib, tp):
    """vllm/model_executor/models/utils.py: make_layers hands each decoder layer to maybe_offload_to_cpu,
    which moves parameters to pinned host memory until cpu_offload_gb GiB a GPU are there; the
    embeddings and the head stay. The GPU holds that much less, and the pool grows by as much."""
    model = "qwen2.5-7b" if tp == 1 else "llama-3.1-70b"
    base = f"vllm {model} max-model-len 8k tp {tp} on {tp}x h100"
    result, plain = ask(f"{base} cpu-offload-gb {gib}"), ask(base)
    weights = sum(i.bytes for i in plain.items if i.key is Item.WEIGHTS)
    moved = weights - sum(i.bytes for i in result.items if i.key is Item.WEIGHTS)
    # all the GiB asked, or every decoder layer's weights where those are fewer: the rest stays
    assert moved == round(gib * GIB) if gib < 50 else 0 < moved < round(gib * GIB)
    assert weights - moved > 0
    assert result.serving.weights_offloaded == moved and result.host_bytes == moved * tp
    assert result.serving.kv_cache_bytes > plain.serving.kv_cache_bytes


def test_cpu_offload_gb_is_vllms_alone():
    with pytest.raises(ConflictError):
        parse("sglang qwen2.5-7b cpu-offload-gb 4 on h100")


def test_max_context_is_not_stopped_by_small_contexts_that_do_not_fit():
    # TGI's warm-up gives each of its ceil(prefill / (m - 1)) prompts a whole block, so contexts of
    # 2 to 7 tokens need gigabytes while 8 and more do not; a search up from 1 stopped at 1 token
    est = ask("serve llama-3.1-8b with tgi max context on a10g")
    assert est.solution.value > 16384
    assert not ask(f"serve llama-3.1-8b with tgi seq {est.solution.value + 1} on a10g").fit[0].fits
