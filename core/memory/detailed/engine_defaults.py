"""A pre-allocating engine's default memory fraction and forward-pass tokens, by its release.

vLLM before 0.8.0 ran its V0 engine by default, whose scheduler sizes the profiled pass by the
context (vllm/engine/arg_utils.py EngineArgs._set_default_args_v0, vllm/config.py SchedulerConfig):
the row's legacy_* columns, read by :func:`legacy_defaults`.

SGLang from 0.5.3 derives both from the GPU's memory (python/sglang/srt/server_args.py
ServerArgs._handle_gpu_memory_settings, PR #10975 and #11076): chunked_prefill_size and
cuda_graph_max_bs by the memory nvidia-smi reports, then mem_fraction_static leaves room for the
prefill's activations and the CUDA graphs. Earlier releases, and every other engine, take the row's
fixed default (by tensor-parallel size where the row has one). The numbers are columns of the
engine's row in catalog/data/runtimes.toml; nothing here branches on an engine's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vram.catalog.index import Gpu
from vram.catalog.runtimes import by_release, launcher_context
from vram.request.request import release
from vram.units import GIB, MIB


@dataclass(frozen=True)
class Defaults:
    """The fraction and forward-pass tokens a launch that names neither gets, and why."""

    fraction: float
    batched_tokens: int
    reason: str  #: how the engine arrived at them, for the answer's assumptions


def since_release(row: Mapping[str, Any], column: str, version: str | None) -> bool:
    """Whether ``version`` (None: the newest) runs what the row's ``column`` says began at a release
    (by_gpu_since, cuda_graph_since, wiggle_of_total_since); False where the row has no such column."""
    since = row.get(column)
    return since is not None and (version is None or release(version) >= release(since))


def gpu_defaults(row: Mapping[str, Any], gpu: Gpu, tp: int, pp: int, batched_asked: int | None) -> Defaults:
    """SGLang's _handle_gpu_memory_settings: the GPU's bucket gives chunked_prefill_size and
    cuda_graph_max_bs; the reserve for them gives mem_fraction_static, rounded to 3 places."""
    gpu_mib = gpu.memory_bytes / MIB
    below, chunked, graphs_small_tp, graphs_large_tp = next(b for b in row["by_gpu_buckets"] if gpu_mib < b[0])
    graphs = graphs_small_tp if tp < row["by_gpu_large_tp"] else graphs_large_tp
    batched = batched_asked or chunked
    reserved = (row["reserved_base_mib"] + row["reserved_per_prefill_token_mib"] * max(batched, row["reserved_min_tokens"])
                + row["reserved_per_graph_seq_mib"] * graphs + row["reserved_per_gpu_mib"] * tp * pp)
    if gpu_mib > row["reserved_floor_above_mib"]:
        reserved = max(reserved, row["reserved_floor_mib"])
    fraction = round((gpu_mib - reserved) / gpu_mib, 3)
    reason = (f"on a {gpu_mib:,.0f} MiB GPU: chunked_prefill_size {chunked}, cuda_graph_max_bs {graphs}, "
              f"{reserved:,.0f} MiB reserved for the prefill's activations and the CUDA graphs, "
              f"round(({gpu_mib:,.0f} - {reserved:,.0f}) / {gpu_mib:,.0f}, 3)")
    return Defaults(fraction, batched, reason)


@dataclass(frozen=True)
class Legacy:
    """What an engine's earlier default scheduler profiles: tokens a pass, sequences, and why."""

    batched_tokens: int
    max_num_seqs: int
    sampler_bytes_per_logit: int
    reason: str


def legacy_defaults(row: Mapping[str, Any], version: str | None, max_model_len: int,
                    chunkable: bool) -> Legacy | None:
    """The row's legacy_* defaults when ``version`` is older than its legacy_until, else None.

    Without chunked prefill one pass takes a whole max_model_len prompt (at least legacy_min_tokens);
    a context above legacy_long_context turns chunked prefill on, ``chunkable`` (no sliding window,
    no MLA) allowing, and a pass takes the release's legacy_chunk_tokens."""
    until = row.get("legacy_until")
    if until is None or version is None or release(version) >= release(until):
        return None
    if chunkable and max_model_len > row["legacy_long_context"]:
        tokens = by_release(row["legacy_chunk_tokens"], version)
        reason = (f"chunked prefill, on by default above a {row['legacy_long_context']}-token context: "
                  f"{tokens} tokens a pass")
    else:
        tokens = max(max_model_len, row["legacy_min_tokens"])
        reason = f"no chunked prefill: one pass takes max(max_model_len, {row['legacy_min_tokens']})"
    return Legacy(tokens, row["legacy_max_num_seqs"], row["legacy_sampler_bytes_per_logit"],
                  f"{reason} ({row['legacy_source']})")


def fixed_fraction(row: Mapping[str, Any], tp: int) -> float:
    """The row's default fraction: by tensor-parallel size where it has one (the largest size not above tp)."""
    by_tp = row.get("memory_fraction_by_tp")
    if by_tp is None:
        return row["memory_fraction"]
    return max((size, value) for size, value in by_tp if size <= tp)[1]


def is_large(row: Mapping[str, Any], gpu: Gpu) -> bool:
    """A GPU the row's large defaults apply to (large_gpu_gib and more, none of large_gpu_excluded)."""
    if "large_gpu_gib" not in row:
        return False
    name = f"{gpu.id} {gpu.name}".lower()
    return gpu.memory_bytes >= row["large_gpu_gib"] * GIB and not any(x in name for x in row["large_gpu_excluded"])


@dataclass(frozen=True)
class Launcher:
    """What an engine's launcher sets before the engine starts, where the row has launcher columns (TGI)."""

    batched_tokens: int  #: the default prefill tokens of the warm-up
    max_input_tokens: int | None  #: the longest prompt the launcher sets (None: left to the engine)
    reason: str
    sets_total: bool = True  #: the launcher sets max_total_tokens (before launcher_defaults_until); else the engine


def launcher_defaults(row: Mapping[str, Any], version: str | None, model_context: int,
                      input_asked: int | None = None) -> Launcher | None:
    """The launcher's defaults for ``version`` (None: the newest), or None for a row without them.

    Before launcher_defaults_until the launcher caps the context at launcher_context_cap, sets the prompt
    one token less and the prefill tokens to the prompt plus launcher_prefill_margin; from it the prompt is
    left to the engine and the prefill tokens are min(batched_tokens, the model's context). ``input_asked``:
    the launch's max_input_tokens, which the prefill follows before launcher_defaults_until."""
    until = row.get("launcher_defaults_until")
    if until is None:
        return None
    cap = launcher_context(row, version)  # the launcher's context cap: set before launcher_defaults_until only
    if cap is not None:
        margin = row["launcher_prefill_margin"]
        if input_asked is not None:
            return Launcher(input_asked + margin, input_asked,
                            f"before {until}: max_input_tokens {input_asked} as set, plus {margin}")
        prompt = min(model_context, cap) - 1
        return Launcher(prompt + margin, prompt, f"before {until}: max_input_tokens min(the model's {model_context}, "
                        f"{cap}) - 1 = {prompt}, plus {margin}")
    tokens = min(row["batched_tokens"], model_context)
    return Launcher(tokens, input_asked, f"from {until}: min({row['batched_tokens']}, the model's {model_context})",
                    sets_total=False)

