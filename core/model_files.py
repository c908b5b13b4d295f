"""Models outside the catalog: a config.json, a safetensors or GGUF checkpoint, read header only.

A config.json gives the architecture (the same facts as a catalog entry). A checkpoint's header
gives every tensor's dtype and shape, so its weights are sized as stored, quantised formats
included, without reading a byte of the weights themselves.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .catalog import ModelSpec
from .errors import InvalidRequestError
from .params import count_parameters

#: GGML tensor types: (elements a block, bytes a block), from ggml's block structs
#: (ggml-common.h: block_q4_0 = fp16 scale + 16 bytes of nibbles for 32 weights, ...).
GGML_BLOCKS: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
}

#: Longest header read, in bytes: real headers are kilobytes to a few megabytes.
MAX_HEADER_BYTES = 100 * 2**20


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint's header says: its tensors' total bytes and elements, by storage type."""

    path: str
    format: str  #: "safetensors" or "gguf"
    tensor_count: int
    bytes: int  #: weight bytes as stored
    elements: int  #: weight values (packed quantised tensors count as stored)
    by_type: tuple[tuple[str, int], ...]  #: (storage type, bytes), largest first
    spec: ModelSpec | None  #: the architecture, from a config.json beside it or the GGUF metadata


def looks_like_path(name: str) -> bool:
    """A word that names a file or folder: ./x, ../x, /x, ~/x, ~user/x, or a .json/.safetensors/.gguf name."""
    home = name.startswith("~") and "/" in name
    return home or name.startswith(("./", "../", "/")) or name.endswith((".json", ".safetensors", ".gguf"))


@functools.lru_cache(maxsize=64)
def read_model_path(name: str) -> tuple[ModelSpec, Checkpoint | None]:
    """The architecture (and checkpoint, if any) at a local path; a clear error when unreadable."""
    try:
        path = Path(name).expanduser()
    except RuntimeError:  # "~someone/x" where no user someone exists
        raise InvalidRequestError(f"no home folder for '{name.split('/')[0]}' in '{name}'", field="model") from None
    if not path.exists():
        raise InvalidRequestError(f"no file or folder at '{name}'", field="model")
    if path.is_dir():
        shards = sorted(path.glob("*.safetensors"))
        config = path / "config.json"
        if shards:
            return _with_spec(_safetensors(shards, name, config if config.exists() else None), name)
        if config.exists():
            return spec_from_config(read_json(config), name), None
        raise InvalidRequestError(f"'{name}' holds no config.json or .safetensors file", field="model")
    if path.suffix == ".gguf":
        return _with_spec(_gguf(path, name), name)
    if path.suffix == ".safetensors":
        config = path.with_name("config.json")
        return _with_spec(_safetensors([path], name, config if config.exists() else None), name)
    return spec_from_config(read_json(path), name), None


def _with_spec(checkpoint: Checkpoint, name: str) -> tuple[ModelSpec, Checkpoint]:
    if checkpoint.spec is None:
        raise InvalidRequestError(
            f"'{name}' has no architecture beside it: put its config.json in the same folder", field="model")
    return checkpoint.spec, checkpoint


def read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except OSError as error:
        raise InvalidRequestError(f"cannot read '{path}' ({error.strerror or error})", field="model") from None
    return parse_config_json(text, str(path))


def parse_config_json(data: bytes, where: str) -> dict[str, Any]:
    """A config.json's object, from its bytes (a file's or a Hub answer's); ``where`` names it."""
    try:
        config = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise InvalidRequestError(f"cannot read '{where}' as JSON ({type(error).__name__})", field="model") from None
    if not isinstance(config, dict):
        raise InvalidRequestError(f"'{where}' is not a config object", field="model")
    return config


# -- config.json ------------------------------------------------------------------------------------

class BlockLayout(NamedTuple):
    """How a family builds its blocks; the defaults are the Llama layout most families share."""

    mlp: str = "gated"
    norm: str = "rmsnorm"
    position: str = "rope"
    qkv_bias: bool = False
    linear_bias: bool = False
    sliding_window_layers: str | None = None


#: GPT-2-style blocks: plain MLP, LayerNorm, biases on every linear layer.
_GPT_BLOCK = BlockLayout(mlp="plain", norm="layernorm", position="learned", qkv_bias=True, linear_bias=True)

#: Block layout by transformers' model_type; only what differs from Llama's is written.
#: Checked against each family's modeling_*.py.
MODEL_TYPES: dict[str, BlockLayout] = {
    "llama": BlockLayout(),
    "mistral": BlockLayout(sliding_window_layers="all"),
    "mixtral": BlockLayout(sliding_window_layers="all"),
    "qwen2": BlockLayout(qkv_bias=True),
    "qwen2_moe": BlockLayout(qkv_bias=True),
    "qwen3": BlockLayout(),
    "qwen3_moe": BlockLayout(),
    "gemma": BlockLayout(),
    "gemma2": BlockLayout(sliding_window_layers="alternate"),
    "phi3": BlockLayout(),
    "deepseek_v2": BlockLayout(),
    "deepseek_v3": BlockLayout(),
    "chatglm": BlockLayout(qkv_bias=True),
    "glm": BlockLayout(qkv_bias=True),
    "baichuan": BlockLayout(position="alibi"),
    "internlm2": BlockLayout(),
    "gpt2": _GPT_BLOCK,
    "opt": _GPT_BLOCK,
    "bloom": _GPT_BLOCK._replace(position="alibi"),
    "gpt_neox": _GPT_BLOCK._replace(position="rope"),
    "falcon": BlockLayout(mlp="plain", norm="layernorm"),
}

#: Families whose config class ties the output head to the embedding unless config.json says not.
TIED_BY_DEFAULT = frozenset({"gpt2", "opt", "bloom", "gemma", "gemma2", "falcon"})

#: config.json keys of each ModelSpec field, first present wins (families name them differently).
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_heads": ("num_attention_heads", "n_head"),
    "num_kv_heads": ("num_key_value_heads", "multi_query_group_num", "num_kv_heads", "n_head_kv"),
    "head_dim": ("head_dim", "kv_channels"),
    "intermediate_size": ("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "max_seq_len": ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"),
    "num_experts": ("num_local_experts", "num_experts", "n_routed_experts"),
    "experts_per_token": ("num_experts_per_tok",),
    "moe_intermediate_size": ("moe_intermediate_size",),
    "num_shared_experts": ("n_shared_experts",),
    "first_dense_layers": ("first_k_dense_replace",),
    "kv_lora_rank": ("kv_lora_rank",),
    "q_lora_rank": ("q_lora_rank",),
    "qk_rope_head_dim": ("qk_rope_head_dim",),
    "qk_nope_head_dim": ("qk_nope_head_dim",),
    "v_head_dim": ("v_head_dim",),
    "sliding_window": ("sliding_window",),
}


def spec_from_config(config: dict[str, Any], name: str) -> ModelSpec:
    """A ModelSpec from a Hugging Face config.json (its text_config for multimodal models)."""
    config = {**config, **config.get("text_config", {})}
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise InvalidRequestError(
            f"'{name}': model_type {model_type!r} is not one vram reads yet",
            expected=sorted(MODEL_TYPES), field="model")
    mlp, norm, position, qkv_bias, linear_bias, window_layers = MODEL_TYPES[model_type]
    facts = {field: _first(config, keys) for field, keys in CONFIG_KEYS.items()}
    for field, value in facts.items():
        required = field in ("hidden_size", "num_layers", "num_heads", "vocab_size")
        if value is None and required:
            raise InvalidRequestError(f"'{name}' has no {CONFIG_KEYS[field][0]} in its config", field="model")
        if value is not None and (type(value) is not int or value < 1) and field != "sliding_window":
            raise InvalidRequestError(f"'{name}': {_key_in(config, field)} must be a positive whole number, "
                                      f"not {value!r}", field="model")
    h, heads = facts["hidden_size"], facts["num_heads"]
    if facts["head_dim"] is None and h % heads:
        raise InvalidRequestError(f"'{name}': hidden size {h} is not a multiple of {heads} heads", field="model")
    if config.get("multi_query") and facts["num_kv_heads"] is None:
        facts["num_kv_heads"] = 1  # Falcon-7B's multi-query attention
    facts["num_kv_heads"] = facts["num_kv_heads"] or heads
    facts["head_dim"] = facts["head_dim"] or h // heads
    facts["intermediate_size"] = facts["intermediate_size"] or 4 * h
    facts["max_seq_len"] = facts["max_seq_len"] or 2048
    if not config.get("use_sliding_window", True) or facts["sliding_window"] is None:
        facts["sliding_window"], window_layers = None, None
    try:
        spec = ModelSpec(
            id=name, name=name, family=model_type, nominal_params=1.0, mlp=mlp, norm=norm, position=position,
            qkv_bias=bool(config.get("attention_bias", config.get("add_qkv_bias", qkv_bias))),
            linear_bias=linear_bias,
            tie_embeddings=bool(config.get("tie_word_embeddings", model_type in TIED_BY_DEFAULT)),
            sliding_window_layers=window_layers, source=f"{name} (config.json, model_type {model_type})",
            dropout=any(_positive(config.get(k)) for k in ("attn_pdrop", "resid_pdrop", "dropout",
                                                             "attention_dropout", "hidden_dropout")),
            **facts,
        )
    except ValueError as error:  # the architecture's own checks (KV heads dividing heads, ...)
        raise InvalidRequestError(f"'{name}': {str(error).split(': ', 1)[-1]}", field="model") from None
    return dataclasses.replace(spec, nominal_params=float(count_parameters(spec).total))


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _key_in(config: dict[str, Any], field: str) -> str:
    return next((key for key in CONFIG_KEYS[field] if config.get(key) is not None), CONFIG_KEYS[field][0])


def _first(config: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


# -- safetensors ------------------------------------------------------------------------------------

def _safetensors(paths: list[Path], name: str, config: Path | None) -> Checkpoint:
    totals: dict[str, int] = {}
    count = elements = 0
    for path in paths:
        for tensor, info in _safetensors_header(path).items():
            if tensor == "__metadata__":
                continue
            size = _shape_elements(info.get("shape"), path)
            begin, end = info.get("data_offsets", (0, 0))
            dtype = str(info.get("dtype"))
            totals[dtype] = totals.get(dtype, 0) + (end - begin)
            count, elements = count + 1, elements + size
    spec = spec_from_config(read_json(config), name) if config else None
    return _checkpoint(name, "safetensors", count, elements, totals, spec)


def _safetensors_header(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        (length,) = _unpack(f, "<Q", path)
        if length > MAX_HEADER_BYTES:
            raise InvalidRequestError(f"'{path}' declares a {length}-byte header; not a safetensors file?",
                                      field="model")
        try:
            header = json.loads(f.read(length))
        except ValueError:
            raise InvalidRequestError(f"'{path}' has no readable safetensors header", field="model") from None
    if not isinstance(header, dict):
        raise InvalidRequestError(f"'{path}' has no readable safetensors header", field="model")
    return header


def _shape_elements(shape: Any, path: Path) -> int:
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidRequestError(f"'{path}' has a tensor with a bad shape {shape!r}", field="model")
    size = 1
    for dim in shape:
        size *= dim
    return size


def _checkpoint(name: str, fmt: str, count: int, elements: int, totals: dict[str, int],
                spec: ModelSpec | None) -> Checkpoint:
    by_type = tuple(sorted(totals.items(), key=lambda kv: -kv[1]))
    return Checkpoint(name, fmt, count, sum(totals.values()), elements, by_type, spec)


# -- GGUF ---------------------------------------------------------------------------------------------

#: GGUF metadata value types: struct format of the fixed-size ones (gguf spec, ggml/docs/gguf.md).
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _gguf(path: Path, name: str) -> Checkpoint:
    with path.open("rb") as f:
        magic = f.read(4)
        if magic != b"GGUF":
            raise InvalidRequestError(f"'{path}' is not a GGUF file", field="model")
        _version, tensor_count, kv_count = _unpack(f, "<IQQ", path)
        if tensor_count > 10**6 or kv_count > 10**6:
            raise InvalidRequestError(f"'{path}' declares {tensor_count} tensors; not a GGUF file?", field="model")
        metadata = {_gguf_string(f, path): _gguf_value(f, path) for _ in range(kv_count)}
        totals: dict[str, int] = {}
        elements = 0
        for _ in range(tensor_count):
            _gguf_string(f, path)
            (dims,) = _unpack(f, "<I", path)
            shape = _unpack(f, f"<{dims}Q", path) if dims else ()
            ggml_type, _offset = _unpack(f, "<IQ", path)
            if ggml_type not in GGML_BLOCKS:
                raise InvalidRequestError(f"'{path}' has GGML tensor type {ggml_type}, which vram does not know",
                                          field="model")
            type_name, block, block_bytes = GGML_BLOCKS[ggml_type]
            size = _shape_elements(list(shape), path)
            totals[type_name] = totals.get(type_name, 0) + -(-size // block) * block_bytes
            elements += size
    return _checkpoint(name, "gguf", tensor_count, elements, totals, _gguf_spec(metadata, name))


def _gguf_spec(meta: dict[str, Any], name: str) -> ModelSpec | None:
    arch = meta.get("general.architecture")
    if arch not in MODEL_TYPES:
        return None
    tokens = meta.get("tokenizer.ggml.tokens")
    config = {
        "model_type": arch,
        "hidden_size": meta.get(f"{arch}.embedding_length"),
        "num_hidden_layers": meta.get(f"{arch}.block_count"),
        "num_attention_heads": meta.get(f"{arch}.attention.head_count"),
        "num_key_value_heads": meta.get(f"{arch}.attention.head_count_kv"),
        "intermediate_size": meta.get(f"{arch}.feed_forward_length"),
        "max_position_embeddings": meta.get(f"{arch}.context_length"),
        "vocab_size": meta.get(f"{arch}.vocab_size") or (len(tokens) if isinstance(tokens, list) else None),
    }
    return spec_from_config(config, name)


def _unpack(f: BinaryIO, fmt: str, path: Path) -> tuple:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise InvalidRequestError(f"'{path}' ends inside its header", field="model")
    return struct.unpack(fmt, data)


def _gguf_string(f: BinaryIO, path: Path) -> str:
    (length,) = _unpack(f, "<Q", path)
    if length > MAX_HEADER_BYTES:
        raise InvalidRequestError(f"'{path}' has a {length}-byte string in its header", field="model")
    return f.read(length).decode("utf-8", errors="replace")


def _gguf_value(f: BinaryIO, path: Path) -> Any:
    (kind,) = _unpack(f, "<I", path)
    return _gguf_typed(f, kind, path)


def _gguf_typed(f: BinaryIO, kind: int, path: Path) -> Any:
    if kind in _GGUF_SCALARS:
        return _unpack(f, _GGUF_SCALARS[kind], path)[0]
    if kind == _GGUF_STRING:
        return _gguf_string(f, path)
    if kind == _GGUF_ARRAY:
        item_kind, count = _unpack(f, "<IQ", path)
        if count > 10**7:
            raise InvalidRequestError(f"'{path}' has a {count}-item array in its header", field="model")
        return [_gguf_typed(f, item_kind, path) for _ in range(count)]
    raise InvalidRequestError(f"'{path}' has metadata of unknown type {kind}", field="model")
