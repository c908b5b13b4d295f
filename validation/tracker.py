"""Live tensor memory, op by op: a TorchDispatchMode that logs every storage's birth and death.

Every op that runs under the mode (forward, the autograd engine's backward ops, the optimizer's
kernels) hands its outputs to :meth:`LiveMemory.__torch_dispatch__`; each new storage is logged
with its bytes, the op, the phase and the module that made it, and a weak reference whose
callback logs its release. Replaying the log gives the peak of live bytes, when it happened and
which tensors were live there, by kind (weights, gradients, optimizer states, activations, ...).

It works the same on real tensors and under ``FakeTensorMode`` (a fake tensor's storage lives and
dies like a real one, it only holds no data), which is how a 70B model "runs" on a laptop. It is
the technique of PyTorch's own ``torch.distributed._tools.mem_tracker.MemTracker`` (weak
references to untyped storages), with a log instead of running snapshots so that a storage can be
reclassified after the fact (a gradient is only known as one when autograd accumulates it).

What it cannot see: memory a kernel allocates for itself and never returns as a tensor (cuBLAS
and flash-attention workspaces), the CUDA context, and the caching allocator's rounding and
fragmentation. ``gpu.py`` measures those on a real GPU.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary


@dataclass(slots=True)
class Allocation:
    """One storage: its size and where it came from. ``kind`` may be corrected later."""

    id: int
    bytes: int
    op: str
    phase: str
    module: str
    kind: str
    shape: str = ""  #: dtype and shape of the tensor that brought the storage in


@dataclass(frozen=True, slots=True)
class Peak:
    """The most bytes live at once, and what they were."""

    bytes: int
    phase: str  #: the phase during which the peak happened
    op: str  #: the op whose output made it
    by_kind: dict[str, int]  #: live bytes at the peak by kind
    live: tuple[Allocation, ...] = field(repr=False)

    def largest(self, kind: str | None = None, top: int = 8) -> list[tuple[str, int, int]]:
        """(op @ module, count, bytes) of the biggest groups of live tensors, optionally of one kind."""
        groups: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        for a in self.live:
            if kind is None or a.kind == kind:
                key = f"{a.kind}: {a.op} @ {a.module or '-'}"
                groups[key] += a.bytes
                counts[key] += 1
        return [(key, counts[key], size) for key, size in groups.most_common(top)]


class LiveMemory(TorchDispatchMode):
    """Log of live tensor storages; use as a context manager around the work to measure."""

    def __init__(self) -> None:
        super().__init__()
        self.allocations: list[Allocation] = []
        self.events: list[tuple[int, int]] = []  #: (allocation id + 1, or -(id + 1) on release; phase index)
        self.phases: list[str] = []
        self.phase = "setup"
        self.module = ""
        self._storages: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self._refs: dict[int, weakref.ref] = {}
        self._module_names: dict[int, str] = {}
        self._module_stack: list[str] = []
        self._hooks: list = []
        self._head_modules: set[str] = set()

    # -- what the runner tells the tracker --------------------------------------------------------

    def set_phase(self, name: str) -> None:
        self.phase = name
        # checkpointing's recompute stops early (torch.utils.checkpoint raises to end it), leaving
        # modules whose forward hooks never closed: a new phase starts outside every module
        self._module_stack.clear()
        self.module = ""

    def watch(self, model: torch.nn.Module) -> None:
        """Name the tensors each of ``model``'s modules makes by the module's path."""
        self._module_names.update({id(m): name for name, m in model.named_modules()})
        for name, module in model.named_modules():
            if isinstance(getattr(module, "lm_head", None), torch.nn.Module):  # the ...ForCausalLM module
                self._head_modules |= {name, f"{name}.lm_head" if name else "lm_head"}

    def track(self, tensor: torch.Tensor, kind: str, op: str = "(given)") -> None:
        """Log a tensor made before the mode was entered (weights, inputs) under ``kind``."""
        allocation = self._register(tensor, op)
        if allocation is not None:
            allocation.kind = kind

    def classify(self, tensor: torch.Tensor | None, kind: str) -> None:
        """Say what an already-logged tensor is (a gradient, an optimizer state, the KV cache)."""
        if tensor is None:
            return
        allocation = self._register(tensor, "(untracked)")
        if allocation is not None:
            allocation.kind = kind

    # -- the dispatch hook and module hooks -------------------------------------------------------

    def __enter__(self):
        from torch.nn.modules import module as nn_module

        self._hooks = [nn_module.register_module_forward_pre_hook(self._enter_module),
                       nn_module.register_module_forward_hook(self._leave_module)]
        return super().__enter__()

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        return super().__exit__(*exc)

    def _enter_module(self, module, args) -> None:
        name = self._module_names.get(id(module))
        if name is not None:
            self._module_stack.append(name)
            self.module = name

    def _leave_module(self, module, args, output) -> None:
        if self._module_names.get(id(module)) is not None and self._module_stack:
            self._module_stack.pop()
            self.module = self._module_stack[-1] if self._module_stack else ""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        weight_cast = name == "_to_copy" and self._kind_of(args[0]) == "weights"
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                allocation = self._register(value, name)
                if weight_cast and allocation is not None and allocation.op == name:
                    allocation.kind = "weight casts"
        return out

    def _kind_of(self, value) -> str | None:
        if not isinstance(value, torch.Tensor):
            return None
        known = self._storages.get(value.untyped_storage())
        return known.kind if known is not None else None

    def _register(self, tensor: torch.Tensor, op: str) -> Allocation | None:
        try:
            storage = tensor.untyped_storage()
        except (NotImplementedError, RuntimeError):  # sparse and other storage-less tensors
            return None
        known = self._storages.get(storage)
        if known is not None:
            return known
        allocation = Allocation(len(self.allocations), storage.nbytes(), op, self.phase, self.module,
                                self._default_kind(op), f"{str(tensor.dtype)[6:]}{list(tensor.shape)}")
        self.allocations.append(allocation)
        self._storages[storage] = allocation
        self._refs[allocation.id] = weakref.ref(storage, lambda _, i=allocation.id: self._release(i))
        self._log(allocation.id + 1)
        return allocation

    def _release(self, allocation_id: int) -> None:
        self._refs.pop(allocation_id, None)
        self._log(-(allocation_id + 1))

    def _log(self, signed_id: int) -> None:
        if not self.phases or self.phases[-1] != self.phase:
            self.phases.append(self.phase)
        self.events.append((signed_id, len(self.phases) - 1))

    def _default_kind(self, op: str) -> str:
        if op in LOSS_BACKWARD_OPS:
            return "logits and loss"  # the loss's own gradients, first in backward
        if self.phase in ("forward", "prefill", "decode") and self.module in self._head_modules:
            return "logits and loss"  # the head, and the loss the causal-LM module computes after it
        return PHASE_KINDS.get(self.phase, self.phase)

    # -- reading the log ------------------------------------------------------------------------

    def peak(self, phases: set[str] | None = None) -> Peak:
        """The peak of live device bytes (host copies left out), over the whole log or during the
        given phases only."""
        live = best = 0
        best_index = -1
        for index, (signed, phase) in enumerate(self.events):
            allocation = self.allocations[abs(signed) - 1]
            if allocation.kind == HOST:
                continue
            live += allocation.bytes if signed > 0 else -allocation.bytes
            if live > best and (phases is None or self.phases[phase] in phases):
                best, best_index = live, index
        return self._snapshot(best_index, best)

    def host_peak(self) -> int:
        """The peak of live bytes of the tensors said to be in host memory."""
        live = best = 0
        for signed, _ in self.events:
            allocation = self.allocations[abs(signed) - 1]
            if allocation.kind == HOST:
                live += allocation.bytes if signed > 0 else -allocation.bytes
                best = max(best, live)
        return best

    def current_bytes(self) -> int:
        return sum(self.allocations[abs(s) - 1].bytes * (1 if s > 0 else -1) for s, _ in self.events
                   if self.allocations[abs(s) - 1].kind != HOST)

    def _snapshot(self, index: int, total: int) -> Peak:
        alive: dict[int, Allocation] = {}
        for signed, _ in self.events[: index + 1]:
            allocation = self.allocations[abs(signed) - 1]
            if signed > 0:
                alive[allocation.id] = allocation
            else:
                alive.pop(allocation.id, None)
        by_kind: Counter[str] = Counter()
        alive = {i: a for i, a in alive.items() if a.kind != HOST}
        for allocation in alive.values():
            by_kind[allocation.kind] += allocation.bytes
        if index < 0:
            return Peak(0, "", "", {}, ())
        signed, phase = self.events[index]
        op = self.allocations[abs(signed) - 1].op
        return Peak(total, self.phases[phase], op, dict(by_kind.most_common()), tuple(alive.values()))


#: The kind of a copy in host memory (activation offloading): logged, but not device memory.
HOST = "host memory"

#: Backward ops of the loss (cross_entropy = log_softmax + nll_loss): their outputs are the
#: logits' gradients, counted with the logits.
LOSS_BACKWARD_OPS = frozenset({"nll_loss_backward", "nll_loss2d_backward", "_log_softmax_backward_data"})

#: What a tensor made in each phase is, until something says otherwise.
PHASE_KINDS = {
    "setup": "inputs",
    "forward": "activations",
    "backward": "backward temporaries",
    "optimizer step": "optimizer temporaries",
    "prefill": "prefill working set",
    "decode": "decode working set",
}
