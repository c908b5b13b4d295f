"""``vram "QUERY" --trace``: the estimate's second opinion, from the job itself run on fake tensors.

The command line's ``--trace`` builds the model the query names on fake tensors (nothing is
allocated, so any size runs on a laptop), runs its training steps or its prefill and decode as
the estimate assumed them, and reports the traced peak beside the estimate: its phase, what was
live there item by item, and how far the estimate is from it. Needs the ``trace`` extra
(``pip install 'vram[trace]'``: torch and transformers); the core never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vram.memory.result import Estimate
from vram.memory.runtime import without_context
from vram.units import format_bytes

from .emulation import UnsupportedRun
from .run import Measurement, measure


@dataclass(frozen=True, slots=True)
class Trace:
    """A traced run beside the estimate of the same request, or the reason it could not run."""

    measurement: Measurement | None
    estimate_bytes: int  #: the estimate's peak less its CUDA context: what a trace can see
    reason: str = ""  #: why no run, when measurement is None
    estimate_parameters: int = 0  #: the parameter count the estimate used

    @property
    def error(self) -> float | None:
        """The estimate's error in percent of the traced peak."""
        if self.measurement is None:
            return None
        return 100 * (self.estimate_bytes - self.measurement.peak_bytes) / self.measurement.peak_bytes

    def to_dict(self) -> dict[str, Any]:
        if self.measurement is None:
            return {"ran": False, "reason": self.reason}
        return {"ran": True, "device": self.measurement.device, "peak_bytes": self.measurement.peak_bytes,
                "phase": self.measurement.phase, "by_item": self.measurement.by_item(),
                "estimate_bytes": self.estimate_bytes, "error_percent": round(self.error, 3)}


def trace(estimate: Estimate) -> Trace:
    """Run ``estimate``'s request on fake tensors and compare."""
    from vram.catalog.resolve import resolve_request
    from vram.memory.detailed.common import detailed_job
    from vram.memory.job import Said

    comparable = without_context(estimate.total_bytes, estimate.items)  # the harness counts tensors only
    try:
        return Trace(measure(estimate.request, fake=True), comparable,
                     estimate_parameters=round(detailed_job(resolve_request(estimate.request), Said()).params))
    except UnsupportedRun as error:
        return Trace(None, comparable, str(error))
    except Exception as error:  # a second opinion that fails must not take the estimate with it
        return Trace(None, comparable, f"the run failed ({type(error).__name__}: {error})")


def render_trace(result: Trace, unit: str = "GB") -> str:
    """The trace as a section of the text answer."""
    if result.measurement is None:
        return f"Trace: not run: {result.reason}"
    m = result.measurement
    lines = [f"Trace (PyTorch on {m.device}: the job run op by op, live tensors logged):",
             f"  traced peak {format_bytes(m.peak_bytes, unit)} {unit} at {m.phase}; this estimate, "
             f"less its CUDA context, is {format_bytes(result.estimate_bytes, unit)} {unit} "
             f"({result.error:+.1f} %)"]
    items = sorted(m.by_item().items(), key=lambda kv: -kv[1])
    width = max(len(key) for key, _ in items)
    lines += [f"  {key.ljust(width)}  {format_bytes(size, unit)}" for key, size in items if size >= 1e6]
    if m.parameters and abs(m.parameters - result.estimate_parameters) > 0.005 * result.estimate_parameters:
        lines.append(f"  the model that ran has {m.parameters:,} parameters; the estimate counts "
                     f"{result.estimate_parameters:,} (a size alone runs its reference architecture)")
    lines.append("  (no CUDA context, allocator rounding or kernel workspaces: a GPU adds those)")
    return "\n".join(lines)
