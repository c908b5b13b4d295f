"""docs/accuracy.md: every configuration of the matrix, measured, beside both methods' estimates.

``python -m vram.validation`` runs the matrix (:mod:`.matrix`) on fake tensors on the CPU and,
when a GPU is there, for real on it; writes the measurements to ``docs/accuracy.json`` and the
page ``docs/accuracy.md`` from them. A run without a GPU keeps the GPU section of the last run
that had one (its device and versions stay with it).

What is compared. On the CPU: the peak of live tensor bytes against the estimate's peak less its
CUDA-context line (the tensors are what a trace can see; the context is measured on the GPU).
On a GPU: ``max_memory_allocated`` against the same, and the driver's count for the process
against the whole estimate. The article's rule of thumb is one total with no context line; it
is compared with the same measured numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import vram
from vram.memory.runtime import without_context
from vram.request.enums import Item

from .emulation import UnsupportedRun
from .matrix import MATRIX, Case
from .rows import GB, Row

DOCS = Path("docs")  #: run from the repository root, as README says
def estimate_row(case: Case) -> Row:
    request = vram.parse(case.text())
    answer = vram.estimate(request)
    try:
        article = vram.estimate(request, method="article").total_bytes
    except vram.VramError:  # a job the article's rules do not describe (pure-bf16 adapters): no figure
        article = None
    peak = answer.peak_phase
    live = set(peak.live) if peak else {item.key for item in answer.items}
    items = {item.key: item.bytes for item in answer.items if item.key in live and item.key != Item.CUDA_CONTEXT}
    from vram.catalog.resolve import resolve_request
    from vram.memory.detailed.common import detailed_job
    from vram.memory.job import Said

    return Row(case.shown, case.family, detailed_job(resolve_request(request), Said()).params, answer.method.value,
               without_context(answer.total_bytes, answer.items), answer.total_bytes, article,
               peak.name if peak else "sum of items",
               items, known=case.known)


def run_cases(cases: Sequence[Case], measure: Callable, log=print, skip: Callable[[Case, Row], str] | None = None
              ) -> list[Row]:
    """Estimate and measure each case; a case that cannot run says why in its note."""
    rows = []
    for case in cases:
        row = estimate_row(case)
        start = time.time()
        reason = skip(case, row) if skip else ""
        if reason:
            rows.append(_with(row, note=reason))
            log(f"  {case.shown}: not run ({reason})")
            continue
        try:
            measured = measure(vram.parse(case.text()))
        except UnsupportedRun as error:
            rows.append(_with(row, note=str(error)))
            log(f"  {case.shown}: not run ({error})")
            continue
        except Exception as error:  # a failing run is reported in the table, not hidden
            rows.append(_with(row, note=f"failed: {type(error).__name__}: {error}"))
            log(f"  {case.shown}: FAILED\n{traceback.format_exc()}")
            continue
        rows.append(_with(row, measured=measured.to_dict()))
        log(f"  {case.shown}: measured {measured.peak_bytes / GB:.3f} GB, estimate {row.estimate / GB:.3f} GB "
            f"({rows[-1].error():+.1f} %) [{time.time() - start:.0f} s]")
    return rows


def _with(row: Row, **changes) -> Row:
    return Row(**{**asdict(row), **changes})


def versions() -> dict[str, str]:
    import torch
    import transformers

    found = {"vram": vram.__version__, "python": platform.python_version(), "torch": torch.__version__,
             "transformers": transformers.__version__}
    for name in ("peft", "bitsandbytes"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            pass
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
    return found


# -- the command --------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vram.validation", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for accuracy.md and accuracy.json")
    parser.add_argument("--only", default="", help="run only the queries containing this text (no page written)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU runs even when a GPU is there")
    args = parser.parse_args(argv)
    from . import gpu as cuda
    from .run import measure

    cases = [c for c in MATRIX if args.only in c.query]
    print(f"CPU, fake tensors: {len(cases)} configurations", flush=True)
    cpu_rows = run_cases(cases, measure)
    record_path = args.out / "accuracy.json"
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    today = datetime.date.today().isoformat()
    cpu = {"date": today, "versions": versions(), "rows": [asdict(r) for r in cpu_rows]}
    gpu_record = previous.get("gpu")
    if cuda.available() and not args.no_gpu:
        print(f"GPU: {cuda.device_name()}", flush=True)
        gpu_rows = run_cases(cases, cuda.measure_gpu, skip=_gpu_skip)
        gpu_record = {"date": today, "device": cuda.device_name(), "versions": versions(),
                      "rows": [asdict(r) for r in gpu_rows]}
    if args.only:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps({"cpu": cpu, "gpu": gpu_record}, indent=1) + "\n")
    from .page import render

    (args.out / "accuracy.md").write_text(render(cpu, gpu_record))
    print(f"wrote {args.out / 'accuracy.md'}")
    return 0


def _gpu_skip(case: Case, row: Row) -> str:
    from . import gpu as cuda

    if not cuda.fits(max(row.estimate_total, row.article)):
        return f"does not fit on {cuda.device_name()} (estimated {row.estimate_total / GB:.1f} GB)"
    return ""


if __name__ == "__main__":
    sys.exit(main())
