"""A request with its defaults filled in, and the assumptions that says: shared by the methods."""

from __future__ import annotations

from typing import Any

from vram.catalog.architecture import Architecture
from vram.request.enums import Dtype, Optimizer, Task
from vram.request.request import Request

#: Weight dtype when the query names none.
DEFAULT_DTYPE: dict[Task, Dtype] = {
    Task.INFERENCE: Dtype.FP16,  # the article's inference example
    Task.TRAINING: Dtype.BF16,  # the article: mixed precision is what training usually uses
    Task.LORA: Dtype.BF16,
    Task.QLORA: Dtype.NF4,  # QLoRA's 4-bit NormalFloat base
}
DEFAULT_SEQ_LEN = 2048  # the article's token length


class Job:
    """The request, every default it leaves open filled in and said among the assumptions."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.arch: Architecture = request.architecture()
        self.assumptions: list[str] = [self.arch.basis]
        self.dtype: Dtype = self.default("dtype", request.dtype, *self.default_dtype())
        self.seq_len: int = request.seq_len or self._default_seq_len()
        spec = self.arch.spec
        if spec is not None and self.seq_len > spec.max_seq_len:
            self.assumptions.append(beyond(self.seq_len, spec))
        self.batch_size: int = self.default("batch_size", request.batch_size, 1, "one sequence a GPU")
        self.gpu_count: int = request.gpu_count or request.tp * request.pp
        self.tp, self.pp = request.tp, request.pp
        self.dp = self.gpu_count // (self.tp * self.pp)
        if request.task is not Task.INFERENCE:
            self.optimizer: Optimizer = self.default("optimizer", request.optimizer, Optimizer.ADAMW)

    def default_dtype(self) -> tuple[Dtype, str]:
        """The weight dtype when the query names none, and why (a model served as released: its
        checkpoint's dtype, fp8 for DeepSeek-V3)."""
        spec = self.arch.spec
        if self.request.task is Task.INFERENCE and spec is not None and spec.native_dtype:
            return Dtype(spec.native_dtype), f"{spec.id}'s released checkpoint"
        return DEFAULT_DTYPE[self.request.task], ""

    def default(self, name: str, given: Any, default: Any, why: str = "") -> Any:
        if given is not None:
            return given
        self.assumptions.append(f"{name} {default} (default{': ' + why if why else ''})")
        return default

    def _default_seq_len(self) -> int:
        spec = self.arch.spec
        seq = DEFAULT_SEQ_LEN if spec is None else min(DEFAULT_SEQ_LEN, spec.max_seq_len)
        why = "the article's 2048" if seq == DEFAULT_SEQ_LEN else f"{spec.id}'s whole context"
        self.assumptions.append(f"seq_len {seq} (default: {why}; say 'seq 8k' to change)")
        return seq


BEYOND = "seq_len beyond the trained context: "


def beyond(seq_len: int, spec) -> str:
    """The assumption said of a context longer than the model was trained on."""
    return (f"{BEYOND}{seq_len} tokens, {spec.id} was trained on {spec.max_seq_len}; the memory is counted, "
            "the model may not cope")
