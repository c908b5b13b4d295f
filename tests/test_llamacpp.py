"""llama.cpp and Ollama (issue 16): buffers pinned to llama.cpp's code and to published start-up logs.

Each log row is tests/data/published_serving.toml's; the figures are what llama.cpp or Ollama printed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

import vram
from vram.catalog.resolve import resolve_request
from vram.errors import VramError
from vram.memory.detailed import llamacpp
from vram.memory.detailed.common import detailed_job
from vram.memory.detailed.engine_defaults import by_release
from vram.memory.job import Said

LOGS = {row["id"]: row for row in tomllib.loads(
    (Path(__file__).parent / "data" / "published_serving.toml").read_text())["log"]}
MIB = 2**20
GIB = 2**30

BLLOSSOM = LOGS["llamacpp-bllossom-8b-q4km-rtx3070"]
#: the launch of that log: Q4_K_M, n_ctx 512, one sequence, no flash attention
BLLOSSOM_QUERY = "infer llama-3-8b q4_k_m llama.cpp -ngl 99 -c 512 -np 1 -ub 512 eager on rtx-3070"


def _item(estimate, key):
    return estimate.item(key).bytes / MIB


@pytest.mark.parametrize(("key", "logged"), [
    ("weights", "cuda0_model_buffer_mib"),  # 32 blocks in the Q4_K_M mix, output (q6_K) and its norm
    ("kv_cache", "cuda0_kv_buffer_mib"),  # 32 layers x 1024 x 512 cells x (2 + 2) B
    ("activations", "cuda0_compute_buffer_mib"),  # 4 x 512 x (128256 + 4096): logits and the final norm
])
def test_bllossom_gpu_buffers_match_the_log(key, logged):
    estimate = vram.ask(BLLOSSOM_QUERY)
    assert _item(estimate, key) == pytest.approx(BLLOSSOM["logged"][logged], abs=0.005)


def test_bllossom_host_buffers_match_the_log():
    """CPU_Mapped token_embd (Q4_K: 128256 x 4096 x 144/256 B) + CUDA_Host compute + output buffers."""
    logged = BLLOSSOM["logged"]
    host = vram.ask(BLLOSSOM_QUERY).host_bytes / MIB
    expected = logged["cpu_model_buffer_mib"] + logged["cuda_host_compute_buffer_mib"] + \
        logged["cuda_host_output_buffer_mib"]
    assert host == pytest.approx(expected, abs=0.02)


def test_bllossom_serving_record():
    serving = vram.ask(BLLOSSOM_QUERY).serving
    assert (serving.engine, serving.gpu_layers, serving.total_layers) == ("llama.cpp", 33, 33)
    assert (serving.kv_cache_tokens, serving.max_model_len, serving.max_concurrency) == (512, 512, 1)
    assert not serving.partial_offload


OLLAMA_QWEN2 = LOGS["ollama-5913-dolphin-qwen2-72b-q4ks-rocm24"]


def _qwen2_job():
    request = vram.parse("infer qwen2-72b q4_k_s ollama num_ctx 2048")
    said = Said()
    job = detailed_job(resolve_request(request), said)
    return job, llamacpp.setup_of(job, said, None)


def test_ollama_qwen2_kv_and_graphs_match_its_estimate():
    """memory.required.kv 640.0 MiB, memory.graph.full 313.0 MiB, memory.graph.partial 1.3 GiB."""
    job, setup = _qwen2_job()
    logged = OLLAMA_QWEN2["logged"]
    full = llamacpp.buffers(job, setup, job.spec.num_layers + 1)
    assert full.items[1].bytes / MIB == pytest.approx(logged["required_kv_mib"], abs=0.05)
    eager = llamacpp.Setup(setup.n_ctx, 1, False, 512, "F16", "F16", "q4_k_s", flash=False)
    graphs = [llamacpp.buffers(job, eager, layers).items[-1].bytes for layers in (81, 43)]
    assert graphs[0] / MIB == pytest.approx(logged["graph_full_mib"], abs=0.05)
    assert graphs[1] / 2**30 == pytest.approx(logged["graph_partial_gib"], abs=0.05)


def test_ollama_qwen2_partial_offload_layers():
    """Ollama offloaded 43 of 81 layers into 24.0 GiB (memory.go's fit with its 457 MiB minimum)."""
    job, setup = _qwen2_job()
    layers, split = llamacpp.ollama_layers(job, setup, int(OLLAMA_QWEN2["logged"]["memory_available_gib"] * 2**30),
                                           457 * MIB)
    assert layers == OLLAMA_QWEN2["logged"]["layers_offload"] and split == (43,)


# -- Ollama's own estimate, figure by figure, as its "offload" line prints it ---------------------------------
#
# llm/memory.go EstimateGPULayers: each block's size is its weights plus its share of the KV cache;
# weights.nonrepeating is the output layer and its norm (the tied token_embd when there is no output tensor).
# What weights.total and .repeating sum changed at ollama/ollama 033cec232 (2025-03-12): before, total is the
# blocks with their KV shares and repeating that less the output (which it never held); from then on (to
# f560bd077, 2025-11-05, which replaced this estimate) repeating is the blocks alone and total adds the output.
# Each GPU keeps its minimum (457 MiB, ml/device.go) and one block as a buffer; on several GPUs the full graph
# is set to the partial one. format.HumanBytes2 prints one decimal, so a figure that
# rounds to the logged one is exact.

#: the launch of each Ollama log, as a query (GPUS: how many the log shows, where more than one)
OLLAMA_LAUNCHES = {
    "ollama-5913-dolphin-qwen2-72b-q4ks-rocm24": "infer qwen2-72b q4_k_s ollama num_ctx 2048",
    "ollama-8098-llama32-3b-q4km-np4": "infer llama-3.2-3b q4_k_m ollama num_ctx 2048 OLLAMA_NUM_PARALLEL=4",
    "ollama-9181-llama-70b-q8-4x22gib-fa": "infer llama-3.3-70b q8_0 ollama num_ctx 64000 -fa",
    "ollama-ipex-13277-qwen25-coder-14b-q2k-cpu": "infer qwen2.5-coder-14b q2_k ollama num_ctx 4096",
    "ollama-8667-deepseek-r1-671b-q4km-7gib": "infer deepseek-r1 q4_k_m ollama num_ctx 2048",
}
GPUS = {"ollama-9181-llama-70b-q8-4x22gib-fa": 4}
OLLAMA_MINIMUM = 457 * MIB  # ml/device.go MinimumMemory for CUDA and ROCm
#: logs of Ollama's CPU library: no minimum kept, and memory.go returns its estimate with no layers placed
CPU_LOGS = {"ollama-ipex-13277-qwen25-coder-14b-q2k-cpu"}
#: logs dated from 2025-03-12 (033cec232): weights without the KV shares
BLOCKS_ALONE = {"ollama-ipex-13277-qwen25-coder-14b-q2k-cpu"}
def _ollama_job(log_id: str, said: Said):
    """The log's launch at the release of its date (published_serving.toml's replay_version)."""
    query = f"{OLLAMA_LAUNCHES[log_id]} engine-version={LOGS[log_id]['replay_version']}"
    return detailed_job(resolve_request(vram.parse(query)), said)


def _walk(job) -> bool:
    """Whether the job's release walks the blocks from the first up (before v0.7.0's 0478d440f)."""
    return by_release(job.runtime.settings["estimate_walk_since"], job.request.engine_version) == "first_block_first"


@pytest.mark.parametrize("log_id", OLLAMA_LAUNCHES)
def test_each_ollama_log_is_replayed_at_a_release_that_places_by_its_estimate(log_id):
    """Every published Ollama log predates v0.30.0's llama-server runner: its release places by
    memory.go's estimate (the figures below replay it, walking the blocks as that release does)."""
    assert llamacpp.placement(_ollama_job(log_id, Said())) == "estimate"


def test_the_deepseek_log_walks_from_the_first_block():
    """ollama#8667's three dense blocks 0-2 on the GPU show the walk from the first block; its date's
    release (0.5.11) is one before v0.7.0."""
    assert _walk(_ollama_job("ollama-8667-deepseek-r1-671b-q4km-7gib", Said()))


def _ollama_line(log_id: str) -> dict[str, float]:
    """What Ollama's offload line would print for the log's launch, by vram's buffers, in the log's units."""
    logged, gpus = LOGS[log_id]["logged"], GPUS.get(log_id, 1)
    said = Said()
    job = _ollama_job(log_id, said)
    setup = llamacpp.setup_of(job, said, None)
    spec = job.spec
    blocks, _, output = llamacpp.layout(spec, setup.weight_type)
    kv = sum(llamacpp.ollama_kv_layers(job, setup))  # GraphSize's: an MLA GGUF's heads x (key + value length)
    full, partial = llamacpp.ollama_graphs(job, setup, gpus)  # every head's scores, flash attention or not
    cpu = log_id in CPU_LOGS
    minimum = 0 if cpu else OLLAMA_MINIMUM
    available = int(logged.get("memory_available_gib", 0) * GIB) or 2**50  # the CPU's: all fits
    layers, split = llamacpp.ollama_layers(job, setup, available, minimum, gpus, _walk(job))
    share = kv // spec.num_layers
    weights = sum(blocks) + kv
    # memory.go walks the blocks from the first, block i to GPU i mod n while each has room
    mine = [[b + share for i, b in enumerate(blocks) if i % gpus == g][:n] for g, n in enumerate(split)]
    held = [minimum + blocks[0] + share + sum(own) for own in mine]
    on_gpu = min(layers, spec.num_layers)
    placed = sum(held) + (layers > spec.num_layers) * output
    graph = full if layers > spec.num_layers else partial
    overflow = sum(b + share for b in blocks[: spec.num_layers - on_gpu]) + (layers <= spec.num_layers) * output
    figures = {
        "required_kv": kv, "graph_full": full, "graph_partial": partial, "weights_nonrepeating": output,
        "weights_total": sum(blocks) + output if log_id in BLOCKS_ALONE else weights,
        "weights_repeating": sum(blocks) if log_id in BLOCKS_ALONE else weights - output,
        "required_partial": placed + graph * len(split), "required_full": placed + graph * len(split) + overflow,
        "allocation_each": held[0] + graph,
    }
    ours = {f"{name}_{unit}": value / (GIB if unit == "gib" else MIB) for name, value in figures.items()
            for unit in ("gib", "mib")}
    ours.update(layers_offload=0 if cpu else layers, layers_model=spec.num_layers + 1, layers_split_each=split[0])
    return ours


OLLAMA_FIGURES = [(log_id, key) for log_id in OLLAMA_LAUNCHES for key in LOGS[log_id]["logged"]
                  if (key.endswith(("_gib", "_mib")) and not key.startswith("memory_available"))
                  or key.startswith("layers_")]


@pytest.mark.parametrize(("log_id", "key"), OLLAMA_FIGURES)
def test_ollama_offload_line_figure_by_figure(log_id, key):
    """Each figure of Ollama's offload line, as HumanBytes2 rounds it, from vram's layout, KV and graphs."""
    logged = LOGS[log_id]["logged"][key]
    ours = _ollama_line(log_id)[key]
    if key.startswith("layers_"):
        assert ours == logged
    elif (log_id, key) in OLLAMA_NEAR:
        assert ours == pytest.approx(logged, abs=OLLAMA_NEAR[(log_id, key)])
    else:
        assert round(ours, 1) == logged


#: figures vram does not reproduce to the printed decimal, each with why and its bound
OLLAMA_NEAR: dict[tuple[str, str], float] = {
    # 39.82 GiB against 39.9: the fine-tune's file carries its own mix (q5_0 x70, q5_1 x10, q4_K x401, q5_K x80,
    # q6_K x1, in the loader lines), not quite the Q4_K_S mix vram.memory.quant gives Qwen2-72B: -0.2 %
    ("ollama-5913-dolphin-qwen2-72b-q4ks-rocm24", "weights_total_gib"): 0.15,
    # 385.11 and 384.40 GiB against 385.0 and 384.3 (+0.03 %): the Q4_K_M mix vram.memory.quant gives
    # DeepSeek-R1 against the tag's file (the issue shows no loader lines to read the file's own mix from)
    ("ollama-8667-deepseek-r1-671b-q4km-7gib", "weights_total_gib"): 0.15,
    ("ollama-8667-deepseek-r1-671b-q4km-7gib", "weights_repeating_gib"): 0.15,
    # 3.46 GiB against 3.4 (HumanBytes2 would print 3.5): the minimum, the block-0 buffer and blocks 0-2, each
    # with its 160 MiB KV share, and the 1019.5 MiB graph; 10 MB more than the log's three dense blocks, the same mix
    ("ollama-8667-deepseek-r1-671b-q4km-7gib", "required_partial_gib"): 0.1,
}


OLLAMA_QWEN3 = LOGS["ollama-10740-qwen3-32b-q6k-3x3090"]


def test_ollama_qwen3_graph_from_the_kv_on_three_gpus():
    """GraphSize has no qwen3 case: the graph is GQA x kv / 6 (10.7 GiB) on each of three RTX 3090s, and the
    required total, all 65 layers placed, prints 67.3 GiB as the comment quotes its log."""
    said = Said()
    query = "infer qwen3-32b q6_k ollama num_ctx 32768 engine-version=0.6.8"  # the release its issue names
    job = detailed_job(resolve_request(vram.parse(query)), said)
    setup = llamacpp.setup_of(job, said, None)
    free = int(OLLAMA_QWEN3["logged"]["memory_available_gpu0_gib"] * GIB)
    layers, split = llamacpp.ollama_layers(job, setup, free, 457 * MIB, 3)
    blocks, _, output = llamacpp.layout(job.spec, setup.weight_type)
    kv = llamacpp.ollama_kv_layers(job, setup)
    full, partial = llamacpp.ollama_graphs(job, setup, 3)
    assert full == partial == 64 // 8 * sum(kv) // 6
    assert layers == job.spec.num_layers + 1 and len(split) == 3
    # each GPU: its minimum, one block as a buffer and the graph; then every block, its KV and the output
    required = 3 * (457 * MIB + blocks[0] + kv[0] + partial) + sum(blocks) + sum(kv) + output
    assert round(required / GIB, 1) == OLLAMA_QWEN3["logged"]["required_full_gib"]


@pytest.mark.parametrize(("family_query", "windowed", "cells"), [
    # gpt-oss: the even (banded) layers keep num_parallel x 4096 + batch cells (GraphSize's gptoss case)
    ("infer gpt-oss-20b ollama num_ctx 32768", 12, 4096 + 512),
    # gemma3: all but every sixth layer keep num_parallel x 1024 + batch
    ("infer gemma-3-27b q4_k_m ollama num_ctx 32768 OLLAMA_NUM_PARALLEL=2", 52, 2 * 1024 + 512),
])
def test_ollama_windowed_kv_layers(family_query, windowed, cells):
    said = Said()
    job = detailed_job(resolve_request(vram.parse(family_query)), said)
    setup = llamacpp.setup_of(job, said, None)
    row = llamacpp.ollama_kv_row(job.spec, setup)
    kv = llamacpp.ollama_kv_layers(job, setup)
    assert sorted(set(kv)) == [round(cells * row), round(setup.n_ctx * row)]
    assert kv.count(round(cells * row)) == windowed


def test_ollama_gpt_oss_graph_with_flash_attention():
    """GraphSize's gptoss case with flash attention: (4 x num_parallel + context / 1024 + 110) MiB, full = partial."""
    said = Said()
    job = detailed_job(resolve_request(vram.parse("infer gpt-oss-20b ollama num_ctx 8192 -fa")), said)
    setup = llamacpp.setup_of(job, said, None)
    assert llamacpp.ollama_graphs(job, setup, 1) == ((4 + 8 + 110) * MIB,) * 2


#: Ollama's gpt-oss tags as ollama.com/library/gpt-oss lists them, in GB to two figures (quoted at
#: https://b-lab.team/content/99172e10-6837-4e68-ab97-2b1909a752a5: "gpt-oss:20b: 14GB", "gpt-oss:120b: 65GB"):
#: a printed 14 is 13.5 to 14.5
OLLAMA_TAG_GB = [("gpt-oss-20b", 14), ("gpt-oss-120b", 65)]


@pytest.mark.parametrize(("model", "published_gb"), OLLAMA_TAG_GB)
def test_ollama_gpt_oss_tags_are_mxfp4_experts_and_bf16(model, published_gb):
    """convert/convert_gptoss.go: the experts MXFP4 (4.25 bits), the rest as the checkpoint stores it (BF16)."""
    said = Said()
    job = detailed_job(resolve_request(vram.parse(f"infer {model} ollama")), said)
    setup = llamacpp.setup_of(job, said, None)
    assert setup.weight_type == "mxfp4_bf16"
    blocks, embd, output = llamacpp.layout(job.spec, setup.weight_type)
    assert abs((sum(blocks) + embd + output) / 1e9 - published_gb) <= 0.5


# -- llama.cpp's buffers against logs beyond the Bllossom one ----------------------------------------------

#: the launch of each llama.cpp log (and of Ollama's runner lines), as a query; each figure exact to the printed
#: hundredth
LLAMA_CPP_LOGS = {
    "llamacpp-llamasharp-1099-qwen25-3b-q8-4080s":
        "infer qwen2.5-3b q8_0 llama.cpp -ngl 99 -c 4096 -np 1 -ub 512 eager",
    "llamacpp-6122-command-r-35b-2gpu": "infer command-r-35b q4_k_m llama.cpp -ngl 99 -c 4096 -np 1 -ub 512 eager",
    "llamacpp-11861-r1-distill-qwen-32b-q4km":
        "infer deepseek-r1-distill-qwen-32b q4_k_m llama.cpp -ngl 99 -c 16384 -np 1 -ub 512 -fa",
    "ollama-9091-qwen25-14b-q4km-np4": "infer qwen2.5-14b q4_k_m llama.cpp -ngl 99 -c 8192 -np 4 -ub 512 eager",
    # the KV does not depend on where it is placed; IQ2_XXS is not a vram type, so the weights' type is a stand-in
    "llamacpp-5137-mixtral-8x7b-iq2xxs-cpu": "infer mixtral-8x7b q4_k_m llama.cpp -ngl 99 -c 512 -np 1 -ub 512 eager",
    "ollama-6279-llama31-70b-q4_0-4x4090": "infer llama-3.1-70b q4_0 llama.cpp -ngl 99 -c 512 -np 1",
}


def _llama_cpp_figures(log_id: str) -> dict[str, float]:
    estimate = vram.ask(LLAMA_CPP_LOGS[log_id])
    kv = _item(estimate, "kv_cache")
    figures = {"cuda0_kv_buffer_mib": kv, "kv_self_mib": kv, "k_f16_mib": kv / 2, "v_f16_mib": kv / 2,
               "cuda0_compute_buffer_mib": _item(estimate, "activations"),
               "cuda0_model_buffer_mib": _item(estimate, "weights")}
    said = Said()
    job = detailed_job(resolve_request(vram.parse(LLAMA_CPP_LOGS[log_id])), said)
    blocks, embd, output = llamacpp.layout(job.spec, llamacpp.setup_of(job, said, None).weight_type)
    figures["file_size_gib"] = (sum(blocks) + embd + (output if not job.spec.tie_embeddings else 0)) / GIB
    figures["cpu_model_buffer_mib"] = figures["cpu_mapped_model_buffer_mib"] = embd / MIB  # token_embd stays on the CPU
    figures["model_size_gib"] = figures["file_size_gib"]
    values = {"u": 512, "n": estimate.serving.kv_cache_tokens, "h": job.spec.hidden_size, "m": 4}
    # the graph's inputs on the host, without flash attention
    figures["cpu_input_buffer_mib"] = llamacpp.HOST_COMPUTE.bytes(values) / MIB
    return figures


LLAMA_CPP_FIGURES = [
    ("llamacpp-llamasharp-1099-qwen25-3b-q8-4080s", key) for key in
    ("cuda0_kv_buffer_mib", "k_f16_mib", "v_f16_mib", "cuda0_compute_buffer_mib", "file_size_gib")
] + [("llamacpp-6122-command-r-35b-2gpu", key) for key in ("kv_self_mib", "k_f16_mib", "v_f16_mib")] + [
    ("llamacpp-11861-r1-distill-qwen-32b-q4km", key)
    for key in ("cuda0_model_buffer_mib", "cpu_mapped_model_buffer_mib")
] + [("ollama-9091-qwen25-14b-q4km-np4", key) for key in
     ("cuda0_model_buffer_mib", "cpu_model_buffer_mib", "cuda0_kv_buffer_mib")] + [
    ("llamacpp-5137-mixtral-8x7b-iq2xxs-cpu", key) for key in ("kv_self_mib", "k_f16_mib", "v_f16_mib",
                                                                "cpu_input_buffer_mib")
] + [("ollama-6279-llama31-70b-q4_0-4x4090", "model_size_gib")]


@pytest.mark.parametrize(("log_id", "key"), LLAMA_CPP_FIGURES)
def test_llama_cpp_log_figure_by_figure(log_id, key):
    """KV = cells x layers x (K + V row bytes); the compute buffer is GraphSize's logits term at n_ubatch 512
    (4 x 512 x (2048 + 151936) B = 300.75 MiB for Qwen2.5-3B); the file, blocks and token_embd."""
    assert round(_llama_cpp_figures(log_id)[key], 2) == LOGS[log_id]["logged"][key]


def test_command_r_kv_split_over_two_gpus_sums_to_the_total():
    """llama.cpp put 12 and 28 of the 40 layers' KV on the two cards (its default split follows free memory,
    which vram does not model); the two buffers add up to the total that vram gives."""
    logged = LOGS["llamacpp-6122-command-r-35b-2gpu"]["logged"]
    assert logged["cuda0_kv_buffer_mib"] + logged["cuda1_kv_buffer_mib"] == logged["kv_self_mib"]
    assert logged["cuda0_kv_buffer_mib"] == 12 * logged["kv_self_mib"] / 40


OLLAMA_GEMMA3 = LOGS["ollama-11162-gemma3-27b-fp16-2x5090"]


def test_ollama_splits_blocks_over_two_gpus_in_turn():
    """layers.split=31,31 on two RTX 5090s (30.9 and 30.8 GiB free): the 62 blocks alternate. Ollama then
    leaves the output layer off (layers.offload=62 of 63): its last layer carries the vision projector too
    (memory.go memoryLastLayer), which the text tower here does not; so here the output fits (63)."""
    logged = OLLAMA_GEMMA3["logged"]
    said = Said()
    job = detailed_job(resolve_request(vram.parse("infer gemma-3-27b fp16 ollama on 2x rtx-5090")), said)
    setup = llamacpp.setup_of(job, said, None)
    free = int(logged["memory_available_gpu1_gib"] * 2**30)
    layers, split = llamacpp.ollama_layers(job, setup, free, 457 * MIB, 2)  # ml/device.go MinimumMemory
    blocks = sorted(split)
    blocks[-1] -= layers - job.spec.num_layers  # the output layer, on the GPU it went to
    assert blocks == [logged["layers_split_gpu0"], logged["layers_split_gpu1"]]
    assert layers == logged["layers_offload"] + 1 == logged["layers_model"]


# -- llama.cpp's code: padding, slots, sliding windows, placement ---------------------------------------

@pytest.mark.parametrize(("query", "cells", "max_model_len"), [
    ("-c 8192", 8192, 8192),  # llama-server's auto: 4 slots, one unified cache of n_ctx
    ("-c 8000", 8192, 8192),  # GGML_PAD(n_ctx, 256)
    ("-c 8192 -np 4", 8192, 2048),  # explicit slots: n_ctx_seq = n_ctx / 4, each its own stream
    ("-c 8000 -np 3", 8448, 2816),  # pad(pad(8000, 256) / 3, 256) = 2816 a slot
    ("-c 100 -np 4", 1024, 256),  # n_ctx padded to 256 first, then 64 a slot padded to 256
])
def test_llama_cpp_cells(query, cells, max_model_len):
    serving = vram.ask(f"infer llama-3-8b int4 llama.cpp -ngl 99 {query}").serving
    assert (serving.kv_cache_tokens, serving.max_model_len) == (cells, max_model_len)


def test_prompt_and_generated_tokens_size_the_context():
    serving = vram.ask("infer llama-3-8b q4_k_m llama.cpp prompt 6144 generate 2048 -np 1 on rtx-4090").serving
    assert serving.kv_cache_tokens == serving.max_model_len == 8192


@pytest.mark.parametrize(("query", "tokens"), [
    ("num_ctx 2048", 2048), ("num_ctx 2048 OLLAMA_NUM_PARALLEL=4", 8192),  # docs/faq.md: num_ctx x num_parallel
    ("", 4096),  # docs/faq.md: 4096 by default
])
def test_ollama_context_times_parallel(query, tokens):
    assert vram.ask(f"infer llama-3-8b int4 ollama {query}").serving.kv_cache_tokens == tokens


def test_gemma3_sliding_window_layers_keep_the_window_and_a_ubatch():
    """Five of six Gemma 3 layers keep pad(min(n_ctx, 1024 + 512), 256) = 1536 cells (llama-kv-cache-iswa.cpp)."""
    estimate = vram.ask("infer gemma-3-27b int4 llama.cpp -ngl 99 -c 32768 -np 1")
    spec = vram.catalog.find_model("gemma-3-27b")
    windowed = spec.windowed_layers
    row = spec.num_kv_heads * spec.head_dim * 4
    expected = row * (windowed * 1536 + (spec.num_layers - windowed) * 32768)
    assert estimate.item("kv_cache").bytes == expected


@pytest.mark.parametrize(("kv", "ratio"), [("q8_0", 34 / 64), ("q4_0", 18 / 64)])
def test_quantised_cache_types_by_their_blocks(kv, ratio):
    """ggml-common.h: q8_0 is 34 bytes a block of 32, q4_0 18: against f16's 64."""
    f16 = vram.ask("infer llama-3-8b int4 llama.cpp -ngl 99 -c 8192 -fa").item("kv_cache").bytes
    quantised = vram.ask(f"infer llama-3-8b int4 llama.cpp -ngl 99 -c 8192 -fa -ctk {kv} -ctv {kv}")
    assert quantised.item("kv_cache").bytes == pytest.approx(f16 * ratio, rel=1e-9)


@pytest.mark.parametrize(("flags", "k_bytes", "v_bytes"), [
    ("-ctk q8_0", 34 / 32, 2),  # common/arg.cpp: -ctk sets the K cache only; V stays f16
    ("-ctv q4_0", 2, 18 / 32),
    ("-ctk q8_0 -ctv q4_0", 34 / 32, 18 / 32),
    ("kv q8_0", 34 / 32, 34 / 32),  # ours: both
])
def test_k_and_v_cache_types_apart(flags, k_bytes, v_bytes):
    estimate = vram.ask(f"infer llama-3-8b int4 llama.cpp -ngl 99 -c 8192 -fa {flags}")
    assert estimate.item("kv_cache").bytes == round(32 * 1024 * 8192 * (k_bytes + v_bytes))


def test_a_quantised_v_cache_needs_flash_attention():
    with pytest.raises(VramError, match="flash attention"):
        vram.ask("infer llama-3-8b int4 llama.cpp -c 8192 -fa off -ctk q8_0 -ctv q8_0")


@pytest.mark.parametrize(("ngl", "gpu_layers", "host_has_output"), [
    (99, 33, False), (33, 33, False), (32, 32, True), (16, 16, True), (0, 0, True),
])
def test_placement_by_n_gpu_layers(ngl, gpu_layers, host_has_output):
    """The output layer joins the GPU only when -ngl exceeds the 32 blocks; token_embd never does."""
    estimate = vram.ask(f"infer llama-3-8b q4_k_m llama.cpp -ngl {ngl} -c 4096")
    assert estimate.serving.gpu_layers == gpu_layers
    embd = 128256 * 4096 * 144 // 256
    output = 128256 * 4096 * 210 // 256
    assert (estimate.host_bytes > embd + output) is host_has_output
    assert estimate.serving.partial_offload is (gpu_layers < 33)


def test_more_blocks_never_need_less_gpu_memory():
    """Over the blocks (partial offload) the GPU's need grows with each layer; the last step, the output
    layer, may need less: a full offload's graph no longer copies the CPU's output matrix (h x V x 105/128
    in GraphSize's partial case)."""
    totals = [vram.ask(f"infer llama-3-8b int4 llama.cpp -ngl {n} -c 4096").total_bytes for n in range(1, 33)]
    assert totals == sorted(totals)


def test_llama_cpp_fit_shrinks_an_unset_context_then_keeps_every_layer():
    """llama-3.1-8b's trained 131072 context does not fit a 12 GB card: the fit shrinks it (>= 4096)."""
    estimate = vram.ask("infer llama-3.1-8b int4 llama.cpp on rtx-3060")
    assert estimate.serving.gpu_layers == 33 and 4096 <= estimate.serving.kv_cache_tokens < 131072
    assert any("reduced" in line for line in estimate.assumptions)
    assert estimate.fit[0].fits


def test_partial_offload_runs_and_says_so():
    estimate = vram.ask("infer qwen2-72b int4 ollama num_ctx 2048 on rtx-4090")
    assert estimate.serving.partial_offload and estimate.fit[0].fits
    assert estimate.host_bytes > 15e9
    assert any("partial offload" in line and "more slowly" in line for line in estimate.assumptions)


@pytest.mark.parametrize(("query", "engine"), [
    ("infer llama-3-8b -ngl 99 -c 8192", "llama.cpp"), ("infer llama-3-8b --n-gpu-layers 20", "llama.cpp"),
    ("infer llama-3-8b num_ctx 8192", "ollama"), ("infer llama-3-8b OLLAMA_NUM_PARALLEL=2", "ollama"),
])
def test_an_engines_own_setting_names_it(query, engine):
    request = vram.parse(query)
    assert request.engine == engine and any("serves it" in note for note in request.notes)


def test_a_request_with_llama_cpp_settings_and_another_engine_is_refused():
    with pytest.raises(VramError, match="llama.cpp/Ollama setting"):
        vram.Request(task="inference", model="llama-3-8b", engine="vllm", gpu_layers=99)


@pytest.mark.parametrize("query", [
    "infer llama-3-8b llama.cpp -c 256 -np 300",  # n_ctx_seq == 0: llama.cpp throws
    "infer llama-3-8b vllm -np 4",
    "infer llama-3-8b fp8 llama.cpp",  # llama.cpp has no fp8 weights
    "infer llama-3-8b llama.cpp kv int8",
])
def test_refused_with_a_message(query):
    with pytest.raises(VramError):
        vram.ask(query)


# -- the n_gpu_layers solver ------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "layers"), [
    ("max layers llama-3-8b q4_k_m llama.cpp -c 4096 on rtx-4090", 33),  # everything fits
    ("how many layers fit llama-3.1-70b q4_k_m on rtx-3090 -c 8192", None),  # a partial offload
])
def test_max_layers_is_the_largest_ngl_that_fits(query, layers):
    estimate = vram.ask(query)
    found = estimate.solution.value
    assert found == layers if layers is not None else 0 < found < 81
    base = vram.parse(query)
    judge = lambda n: vram.estimate(dataclasses.replace(base, solve=None, gpu_layers=n)).fit[0].fits  # noqa: E731
    assert judge(found) and (found == 81 or found == 33 or not judge(found + 1))
    if found < 81 and layers is None:
        assert estimate.host_bytes > 20e9 and "host memory" in estimate.solution.note


def test_max_layers_names_llama_cpp_and_needs_a_gpu():
    assert vram.parse("max layers llama-3-8b on rtx-4090").engine == "llama.cpp"
    with pytest.raises(VramError):
        vram.parse("max layers llama-3-8b llama.cpp")


def test_a_missing_gguf_path_suggests_its_catalog_name():
    with pytest.raises(VramError) as caught:
        vram.ask("llama-server -m ./Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf -c 8192 -ngl 99")
    assert caught.value.suggestion == "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
