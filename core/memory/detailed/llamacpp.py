"""llama.cpp and Ollama as their users run them: llama.cpp's buffers, device by device.

llama.cpp allocates on each GPU a model buffer (the layers it was given), a KV buffer (the K and V
rows of those layers' cache cells) and a compute buffer (the ggml scheduler's reserve for the
worst-case graph at ``n_ubatch`` tokens); what is not offloaded stays in host memory (CPU_Mapped),
with the token embedding, which is always read on the CPU. Ollama runs the same buffers with its
own defaults, each as its release had them; before v0.30 it decided the layers it offloads by its own
estimate (llm/memory.go), since then llama.cpp's fit does (the Ollama row's placement_since).

Offload (llama.cpp src/llama-model.cpp, load_tensors): of ``n_layer`` blocks, the last
``min(n_gpu_layers, n_layer)`` go to the GPUs, the output layer too when ``n_gpu_layers > n_layer``
(so ``-ngl 99`` offloads everything), and ``token_embd`` stays on the CPU (``dev_input``). With no
``-ngl`` llama.cpp fits what it can (common/common.h: ``n_gpu_layers = -1`` is auto, ``fit_params``
leaves 1 GiB free a device, first shrinking a context the user did not set down to 4096, then layers).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from vram.catalog.index import Gpu, ModelSpec
from vram.catalog.params import NORM_VECTORS
from vram.errors import UnsupportedError
from vram.formula import Formula
from vram.memory.detailed.activations import FUSED_QKV
from vram.memory.detailed.common import DetailedJob
from vram.memory.detailed.engine_defaults import by_release
from vram.memory.detailed.inference import kv_token_layer
from vram.memory.job import Said
from vram.memory.quant import FILE_TYPES, GGML_TYPES, GGUF_OF_FORMAT, ggml_bytes, tensor_type, tensors
from vram.memory.result import LayerServing, LineItem, formula_item
from vram.request.enums import Dtype, Item
from vram.request.quant import GGUF_TYPES
from vram.units import GIB, MIB

LOAD_TENSORS = ("llama.cpp src/llama-model.cpp load_tensors: blocks il >= n_layer - n_gpu_layers on the GPUs, "
                "the output layer when n_gpu_layers > n_layer, token_embd on the CPU")
KV_SOURCE = ("llama.cpp src/llama-kv-cache.cpp: each layer ggml_row_size(type_k, n_head_kv x head_dim) x cells, the "
             "same for V; cells = n_ctx padded to 256 (src/llama-context.cpp); sliding-window layers keep "
             "pad(min(n_ctx, n_swa x seqs + n_ubatch), 256) cells (src/llama-kv-cache-iswa.cpp)")
GRAPH_SOURCE = ("ollama fs/ggml/ggml.go GraphSize (its fit of llama.cpp's compute buffer by family); the logits "
                "term 4 x n_ubatch x (n_vocab + n_embd) is llama.cpp's CUDA0 compute buffer for llama-3-8b exactly "
                "(258.50 MiB at n_ubatch 512); flash attention (llama-graph.cpp build_attn_mha, "
                "ggml_flash_attn_ext) keeps no n_kv x n_head scores")

#: A weight dtype's ggml type when the query names a dtype, not a GGUF file type: 16- and 32-bit
#: as they are, int8 as Q8_0 and int4 as Q4_K, the base type of Q4_K_M (a file type named, q4_k_m,
#: is sized tensor by tensor by its mix: vram.memory.quant).
GGML_TYPE_OF: dict[Dtype, str] = {Dtype.FP32: "F32", Dtype.FP16: "F16", Dtype.BF16: "BF16", Dtype.INT8: "Q8_0",
                                  Dtype.INT4: "Q4_K"}
#: --cache-type-k/-v (common/arg.cpp kv_cache_types) by the request's KV dtype.
KV_TYPE_OF: dict[str, str] = {"fp32": "F32", "fp16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q4_0": "Q4_0",
                              "q4_1": "Q4_1", "q5_0": "Q5_0", "q5_1": "Q5_1", "iq4_nl": "IQ4_NL"}

#: Compute buffer on a GPU by model family (GraphSize's cases), fully and partially offloaded. u is
#: n_ubatch, n the cache cells, S the heads whose n-long scores are kept (a; 0 with flash attention).
GRAPHS: dict[str, tuple[Formula, Formula]] = {
    "llama": (Formula("max(4*u*(v + h), 4*u*(1 + 4*h + n*(1 + S)))"),
              Formula("4*u*h + max(4*u*(1 + h + max(n, h)) + h*h*9/16 + 4*n*(u*S + d*k), "
                      "4*u*(h + v) + h*v*105/128)")),
    "qwen2": (Formula("max(4*u*(h + v), 4*u*(1 + 2*h + n + n*S))"),
              Formula("max(4*u*(h + v) + h*v*105/128, 4*(u*(1 + 2*h + n*(1 + S)) + h*(1 + n)))")),
    # GraphSize's "deepseek2" case (DeepSeek-V2/V3/R1): k the GGUF's head_count_kv, K its key_length
    # (qk_nope + qk_rope, 192); the n-long scores of the S heads (head_count_kv in GraphSize, which has
    # as many KV heads as query heads in the GGUF)
    "deepseek2": (Formula("max(4*u*(3*h + v), 4*u*(3*h + 2 + n*(1 + S) + 2*K*k))"),
                  Formula("max(4*u*(3*h + v) + h*v*105/128, "
                          "4*u*(2*h + 1 + 2*K*k + n + n*S) + 4*K*n*k + h*K*k*9/16)")),
    # GraphSize's "command-r" case (Command R, R+, A: cohere's GGUF architecture); H the query heads
    "command-r": (Formula("max(4*u*(h + v), 4*u*(2 + 4*h + n*(1 + S)))"),
                  Formula("max(4*u*(h + v) + h*v*105/128, 4*u*(1 + 2*h + n*(1 + S)) + 4*h*n + h*h*9/16)")),
}
# GraphSize's "gemma", "gemma2", "gemma3" case (K the head length, H the query heads; 8 as in the source)
GRAPHS["gemma"] = GRAPHS["gemma2"] = GRAPHS["gemma3"] = (
    Formula("max(4*u*(h + v), 4*u*(2 + n + n*S + 2*h + 2*K*H))"),
    Formula("max(4*h*u + h*v*105/128 + 4*v*u, 4*u*(2*h + 1 + 2*K*H + n + n*S) + 4*K*n*8 + h*K*H*9/16)"))
#: Families whose GGUF architecture GraphSize has no case for (llama.cpp convert_hf_to_gguf.py:
#: qwen3/qwen3moe, phi3, granite, internlm2, olmo2, glm4moe, gemma4): Ollama's estimate then takes
#: the graph from the KV, GQA x kv / 6 (llm/memory.go, to f560bd07: "if graphPartialOffload == 0"),
#: full = partial. llama.cpp's own compute buffer for them is still sized by llama's case.
NO_GRAPH_CASE = frozenset({"qwen3", "phi3", "granite", "internlm2", "olmo2", "glm4_moe", "gemma4"})
#: gpt-oss (GraphSize's "gptoss" case): no full graph (so full = partial in memory.go); the partial
#: one 2 x H / k x kv / 6 of the default (full-context) KV, or with flash attention, Ollama's default
#: for gpt-oss since 85ccf7354, "a rough estimate": (4 x num_parallel + context / 1024 + 110) MiB.
GPT_OSS_GRAPH = (Formula("2*H/k*kv/6"), Formula("(4*q + n//1024 + 110)*1048576"))
#: GraphSize's own KV for gpt-oss: the banded (even) layers keep num_parallel x 4096 + batch cells,
#: the dense ones the whole context; for gemma3 five of six layers ((i + 1) % 6 != 0) keep
#: num_parallel x sliding_window + batch.
OLLAMA_WINDOW_CELLS: dict[str, tuple[Formula, int]] = {
    "gpt-oss": (Formula("q*4096 + u"), 2), "gemma3": (Formula("q*w + u"), 6)}
#: The host's buffers (llama.cpp src/llama-graph.cpp inputs: token embeddings by get_rows on the
#: CPU, the KQ mask, token, position and output ids; src/llama-context.cpp output_reserve:
#: n_vocab floats a sequence).
HOST_COMPUTE = Formula("4*u*h + m*u*n + 3*4*u")
OUTPUT_BUFFER = Formula("4*v*q")
#: KV cells are padded to 256 (src/llama-context.cpp), and so are the --fit's context steps.
CELL_PAD = 256



def offloadable_layers(num_layers: int) -> int:
    """The most n_gpu_layers can place: every repeating block and the output layer, which llama.cpp
    counts as one more (src/llama-model.cpp load_tensors: the output goes to the GPU when
    n_gpu_layers > n_layer)."""
    return num_layers + 1

@dataclass(frozen=True)
class Buffers:
    """llama.cpp's buffers for one placement: the most-loaded GPU's and the host's."""

    offloaded: int  #: blocks on the GPUs
    output_on_gpu: bool
    items: tuple[LineItem, ...]  #: the most-loaded GPU's model, KV and compute buffers
    host_bytes: int  #: CPU_Mapped weights, host KV, host compute and output buffers
    cells: int  #: KV cells of a full-attention layer (all sequences)
    seqs: int

    @property
    def gpu_bytes(self) -> int:
        return sum(item.bytes for item in self.items)


@dataclass(frozen=True)
class Setup:
    """What a llama.cpp/Ollama launch is sized by."""

    n_ctx: int  #: the whole cache, all sequences (cells before padding)
    seqs: int
    unified: bool
    ubatch: int
    type_k: str
    type_v: str
    weight_type: str  #: a GGUF file type (q4_k_m: llama.cpp's mix per tensor) or one ggml type (F16)
    flash: bool
    cpu_moe: int = 0  #: --n-cpu-moe: the first blocks whose experts stay in host memory


def buffers(job: DetailedJob, setup: Setup, layers: int) -> Buffers:
    """The buffers with ``layers`` of the ``llama.cpp`` order offloaded (n_gpu_layers; beyond the
    blocks, the output layer too), the most-loaded of ``job.gpu_count`` GPUs answered."""
    spec, gpus = job.spec, max(job.gpu_count, 1)
    blocks = min(layers, spec.num_layers)
    output_on_gpu = layers > spec.num_layers
    held = math.ceil(blocks / gpus)
    layers_bytes, embd, output = layout(spec, setup.weight_type)
    # --n-cpu-moe: an offloaded block among the first cpu_moe leaves its experts in host memory
    moved = [e if i < setup.cpu_moe else 0 for i, e in enumerate(expert_bytes(spec, setup.weight_type))]
    on_gpu = [b - m for b, m in zip(layers_bytes, moved)][spec.num_layers - blocks:]  # the last blocks are offloaded
    # the most-loaded GPU: the heaviest run of ``held`` consecutive offloaded blocks
    held_bytes = max((sum(on_gpu[i:i + held]) for i in range(0, max(len(on_gpu) - held, 0) + 1)), default=0)
    cells, swa_cells = _cells(job, setup)
    windowed = spec.windowed_layers if spec.sliding_window is not None else 0
    kv_row = _kv_row(spec, setup)
    kv_layers = [swa_cells if i < windowed else cells for i in range(spec.num_layers)]
    kv_held = round(kv_row * sum(sorted(kv_layers, reverse=True)[:held]))  # the GPU with the most full layers
    u = min(setup.ubatch, cells)
    values = _graph_values(spec, u, cells, 0 if setup.flash else spec.num_heads)
    full, partial = GRAPHS.get(gguf_arch(spec), GRAPHS["llama"])
    graph = full if output_on_gpu and gpus == 1 else partial
    items = (
        LineItem(Item.WEIGHTS, f"Model buffer ({held} of {spec.num_layers} layers{' + output' if output_on_gpu else ''}, "
                 f"{setup.weight_type.upper()}{_cpu_moe_note(setup, moved)})", held_bytes + output_on_gpu * output,
                 "held_layers_bytes + output_bytes", {"held": held, "held_layers_bytes": held_bytes,
                                                       "output_bytes": output * output_on_gpu},
                 f"{LOAD_TENSORS}; {MIX_SOURCE}"),
        LineItem(Item.KV_CACHE, f"KV buffer ({held} layers, K {setup.type_k.lower()}, "
                 f"{'no V: MLA' if spec.kv_lora_rank is not None else 'V ' + setup.type_v.lower()})",
                 kv_held, "kv_row x cells, each layer held", {"kv_row": kv_row, "cells": cells, "swa_cells": swa_cells,
                                                               "held": held},
                 MLA_KV_SOURCE if spec.kv_lora_rank is not None else KV_SOURCE),
        formula_item(Item.ACTIVATIONS, f"Compute buffer (n_ubatch {u}, {'full' if graph is full else 'partial'} "
                     "offload)", graph, values, GRAPH_SOURCE),
    )
    if blocks == 0 and not output_on_gpu:
        items = items[2:]  # nothing offloaded: no GPU buffers but the scheduler's (llama.cpp still reserves it)
    host_weights = (embd + sum(layers_bytes[: spec.num_layers - blocks]) + sum(moved[spec.num_layers - blocks:])
                    + (not output_on_gpu) * output)
    host_kv = round(kv_row * sum(sorted(kv_layers)[: spec.num_layers - blocks]))
    host_values = {"u": u, "n": cells, "h": spec.hidden_size, "m": 2 if setup.flash else 4}
    host_compute = HOST_COMPUTE.bytes(host_values) + (full.bytes(values) if blocks < spec.num_layers else 0)
    host = host_weights + host_kv + host_compute + OUTPUT_BUFFER.bytes({"v": spec.vocab_size, "q": setup.seqs})
    return Buffers(blocks, output_on_gpu, items, host, cells, setup.seqs)


def _kv_row(spec: ModelSpec, setup: Setup) -> float:
    """Bytes of one KV cell of one layer: K and V rows of every KV head, each in its own cache type
    (a value's bytes the mean of the two); for MLA one K row of the latent and the rope key, and no V
    (MLA_KV_SOURCE)."""
    if spec.kv_lora_rank is not None:
        row = kv_token_layer(spec, spec.num_kv_heads, ggml_bytes(setup.type_k.lower()))
    else:
        both = ggml_bytes(setup.type_k.lower()) + ggml_bytes(setup.type_v.lower())
        row = kv_token_layer(spec, spec.num_kv_heads, both / 2)
    return row.expression.value(row.values)  # unrounded: cells x row is rounded once


#: llama.cpp src/llama-kv-cache.cpp (read at 001d906a), llama_kv_cache's constructor: ``has_v =
#: !is_mla``; an MLA model (DeepSeek-V2/V3/R1) caches K of n_embd_k_gqa = kv_lora_rank + n_rot (576)
#: a cell and attends to V as the latent part of K. Releases before MLA was cached (2025's early
#: ones, the Ollama runner of deepseek-r1:671b then) kept K and V of every head: 128 x (192 + 128).
MLA_KV_SOURCE = "llama.cpp src/llama-kv-cache.cpp (001d906a): has_v = !is_mla, K of kv_lora_rank + n_rot a cell"


def _graph_values(spec: ModelSpec, ubatch: int, cells: int, scored_heads: int) -> dict[str, float]:
    """The symbols of GRAPHS: ``scored_heads`` is S, the heads whose n-long scores are kept; K the
    GGUF's key_length (an MLA model's qk_nope + qk_rope, else head_dim)."""
    values = {"u": ubatch, "n": cells, "h": spec.hidden_size, "v": spec.vocab_size, "S": scored_heads,
              "d": spec.head_dim, "k": spec.num_kv_heads}
    arch = gguf_arch(spec)
    keyed = {"K": _key_length(spec)} if arch in KEYED_GRAPHS else {}
    return {**values, **keyed, "H": spec.num_heads} if arch in HEADED_GRAPHS else {**values, **keyed}


#: GRAPHS' architectures whose formulas name K, the key head length, and H, the query heads.
KEYED_GRAPHS = frozenset({"deepseek2", "gemma", "gemma2", "gemma3"})
HEADED_GRAPHS = frozenset({"gemma", "gemma2", "gemma3"})
#: The architecture a GGUF of a catalog family declares where GraphSize calls it by another name
#: (llama.cpp convert_hf_to_gguf.py: Cohere's models write "command-r"; DeepseekV2Model/V3Model and
#: Kimi-K2, with MLA, write "deepseek2", while the deepseek-coder models, llama-shaped, stay "llama"'s).
GGUF_ARCH: dict[str, str] = {"cohere": "command-r"}
MLA_ARCH: dict[str, str] = {"deepseek": "deepseek2"}


def gguf_arch(spec: ModelSpec) -> str:
    """The architecture GraphSize switches on: a GRAPHS key, else the family (which takes llama's)."""
    if spec.kv_lora_rank is not None:
        return MLA_ARCH.get(spec.family, spec.family)
    return GGUF_ARCH.get(spec.family, spec.family)


def _key_length(spec: ModelSpec) -> int:
    if spec.kv_lora_rank is None:
        return spec.head_dim
    return spec.qk_nope_head_dim + spec.qk_rope_head_dim


def ollama_kv_row(spec: ModelSpec, setup: Setup) -> float:
    """Bytes of one KV cell of one layer as Ollama estimates it (fs/ggml/ggml.go GraphSize: context x
    (key_length + value_length) x head_count_kv x the cache type's bytes). For MLA this is the
    GGUF's metadata, not llama.cpp's latent cache: Ollama's converter (convert/convert_deepseek2.go)
    writes head_count_kv = the query heads (128), key_length = qk_nope + qk_rope (192), value_length
    = v_head_dim (128), so Ollama counts K and V of every head: 128 x (192 + 128) a cell."""
    if spec.kv_lora_rank is None:
        return _kv_row(spec, setup)
    both = ggml_bytes(setup.type_k.lower()) + ggml_bytes(setup.type_v.lower())
    return spec.num_kv_heads * (_key_length(spec) + spec.v_head_dim) * both / 2


def _cpu_moe_note(setup: Setup, moved: list[int]) -> str:
    return f"; the experts of blocks 0-{setup.cpu_moe - 1} in host memory (--n-cpu-moe)" if any(moved) else ""


@functools.lru_cache(maxsize=256)
def expert_bytes(spec: ModelSpec, weight_type: str) -> tuple[int, ...]:
    """Bytes of each block's routed experts (the 3-D ffn_*_exps tensors), as a GGUF of ``weight_type``
    stores them: what --n-cpu-moe keeps in host memory (common/arg.cpp -ncmoe: a CPU buffer override
    a block, llm_ffn_exps_block_regex(i), "blk.i.ffn_(up|down|gate|gate_up)_(ch|)exps", common/common.h)."""
    found, _ = tensors(spec, spec.family in FUSED_QKV)
    blocks = [0] * spec.num_layers
    for tensor in (t for t in found if t.experts > 1):
        name = tensor_type(tensor, weight_type, spec) if weight_type in FILE_TYPES else weight_type.lower()
        block, size = GGML_TYPES[name]
        blocks[tensor.layer] += tensor.rows * (tensor.row // block) * size
    return tuple(blocks)


MIX_SOURCE = ("a GGUF file type's ggml type a tensor: vram.memory.quant (llama.cpp src/llama-quant.cpp); "
              "norms and biases f32")


@functools.lru_cache(maxsize=256)
def layout(spec: ModelSpec, weight_type: str) -> tuple[tuple[int, ...], int, int]:
    """Bytes of each block (its norms and biases in f32), of token_embd, and of the output layer with
    its norm, as a GGUF of ``weight_type`` stores them."""
    found, flat = tensors(spec, spec.family in FUSED_QKV)
    final_norm = NORM_VECTORS[spec.norm] * spec.hidden_size
    per_layer_flat = 4 * (flat - final_norm) // spec.num_layers
    blocks = [per_layer_flat] * spec.num_layers
    embd = output = 0
    for tensor in found:
        name = tensor_type(tensor, weight_type, spec) if weight_type in FILE_TYPES else weight_type.lower()
        block, size = GGML_TYPES[name]
        stored = tensor.rows * (tensor.row // block) * size
        if tensor.layer >= 0:
            blocks[tensor.layer] += stored
        elif tensor.category == "token_embd":
            embd += stored
        else:
            output += stored
    # a tied model stores token_embd once (typed as the output); llama.cpp reads it on the CPU and
    # duplicates it onto the output layer's device (TENSOR_DUPLICATED)
    embd = embd or output
    return tuple(blocks), embd, output + 4 * final_norm


def _cells(job: DetailedJob, setup: Setup) -> tuple[int, int]:
    """KV cells of a full-attention layer and of a sliding-window one, all sequences together."""
    if setup.unified:
        cells = _pad(setup.n_ctx, CELL_PAD)
        per_seq = cells
        swa_seqs = setup.seqs
    else:  # n_ctx padded, then n_ctx_seq = pad(n_ctx / seqs, 256) a sequence, its own stream (llama-context.cpp)
        per_seq = _pad(_pad(setup.n_ctx, CELL_PAD) // setup.seqs, CELL_PAD)
        if per_seq == 0:
            raise UnsupportedError(f"llama.cpp refuses {setup.seqs} sequences in a {setup.n_ctx}-token context "
                                   f"(n_ctx_seq == 0): give each sequence room, -c at least {CELL_PAD} x -np",
                                   field="parallel")
        cells = per_seq * setup.seqs
        swa_seqs = 1
    window = job.spec.sliding_window
    if window is None:
        return cells, cells
    swa = _pad(min(per_seq, window * swa_seqs + setup.ubatch), CELL_PAD)
    return cells, swa * (1 if setup.unified else setup.seqs)


def _pad(value: int, to: int) -> int:
    return -(-value // to) * to


# -- the launch: settings, defaults and the layers that fit -------------------------------------------


def setup_of(job: DetailedJob, said: Said, gpu: Gpu | None) -> Setup:
    """The launch's settings, each default said, from the request and the engine's row."""
    request, row = job.request, job.runtime.settings
    seqs = said.default("parallel", request.parallel, row["n_parallel"], row["n_parallel_said"])
    unified = row["unified_by_default"] and request.parallel is None
    if request.seq_len is not None:
        per = request.seq_len + (request.new_tokens or 0)
        if request.new_tokens:
            said.say(f"n_ctx {per}: the prompt's {request.seq_len} and the {request.new_tokens} generated tokens "
                     "a sequence")
    elif "n_ctx_since" in row:
        per = _ollama_ctx(job, gpu, said)
    else:  # the llama.cpp row's n_ctx = "model"
        per = job.spec.max_seq_len
        said.say(f"n_ctx {per} (default: {job.spec.id}'s trained context, llama.cpp's -c 0; say -c to change)")
    n_ctx = per * seqs if row["ctx_times_parallel"] else per
    if row["ctx_times_parallel"] and seqs > 1:
        said.say(f"the KV cache holds num_ctx x num_parallel = {n_ctx} tokens (Ollama docs/faq.md)")
    ubatch = said.default("n_ubatch", request.ubatch, row["n_ubatch"], "tokens a graph runs at once")
    both = request.kv_dtype.value if request.kv_dtype is not None else "fp16"
    type_k, type_v = (_cache_type(getattr(request, name), both, name) for name in ("cache_type_k", "cache_type_v"))
    flash = job.fused_attention  # said by detailed_job, with llama.cpp's reason
    if not flash and type_v not in ("F32", "F16", "BF16"):
        raise UnsupportedError("llama.cpp quantises the V cache only with flash attention: say -fa, or a 16-bit "
                               "cache", field="kv_dtype")
    weight_type = _weight_type(job, said)
    cpu_moe = min(request.cpu_moe_layers or 0, job.spec.num_layers)
    if cpu_moe and not row["takes_cpu_moe"]:
        raise UnsupportedError(f"--n-cpu-moe is llama.cpp's flag; {job.runtime.name} places whole layers (num_gpu)",
                               field="cpu_moe_layers")
    if cpu_moe and job.spec.num_experts is None:
        said.say(f"--n-cpu-moe {request.cpu_moe_layers} moves nothing: {job.spec.id} has no MoE experts")
    return Setup(n_ctx, seqs, unified, ubatch, type_k, type_v, weight_type, flash, cpu_moe)


def ollama_release(job: DetailedJob) -> str:
    """The release the answer follows, for its assumptions: the one named, else the newest."""
    version = job.request.engine_version
    newest = job.runtime.settings["placement_since"][-1][0]
    return f"Ollama {version}" if version else f"Ollama {newest} and later (the newest; engine-version= to change)"


def _ollama_ctx(job: DetailedJob, gpu: Gpu | None, said: Said) -> int:
    """Ollama's default num_ctx for the release (the row's n_ctx_since): a fixed number, or from
    v0.15.5 by the GPUs' memory in all (server/routes.go), never beyond the model's trained context."""
    row, trained = job.runtime.settings, job.spec.max_seq_len
    rule = by_release(row["n_ctx_since"], job.request.engine_version)
    release = ollama_release(job)
    if rule != "by_vram":
        said.say(f"num_ctx {rule} (default: {release}'s OLLAMA_CONTEXT_LENGTH default, envconfig/config.go; "
                 "num_ctx to change)")
        return rule
    total_gib = 0 if gpu is None else gpu.memory_bytes * max(job.gpu_count, 1) / GIB
    tier = next(ctx for least, ctx in row["n_ctx_by_vram_gib"] if total_gib >= least)
    per = min(tier, trained)
    why = f"for {total_gib:.0f} GiB of GPU memory in all" if gpu is not None else "with no GPU named"
    capped = f", capped at {job.spec.id}'s trained context" if tier > trained else ""
    said.say(f"num_ctx {per} (default: {release}'s VRAM tier {why}{capped}, server/routes.go; "
             "OLLAMA_CONTEXT_LENGTH or num_ctx to change)")
    return per


def _cache_type(given: object, both: str, field: str) -> str:
    """The ggml type of one cache (K or V): its own -ctk/-ctv, else the KV dtype for both, else f16."""
    name = given.value if given is not None else both
    if name not in KV_TYPE_OF:
        raise UnsupportedError(f"llama.cpp does not store a KV cache in {name}; its cache types are "
                               f"{', '.join(sorted(KV_TYPE_OF))}", field=field if given is not None else "kv_dtype")
    return KV_TYPE_OF[name]


def _weight_type(job: DetailedJob, said: Said) -> str:
    """The GGUF file type the model is served in: the one named, Ollama's default tag's, or a ggml type
    for a dtype."""
    quant, row = job.quant, job.runtime.settings
    # an Ollama tag is its own GGUF: a checkpoint's GPU format (DeepSeek-R1's fp8 blocks) does not
    # carry over, only one the query names
    tag_of_format = row.get("tag_of_format", {})
    if job.request.quant is None and job.request.dtype is None and quant in tag_of_format:
        said.say(f"{tag_of_format[quant]} weights (default: Ollama's tag of a {quant} checkpoint keeps its {quant} "
                 "experts and the rest bf16, convert/convert_gptoss.go)")
        return tag_of_format[quant]
    if job.request.quant is None and job.request.dtype is None and row.get("default_quant"):
        said.say(f"{row['default_quant']} weights (default: Ollama's default tags, e.g. llama3.1:8b and "
                 "deepseek-r1:671b, are Q4_K_M; name a tag's quant or q8_0/fp16 to change)")
        return row["default_quant"]
    if quant in GGUF_TYPES:
        return quant
    if quant in GGUF_OF_FORMAT:
        said.say(f"a {quant} checkpoint as llama.cpp's GGUF {GGUF_OF_FORMAT[quant].upper()} (experts {quant}, the "
                 "other matrices q8_0: llama-quant.cpp)")
        return GGUF_OF_FORMAT[quant]
    if quant is not None:
        raise UnsupportedError(f"llama.cpp serves GGUF files; {quant} is a GPU checkpoint format: name a GGUF type "
                               "(q4_k_m, q8_0, f16)", field="quant")
    if job.dtype not in GGML_TYPE_OF:
        raise UnsupportedError(f"llama.cpp stores weights as GGUF types, not {job.dtype}: say q4_k_m, q8_0, fp16 "
                               "or bf16", field="dtype")
    return GGML_TYPE_OF[job.dtype]


def serving(job: DetailedJob, setup: Setup, placed: Buffers) -> LayerServing:
    kv = next((i.bytes for i in placed.items if i.key is Item.KV_CACHE), 0)
    # a unified cache lets one sequence take every cell (n_ctx_seq = n_ctx); split, each its share
    per_seq = placed.cells if setup.unified else placed.cells // placed.seqs
    return LayerServing(engine=job.runtime.id, engine_name=job.runtime.name, kv_cache_bytes=kv, kv_cache_tokens=placed.cells,
                   max_concurrency=placed.cells / per_seq, max_model_len=per_seq,
                   gpu_layers=placed.offloaded + placed.output_on_gpu, total_layers=offloadable_layers(job.spec.num_layers),
                   host_bytes=placed.host_bytes)


def placement(job: DetailedJob) -> str:
    """Who places the layers at the request's release: "fit" (llama.cpp's fit) or "estimate"
    (Ollama's own, llm/memory.go), the row's placement_since; llama.cpp's own row fits."""
    table = job.runtime.settings.get("placement_since")
    return "fit" if table is None else by_release(table, job.request.engine_version)


def reserve_bytes(job: DetailedJob, gpu: Gpu) -> int:
    """What the engine keeps free on each GPU when it places layers itself: Ollama's estimate its
    MinimumMemory, llama.cpp's fit its target margin."""
    row = job.runtime.settings
    if placement(job) == "estimate":
        return (row["metal_reserve_mib"] if gpu.vendor == "apple" else row["gpu_reserve_mib"]) * MIB
    return row["fit_margin_mib"] * MIB


def fitted_layers(job: DetailedJob, setup: Setup, capacity: int) -> int:
    """The most layers (blocks, then the output: n_gpu_layers) whose GPU buffers fit ``capacity``."""
    total = offloadable_layers(job.spec.num_layers)
    return _most(0, total, lambda n: buffers(job, setup, n).gpu_bytes <= capacity)


def _most(low: int, high: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [low, high] that ``fits`` (monotone: fewer layers or cells never need
    more), else low."""
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def ollama_kv_layers(job: DetailedJob, setup: Setup) -> tuple[int, ...]:
    """Each layer's cache as Ollama's estimate counts it (GraphSize): every layer's cells at
    ollama_kv_row, but for the windowed layers of OLLAMA_WINDOW_CELLS' families."""
    spec = job.spec
    cells, _ = _cells(job, setup)
    layer = round(cells * ollama_kv_row(spec, setup))
    if spec.family not in OLLAMA_WINDOW_CELLS:
        return (layer,) * spec.num_layers
    window, period = OLLAMA_WINDOW_CELLS[spec.family]
    short = round(window.value({"q": setup.seqs, "w": spec.sliding_window or 0, "u": setup.ubatch})
                  * ollama_kv_row(spec, setup))
    # gpt-oss: the even layers are banded (i % 2 == 0); gemma3: all but every sixth ((i + 1) % 6 != 0)
    banded = (lambda i: i % 2 == 0) if period == 2 else (lambda i: (i + 1) % period != 0)
    return tuple(short if banded(i) else layer for i in range(spec.num_layers))


def ollama_graphs(job: DetailedJob, setup: Setup, gpus: int) -> tuple[int, int]:
    """Ollama's full and partial graphs (fs/ggml/ggml.go GraphSize, llm/memory.go): the family's case
    with every head's scores kept, else GPT_OSS_GRAPH or, for NO_GRAPH_CASE, the KV's share; on
    several GPUs the full graph is the partial one ("multigpu should always use the partial graph size")."""
    spec = job.spec
    cells, _ = _cells(job, setup)
    values = _graph_values(spec, min(setup.ubatch, cells), cells, spec.num_heads)
    default_kv = round(cells * ollama_kv_row(spec, setup)) * spec.num_layers  # before a case's own KV
    if spec.family == "gpt-oss":
        eager, flash = GPT_OSS_GRAPH
        graph = flash if setup.flash else eager
        full = partial = graph.bytes({**values, "H": spec.num_heads, "kv": default_kv, "q": setup.seqs})
    elif spec.family in NO_GRAPH_CASE:
        full = partial = spec.num_heads // spec.num_kv_heads * default_kv // 6
    else:
        full_graph, partial_graph = GRAPHS.get(gguf_arch(spec), GRAPHS["llama"])
        full, partial = full_graph.bytes(values), partial_graph.bytes(values)
    return (partial if gpus > 1 else full), partial


def ollama_layers(job: DetailedJob, setup: Setup, available: int, reserve: int, gpus: int = 1,
                  first_block_first: bool = False) -> tuple[int, tuple[int, ...]]:
    """Ollama's own placement over ``gpus`` alike GPUs of ``available`` bytes free (llm/memory.go
    estimateGPULayers, to f560bd07): each GPU keeps its reserve and one block as a buffer; blocks, each
    with its KV, go from the last down, block i to the (i mod n)-th GPU that still has room for the
    larger graph and the block (a GPU without room leaves the rotation); then the output layer. The
    graph (ollama_graphs) keeps every head's scores whether or not flash attention is on:
    fs/ggml/ggml.go GraphSize lets flash attention change only gpt-oss's, as Ollama's Llama-3 70B log
    with flash attention on shows (tests/test_llamacpp.py). The layers it
    offloads, and how many each GPU holds. ``first_block_first``: the order of releases before v0.7.0
    (0478d440f, 2025-05-13, turned the walk to start from the last block), blocks from the first up,
    which stops at the first block that does not fit (a DeepSeek's small dense blocks 0-2 go first)."""
    spec = job.spec
    blocks, _, output = layout(spec, setup.weight_type)
    kv = ollama_kv_layers(job, setup)
    graph = max(ollama_graphs(job, setup, gpus))
    used = [reserve + blocks[0] + kv[0]] * gpus  # "add one layer worth of memory as a buffer"
    split = [0] * gpus
    rotation = list(range(gpus))
    for i in range(spec.num_layers) if first_block_first else reversed(range(spec.num_layers)):
        size = blocks[i] + kv[i]
        for j in range(len(rotation), 0, -1):
            g = rotation[i % j]
            if available > used[g] + graph + size:
                used[g] += size
                split[g] += 1
                break
            rotation.pop(i % j)
    placed = sum(split)
    for j in range(len(rotation), 0, -1):  # the output layer, where there is room
        g = rotation[placed % j]
        if available > used[g] + graph + output:
            split[g] += 1
            placed += 1
            break
    return placed, tuple(split)


def estimate_llamacpp(job: DetailedJob, said: Said, gpu: Gpu | None, capacity: int | None) -> tuple[Buffers, Setup]:
    """The buffers of the launch: layers as asked (-ngl), else as the engine fits them on ``gpu``
    (``capacity``: its memory less what the driver and runtime take first)."""
    request, spec = job.request, job.spec
    setup = setup_of(job, said, gpu)
    total = offloadable_layers(spec.num_layers)
    if request.gpu_layers is not None:
        layers = request.gpu_layers
    elif gpu is None or capacity is None:
        layers = total
        said.say(f"n_gpu_layers {total} (all: no GPU named to fit them on)")
    elif placement(job) == "estimate":
        row = job.runtime.settings
        first = by_release(row["estimate_walk_since"], request.engine_version) == "first_block_first"
        layers, _ = ollama_layers(job, setup, capacity, reserve_bytes(job, gpu), max(job.gpu_count, 1), first)
        said.say(f"num_gpu {layers} of {total} layers: {ollama_release(job)}'s own estimate places them "
                 f"(llm/memory.go, GraphSize), {reserve_bytes(job, gpu) // MIB} MiB kept free on the GPU")
    else:
        if "placement_since" in job.runtime.settings:
            said.say(f"{ollama_release(job)} runs llama-server with -c and -np and no -ngl: llama.cpp's fit "
                     "places the layers (llm/llama_server.go)")
        setup, layers = _llama_fit(job, setup, capacity - reserve_bytes(job, gpu), said)
    placed = buffers(job, setup, layers)
    if placed.offloaded + placed.output_on_gpu < total:
        said.say(f"partial offload: {placed.offloaded + placed.output_on_gpu} of {total} layers on the GPU, the "
                 "rest in host memory and run by the CPU: it runs, more slowly")
    return placed, setup


def _llama_fit(job: DetailedJob, setup: Setup, room: int, said: Said) -> tuple[Setup, int]:
    """llama.cpp's --fit (common/common.h fit_params, on by default): everything when it fits; else a
    context the user did not set shrinks towards fit_params_min_ctx 4096; then fewer layers."""
    total = offloadable_layers(job.spec.num_layers)
    kept = f"{job.runtime.settings['fit_margin_mib'] / 1024:g} GiB kept free"  # the row's fit_params_target
    if buffers(job, setup, total).gpu_bytes <= room:
        said.say(f"n_gpu_layers {total} (all: llama.cpp's fit, {kept})")
        return setup, total
    # a runner that passes -c itself (the row's fit_keeps_ctx: Ollama) sets the context: the fit keeps it
    keeps = job.runtime.settings.get("fit_keeps_ctx", False)
    if job.request.seq_len is None and not keeps and setup.n_ctx > MIN_FIT_CTX:
        def fits(steps: int) -> bool:
            return buffers(job, dataclasses.replace(setup, n_ctx=steps * CELL_PAD), total).gpu_bytes <= room
        steps = _most(MIN_FIT_CTX // CELL_PAD, setup.n_ctx // CELL_PAD, fits)
        setup = dataclasses.replace(setup, n_ctx=steps * CELL_PAD)
        said.say(f"n_ctx reduced to {setup.n_ctx} by llama.cpp's fit (it shrinks a context not given, "
                 f"to {MIN_FIT_CTX} at least)")
        if buffers(job, setup, total).gpu_bytes <= room:
            return setup, total
    layers = fitted_layers(job, setup, room)
    said.say(f"n_gpu_layers {layers} of {total}: llama.cpp's fit, {kept}")
    return setup, layers


#: common/common.h fit_params_min_ctx: the fit shrinks a context no further.
MIN_FIT_CTX = 4096


__all__ = ["Buffers", "Setup", "buffers", "estimate_llamacpp", "fitted_layers", "ollama_graphs",
           "ollama_kv_layers", "ollama_kv_row", "ollama_layers", "ollama_release", "placement", "reserve_bytes",
           "serving", "setup_of"]
