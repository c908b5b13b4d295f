"""A resolved request with its defaults filled in (a frozen Job), and what filling them said.

Every default an estimate fills is said among its assumptions, in the order it was decided. The
sayings are collected by a ``Said`` that the estimate passes, explicitly, to each function that
decides a default; the Job itself is a value, built once and never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vram.catalog.architecture import Architecture
from vram.catalog.index import ModelSpec
from vram.catalog.resolve import Resolved
from vram.catalog.runtimes import Runtime, launcher_context
from vram.messages import Note
from vram.request.enums import PRE_ALLOCATING, Dtype, Optimizer, Task
from vram.request.quant import QUANT_DTYPES
from vram.request.request import Request

#: Weight dtype when the query names none.
DEFAULT_DTYPE: dict[Task, Dtype] = {
    Task.INFERENCE: Dtype.FP16,  # the article's inference example
    Task.TRAINING: Dtype.BF16,  # the article: mixed precision is what training usually uses
    Task.LORA: Dtype.BF16,
    Task.QLORA: Dtype.NF4,  # QLoRA's 4-bit NormalFloat base
}
DEFAULT_SEQ_LEN = 2048  # the article's token length


class Said:
    """The assumptions of one estimate, in the order they were made."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines: list[str] = []

    def say(self, line: str) -> None:
        self._lines.append(line)

    def default(self, name: str, given: Any, default: Any, why: str = "") -> Any:
        """``given``, or ``default`` said as the default of ``name`` (with why) when nothing was given."""
        if given is not None:
            return given
        self.say(Note("note.default_why", name=name, value=default, why=why) if why else
                 Note("note.default", name=name, value=default))
        return default

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)


@dataclass(frozen=True)
class Job:
    """The request, every default it leaves open filled in."""

    resolved: Resolved
    request: Request  #: resolved.request, read on every line of the methods (a field, not a property)
    arch: Architecture  #: resolved.arch
    dtype: Dtype  #: weight dtype
    seq_len: int
    batch_size: int
    gpu_count: int
    tp: int
    pp: int
    dp: int  #: data-parallel groups: the GPUs over tp x pp
    optimizer: Optimizer | None  #: None for inference
    runtime: Runtime  #: resolved.runtime: the engine or framework running the job (design.md section 8)
    quant: str | None  #: the weights' stored format (vram.request.quant), stated or the checkpoint's own


def job_fields(resolved: Resolved, said: Said, dtype_default: tuple[Dtype, str] | None = None,
               say_beyond: bool = True) -> dict[str, Any]:
    """The fields of a Job for ``resolved``, each default said in ``said`` (a method's job adds its
    own fields to these). ``say_beyond``: say a context beyond the trained one here (the detailed
    method says it last instead, as the one assumption that depends on the context)."""
    request, arch = resolved.request, resolved.arch
    said.say(arch.basis)
    dtype = said.default("dtype", request.dtype, *(dtype_default or default_dtype(request, arch.spec)))
    seq_len = request.seq_len or _default_seq_len(arch.spec, said, resolved.runtime, request.engine_version)
    if say_beyond and arch.spec is not None and seq_len > arch.spec.max_seq_len:
        said.say(beyond(seq_len, arch.spec))
    # a pre-allocating engine starts when one max_model_len sequence fits; its cap is max_num_seqs
    one = "why.engine_starts" if request.engine in PRE_ALLOCATING else "why.one_sequence"
    batch_size = said.default("batch_size", request.batch_size, 1, Note(one))
    # the smallest group that holds the parallelism named, as Request._check_gpus fills it when a GPU is named
    gpu_count = request.gpu_count or request.tp * request.pp * request.cp * (request.dp or request.ep)
    optimizer = (None if request.task is Task.INFERENCE
                 else said.default("optimizer", request.optimizer, Optimizer.ADAMW))
    return dict(resolved=resolved, request=request, arch=arch, dtype=dtype, seq_len=seq_len, batch_size=batch_size,
                gpu_count=gpu_count, tp=request.tp, pp=request.pp, dp=gpu_count // (request.tp * request.pp),
                optimizer=optimizer, runtime=resolved.runtime,
                quant=request.quant or _native_quant(request, arch.spec, said))


def runtime_said(runtime: Runtime, named: object) -> str:
    """The assumption that says which runtime runs the job."""
    if named is not None:
        return f"{runtime.kind} {runtime.name} ({runtime.source})"
    return Note(f"note.default_{runtime.kind}", name=runtime.name)


def _native_quant(request: Request, spec: ModelSpec | None, said: Said) -> str | None:
    """The released checkpoint's format when the query names no dtype (gpt-oss: MXFP4 experts)."""
    if request.task is not Task.INFERENCE or request.dtype is not None or spec is None or not spec.native_quant:
        return None
    said.say(f"weights as {spec.id}'s released checkpoint stores them: {spec.native_quant}")
    return spec.native_quant


def default_dtype(request: Request, spec: ModelSpec | None) -> tuple[Dtype, str]:
    """The weight dtype when the query names none, and why (a model served as released: its
    checkpoint's dtype, fp8 for DeepSeek-V3)."""
    if request.task is Task.INFERENCE and spec is not None and spec.native_quant:
        return QUANT_DTYPES[spec.native_quant], f"{spec.id}'s released checkpoint is {spec.native_quant}"
    if request.task is Task.INFERENCE and spec is not None and spec.native_dtype:
        return Dtype(spec.native_dtype), f"{spec.id}'s released checkpoint"
    return DEFAULT_DTYPE[request.task], ""


def _default_seq_len(spec: ModelSpec | None, said: Said, runtime: Runtime, version: str | None) -> int:
    cap = launcher_context(runtime.settings, version)
    if runtime.pre_allocates and spec is not None and cap is not None and spec.max_seq_len > cap:
        said.say(f"max_model_len {cap} (default: {runtime.name} {version}'s launcher caps the context at "
                 f"min({spec.id}'s {spec.max_seq_len}, {cap}) when none is set; say 'max-model-len 8k' to change)")
        return cap
    if runtime.pre_allocates and spec is not None:  # vLLM's ModelConfig takes max_model_len from config.json
        said.say(f"max_model_len {spec.max_seq_len} (default: {spec.id}'s context, as {runtime.name} reads it from "
                 "the model's config; say 'max-model-len 8k' to change)")
        return spec.max_seq_len
    seq = DEFAULT_SEQ_LEN if spec is None else min(DEFAULT_SEQ_LEN, spec.max_seq_len)
    why = Note("why.article_seq") if seq == DEFAULT_SEQ_LEN else Note("why.whole_context", model=spec.id)
    said.say(Note("note.default_seq", seq=seq, why=why))
    return seq


BEYOND = "seq_len beyond the trained context: "


def beyond(seq_len: int, spec: ModelSpec) -> str:
    """The assumption said of a context longer than the model was trained on."""
    return (f"{BEYOND}{seq_len} tokens, {spec.id} was trained on {spec.max_seq_len}; the memory is counted, "
            "the model may not cope")
