"""One configuration's row: what was measured and what each method said, and the summary of many.

Shared by the run (accuracy.py) and the page it writes (page.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

TARGET_MEDIAN, TARGET_WORST = 3.0, 10.0  #: percent, the detailed method's targets (issue 9)
GB = 1e9


@dataclass(frozen=True, slots=True)
class Row:
    """One configuration: what was measured and what each method said."""

    query: str
    family: str
    params: float
    method: str  #: the method that answers by default ("detailed", or "article" where it falls back)
    estimate: int  #: the default answer's bytes, comparable with ``measured`` (tensors only)
    estimate_total: int  #: the default answer's whole peak (with the CUDA context)
    article: int | None  #: None where the article's rules refuse the job
    estimate_phase: str
    estimate_items: dict[str, int]  #: the items live at the estimate's peak
    measured: dict[str, Any] | None = None  #: Measurement.to_dict(), or None when not run
    note: str = ""  #: why it was not run, or what failed
    known: str = ""  #: the matrix's note on a residual left on purpose

    def error(self, which: str = "estimate", against: str = "peak_bytes") -> float | None:
        """Signed error of an estimate in percent of the measured value."""
        if not self.measured:
            return None
        truth = self.measured["gpu"].get(against) if against != "peak_bytes" else self.measured["peak_bytes"]
        value = {"estimate": self.estimate, "article": self.article, "total": self.estimate_total}[which]
        return 100 * (value - truth) / truth if truth and value is not None else None


def summary(rows: list[Row], which: str, against: str = "peak_bytes", method: str | None = None) -> dict | None:
    errors = [abs(e) for r in rows if (method is None or r.method == method)
              and (e := r.error(which, against)) is not None]
    if not errors:
        return None
    return {"median": statistics.median(errors), "max": max(errors), "count": len(errors)}
