"""Models outside the catalog: a config.json, a safetensors or GGUF checkpoint, read header only.

A config.json gives the architecture (the same facts as a catalog entry). A checkpoint's header
gives every tensor's dtype and shape, so its weights are sized as stored, quantised formats
included, without reading a byte of the weights themselves.

Every file is untrusted input: only regular files are read, each with a size bound
(checkpoint_headers), and every config.json value vram reads is checked against one table of
types and ranges (KEY_RULES) before it is used, so a file that lies gets a message naming the
file and the field, never a traceback or a number that makes no sense.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from vram.catalog.facts import FACTS, Rule, whole
from vram.catalog.headers import (
    MAX_HEADER_BYTES, GgufArray, HeaderTotals, open_error, parse_json, read_bounded, read_gguf,
    read_safetensors, shown
)
from vram.catalog.index import ModelSpec, find_model
from vram.catalog.params import count_parameters
from vram.errors import InvalidRequestError, UnsupportedError

__all__ = ["MAX_CONFIG_BYTES", "MAX_HEADER_BYTES", "Checkpoint", "looks_like_path", "read_json",
           "read_model_path", "spec_from_config"]

#: Largest config.json read, in bytes. Language models' configs are 1-10 kB; the largest on the Hub
#: are image classifiers carrying ImageNet-22k label maps (21,841 labels in both id2label and
#: label2id: about 1.5 MB, scaling google/vit-base-patch16-224's ~70 kB for 1,000 labels).
MAX_CONFIG_BYTES = 8 * 2**20


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


def _by_file_name(file_name: str) -> str | None:
    """The catalog's model a missing file's name spells ('Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf'), named
    without its folder so the name is read instead of the file."""
    spec = find_model(file_name)
    return file_name if spec is not None else None


@functools.lru_cache(maxsize=64)
def read_model_path(name: str) -> tuple[ModelSpec, Checkpoint | None]:
    """The architecture (and checkpoint, if any) at a local path; a clear error when unreadable."""
    try:
        path = Path(name).expanduser()
    except RuntimeError:  # "~someone/x" where no user someone exists
        raise InvalidRequestError.said("error.no_home", user=name.split("/")[0], path=name, field="model") from None
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InvalidRequestError(f"no file or folder at '{name}'", field="model",
                                      suggestion=_by_file_name(path.name)) from None
        raise open_error(name, error) from None
    if stat.S_ISDIR(mode):
        return _read_folder(path, name)
    if path.suffix == ".gguf":
        return _with_spec(_gguf(path, name), name)
    if path.suffix == ".safetensors":
        return _with_spec(_safetensors([path], name, _beside(path.with_name("config.json"))), name)
    return spec_from_config(read_json(path), name), None


def _read_folder(path: Path, name: str) -> tuple[ModelSpec, Checkpoint | None]:
    shards = sorted(path.glob("*.safetensors"))
    config = _beside(path / "config.json")
    if shards:
        return _with_spec(_safetensors(shards, name, config), name)
    if config:
        return spec_from_config(read_json(config), name, str(config)), None
    raise InvalidRequestError(f"'{name}' holds no config.json or .safetensors file", field="model")


def _beside(path: Path) -> Path | None:
    """``path`` when something is there (a broken or looping link too, to be refused when read)."""
    return path if os.path.lexists(path) else None


def _with_spec(checkpoint: Checkpoint, name: str) -> tuple[ModelSpec, Checkpoint]:
    if checkpoint.spec is None:
        raise InvalidRequestError(
            f"'{name}' has no architecture beside it: put its config.json in the same folder", field="model")
    return checkpoint.spec, checkpoint


def read_json(path: Path) -> dict[str, Any]:
    """A config.json's object, read from a regular file of at most MAX_CONFIG_BYTES."""
    return parse_config_json(read_bounded(path, MAX_CONFIG_BYTES, "config.json"), path)


def parse_config_json(data: bytes, where: Path | str) -> dict[str, Any]:
    """A config.json's object from its bytes (a file's or a Hub answer's); ``where`` names it."""
    config = parse_json(data, where, "config.json")
    if not isinstance(config, dict):
        raise InvalidRequestError(f"'{where}' is not a config object (it holds {type(config).__name__})",
                                  field="model")
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
    "gemma3": BlockLayout(sliding_window_layers="5:1"),  # Gemma 3 report: 5 local layers to 1 global
    "gemma3_text": BlockLayout(sliding_window_layers="5:1"),
    "gemma4": BlockLayout(sliding_window_layers="5:1"),  # layer_types: 5 sliding, then 1 full (global)
    "gemma4_text": BlockLayout(sliding_window_layers="5:1"),
    "qwen3_next": BlockLayout(),  # Gated DeltaNet hybrids: _qwen3_next_facts
    "qwen3_5": BlockLayout(),
    "qwen3_5_text": BlockLayout(),
    "qwen3_5_moe": BlockLayout(),
    "qwen3_5_moe_text": BlockLayout(),
    "gpt_oss": BlockLayout(qkv_bias=True, sliding_window_layers="alternate"),  # banded/dense alternate
    "llama4": BlockLayout(sliding_window_layers="3:1"),  # 3 chunked layers to 1 global (NoPE) one
    "llama4_text": BlockLayout(sliding_window_layers="3:1"),
    "mistral3": BlockLayout(),
    "olmo2": BlockLayout(),
    "smollm3": BlockLayout(),
    "cohere": BlockLayout(norm="layernorm"),
    "cohere2": BlockLayout(norm="layernorm", sliding_window_layers="3:1"),  # 3 local to 1 global
    "deepseek_v2": BlockLayout(),
    "deepseek_v3": BlockLayout(),
    "kimi_k2": BlockLayout(),  # DeepseekV3ForCausalLM under another name
    "glm4": BlockLayout(),
    "glm4_moe": BlockLayout(qkv_bias=True),
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
TIED_BY_DEFAULT = frozenset({"gpt2", "opt", "bloom", "gemma", "gemma2", "gemma3", "gemma3_text", "falcon",
                             "cohere", "cohere2"})

FLAG = Rule((bool,), what="true or false")
TEXT = Rule((str,), what="a string")
OBJECT = Rule((dict,), what="an object")
PROBABILITY = Rule((int, float), 0, 1, "a number from 0 to 1")

#: Dropout keys: any above 0 means the model trains with dropout masks.
DROPOUT_KEYS = ("attn_pdrop", "resid_pdrop", "dropout", "attention_dropout", "hidden_dropout")

#: Every config.json key vram reads, with what it must be. Keys not here are not read at all.
KEY_RULES: dict[str, Rule] = {
    **{key: fact.rule for fact in FACTS.values() for key in fact.keys},
    "model_type": TEXT, "text_config": OBJECT, "multi_query": FLAG, "use_sliding_window": FLAG,
    "layer_types": Rule((list,), what="a list of layer kinds"), "sliding_window_pattern": whole(2**10, low=2),
    "no_rope_layer_interval": whole(2**10, low=2),
    "intermediate_size_mlp": FACTS["intermediate_size"].rule, "interleave_moe_layer_step": whole(2**14),
    "attention_bias": FLAG, "add_qkv_bias": FLAG, "tie_word_embeddings": FLAG,
    "full_attention_interval": whole(2**10, low=2), "attn_output_gate": FLAG, "attention_k_eq_v": FLAG,
    "shared_expert_intermediate_size": FACTS["intermediate_size"].rule, "enable_moe_block": FLAG,
    "mlp_only_layers": Rule((list,), what="a list of layer numbers"), "decoder_sparse_step": whole(2**14),
    "num_kv_shared_layers": whole(2**14, low=0), "hidden_size_per_layer_input": whole(2**20, low=0),
    "use_double_wide_mlp": FLAG,
    **dict.fromkeys(DROPOUT_KEYS, PROBABILITY),
}


class _Config:
    """A config.json's checked values; its text_config's first (multimodal models keep the LM there)."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw, self.where, self.text = raw, where, {}
        self.text = self.get("text_config") or {}

    def get(self, key: str, default: Any = None) -> Any:
        for scope, prefix in ((self.text, "text_config."), (self.raw, "")):
            value = scope.get(key)
            if value is not None:
                return checked(value, KEY_RULES[key], f"'{self.where}': {prefix}{key}")
        return default

    def first(self, keys: tuple[str, ...]) -> Any:
        return next((v for v in map(self.get, keys) if v is not None), None)


def checked(value: Any, rule: Rule, where: str) -> Any:
    """``value`` when ``rule`` accepts it; else an error naming the file and the field."""
    if not rule.accepts(value):
        raise InvalidRequestError(f"{where} must be {rule.what}, not {shown(value)}", field="model")
    return value


def spec_from_config(config: dict[str, Any], name: str, file: str | None = None) -> ModelSpec:
    """A ModelSpec from a Hugging Face config.json (its text_config for multimodal models).

    ``file`` names the config.json in messages, when it is not ``name`` itself.
    """
    values = _Config(config, file or name)
    model_type = values.get("model_type")
    if model_type not in MODEL_TYPES:
        raise InvalidRequestError(
            f"'{name}': model_type {shown(model_type)} is not one vram reads yet",
            expected=sorted(MODEL_TYPES), field="model")
    mlp, norm, position, qkv_bias, linear_bias, window_layers = MODEL_TYPES[model_type]
    facts = {field: values.first(fact.keys) for field, fact in FACTS.items()}
    _check_facts(facts, values.where)
    h, heads = facts["hidden_size"], facts["num_heads"]
    if values.get("multi_query") and facts["num_kv_heads"] is None:
        facts["num_kv_heads"] = 1  # Falcon-7B's multi-query attention
    facts["num_kv_heads"] = facts["num_kv_heads"] or heads
    facts["head_dim"] = facts["head_dim"] or h // heads
    # transformers' defaults where a config leaves a key out: an inner size of 4 x hidden (GPT2Block
    # n_inner None, FalconConfig ffn_hidden_size None) and 2048 positions (LlamaConfig, OPTConfig and
    # FalconConfig max_position_embeddings)
    facts["intermediate_size"] = facts["intermediate_size"] or 4 * h
    facts["max_seq_len"] = facts["max_seq_len"] or 2048
    if not values.get("use_sliding_window", True) or facts["sliding_window"] is None:
        facts["sliding_window"], window_layers = None, None
    else:
        window_layers = _window_layers(values) or window_layers
    facts.update(FAMILY_FACTS.get(model_type, _no_change)(values, facts))
    explicit_bias = values.first(("attention_bias", "add_qkv_bias"))
    try:
        spec = ModelSpec(
            id=name, name=name, family=model_type, nominal_params=1.0, mlp=mlp, norm=norm, position=position,
            qkv_bias=qkv_bias if explicit_bias is None else explicit_bias,
            linear_bias=linear_bias,
            tie_embeddings=values.get("tie_word_embeddings", model_type in TIED_BY_DEFAULT),
            sliding_window_layers=window_layers, source=f"{name} (config.json, model_type {model_type})",
            dropout=any(values.get(key, 0) > 0 for key in DROPOUT_KEYS),
            **facts,
        )
    except ValueError as error:  # the architecture's own checks (KV heads dividing heads, ...)
        raise InvalidRequestError(f"'{name}': {str(error).split(': ', 1)[-1]}", field="model") from None
    return dataclasses.replace(spec, nominal_params=float(count_parameters(spec).total))


def _window_layers(values: _Config) -> str | None:
    """The sliding-window layout a config states: its layer_types list or sliding_window_pattern."""
    kinds = values.get("layer_types")
    if kinds:
        local, full = (sum(kind == name for kind in kinds) for name in ("sliding_attention", "full_attention"))
        if local + full != len(kinds):
            raise InvalidRequestError(f"'{values.where}': layer_types holds kinds other than "
                                      f"'sliding_attention' and 'full_attention'", field="model")
        if not full:
            return "all"
        return "alternate" if local == full else (f"{local // full}:1" if local and local % full == 0 else None)
    # every pattern-th layer is global (Gemma 3, Cohere2; Llama 4's NoPE layers, the global ones
    # beside its chunked layers: transformers Llama4TextConfig no_rope_layer_interval)
    pattern = values.get("sliding_window_pattern") or values.get("no_rope_layer_interval")
    if pattern:
        return "alternate" if pattern == 2 else f"{pattern - 1}:1"
    return None


def _no_change(values: _Config, facts: dict[str, Any]) -> dict[str, Any]:
    return {}


def _llama4_facts(values: _Config, facts: dict[str, Any]) -> dict[str, Any]:
    # Llama 4 (transformers Llama4TextConfig): intermediate_size is one expert's, intermediate_size_mlp
    # the dense layers'; one shared expert; every interleave_moe_layer_step-th layer is MoE.
    if facts["num_experts"] is None:
        return {}
    step = values.get("interleave_moe_layer_step", 1)
    return {"moe_intermediate_size": facts["intermediate_size"], "num_shared_experts": 1,
            "intermediate_size": values.get("intermediate_size_mlp") or facts["intermediate_size"],
            "first_dense_layers": facts["num_layers"] - facts["num_layers"] // step}


def _qwen3_next_facts(values: _Config, facts: dict[str, Any]) -> dict[str, Any]:
    # Qwen3-Next and Qwen3.5 (transformers Qwen3NextConfig): layer i is full attention when
    # (i + 1) % full_attention_interval == 0, the rest Gated DeltaNet; layer_types, when given, must
    # say the same. q_proj also yields the output gate (attn_output_gate; Qwen3NextAttention always).
    layers = facts["num_layers"]
    interval = values.get("full_attention_interval")
    kinds = values.get("layer_types")
    if kinds:
        full = [i for i, kind in enumerate(kinds) if kind == "full_attention"]
        if len(kinds) != layers or not full or any(kind not in ("full_attention", "linear_attention") for kind in kinds):
            raise InvalidRequestError(f"'{values.where}': layer_types must give each of the {layers} layers as "
                                      "'linear_attention' or 'full_attention'", field="model")
        interval = full[0] + 1
        if full != list(range(interval - 1, layers, interval)):
            raise UnsupportedError(f"'{values.where}': layer_types places its full-attention layers other than "
                                   "every N-th, which vram does not model yet", field="model")
    if interval is None:
        raise InvalidRequestError(f"'{values.where}' gives neither full_attention_interval nor layer_types",
                                  field="model")
    if interval > layers:  # no full-attention layer, as layer_types without one is refused above
        raise InvalidRequestError(f"'{values.where}': full_attention_interval {interval} leaves none of its {layers} "
                                  "layers full attention; a hybrid has one every full_attention_interval layers",
                                  field="model")
    if values.get("mlp_only_layers") or values.get("decoder_sparse_step", 1) != 1:
        raise UnsupportedError(f"'{values.where}': dense layers among the MoE ones (mlp_only_layers, "
                               "decoder_sparse_step) are not modelled yet", field="model")
    found = {"linear_attention_layers": f"{interval - 1}:1",
             "attention_output_gate": values.get("attn_output_gate", True)}
    if facts["num_experts"] is not None:
        found.update(_always_on(values, facts, values.get("shared_expert_intermediate_size"),
                                "shared_expert_intermediate_size"))
        found["intermediate_size"] = facts["moe_intermediate_size"] or facts["intermediate_size"]
    return found


def _gemma4_facts(values: _Config, facts: dict[str, Any]) -> dict[str, Any]:
    # Gemma 4 (transformers Gemma4TextConfig): global layers at global_head_dim with
    # num_global_key_value_heads, V = K there (attention_k_eq_v); enable_moe_block runs a dense MLP of
    # intermediate_size beside the routed experts on every layer.
    for key in ("num_kv_shared_layers", "hidden_size_per_layer_input"):
        if values.get(key):
            raise UnsupportedError(f"'{values.where}': {key} (Gemma 4's small on-device models) is not modelled "
                                   "yet", field="model")
    if values.get("use_double_wide_mlp"):
        raise UnsupportedError(f"'{values.where}': use_double_wide_mlp is not modelled yet", field="model")
    found = {"global_k_eq_v": values.get("attention_k_eq_v", False)}
    if values.get("enable_moe_block") and facts["num_experts"] is not None:
        found.update(_always_on(values, facts, facts["intermediate_size"], "intermediate_size"))
    else:
        found.update(num_experts=None, experts_per_token=None, moe_intermediate_size=None)
    return found


def _always_on(values: _Config, facts: dict[str, Any], width: int | None, key: str) -> dict[str, Any]:
    """An always-on MLP of ``width`` beside the routed experts, as whole always-on experts: the
    catalog's shared experts have the routed ones' size."""
    expert = facts["moe_intermediate_size"]
    if not width:
        return {}
    if not expert or width % expert:
        raise UnsupportedError(f"'{values.where}': an always-on MLP of {key} {width} that is not a whole number "
                               f"of experts of {expert} is not modelled yet", field="model")
    return {"num_shared_experts": width // expert}


#: Families whose config.json names a fact differently from the rest (the Llama 4 MoE layout, Gemma 4's
#: global layers, Qwen3-Next's linear-attention layers).
FAMILY_FACTS = {"llama4": _llama4_facts, "llama4_text": _llama4_facts, "gemma4": _gemma4_facts,
                "gemma4_text": _gemma4_facts,
                **dict.fromkeys(("qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text"),
                                _qwen3_next_facts)}


def _check_facts(facts: dict[str, Any], where: str) -> None:
    """What a spec needs, and how its facts must agree, beyond each value's own range."""
    for field in ("hidden_size", "num_layers", "num_heads", "vocab_size"):
        if facts[field] is None:
            raise InvalidRequestError(f"'{where}' has no {FACTS[field].keys[0]} in its config", field="model")
    h, heads = facts["hidden_size"], facts["num_heads"]
    if facts["head_dim"] is None and h % heads:
        raise InvalidRequestError(f"'{where}': hidden size {h} is not a multiple of {heads} heads", field="model")
    experts, chosen = facts["num_experts"], facts["experts_per_token"]
    if experts is not None and chosen is None:  # the parameters one token uses need it
        raise InvalidRequestError(f"'{where}' has {experts} experts but no num_experts_per_tok in its config",
                                  field="model")
    if experts is not None and chosen > experts:
        raise InvalidRequestError(f"'{where}': num_experts_per_tok {chosen} is more than the {experts} experts",
                                  field="model")
    if (facts["first_dense_layers"] or 0) > facts["num_layers"]:
        raise InvalidRequestError(f"'{where}': first_k_dense_replace {facts['first_dense_layers']} is more than "
                                  f"the {facts['num_layers']} layers", field="model")


# -- checkpoints ------------------------------------------------------------------------------------

def _safetensors(paths: list[Path], name: str, config: Path | None) -> Checkpoint:
    headers = [read_safetensors(path) for path in paths]
    spec = spec_from_config(read_json(config), name, str(config)) if config else None
    totals: dict[str, int] = {}
    for header in headers:
        for dtype, nbytes in header.bytes_by_type.items():
            totals[dtype] = totals.get(dtype, 0) + nbytes
    return _checkpoint(name, "safetensors", headers, totals, spec)


def _gguf(path: Path, name: str) -> Checkpoint:
    header = read_gguf(path)
    return _checkpoint(name, "gguf", [header], header.bytes_by_type, _gguf_spec(header.metadata, path, name))


def _checkpoint(name: str, fmt: str, headers: list[HeaderTotals], totals: dict[str, int],
                spec: ModelSpec | None) -> Checkpoint:
    by_type = tuple(sorted(totals.items(), key=lambda kv: -kv[1]))
    count, elements = sum(h.tensor_count for h in headers), sum(h.elements for h in headers)
    return Checkpoint(name, fmt, count, sum(totals.values()), elements, by_type, spec)


def _gguf_spec(meta: dict[str, Any], path: Path, name: str) -> ModelSpec | None:
    arch = meta.get("general.architecture")
    if arch not in MODEL_TYPES:
        return None
    config = {"model_type": arch}
    for fact in FACTS.values():
        key = f"{arch}.{fact.gguf}"
        if fact.gguf is not None and meta.get(key) is not None:
            config[fact.keys[0]] = checked(meta[key], fact.rule, f"'{path}': {key}")
    tokens = meta.get("tokenizer.ggml.tokens")
    if "vocab_size" not in config and isinstance(tokens, GgufArray):
        config["vocab_size"] = checked(tokens.count, FACTS["vocab_size"].rule, f"'{path}': tokenizer.ggml.tokens")
    return spec_from_config(config, name, str(path))
