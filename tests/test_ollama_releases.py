"""Ollama one release at a time (issue 16): the default num_ctx and who places the layers, each as the
release had them (core/catalog/data/runtimes.toml, the Ollama row's *_since columns, read at the tags of
github.com/ollama/ollama), and the newest release's answers for four launches, coherent: its VRAM-tier
context with llama-server's own fit of llama.cpp's buffers.
"""

from __future__ import annotations

import pytest

import vram
from vram.catalog.resolve import resolve_request
from vram.memory.detailed import llamacpp
from vram.memory.detailed.common import detailed_job
from vram.memory.detailed.engine_defaults import by_release
from vram.memory.job import Said

#: release -> (default num_ctx of llama-3.1-8b on one RTX 4090, 24 GiB; who places the layers; whether
#: the estimate walks from the first block). envconfig/config.go OLLAMA_CONTEXT_LENGTH default 2048 to
#: v0.6.6, 4096 at v0.6.7; 0 at v0.15.5, server/routes.go's tiers then (>= 23 GiB: 32768); llm/memory.go
#: walked from the first block before v0.7.0 (0478d440f); v0.30.0 (9db4bdbad) runs llama-server with no -ngl.
RELEASES = [
    ("0.1.32", 2048, "estimate", True),
    ("0.6.6", 2048, "estimate", True),
    ("0.6.7", 4096, "estimate", True),
    ("0.7.0", 4096, "estimate", False),
    ("0.12.10", 4096, "estimate", False),
    ("0.15.4", 4096, "estimate", False),
    ("0.15.5", 32768, "estimate", False),
    ("0.29.9", 32768, "estimate", False),
    ("0.30", 32768, "fit", False),  # a release named without its patch number is its .0
    ("0.30.0", 32768, "fit", False),
    (None, 32768, "fit", False),  # no release named: the newest
]


def _setup(query: str):
    """The launch's job and llama.cpp settings, defaults taken for the GPUs the query names."""
    said, resolved = Said(), resolve_request(vram.parse(query))
    job = detailed_job(resolved, said)
    return job, llamacpp.setup_of(job, said, resolved.gpu)


@pytest.mark.parametrize(("version", "n_ctx", "placement", "first_block_first"), RELEASES)
def test_release_gives_its_default_context_and_placement(version, n_ctx, placement, first_block_first):
    pinned = f" engine-version={version}" if version else ""
    job, setup = _setup(f"ollama run llama3.1:8b on rtx 4090{pinned}")
    walk = by_release(job.runtime.settings["estimate_walk_since"], version)
    assert (setup.n_ctx, llamacpp.placement(job), walk == "first_block_first") == (n_ctx, placement, first_block_first)


@pytest.mark.parametrize(("gpus", "n_ctx"), [(1, 4096), (2, 32768), (3, 262144)])
def test_vram_tiers_count_every_gpu(gpus, n_ctx):
    """server/routes.go sums TotalMemory over the GPUs: one 16 GiB card 4096, two 32768, three 262144
    (llama-3.1-8b's trained context is 131072, so the last is capped there)."""
    job, setup = _setup(f"ollama run llama3.1:8b on {gpus}x rtx 4060 ti 16gb")
    assert setup.n_ctx == min(n_ctx, job.spec.max_seq_len)


#: The newest release's answers. DeepSeek-R1's num_ctx is 163840, the VRAM tier's 262144 capped at its trained
#: context; its cache is llama.cpp's MLA latent (576 values a cell, f16: 1152 bytes a layer a cell). On eight
#: H100s every layer is placed (8 blocks on the most-loaded GPU); on one, llama.cpp's fit keeps 1 GiB free and
#: places 8 blocks of about 7.5 GB. qwen3-32b: 32768 cells (24 GiB is the 23 GiB tier) of 8 x 128 x 2 x 2 =
#: 4096 bytes a layer. gpt-oss-20b: 12 dense layers of 32768 cells and 12 banded ones of pad(128 + 512, 256)
#: = 768, 8 x 64 x 2 x 2 = 2048 bytes a cell.
NEWEST = [
    ("ollama run deepseek-r1:671b on 8x h100", 163840, 62, 8 * 163840 * 1152),
    ("ollama run deepseek-r1:671b on 1x h100", 163840, 8, 8 * 163840 * 1152),
    ("ollama run qwen3:32b on rtx 4090", 32768, 54, 54 * 32768 * 4096),
    ("ollama run gpt-oss:20b on rtx 4090", 32768, 25, 12 * (32768 + 768) * 2048),
]


@pytest.mark.parametrize(("query", "n_ctx", "layers", "kv_bytes"), NEWEST)
def test_newest_release_answers(query, n_ctx, layers, kv_bytes):
    estimate = vram.ask(query)
    serving = estimate.serving
    assert (serving.max_model_len, serving.gpu_layers, estimate.item("kv_cache").bytes) == (n_ctx, layers, kv_bytes)
    assert any("Ollama 0.30 and later" in line and "llama.cpp's fit" in line for line in estimate.assumptions)


def test_the_newest_fit_does_not_shrink_the_context_ollama_passes():
    """llm/llama_server.go passes -c num_ctx x num_parallel: llama.cpp's fit counts the context as set and
    places fewer layers rather than shrink it (llama.cpp alone, with no -c, would shrink it towards 4096)."""
    ollama = vram.ask("ollama run deepseek-r1:671b on 1x h100")
    llama = vram.ask("llama.cpp deepseek-r1 q4_k_m on 1x h100")
    assert ollama.serving.max_model_len == 163840 and llama.serving.max_model_len < 163840


def test_an_older_release_places_by_its_estimate():
    """0.12.3: num_ctx 4096 and memory.go's estimate (its 128-head KV and GraphSize's graph), said as such."""
    estimate = vram.ask("ollama run deepseek-r1:671b on 8x h100 engine-version=0.12.3")
    assert estimate.serving.max_model_len == 4096
    assert any("Ollama 0.12.3's own estimate" in line for line in estimate.assumptions)


def test_a_release_needs_an_engine_that_has_releases():
    with pytest.raises(vram.VramError, match="transformers and ollama read it, not llama.cpp"):
        vram.ask("llama.cpp llama-3-8b engine-version=1.0")


@pytest.mark.parametrize("query", ["ollama==0.6.5 run llama3.1:8b on rtx 3070",
                                   "ollama run llama3.1:8b engine-version=v0.6.5 on rtx 3070"])
def test_an_ollama_release_reads_and_writes_back(query):
    request = vram.parse(query)
    assert (request.engine, request.engine_version) == ("ollama", "0.6.5")
    assert vram.parse(request.to_query()) == request
