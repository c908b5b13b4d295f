"""The model and GPU catalogs: data files under core/data, loaded once into frozen records.

The files document their own fields in their headers; this module only reads, checks and indexes
them, and answers look-ups by any spelling people type ("Llama 2 7B", "A100 80GB", "4090").
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

from vram import cache
from vram.catalog.facts import REQUIRED_FACTS
from vram.request.quant import QUANT_DTYPES
from vram.units import GB, GIB, MIB

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")  # os.path: pathlib costs a cold start 5 ms



#: Which layers attend within a sliding window: every one, every other one (Gemma 2, gpt-oss), or
#: N local layers to each global one ("5:1" for Gemma 3, "3:1" for Cohere2/Command A).
WINDOW_LAYERS = re.compile(r"all|alternate|[1-9][0-9]?:1")
#: Linear-attention layouts: N linear layers to each full-attention one (Qwen3-Next: "3:1").
LINEAR_LAYERS = re.compile(r"[1-9][0-9]?:1")
#: The Gated DeltaNet facts a linear-attention model must give (config.json's linear_* keys).
LINEAR_ATTENTION_FIELDS = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim",
                           "linear_value_head_dim", "linear_conv_kernel")
#: Vendors the runtime knows (memory/runtime.py deducts a CUDA or ROCm context for nvidia and amd).
GPU_VENDORS = frozenset({"nvidia", "amd", "google", "apple", "huawei"})


@dataclass(frozen=True)
class ModelSpec:
    """One model's architecture facts, as its config.json gives them.

    The int fields are catalog/facts.py's FACTS (their config.json keys and ranges; a test holds
    the two to the same names): required ones are positive integers, optional ones None when the
    model has none."""

    id: str  #: catalog id ("llama-2-7b")
    name: str  #: display name
    family: str
    nominal_params: float  #: the size in the name (the article method's parameter count)
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    mlp: str  #: "plain" or "gated"
    norm: str  #: "layernorm" or "rmsnorm"
    vocab_size: int
    max_seq_len: int
    tie_embeddings: bool
    position: str  #: "rope", "learned" or "alibi"
    qkv_bias: bool
    linear_bias: bool
    source: str
    aliases: tuple[str, ...] = ()
    published_params: int | None = None
    num_experts: int | None = None
    experts_per_token: int | None = None
    moe_intermediate_size: int | None = None
    num_shared_experts: int | None = None
    first_dense_layers: int | None = None
    kv_lora_rank: int | None = None
    q_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    qk_nope_head_dim: int | None = None
    v_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_window_layers: str | None = None
    #: the full-attention layers' own head width and KV heads when they differ from the sliding
    #: layers' (Gemma 4: global_head_dim 512, num_global_key_value_heads 4); None: the same
    global_head_dim: int | None = None
    global_kv_heads: int | None = None
    global_k_eq_v: bool = False  #: full-attention layers have no v_proj: V is K (attention_k_eq_v)
    #: "N:1": N linear-attention (Gated DeltaNet) layers to each full-attention one, as Qwen3-Next's
    #: full_attention_interval 4 ("3:1") lays them out; None: every layer attends fully
    linear_attention_layers: str | None = None
    linear_num_key_heads: int | None = None  #: Gated DeltaNet query/key heads (linear_num_key_heads)
    linear_num_value_heads: int | None = None  #: Gated DeltaNet value heads, one recurrent state each
    linear_key_head_dim: int | None = None
    linear_value_head_dim: int | None = None
    linear_conv_kernel: int | None = None  #: the short causal convolution's width (linear_conv_kernel_dim)
    attention_output_gate: bool = False  #: q_proj also gives a per-head sigmoid gate (attn_output_gate)
    size_reference: bool = False  #: typical of its size, for queries that give a bare size
    dropout: bool = False  #: config.json sets attention/residual dropout above 0
    native_dtype: str | None = None  #: the released checkpoint's weight dtype when not 16-bit (fp8)
    native_quant: str | None = None  #: the released checkpoint's weight format (vram.request.quant: mxfp4)
    notes: str | None = None

    def __post_init__(self) -> None:
        for name in REQUIRED_FACTS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"model {self.id}: {name} must be a positive integer, not {value!r}")
        if self.nominal_params <= 0:
            raise ValueError(f"model {self.id}: nominal_params must be positive")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"model {self.id}: num_kv_heads must divide num_heads")
        if self.num_experts is not None and self.experts_per_token is None:
            raise ValueError(f"model {self.id}: experts_per_token must be given with num_experts")
        _check_choice(self.id, "mlp", self.mlp, {"plain", "gated"})
        _check_choice(self.id, "norm", self.norm, {"layernorm", "rmsnorm"})
        _check_choice(self.id, "position", self.position, {"rope", "learned", "alibi"})
        if self.native_quant is not None:
            _check_choice(self.id, "native_quant", self.native_quant, set(QUANT_DTYPES))
        if self.sliding_window_layers is not None and not WINDOW_LAYERS.fullmatch(self.sliding_window_layers):
            raise ValueError(f"model {self.id}: sliding_window_layers must be 'all', 'alternate' or 'N:1' "
                             f"(N local layers to each global one), not {self.sliding_window_layers!r}")
        self._check_linear_attention()
        self._check_global_layers()

    def _check_global_layers(self) -> None:
        if not self.has_global_layers:
            return
        if self.sliding_window is None or self.sliding_window_layers in (None, "all"):
            raise ValueError(f"model {self.id}: global_head_dim, global_kv_heads and global_k_eq_v describe the "
                             "full-attention layers beside sliding-window ones: give sliding_window_layers")
        for name in ("global_head_dim", "global_kv_heads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"model {self.id}: {name} must be a positive integer, not {value!r}")
        if self.num_heads % self.full_kv_heads:
            raise ValueError(f"model {self.id}: global_kv_heads must divide num_heads")

    def _check_linear_attention(self) -> None:
        given = [getattr(self, name) for name in LINEAR_ATTENTION_FIELDS]
        if self.linear_attention_layers is None and not any(v is not None for v in given):
            return
        if self.sliding_window is not None or self.kv_lora_rank is not None:
            raise ValueError(f"model {self.id}: linear attention beside a sliding window or MLA is not modelled")
        if self.linear_attention_layers is None or not LINEAR_LAYERS.fullmatch(self.linear_attention_layers):
            raise ValueError(f"model {self.id}: linear_attention_layers must be 'N:1' (N linear-attention layers "
                             f"to each full-attention one), not {self.linear_attention_layers!r}")
        for name, value in zip(LINEAR_ATTENTION_FIELDS, given):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"model {self.id}: {name} must be a positive integer with linear attention, "
                                 f"not {value!r}")

    @property
    def windowed_layers(self) -> int:
        """How many layers attend within the sliding window (0 without one). "alternate": every
        other layer (Gemma 2's even layers); "N:1": runs of N local layers closed by a global one,
        as Gemma 3's layer_types go (sliding, x5, then full; transformers Gemma3TextConfig)."""
        layers, pattern = self.num_layers, self.sliding_window_layers
        if self.sliding_window is None:
            return 0
        if pattern in (None, "all"):
            return layers
        if pattern == "alternate":
            return layers // 2
        return _pattern_count(layers, int(pattern.split(":")[0]))

    @property
    def linear_layers(self) -> int:
        """How many layers are linear attention (Gated DeltaNet), keeping a fixed recurrent state
        and no per-token KV: runs of N closed by a full-attention layer, as Qwen3-Next's layer i is
        full attention when (i + 1) % full_attention_interval == 0 (transformers Qwen3NextConfig)."""
        if self.linear_attention_layers is None:
            return 0
        return _pattern_count(self.num_layers, int(self.linear_attention_layers.split(":")[0]))

    @property
    def has_global_layers(self) -> bool:
        """True when the full-attention layers have their own heads (Gemma 4's global layers)."""
        return self.global_head_dim is not None or self.global_kv_heads is not None or self.global_k_eq_v

    @property
    def full_head_dim(self) -> int:
        """The head width of the full-attention layers (Gemma 4's global_head_dim), else head_dim."""
        return self.global_head_dim or self.head_dim

    @property
    def full_kv_heads(self) -> int:
        """The KV heads of the full-attention layers (Gemma 4's num_global_key_value_heads)."""
        return self.global_kv_heads or self.num_kv_heads

    @property
    def attention_layers(self) -> int:
        """Layers with softmax attention, the ones that keep K and V for every token."""
        return self.num_layers - self.linear_layers

    @property
    def is_dense(self) -> bool:
        """True for a plain transformer: no mixture of experts, no latent attention."""
        return self.num_experts is None and self.kv_lora_rank is None


@dataclass(frozen=True)
class Gpu:
    """One accelerator's memory and speed."""

    id: str  #: catalog id ("a100-80gb")
    name: str  #: display name
    vendor: str
    memory_bytes: int  #: total device memory as the driver reports it
    marketed_gb: float  #: the size as sold
    bf16_tflops: float  #: dense BF16 tensor throughput; 0 where there is no BF16
    fp16_tflops: float
    bandwidth_gbps: float
    source: str
    aliases: tuple[str, ...] = ()
    compute_capability: float | None = None  #: NVIDIA only
    notes: str | None = None
    #: Apple: the share of unified memory Metal lets the GPU wire (recommendedMaxWorkingSetSize /
    #: memory); None: all of it (a discrete card's memory is the GPU's own)
    working_set_fraction: float | None = None
    #: the device memory CUDA reports (torch.cuda.mem_get_info's total), which serving engines size
    #: their memory fraction by; None where the catalog has no published figure
    cuda_total_bytes: int | None = None
    cuda_total_source: str | None = None  #: where cuda_total_bytes is read from

    def __post_init__(self) -> None:
        _check_choice(self.id, "vendor", self.vendor, GPU_VENDORS)
        if self.working_set_fraction is not None and not 0 < self.working_set_fraction <= 1:
            raise ValueError(f"{self.id}: working_set_fraction must be in (0, 1], not {self.working_set_fraction}")

    @property
    def engine_total_bytes(self) -> int:
        """The memory a serving engine sizes its fraction by: CUDA's total where the catalog has it."""
        return self.cuda_total_bytes or self.memory_bytes

    @property
    def working_memory_bytes(self) -> int:
        """The memory the GPU may use: all of a card's, the wired working set of Apple's unified memory."""
        if self.working_set_fraction is None:
            return self.memory_bytes
        return round(self.memory_bytes * self.working_set_fraction)


def _pattern_count(layers: int, run: int) -> int:
    """Layers of the kind that comes in runs of ``run``, each run closed by one layer of the other kind."""
    return layers // (run + 1) * run + min(layers % (run + 1), run)


def _check_choice(owner: str, field: str, value: str, allowed: set[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}: {field} must be one of {sorted(allowed)}, not {value!r}")


@functools.lru_cache(maxsize=16384)
def normalise(name: str) -> str:
    """The form names are matched in: lower case, without spaces, '-' and '_'."""
    # str methods, not re.sub: each catalog name is normalised when the catalog loads
    return "".join(name.lower().split()).translate(_SEPARATORS)


_SEPARATORS = str.maketrans("", "", "_-")


def load_toml(filename: str) -> dict[str, Any]:
    # TOML is the source; its parse is cached as JSON (a few times faster to load at a cold start)
    with open(os.path.join(DATA_DIR, filename), "rb") as f:
        source = f.read()
    return cache.cached_json(source, filename, lambda: _parse_toml(source))


def _parse_toml(source: bytes) -> dict[str, Any]:
    import tomllib  # only when the cached parse is missing or stale

    return tomllib.loads(source.decode("utf-8"))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))  # once a class, not once a record


def _record(cls: type, entry: dict[str, Any], where: str) -> Any:
    unknown = set(entry) - _field_names(cls)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
    if "aliases" in entry:
        entry = {**entry, "aliases": tuple(entry["aliases"])}
    return cls(**entry)


def _gpu_record(entry: dict[str, Any]) -> Gpu:
    where = f"gpus.toml {entry.get('id')}"
    sizes = {"memory_mib": MIB, "memory_gib": GIB, "memory_gb": GB}
    given = [key for key in sizes if key in entry]
    if len(given) != 1:
        raise ValueError(f"{where}: give exactly one of {sorted(sizes)}")
    key = given[0]
    rest = {k: v for k, v in entry.items() if k not in (key, "cuda_total_gib")}
    if "cuda_total_gib" in entry:
        rest["cuda_total_bytes"] = round(entry["cuda_total_gib"] * GIB)
    return _record(Gpu, {**rest, "memory_bytes": round(entry[key] * sizes[key])}, where)


class _Index:
    """Records by id and by every normalised alias, with close matching."""

    def __init__(self, kind: str, records: Iterable[Any]) -> None:
        self.kind = kind
        self.by_id: dict[str, Any] = {}
        self.by_name: dict[str, Any] = {}
        for record in records:
            if record.id in self.by_id:
                raise ValueError(f"{kind} catalog: duplicate id {record.id!r}")
            self.by_id[record.id] = record
            for name in (record.id, *record.aliases):
                key = normalise(name)
                other = self.by_name.setdefault(key, record)
                if other is not record:
                    raise ValueError(f"{kind} catalog: {name!r} names both {other.id} and {record.id}")

    def find(self, name: str) -> Any | None:
        return self.by_id.get(name) or self.by_name.get(normalise(name))

    def close_match(self, name: str, cutoff: float = 0.75) -> str | None:
        """The id of the entry whose name is closest to ``name``, if any is close."""
        key = normalise(name)
        for variant in _confusable_variants(key):
            if variant in self.by_name:
                return self.by_name[variant].id
        found = closest(key, self.by_name, cutoff=cutoff)
        return self.by_name[found].id if found else None


def closest(word: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The name most like ``word`` (difflib's ratio; ties go to the longer common prefix)."""
    import difflib  # only for a name not found: a cold start that finds its names skips it

    best, best_score = None, (cutoff, -1)
    matcher = difflib.SequenceMatcher(b=word)
    for name in names:
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
            continue
        score = (matcher.ratio(), len(os.path.commonprefix([word, name])))
        if score >= best_score and score[0] >= cutoff and (best is None or score > best_score):
            best, best_score = name, score
    return best


def _confusable_variants(key: str) -> list[str]:
    # People type the letter O for a zero and l or I for a one in names full of digits ("a10O").
    if not any(c.isdigit() for c in key):
        return []
    table = str.maketrans({"o": "0", "l": "1", "i": "1"})
    return [key.translate(table)]


@functools.cache
def models() -> _Index:
    data = load_toml("models.toml")
    return _Index("model", (_record(ModelSpec, e, f"models.toml {e.get('id')}") for e in data.get("model", [])))


@functools.cache
def gpus() -> _Index:
    data = load_toml("gpus.toml")
    return _Index("GPU", (_gpu_record(e) for e in data.get("gpu", [])))


#: Variant suffixes that name the same architecture ("-Instruct", "-chat-hf", "-AWQ", a GGUF
#: file's "-Q4_K_M.gguf"). Versions ("-v0.2") are not among them: they change architectures
#: (Mistral 7B v0.2 drops the sliding window).
_VARIANT = re.compile(r"(?:[-_.](?:instruct|chat|hf|base|it|awq|gptq|gguf|fp16|bf16|f16|int4|int8|4bit|8bit|fp8|"
                      r"dynamic|bnb|nf4|w4a16|w8a8|mxfp4|nvfp4|q[2-8]_(?:[01]|k(?:_[sml])?)|iq4_(?:xs|nl)))+$",
                      re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def find_model(name: str, variants: bool = True) -> ModelSpec | None:
    """A catalog model by id or alias, or (``variants``) by a common variant of one: an org prefix
    ("meta-llama/"), an Ollama tag ("llama3.1:8b"), a variant suffix ("-Instruct", "-AWQ")."""
    index = models()
    found = index.find(name)
    if found is not None or not name or not variants:
        return found
    for variant in _variants(name):
        found = index.find(variant)
        if found is not None:
            return found
    return None


def _variants(name: str) -> list[str]:
    if name.startswith(("./", "../", "/", "~")):
        return []  # a path names its own file, never a catalog model
    base = name.split("/", 1)[1] if name.count("/") == 1 else name
    base = base.replace(":", "-")
    stripped = _VARIANT.sub("", base)
    return [v for v in dict.fromkeys((base, stripped, re.sub(r"^meta-", "", stripped, flags=re.IGNORECASE)))
            if v and v != name]


@functools.cache
def model_families() -> frozenset[str]:
    """Family words people say before a size ("llama 70b", "qwen 7b"): each id's leading letters."""
    return frozenset(m.group(0) for spec in models().by_id.values() if (m := re.match(r"[a-z]+", spec.id)))


def models_of_family(family: str, params: float) -> list[ModelSpec]:
    """The catalog's models whose id starts with ``family`` and whose nominal size is ``params``."""
    return sorted((spec for spec in models().by_id.values()
                   if spec.id.startswith(family) and math.isclose(spec.nominal_params, params, rel_tol=0.02)),
                  key=lambda spec: spec.id)


# "a 24gb gpu": a GPU named by its memory size alone. Cards sold as N GB report N GiB
# (nvidia-smi: 24564 MiB for a 24 GB RTX 4090, 81920 MiB for an 80 GB A100).
_GENERIC_GPU = re.compile(r"(?:gpu)?(\d{1,4}(?:\.\d+)?)gb?(?:gpus?|cards?)?")
#: The smallest card a size can name, in GB: the CUDA context alone takes 0.29 to 0.67 GB
#: (memory/runtime.py), so a smaller "GPU" has no memory left for a job; the smallest CUDA
#: cards sold in a decade (GT 1030, Jetson Nano) have 2 GB.
MIN_GENERIC_GPU_GB = 1.0


@functools.lru_cache(maxsize=4096)
def find_gpu(name: str) -> Gpu | None:
    found = gpus().find(name)
    if found is None and len(name) > 2 and name[-1] in "sS":  # "8 A100s"
        found = gpus().find(name[:-1])
    if found is not None:
        return found
    match = _GENERIC_GPU.fullmatch(normalise(name))
    if match is None or float(match[1]) <= 0:
        return None
    size = float(match[1])
    label = f"{size:g}"
    return Gpu(
        id=f"gpu-{label}gb", name=f"a {label} GB GPU", vendor="nvidia",  # most such cards: counted with a CUDA context
        memory_bytes=round(size * GIB), marketed_gb=size, bf16_tflops=0.0, fp16_tflops=0.0,
        bandwidth_gbps=0.0, source="the size given in the query, taken as GiB as cards report it",
    )


@functools.lru_cache(maxsize=1024)
def nearest_dense_model(params: float) -> ModelSpec:
    """The size-reference model whose nominal size is nearest ``params`` (on a log scale)."""
    return min(_size_references(), key=lambda m: (abs(math.log(m.nominal_params / params)), m.id))


@functools.cache
def _size_references() -> tuple[ModelSpec, ...]:
    chosen = tuple(m for m in models().by_id.values() if m.size_reference and m.is_dense)
    if not chosen:
        raise ValueError("models.toml: no dense model is marked size_reference")
    return chosen
