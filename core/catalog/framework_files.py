"""A training framework's own config as input (issue 17): a DeepSpeed JSON or a torchtune recipe
YAML, read once when the request is resolved, under the resolve policy (local files only where
they are the user's own: never from Slack), within a bounded size, into the request's fields.

Each file key that sets a request field is a row of a table below, with what it sets; a key that
matters to memory but that vram does not model is said, never silently dropped. A query word and
the file that disagree are a conflict, not a choice.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable

from vram import catalog
from vram.catalog import policy
from vram.errors import ConflictError, InvalidRequestError, UnsupportedError
from vram.messages import Note
from vram.request.enums import Framework, Offload, Recompute, Regime, Task
from vram.request.request import Request

#: A framework config is a few kilobytes; this is far above any real one.
MAX_FRAMEWORK_CONFIG_BYTES = 1 * 2**20
#: DeepSpeed's config names as people write them: a word of the file name ("ds", "deepspeed", "zero3",
#: "ds_config"), the words split at _ - and .
_DEEPSPEED_NAME = re.compile(r"(^|[_\-.])(ds|deepspeed|zero[_\-]?[0-3]?|ds_?config)([_\-.]|$)", re.IGNORECASE)


def looks_like_framework_config(word: str) -> bool:
    """A word that names a framework's config: a .yaml/.yml recipe, or a .json named like
    DeepSpeed's (ds_config.json, ds.json, zero3.json, deepspeed*.json)."""
    name = os.path.basename(word)
    if name.lower().endswith((".yaml", ".yml")):
        return True
    return name.lower().endswith(".json") and bool(_DEEPSPEED_NAME.search(name[: -len(".json")]))


def with_framework_config(request: Request) -> Request:
    """``request`` with the settings of the framework config it names (read under the policy)."""
    from pathlib import Path  # only when a file is named, as the readers below: a cold start skips them

    from vram.catalog.headers import parse_json, read_bounded

    path = request.framework_config
    if not policy.current().local_files:
        raise UnsupportedError.said("error.file_on_server_config", path=path, field="framework_config")
    try:
        data = read_bounded(Path(path).expanduser(), MAX_FRAMEWORK_CONFIG_BYTES, "framework config")
    except InvalidRequestError as error:
        raise InvalidRequestError(str(error), field="framework_config") from None
    except RuntimeError:  # "~someone/x" where no user someone exists
        raise InvalidRequestError.said("error.no_home", user=path.split("/")[0], path=path,
                                       field="framework_config") from None
    if path.lower().endswith((".yaml", ".yml")):
        framework, found, notes = Framework.TORCHTUNE, _torchtune(_yaml(data, path), path), []
    else:
        framework, (found, notes) = Framework.DEEPSPEED, _deepspeed(parse_json(data, path, "DeepSpeed config"), path)
    found = {"framework": framework, **found}
    settings = ", ".join(f"{k} {getattr(v, 'value', v)}" for k, v in found.items())
    return _merged(request, found, (*notes, Note("note.framework_config_read", path=path, settings=settings)))


def _merged(request: Request, found: dict[str, Any], notes: tuple[str, ...]) -> Request:
    """The file's settings where the query says nothing; where both say, they must agree."""
    defaults = {f.name: f.default for f in dataclasses.fields(Request)}
    changes = {}
    for name, value in found.items():
        said = getattr(request, name)
        if said in (None, defaults[name]) or name == "task" and said is Task.TRAINING:
            changes[name] = value
        elif said != value:
            raise ConflictError.said("error.config_conflict", name=name, said=getattr(said, "value", said),
                                     file=request.framework_config, value=getattr(value, "value", value), field=name)
    return dataclasses.replace(request, **changes, notes=request.notes + notes)


# -- DeepSpeed ---------------------------------------------------------------------------------------
#
# Keys from https://www.deepspeed.ai/docs/config-json/ and deepspeed/runtime/zero/config.py;
# "auto" (the Hugging Face integration's placeholder) leaves the field to the query and the defaults.

def _deepspeed(config: Any, path: str) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(config, dict):
        raise InvalidRequestError.said("error.deepspeed_not_object", path=path, field="framework_config")
    if "model_type" in config or "hidden_size" in config:
        raise InvalidRequestError.said("error.deepspeed_is_model", path=path, field="framework_config")
    found: dict[str, Any] = {}
    zero = _object(config, "zero_optimization", path)
    stage = zero.get("stage")
    if stage is not None:
        found["zero"] = _whole(stage, path, "zero_optimization.stage", 0, 3)
    offload = [name for name, key in (("params", "offload_param"), ("optimizer", "offload_optimizer"))
               if _object(zero, key, path).get("device") in ("cpu", "nvme")]
    if offload:
        found["offload"] = Offload(offload[0])
    precisions = [name for name in ("bf16", "fp16") if _object(config, name, path).get("enabled") is True]
    if len(precisions) > 1:
        raise ConflictError.said("error.deepspeed_both_precisions", path=path, field="dtype")
    if precisions:
        found["dtype"] = precisions[0]
    bf16 = _object(config, "bf16", path)
    if bf16.get("bf16_master_weights_and_grads") is True:  # deepspeed/runtime/precision_config.py
        if bf16.get("bf16_optimizer_states") is not True:
            raise UnsupportedError(f"'{path}': bf16 master weights with fp32 optimizer states are not modelled; "
                                   "vram models them with bf16_optimizer_states too", field="framework_config")
        found["precision_regime"] = Regime.BF16_MASTER
    micro = config.get("train_micro_batch_size_per_gpu")
    if micro not in (None, "auto"):
        found["batch_size"] = _whole(micro, path, "train_micro_batch_size_per_gpu", 1, 1 << 20)
    buckets = [f"{key} {zero[key]}" for key in ("reduce_bucket_size", "allgather_bucket_size",
                                                "stage3_prefetch_bucket_size", "stage3_max_live_parameters",
                                                "sub_group_size")
               if key in zero and zero[key] != "auto"]
    notes = [Note("note.deepspeed_buckets", path=path, buckets=", ".join(buckets))] if buckets else []
    if config.get("activation_checkpointing"):
        notes.append(Note("note.deepspeed_activation_checkpointing", path=path))
    return found, notes


def _object(config: dict, key: str, path: str) -> dict:
    value = config.get(key, {})
    if not isinstance(value, dict):
        raise InvalidRequestError.said("error.config_not_object", path=path, setting=key, field="framework_config")
    return value


def _whole(value: Any, path: str, key: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequestError.said("error.config_not_whole", path=path, setting=key, low=low, high=high,
                                       value=f"{value!r:.40}", field="framework_config")
    return value


# -- torchtune ---------------------------------------------------------------------------------------
#
# A recipe config (recipes/configs/*/*.yaml at github.com/pytorch/torchtune): the model and
# optimizer are components named by _component_; the rest plain keys of the recipe.

#: torchtune's optimizer components (configs of recipes/configs at bd2a0fc) -> vram's optimizer.
TORCHTUNE_OPTIMIZERS = {
    "torch.optim.AdamW": "adamw", "torch.optim.Adam": "adamw", "torch.optim.SGD": "sgd_momentum",
    "bitsandbytes.optim.PagedAdamW8bit": "adam8bit", "bitsandbytes.optim.AdamW8bit": "adam8bit",
    "torchao.optim.AdamW8bit": "adam8bit", "torchao.prototype.low_bit_optim.AdamW8bit": "adam8bit",
}
#: torchtune's LoRA builder prefixes: lora_llama3_1_8b, qlora_llama3_1_8b.
_ADAPTER_PREFIXES = {"lora_": Task.LORA, "qlora_": Task.QLORA}
TORCHTUNE_DTYPES = {"bf16": "bf16", "fp32": "fp32"}
#: torchtune's loss components -> the loss they compute (torchtune/modules/loss; torch.nn.CrossEntropyLoss
#: on the model's whole output, which TransformerDecoder.forward upcasts, self.output(h).float()).
TORCHTUNE_LOSSES = {
    "torch.nn.CrossEntropyLoss": "fp32_logits",
    "torchtune.modules.loss.CEWithChunkedOutputLoss": "chunked_linear",
    "torchtune.modules.loss.LinearCrossEntropyLoss": "chunked_linear",
}


def _yaml(data: bytes, path: str) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        raise UnsupportedError.said("error.needs_pyyaml", field="framework_config") from None
    try:
        config = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        raise InvalidRequestError.said("error.torchtune_unreadable", path=path, detail=str(error)[:120],
                                       field="framework_config") from None
    if not isinstance(config, dict):
        raise InvalidRequestError.said("error.torchtune_not_mapping", path=path, field="framework_config")
    return config


def _torchtune(config: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, read in _TORCHTUNE_KEYS.items():
        if config.get(key) is not None:
            found.update(read(config[key], path))
    return found


def _model(value: Any, path: str) -> dict[str, Any]:
    component = _component(value, path, "model")
    name = component.rsplit(".", 1)[-1]
    found: dict[str, Any] = {}
    for prefix, task in _ADAPTER_PREFIXES.items():
        if name.startswith(prefix):
            name, found["task"] = name[len(prefix):], task
    spec = catalog.find_model(re.sub(r"(\d)_(\d)", r"\1.\2", name)) or catalog.find_model(name)
    if spec is None:
        raise UnsupportedError.said("error.torchtune_model", path=path, component=component, field="framework_config")
    found["model"] = spec.id
    if isinstance(value, dict) and value.get("lora_rank") is not None:
        found["lora_rank"] = _whole(value["lora_rank"], path, "model.lora_rank", 1, 65536)
    return found


def _optimizer(value: Any, path: str) -> dict[str, Any]:
    component = _component(value, path, "optimizer")
    if component not in TORCHTUNE_OPTIMIZERS:
        raise UnsupportedError.said("error.torchtune_optimizer", path=path, component=component,
                                    field="framework_config")
    found: dict[str, Any] = {"optimizer": TORCHTUNE_OPTIMIZERS[component]}
    if isinstance(value, dict) and value.get("fused") is True:
        found["optimizer_foreach"] = False
    return found


def _component(value: Any, path: str, key: str) -> str:
    component = value.get("_component_") if isinstance(value, dict) else None
    if not isinstance(component, str) or len(component) > 200:
        raise InvalidRequestError.said("error.torchtune_component", path=path, setting=key, field="framework_config")
    return component


def _flag(field: str, on: Any, off: Any) -> Callable[[Any, str], dict[str, Any]]:
    def read(value: Any, path: str) -> dict[str, Any]:
        if type(value) is not bool:
            raise InvalidRequestError.said("error.config_not_flag", path=path, value=f"{value!r:.40}",
                                           field="framework_config")
        return {field: on if value else off}
    return read


#: Recipe keys that set request fields, each with how it reads.
_TORCHTUNE_KEYS: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "model": _model,
    "optimizer": _optimizer,
    "batch_size": lambda v, p: {"batch_size": _whole(v, p, "batch_size", 1, 1 << 20)},
    "dtype": lambda v, p: {"dtype": TORCHTUNE_DTYPES.get(v) or _unsupported(p, "dtype", v)},
    "enable_activation_checkpointing": _flag("recompute", Recompute.FULL, Recompute.NONE),
    "enable_activation_offloading": _flag("offload_activations", True, False),
    "optimizer_in_bwd": _flag("optimizer_in_backward", True, False),
    "loss": lambda v, p: {"loss": TORCHTUNE_LOSSES.get(_component(v, p, "loss")) or _unsupported(p, "loss", v)},
    "tokenizer": lambda v, p: ({"seq_len": _whole(v["max_seq_len"], p, "tokenizer.max_seq_len", 1, 1 << 24)}
                               if isinstance(v, dict) and v.get("max_seq_len") is not None else {}),
}


def _unsupported(path: str, key: str, value: Any) -> Any:
    raise UnsupportedError.said("error.config_value", path=path, setting=key, value=f"{value!r:.40}",
                                field="framework_config")


__all__ = ["MAX_FRAMEWORK_CONFIG_BYTES", "looks_like_framework_config", "with_framework_config"]
