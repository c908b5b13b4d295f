"""The request: what a person asked, validated, in the canonical fields of design.md section 4.

A field left None was not stated; the estimate fills it with a default and says so among its
assumptions. The only values filled in here are the ones the stated words decide: ``gpu_count``
is 1 when a GPU is named, ``mixed_precision`` follows a stated training dtype (16-bit training
keeps fp32 master weights unless the query says "pure").

Building a Request checks only what it holds: types, ranges, words that contradict each other. The
model and GPU it names are looked up once, when it is answered, by the resolver
(``vram.catalog.resolve.resolve_request``), which also checks what needs the architecture (tp
dividing the heads, ...). So a Request naming a Hub repo returns at once, with no network.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

from vram.errors import ConflictError, InvalidRequestError, MissingError, RangeError, UnknownWordError
from vram.request.enums import (
    ADAPTER_TASKS, FOUR_BIT_DTYPES, PRE_ALLOCATING, TRAINABLE_DTYPES, TRAINING_TASKS, Dtype, Engine,
    Framework, Loss, Method, Objective, Offload, Optimizer, Recompute, Regime, Solve, Task, mixed_by_default
)
from vram.request.lora import OUTSIDE_BLOCKS, TARGET_NAMES
from vram.request.quant import QUANT_DTYPES, KvDtype
from vram.request.query_text import request_to_query
from vram.units import format_count, format_value

#: Inclusive ranges of the numeric fields. The upper ends are far beyond any real job (a
#: quadrillion parameters, 16M-token contexts, a million GPUs) and keep arithmetic finite.
RANGES: dict[str, tuple[float, float]] = {
    "params": (1, 1e15),
    "seq_len": (1, 2**24),
    "new_tokens": (1, 2**24),
    "batch_size": (1, 2**20),
    "tp": (1, 2**16),
    "pp": (1, 2**16),
    "zero": (0, 3),
    "lora_rank": (1, 2**16),
    "ep": (1, 2**16),
    "gpu_count": (1, 2**20),
    "hidden_size": (1, 2**20),
    "num_layers": (1, 2**16),
    "num_heads": (1, 2**16),
    # a serving engine's share of the GPU (vLLM rejects gpu_memory_utilization outside (0, 1]:
    # vllm/config/cache.py CacheConfig, gt=0, le=1)
    "memory_fraction": (0.01, 1.0),
    "max_num_batched_tokens": (1, 2**24),
    "max_num_seqs": (1, 2**20),
    "max_input_tokens": (1, 2**24),
    "kv_cache_memory_bytes": (1, 2**50),
    "max_total_tokens": (1, 2**40),
    "cpu_offload_gib": (0.01, 2**20),
    "gpu_layers": (0, 2**16),
    "cpu_moe_layers": (0, 2**16),
    "parallel": (1, 2**16),
    "ubatch": (1, 2**20),
    "generations": (1, 2**16),
    "dp": (1, 2**20),
    "cp": (1, 2**16),
    "vpp": (1, 2**10),
    "global_batch": (1, 2**30),
    "grad_accum": (1, 2**20),
    "rollout_fraction": (0.01, 1),
}
#: Numeric fields that take fractions (the rest are whole numbers).
FRACTION_FIELDS = frozenset({"params", "rollout_fraction", "memory_fraction", "cpu_offload_gib"})

#: Fields only a serving engine that pre-allocates its KV pool reads.
ENGINE_FIELDS = ("memory_fraction", "max_num_batched_tokens", "max_num_seqs", "enforce_eager",
                 "kv_cache_memory_bytes", "cpu_offload_gib", "max_input_tokens", "max_total_tokens", "engine_version")
#: Engine fields only one engine reads: vLLM's EngineArgs.kv_cache_memory_bytes (vllm/engine/arg_utils.py);
#: SGLang and TGI size their pools in tokens (--max-total-tokens, --max-batch-total-tokens); TGI's launcher's
#: --max-input-tokens (launcher/src/main.rs)
ONE_ENGINE_FIELDS: dict[str, Engine] = {"kv_cache_memory_bytes": Engine.VLLM, "cpu_offload_gib": Engine.VLLM,
                                        "max_input_tokens": Engine.TGI, "max_total_tokens": Engine.SGLANG}
#: The engines that read an engine field, where more than the pre-allocating ones: transformers'
#: release decides whether generate makes every prompt position's logits (runtimes.toml
#: prompt_logits_until); Ollama's, its default context and layer placement (its *_since columns).
SERVING_READERS = tuple(engine for engine in Engine if engine in PRE_ALLOCATING)  # in the enum's order
ENGINES_READING = {"engine_version": (*SERVING_READERS, Engine.TRANSFORMERS, Engine.OLLAMA)}
#: An engine release as its maintainers number it ("0.10.1", "v0.21.0"): up to four dotted numbers.
RELEASE = re.compile(r"v?(\d{1,4}(?:\.\d{1,4}){0,3})")


def release(version: str) -> tuple[int, ...]:
    """A release as numbers that compare in release order ("0.9.2" before "0.10"); trailing zeros
    dropped, so that "3.0" is the release "3.0.0" names, not one before it."""
    parts = [int(part) for part in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)

#: Enum type of each enumerated field.
ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "task": Task, "dtype": Dtype, "optimizer": Optimizer, "recompute": Recompute, "method": Method,
    "precision_regime": Regime, "loss": Loss, "kv_dtype": KvDtype, "cache_type_k": KvDtype, "cache_type_v": KvDtype,
    "solve": Solve, "offload": Offload,
    "engine": Engine, "framework": Framework, "objective": Objective,
}

#: Yes/no fields.
BOOL_FIELDS = ("mixed_precision", "sp", "flash_attention", "dropout", "optimizer_foreach", "suggest", "reference",
               "dora", "torch_compile", "offload_activations", "optimizer_in_backward")

#: Fields that only mean something when training.
TRAINING_ONLY = ("optimizer", "recompute", "mixed_precision", "precision_regime", "dropout",
                 "optimizer_foreach", "torch_compile", "offload_activations", "optimizer_in_backward", "loss", "framework",
                 "framework_version", "framework_config",
                 "objective", "dp", "vpp", "global_batch", "grad_accum")

#: Settings only llama.cpp and Ollama have (they run llama.cpp's buffers underneath).
ENGINE_SETTINGS = ("gpu_layers", "cpu_moe_layers", "parallel", "ubatch", "cache_type_k", "cache_type_v")
GGML_ENGINES = frozenset({Engine.LLAMA_CPP, Engine.OLLAMA})

#: Post-training fields, each with the objectives it applies to.
OBJECTIVE_FIELDS: dict[str, frozenset[Objective]] = {
    "reference": frozenset({Objective.DPO, Objective.PPO, Objective.GRPO}),
    "generations": frozenset({Objective.GRPO}),
    "rollout_fraction": frozenset({Objective.GRPO, Objective.PPO}),
    "teacher": frozenset({Objective.DISTILL}),
}

#: Architecture fields a query may give for a model named by size only.
ARCH_FIELDS = ("hidden_size", "num_layers", "num_heads")


@dataclass(frozen=True)
class Request:
    """One memory question. Build it directly or with :func:`vram.parse`.

    >>> Request(task="training", model="chatglm-6b", dtype="bf16", optimizer="adamw").mixed_precision
    True
    """

    task: Task  #: what the job does
    model: str | None = None  #: catalog id, or None when only a size was given
    params: float | None = None  #: parameter count when no model is named ("6b" -> 6e9)
    dtype: Dtype | None = None  #: weight data type
    mixed_precision: bool | None = None  #: 16-bit compute with fp32 master weights (training)
    optimizer: Optimizer | None = None
    recompute: Recompute | None = None  #: activation recomputation
    seq_len: int | None = None  #: tokens per sequence (with new_tokens: the prompt's)
    new_tokens: int | None = None  #: tokens generated a sequence after the prompt (inference only)
    batch_size: int | None = None  #: sequences per GPU (micro-batch)
    tp: int = 1  #: tensor-parallel degree
    pp: int = 1  #: pipeline-parallel degree
    sp: bool = False  #: sequence parallelism (with tp > 1)
    zero: int = 0  #: ZeRO stage over the data-parallel group (3 = FSDP full shard)
    flash_attention: bool | None = None  #: attention without the s x s score matrix
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] | None = None  #: matrices the adapters go on (None: the task's default)
    modules_to_save: tuple[str, ...] | None = None  #: layers trained in full beside the adapters (lm_head, embed_tokens)
    dora: bool | None = None  #: DoRA: a trained magnitude a target layer's output (Liu et al. 2024)
    offload: Offload | None = None  #: ZeRO CPU offload of the optimizer, or of the parameters too
    ep: int = 1  #: expert-parallel degree (MoE): the experts split over ep GPUs
    cp: int = 1  #: context-parallel degree: each sequence's tokens split over cp GPUs (Megatron, torchtitan)
    dp: int | None = None  #: data-parallel replicas; None: the GPUs over tp x pp x cp
    vpp: int | None = None  #: virtual pipeline stages a GPU (interleaved 1F1B schedule)
    global_batch: int | None = None  #: sequences an optimizer step: micro-batch x accumulation x data-parallel size
    grad_accum: int | None = None  #: micro-batches accumulated an optimizer step
    gpu: str | None = None  #: catalog id
    gpu_count: int | None = None
    precision_regime: Regime | None = None  #: amp, pure or master (training); None: from the rest
    kv_dtype: KvDtype | None = None  #: KV cache data type (inference); None: the compute dtype
    #: the weights' stored format when the dtype alone does not say it (vram.request.quant:
    #: q4_k_m, awq, mxfp4, ...); it implies the dtype
    quant: str | None = None
    dropout: bool | None = None  #: dropout active in training; None: as the model's config sets it
    optimizer_foreach: bool | None = None  #: torch.optim foreach (full-size step temporaries), not fused
    torch_compile: bool | None = None  #: torch.compile on (its fused loss is modelled where the framework compiles it)
    offload_activations: bool | None = None  #: checkpointed layer inputs kept in host memory (torchtune's offloading)
    #: each parameter stepped as soon as its gradient is made, then the gradient freed (torchtune's
    #: optimizer_in_bwd); None: one optimizer step after backward
    optimizer_in_backward: bool | None = None
    #: how the loss is computed (whole fp32 logits, chunked, fused); None: as the framework does it
    loss: Loss | None = None
    engine: Engine | None = None  #: what serves an inference job; None: transformers' generate
    framework: Framework | None = None  #: what runs a training job; None: Hugging Face transformers
    #: a serving engine's share of CUDA's memory (vLLM's gpu_memory_utilization, SGLang's
    #: mem_fraction_static, TGI's cuda_memory_fraction); None: the engine's default
    memory_fraction: float | None = None
    #: tokens one forward pass takes (vLLM's max_num_batched_tokens, SGLang's chunked_prefill_size,
    #: TGI's max_batch_prefill_tokens); None: the engine's default
    max_num_batched_tokens: int | None = None
    #: the engine's cap on the sequences it runs at once (vLLM's max_num_seqs, SGLang's
    #: max_running_requests, TGI's max_concurrent_requests): a setting of the launch, not a demand
    #: (the concurrency asked is batch_size); None: the engine's default
    max_num_seqs: int | None = None
    #: TGI's --max-input-tokens (--max-input-length): the longest prompt, below max-total-tokens (seq_len);
    #: None: the launcher's default (before 2.4.1 min(the model's context, 4096) - 1, from 2.4.1 unset)
    max_input_tokens: int | None = None
    #: vLLM's enforce_eager (SGLang's disable_cuda_graph): no CUDA graphs are captured; None: graphs on
    enforce_eager: bool | None = None
    #: vLLM's kv_cache_memory_bytes: the KV pool of one GPU in bytes, set directly (the profile still
    #: runs; gpu_memory_utilization is not read); None: the pool the memory fraction leaves
    kv_cache_memory_bytes: int | None = None
    #: SGLang's --max-total-tokens: a cap on its KV pool in tokens, min(profiled, this) (TGI's flag of that
    #: name is the context, seq_len); None: the pool the memory fraction leaves
    max_total_tokens: int | None = None
    #: vLLM's cpu_offload_gb: GiB of each GPU's decoder-layer weights kept in host memory; None: none
    cpu_offload_gib: float | None = None
    #: the engine's release the answer follows ("0.10.1"): vram tells releases apart where a
    #: behaviour changed (runtimes.toml's *_since columns); None: the newest release it describes
    engine_version: str | None = None
    #: the training framework's release the answer follows ("0.1.0", Unsloth's "2024.11.7"): vram tells
    #: releases apart where a column of the framework's row changed (runtimes.toml's [[since, value,
    #: source]] columns); None: the newest release it describes
    framework_version: str | None = None
    #: llama.cpp/Ollama: layers offloaded to the GPUs (-ngl, num_gpu); None: as the engine fits them
    gpu_layers: int | None = None
    #: llama.cpp: the first N blocks keep their MoE experts (ffn_*_exps) in host memory (-ncmoe,
    #: --n-cpu-moe N: common/arg.cpp); None: every offloaded block's experts on the GPU
    cpu_moe_layers: int | None = None
    parallel: int | None = None  #: llama.cpp/Ollama: sequences served at once (-np, OLLAMA_NUM_PARALLEL)
    ubatch: int | None = None  #: llama.cpp: tokens a graph runs at once (-ub, n_ubatch)
    #: llama.cpp: the K and V caches' types apart (-ctk, -ctv; each f16 unless given): kv_dtype sets both
    cache_type_k: KvDtype | None = None
    cache_type_v: KvDtype | None = None
    #: a framework's own config (DeepSpeed JSON, torchtune YAML), a local path read when resolved
    framework_config: str | None = None
    objective: Objective | None = None  #: post-training objective; None: supervised (one model, labels)
    reference: bool | None = None  #: a frozen reference model on the GPU (DPO, PPO, GRPO); None: the objective's default
    generations: int | None = None  #: GRPO: completions sampled a prompt (num_generations)
    rollout_fraction: float | None = None  #: GRPO/PPO: a colocated vLLM's gpu_memory_utilization
    teacher: str | None = None  #: distillation: the teacher's catalog id
    method: Method | None = None  #: estimation method; None means the default
    solve: Solve | None = None  #: a solver question about this job, instead of its bytes
    suggest: bool = False  #: list what would make it fit even when it fits
    #: what reading the query assumed ("no task named: taken as inference"); not part of the job,
    #: so neither compared nor in the JSON form of the request (the answer's assumptions carry it)
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: where each field's word stands in the query text, (field, 0-based offset) pairs, so an error
    #: found when the request is answered points at the word; not part of the job either
    positions: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    hidden_size: int | None = None  #: architecture of a size-only model, when given
    num_layers: int | None = None
    num_heads: int | None = None

    def __post_init__(self) -> None:
        # checked in bulk (each table's values read at once: operator.attrgetter), with fast paths
        # for values already in canonical form: sweeps build hundreds of thousands of Requests with
        # dataclasses.replace, and each query one
        for (name, enum), value in zip(_ENUM_ITEMS, _enum_values(self)):
            if value is not None and type(value) is not enum:
                self._set(name, _coerce_enum(name, enum, value))
        if self.task is None:
            raise MissingError("say what the job does", expected=_values(Task))
        for name, value in zip(BOOL_FIELDS, _bool_values(self)):
            if value is not None and type(value) is not bool:  # no class derives from bool
                _check_bool(name, value)
        for (name, low, high, whole), value in zip(_RANGE_ITEMS, _range_values(self)):
            if value is None or (whole and type(value) is int and low <= value <= high):
                continue
            self._set(name, _check_number(name, value))
        self._check_model()
        self._check_quant()
        self._check_task()
        self._check_gpus()
        self._check_parallelism()
        self._check_solve()

    # -- checks --------------------------------------------------------------------------------

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_model(self) -> None:
        if self.model is None and self.params is None:
            raise MissingError.said("error.missing_model",
                                    expected=("a model name (llama-3-8b, chatglm-6b)", "a size (7b, 350m)"))
        if self.model is not None and self.params is not None:
            raise ConflictError.said("error.model_and_size", model=self.model, size=format_count(self.params),
                                     field="params")
        given = [name for name in ARCH_FIELDS if getattr(self, name) is not None]
        if self.model is not None and given:
            raise ConflictError(
                f"{', '.join(given)} given for {self.model}, whose architecture is known; "
                "architecture words apply to a model named by size only", field=given[0],
            )
        if self.params is not None and self.hidden_size is not None and self.num_layers is not None:
            shaped = 12 * self.num_layers * self.hidden_size**2  # Kaplan et al. 2020: N ~ 12 L h^2
            if not 0.5 <= self.params / shaped <= 2:
                raise ConflictError(
                    f"hidden {self.hidden_size} and {self.num_layers} layers make about {format_count(shaped)} "
                    f"parameters (12 L h^2), not {format_count(self.params)}; give the size that matches",
                    field="hidden_size")
        if self.hidden_size is not None and self.num_heads is not None:
            if self.hidden_size % self.num_heads:
                raise InvalidRequestError(
                    f"hidden size {self.hidden_size} is not a multiple of {self.num_heads} heads", field="num_heads"
                )

    def _check_quant(self) -> None:
        if self.quant is None:
            return
        name = self.quant.lower() if isinstance(self.quant, str) else self.quant
        if name not in QUANT_DTYPES:
            import difflib  # only for a mistake

            close = difflib.get_close_matches(str(name), list(QUANT_DTYPES), n=1)
            raise UnknownWordError(f"unknown weight format '{self.quant}'", suggestion=close[0] if close else None,
                                   expected=sorted(QUANT_DTYPES), field="quant")
        self._set("quant", name)
        if self.task is not Task.INFERENCE:
            raise ConflictError(f"a {name} checkpoint is served, not trained: {name} applies to inference, "
                                f"not to {self.task}", field="quant")
        implied = QUANT_DTYPES[name]
        if self.dtype is not None and self.dtype is not implied:
            raise ConflictError(f"conflicting dtype: {name} stores {implied} weights, not {self.dtype}", field="dtype")
        self._set("dtype", implied)

    def _check_task(self) -> None:
        if self.engine is not None and self.task in TRAINING_TASKS:
            raise ConflictError.said("error.engine_not_training", engine=self.engine, task=self.task, field="engine")
        if self.framework is not None and self.task not in TRAINING_TASKS:
            raise ConflictError.said("error.framework_not_inference", framework=self.framework, task=self.task,
                                     field="framework")
        for name in ENGINE_FIELDS:
            readers = ENGINES_READING.get(name, SERVING_READERS)
            if getattr(self, name) is not None and self.engine not in readers:
                # an engine named that does not read it (llama.cpp, Ollama, transformers) is told apart
                # from none named: "name the engine" would ask for what the query already says
                names = [str(engine) for engine in readers]
                listed = f"{', '.join(names[:-1])} or {names[-1]}"
                ask = (f"name the engine that reads it ({listed})" if self.engine is None
                       else f"{', '.join(names[:-1])} and {names[-1]} read it, not {self.engine}")
                raise ConflictError(f"{_label(name)} is a serving engine's setting: {ask}", field=name)
        self._check_engine_settings()
        for name in ("engine_version", "framework_version"):
            if getattr(self, name) is not None:
                self._check_release(name)
        if self.task not in TRAINING_TASKS:
            for name, value in zip(_TRAINING_FIELDS, _training_values(self)):
                if value is not None:
                    raise ConflictError.said("error.training_only", name=_label(name), field=name)
            if self.zero or self.sp or self.cp > 1:
                name = "zero" if self.zero else "sp" if self.sp else "cp"
                raise ConflictError.said("error.training_only", name=name, field=name)
            return
        if self.kv_dtype is not None:
            raise ConflictError.said("error.kv_inference_only", task=self.task, field="kv_dtype")
        if self.new_tokens is not None:
            raise ConflictError(f"generated tokens apply to inference, not to {self.task}; a training "
                                "sequence is all in seq", field="new_tokens")
        if self.lora_targets is not None:
            self._check_targets()
        self._check_adapter_extras()
        self._check_objective()
        if self.offload not in (None, Offload.NONE) and not self.zero:
            raise InvalidRequestError.said("error.offload_needs_zero", field="offload")
        if self.offload is Offload.PARAMS and self.zero != 3:
            raise InvalidRequestError.said("error.offload_params_zero3", field="offload")
        if self.lora_rank is not None and self.task not in ADAPTER_TASKS:
            raise ConflictError.said("error.rank_adapters_only", field="lora_rank")
        if self.task is Task.TRAINING:
            self._check_training_precision()
        else:
            # for adapters, pure means 16-bit adapters (torchtune) and mixed fp32 adapters (PEFT)
            if self.precision_regime is not None:
                raise ConflictError(
                    f"{self.precision_regime} precision applies to full training, not to {self.task}; for the "
                    "adapters say pure (16-bit adapters) or mixed (fp32 adapters)", field="precision_regime"
                )
            allowed = FOUR_BIT_DTYPES if self.task is Task.QLORA else TRAINABLE_DTYPES | {Dtype.INT8}
            if self.dtype is not None and self.dtype not in allowed:
                hint = ("; qlora is LoRA on a 4-bit base" if self.dtype in FOUR_BIT_DTYPES
                        else "; lora takes a 16-bit or int8 base" if self.task is Task.QLORA else "")
                raise ConflictError(
                    f"{self.task} does not take {_a(self.dtype)} {self.dtype} base model{hint}",
                    expected=sorted(d.value for d in allowed), field="dtype",
                )

    def _check_release(self, name: str) -> None:
        value = getattr(self, name)
        match = RELEASE.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            kind, example = (("engine", "engine-version=0.10.1") if name == "engine_version"
                              else ("framework", "torchtitan-version=0.1.0 or unsloth-version=2024.12.1"))
            raise InvalidRequestError(f"{kind} version '{value}' is not a release number; write it as the {kind} "
                                      f"numbers it, as in {example}", field=name)
        self._set(name, match[1])

    def _check_engine_settings(self) -> None:
        if self.max_input_tokens is not None and self.seq_len is not None and self.max_input_tokens >= self.seq_len:
            # launcher/src/main.rs: "`max_input_tokens` must be < `max_total_tokens`"
            raise ConflictError(f"max_input_tokens {self.max_input_tokens} must be below the context {self.seq_len} "
                                "(TGI's max_total_tokens: the prompt and at least one generated token)",
                                field="max_input_tokens")
        for name, engine in ONE_ENGINE_FIELDS.items():
            if getattr(self, name) is not None and self.engine is not engine:
                raise ConflictError(f"{_label(name)} is {engine.value}'s setting, not {self.engine}'s", field=name)
        given = next((name for name in ENGINE_SETTINGS if getattr(self, name) is not None), None)
        if given is not None and self.engine not in GGML_ENGINES:
            raise ConflictError(f"{_label(given)} is a llama.cpp/Ollama setting: name the engine (llama.cpp, "
                                "llama-server, ollama)", field=given)

    def _check_adapter_extras(self) -> None:
        for name in ("modules_to_save", "dora"):
            if getattr(self, name) is not None and self.task not in ADAPTER_TASKS:
                raise ConflictError(f"{_label(name)} applies to lora or qlora", field=name)
        if self.modules_to_save is not None:
            saved = (self.modules_to_save,) if isinstance(self.modules_to_save, str) else tuple(self.modules_to_save)
            for name in saved:
                if name not in OUTSIDE_BLOCKS:
                    raise UnknownWordError(f"'{name}' is not a layer trained in full beside adapters",
                                           expected=list(OUTSIDE_BLOCKS), field="modules_to_save")
            self._set("modules_to_save", tuple(dict.fromkeys(saved)))

    def _check_targets(self) -> None:
        if self.task not in ADAPTER_TASKS:
            raise ConflictError("adapter targets apply to lora or qlora", field="lora_targets")
        targets = tuple(self.lora_targets) if not isinstance(self.lora_targets, str) else (self.lora_targets,)
        for name in targets:
            if name not in TARGET_NAMES:
                raise UnknownWordError(f"unknown adapter target '{name}'", expected=sorted(TARGET_NAMES),
                                       field="lora_targets")
        self._set("lora_targets", tuple(dict.fromkeys(targets)))

    def _check_objective(self) -> None:
        for name, objectives in OBJECTIVE_FIELDS.items():
            if getattr(self, name) is not None and self.objective not in objectives:
                named = " or ".join(sorted(o.value for o in objectives))
                raise ConflictError(f"{_label(name)} applies to {named} training"
                                    f"{'' if self.objective is None else f', not to {self.objective}'}", field=name)
        if self.objective is Objective.DISTILL and self.teacher is None:
            raise MissingError("distillation needs a teacher: name it, as in 'teacher=llama-3.1-70b'",
                               expected=("teacher=<a catalog model>",), field="teacher")

    def _check_training_precision(self) -> None:
        if self.dtype is not None and self.dtype not in TRAINABLE_DTYPES:
            key = UNTRAINABLE_MESSAGES.get(self.dtype, "error.untrainable_quantised")
            raise InvalidRequestError.said(key, dtype=self.dtype,
                                           expected=("fp32", "bf16", "fp16"), field="dtype")
        if self.dtype is Dtype.FP32 and self.mixed_precision:
            raise ConflictError(
                "mixed precision computes in 16 bits, but the dtype is fp32; say bf16 or fp16", field="mixed_precision"
            )
        regime = self.precision_regime
        if regime is not None:
            mixed = regime is not Regime.PURE
            if self.mixed_precision is not None and self.mixed_precision != mixed:
                raise ConflictError(f"{regime} precision contradicts {'mixed' if self.mixed_precision else 'pure'}",
                                    field="precision_regime")
            if mixed and self.dtype is Dtype.FP32:
                raise ConflictError(f"{regime} precision computes in 16 bits, but the dtype is fp32",
                                    field="precision_regime")
            self._check_bf16_master()
            self._set("mixed_precision", mixed)
        if self.mixed_precision is None and self.dtype is not None:
            self._set("mixed_precision", mixed_by_default(self.dtype))

    def _check_bf16_master(self) -> None:
        """DeepSpeed's bf16 master weights: bf16, and under ZeRO (deepspeed/runtime/config.py asserts stage 1-3)."""
        if self.precision_regime is not Regime.BF16_MASTER:
            return
        if self.dtype not in (None, Dtype.BF16):
            raise ConflictError(f"bf16 master weights keep bf16 weights, but the dtype is {self.dtype}",
                                field="precision_regime")
        if not self.zero:
            raise InvalidRequestError("bf16 master weights are DeepSpeed's ZeRO option (stages 1 to 3: "
                                      "deepspeed/runtime/config.py asserts it); say zero 1, 2 or 3",
                                      field="precision_regime")

    def _check_gpus(self) -> None:
        if self.gpu is not None and self.gpu_count is None:
            # one GPU, or the smallest group that holds the tp/pp/cp/ep (or dp) named
            self._set("gpu_count", self.tp * self.pp * self.cp * (self.dp or self.ep))

    def _check_parallelism(self) -> None:
        if self.sp and self.tp == 1:
            raise InvalidRequestError(
                "sequence parallelism splits over the tensor-parallel group; give tp > 1 with sp", field="sp"
            )
        if self.vpp is not None and self.pp == 1:
            raise InvalidRequestError("virtual pipeline stages interleave a pipeline: give pp > 1 with vpp", field="vpp")
        group = self.tp * self.pp * self.cp
        if self.dp is not None and self.gpu_count is not None and self.gpu_count != group * self.dp:
            raise ConflictError(f"dp {self.dp} x tp {self.tp} x pp {self.pp} x cp {self.cp} = {group * self.dp} GPUs, "
                                f"not the {self.gpu_count} named", field="dp")
        if self.dp is not None and self.dp % self.ep:
            raise InvalidRequestError(f"ep {self.ep} does not divide dp {self.dp}: experts split within the "
                                      "data-parallel GPUs", field="ep")
        if self.optimizer_in_backward and self.grad_accum is not None and self.grad_accum > 1:
            # torchtune's recipes raise it too (full_finetune_single_device.py: "Gradient accumulation is
            # not supported with optimizer in bwd"): a gradient stepped and freed cannot accumulate
            raise ConflictError("the optimizer step in backward frees each gradient once stepped, so nothing "
                                "accumulates: drop grad accum or the step in backward", field="optimizer_in_backward")
        replicas = self.dp or (self.gpu_count // group if self.gpu_count else None)
        if self.global_batch is not None and self.batch_size is not None and self.grad_accum is not None \
                and replicas and self.global_batch != self.batch_size * self.grad_accum * replicas:
            raise ConflictError(f"global batch {self.global_batch} is not micro-batch {self.batch_size} x accumulation "
                                f"{self.grad_accum} x {replicas} data-parallel replicas", field="global_batch")

    def _check_solve(self) -> None:
        if self.solve is Solve.GPUS and self.gpu is not None:
            raise ConflictError(f"'which gpus' looks through the catalog, but {self.gpu} was named", field="solve")
        if self.suggest and self.gpu is None:
            raise MissingError("suggestions need a GPU to fit on", expected=("a GPU, as in 'on a100'",),
                               field="suggest")
        if self.solve is Solve.GPU_LAYERS and self.engine not in GGML_ENGINES:
            raise ConflictError("the layers a GPU holds (n_gpu_layers) are llama.cpp's and Ollama's: name the engine",
                                field="solve")
        if self.solve in (Solve.MAX_BATCH_SIZE, Solve.MAX_SEQ_LEN, Solve.MIN_GPU_COUNT, Solve.GPU_LAYERS) \
                and self.gpu is None:
            raise MissingError.said("error.solve_needs_gpu", what=self.solve.value.replace('_', ' '),
                                    expected=("a GPU, as in 'on a100' or 'on 8x h100'",), field="solve")

    # -- conversions ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of design.md section 4 (enums as their string values)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in _NOT_THE_JOB}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        """Build a Request from its JSON form; unknown keys are an error, with a close match."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                import difflib  # only for a mistake: a cold start that needs no suggestion skips it

                close = difflib.get_close_matches(str(key), names, n=1)
                raise UnknownWordError(f"unknown request field '{key}'", suggestion=close[0] if close else None)
        if "task" not in data:
            raise MissingError("a request needs a task", expected=_values(Task), field="task")
        return cls(**data)

    def to_query(self) -> str:
        """Canonical query text; ``vram.parse(r.to_query()) == r``."""
        return request_to_query(self)


#: The tables __post_init__ checks, as (name, what it needs) rows and a getter of their values.
_ENUM_ITEMS = tuple(ENUM_FIELDS.items())
_enum_values = operator.attrgetter(*ENUM_FIELDS)
_bool_values = operator.attrgetter(*BOOL_FIELDS)
_RANGE_ITEMS = tuple((name, low, high, name not in FRACTION_FIELDS) for name, (low, high) in RANGES.items())
_range_values = operator.attrgetter(*RANGES)
#: Fields an inference job must leave unset, in the order they are reported.
_TRAINING_FIELDS = (*TRAINING_ONLY, "lora_rank", *OBJECTIVE_FIELDS, "modules_to_save", "dora")
_training_values = operator.attrgetter(*_TRAINING_FIELDS)

#: Fields about the reading of the query, not the job: neither compared nor in the JSON form.
_NOT_THE_JOB = ("notes", "positions")


def _a(word: str) -> str:
    """'a' or 'an' before a dtype as it is read aloud (an int8, an fp16, an nf4, a bf16)."""
    return "an" if word[0] in "aeiofhlmnrsx" else "a"


def _coerce_enum(name: str, enum: type[StrEnum], value: Any) -> Any:
    if value is None or type(value) is enum:
        return value
    try:
        return enum(value)
    except ValueError:
        import difflib  # only for a mistake: a cold start that needs no suggestion skips it

        close = difflib.get_close_matches(str(value), _values(enum), n=1)
        raise UnknownWordError(
            f"unknown {_label(name)} '{value}'", suggestion=close[0] if close else None,
            expected=_values(enum), field=name,
        ) from None


def _check_bool(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidRequestError(f"{_label(name)} must be true or false, not {value!r}", field=name)


#: Why a dtype cannot be trained, by message id (a quantised format's: error.untrainable_quantised).
UNTRAINABLE_MESSAGES = {Dtype.FP8: "error.untrainable_fp8", Dtype.INT8: "error.untrainable_int8"}


def _check_number(name: str, value: Any) -> Any:
    if value is None:
        return None
    low, high = RANGES[name]
    integral = name not in FRACTION_FIELDS
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**300:
        value = math.inf if value > 0 else -math.inf  # beyond float range: a range error, not an OverflowError
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integral and not _whole(value)):
        raise RangeError.said("error.not_whole" if integral else "error.not_number", name=_label(name),
                              value=repr(value), field=name)
    if not (math.isfinite(value) and low <= value <= high):
        raise out_of_range(name, (format_count if name == "params" else _show_number)(value))
    return int(value) if integral else float(value)


def out_of_range(name: str, shown: str) -> RangeError:
    """The error for ``name`` given as ``shown`` (the value, or the text typed) outside RANGES."""
    low, high = RANGES[name]
    show_high = format_count(high) if name == "params" else _show_number(high)
    return RangeError.said("error.out_of_range", name=_label(name), shown=shown, low=_show_number(low),
                           high=show_high, field=name)


def _whole(value: float) -> bool:
    return not math.isfinite(value) or float(value).is_integer()


def _show_number(value: float) -> str:
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 10**15:
        return f"{int(value):,}"
    return format_value(value)


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


_LABELS = {
    "params": "parameter count", "seq_len": "sequence length", "batch_size": "batch size",
    "new_tokens": "generated tokens",
    "lora_rank": "LoRA rank", "gpu_count": "GPU count", "mixed_precision": "mixed precision",
    "flash_attention": "flash attention", "hidden_size": "hidden size", "num_layers": "layer count",
    "num_heads": "head count", "zero": "ZeRO stage", "tp": "tp", "pp": "pp",
    "precision_regime": "precision regime", "kv_dtype": "KV cache dtype",
    "optimizer_foreach": "foreach/fused optimizer", "torch_compile": "torch.compile",
    "offload_activations": "activation offloading", "loss": "a loss",
    "optimizer_in_backward": "the optimizer step in backward", "solve": "solver", "lora_targets": "adapter targets",
    "offload": "CPU offload", "ep": "ep", "engine": "a serving engine", "framework": "a training framework",
    "quant": "weight format",
    "memory_fraction": "the engine's memory fraction (gpu_memory_utilization)",
    "max_num_batched_tokens": "max_num_batched_tokens", "gpu_layers": "n_gpu_layers",
    "max_num_seqs": "max_num_seqs (the engine's cap on running sequences)", "enforce_eager": "enforce_eager",
    "max_input_tokens": "max_input_tokens (TGI's longest prompt)",
    "kv_cache_memory_bytes": "kv_cache_memory_bytes (vLLM's KV pool in bytes)",
    "cpu_offload_gib": "cpu_offload_gb (vLLM's weights in host memory)",
    "max_total_tokens": "max_total_tokens (SGLang's KV pool cap in tokens)",
    "cpu_moe_layers": "n_cpu_moe", "engine_version": "an engine release", "framework_version": "a framework release",
    "parallel": "parallel sequences", "ubatch": "n_ubatch",
    "objective": "a post-training objective", "reference": "a reference model", "generations": "generations a prompt",
    "rollout_fraction": "a colocated rollout engine's memory fraction", "teacher": "a teacher model",
    "dp": "dp", "cp": "cp", "vpp": "virtual pipeline stages", "global_batch": "a global batch",
    "grad_accum": "gradient accumulation", "modules_to_save": "modules_to_save", "dora": "DoRA",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name)


__all__ = ["Request", "RANGES", "out_of_range"]
