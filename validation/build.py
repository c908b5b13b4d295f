"""A real transformers model with random weights, from a catalog entry or a config.json.

Nothing comes from a hub: the catalog's architecture facts (or the config.json a request names)
become a transformers config object, and the model class of its family is built from it with
random initial weights, in the dtype the job holds its weights in. Under ``FakeTensorMode`` the
same call builds a 70B model without allocating a byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vram.catalog.index import ModelSpec

from .emulation import UnsupportedRun

#: transformers model_type of each catalog family that the harness builds.
FAMILY_MODEL_TYPES = {
    "gpt2": "gpt2", "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "mistral": "mistral",
    "mixtral": "mixtral", "qwen3_moe": "qwen3_moe",
}


def config_dict(spec: ModelSpec, dropout: bool) -> dict[str, Any]:
    """The config.json a catalog entry stands for (the fields the model classes read)."""
    model_type = FAMILY_MODEL_TYPES.get(spec.family)
    if model_type == "qwen3" and spec.num_experts is not None:
        model_type = "qwen3_moe"  # the catalog's qwen3 family holds the MoE models too
    if model_type is None:
        raise UnsupportedRun(f"the harness builds {', '.join(sorted(set(FAMILY_MODEL_TYPES)))} "
                             f"models; {spec.id} is {spec.family}")
    if model_type == "gpt2":
        p = 0.1 if dropout else 0.0
        return {"model_type": "gpt2", "n_embd": spec.hidden_size, "n_layer": spec.num_layers,
                "n_head": spec.num_heads, "n_inner": spec.intermediate_size, "vocab_size": spec.vocab_size,
                "n_positions": spec.max_seq_len, "resid_pdrop": p, "embd_pdrop": p, "attn_pdrop": p,
                "tie_word_embeddings": spec.tie_embeddings}
    config = {
        "model_type": model_type, "hidden_size": spec.hidden_size, "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads, "num_key_value_heads": spec.num_kv_heads,
        "head_dim": spec.head_dim, "intermediate_size": spec.intermediate_size,
        "vocab_size": spec.vocab_size, "max_position_embeddings": spec.max_seq_len,
        "tie_word_embeddings": spec.tie_embeddings, "attention_dropout": 0.1 if dropout else 0.0,
    }
    if model_type == "llama":
        config["attention_bias"] = spec.qkv_bias
    if spec.num_experts is not None:
        config.update(num_local_experts=spec.num_experts, num_experts=spec.num_experts,
                      num_experts_per_tok=spec.experts_per_token)
        if spec.moe_intermediate_size:
            config["moe_intermediate_size"] = spec.moe_intermediate_size
    if spec.sliding_window is not None:
        config["sliding_window"] = spec.sliding_window
    elif model_type in ("mistral", "mixtral"):
        config["sliding_window"] = None
    return config


def model_config(spec: ModelSpec, dropout: bool, path: str | None = None):
    """A transformers config object: from ``path`` (a config.json) when given, else from ``spec``."""
    from transformers import AutoConfig

    if path is not None:
        data = json.loads(_config_path(path).read_text(encoding="utf-8"))
        if not dropout:
            data.update({k: 0.0 for k in ("attn_pdrop", "resid_pdrop", "embd_pdrop", "attention_dropout")
                         if k in data})
    else:
        data = config_dict(spec, dropout)
    data = dict(data)
    return AutoConfig.for_model(data.pop("model_type"), **data)


def build(config, dtype: torch.dtype, attention: str, device: str = "cpu") -> torch.nn.Module:
    """The causal-LM model of ``config`` with random weights in ``dtype``, attention ``eager``/``sdpa``."""
    from transformers import AutoModelForCausalLM

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # parameters are created in their final dtype, as from_pretrained does
    try:
        with torch.device(device):
            return AutoModelForCausalLM.from_config(config, attn_implementation=attention, dtype=dtype)
    finally:
        torch.set_default_dtype(previous)


def _config_path(path: str) -> Path:
    found = Path(path).expanduser()
    if found.is_dir():
        found = found / "config.json"
    elif found.suffix != ".json":
        found = found.with_name("config.json")
    return found
