"""Published inference peaks that model makers measured, asked as vram queries: a section of
docs/accuracy.md, "Published inference peaks, by model maker".

``python -m vram.validation.published_inference`` rewrites that section. The peaks are the rows of
tests/data/published_inference.toml; the queries that ask them are
validation/published_inference_queries.toml. The comparison is validation/published.py's (a Case
each, within 10 %), by maker and table (in Case.framework) instead of framework.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import vram
from vram.memory import runtime
from vram.validation import published
from vram.validation.published import BINARY, PAGE, UNITS as TRAINING_UNITS, WITHIN, Case

HERE = Path(__file__).resolve().parent
PEAKS = HERE.parent / "tests" / "data" / "published_inference.toml"
QUERIES = HERE / "published_inference_queries.toml"
HEADING = "## Published inference peaks, by model maker"
#: Statistics as the makers' scripts read them, and how the estimate is compared with each:
#: "allocated-summed" is torch.cuda.max_memory_allocated(i) summed over the GPUs of a
#: device_map="auto" split (QwenLM/Qwen2.5 examples/speed-benchmark/speed_benchmark_transformers.py,
#: lines 83-92 at 8205ba2), so the whole job less a CUDA context a GPU, which the allocator does
#: not count; "unknown" (the source does not say) is compared with the estimate's peak as it is.
SUMMED = frozenset({"allocated-summed"})
UNITS = {**TRAINING_UNITS, "peak_mb": (1e6, "MB")}


def cases() -> list[Case]:
    """Every case of the query table, answered."""
    return published.read_cases(PEAKS, QUERIES, UNITS, BINARY, lambda row: f"{row['maker']}: {row['table']}",
                                _compared_bytes)


def _compared_bytes(estimate: vram.Estimate, statistic: str) -> int:
    """The detailed peak as the row's statistic counts it."""
    if statistic in SUMMED:
        return estimate.job_total_bytes - estimate.gpu_count * runtime.context_bytes(estimate.items)
    return estimate.total_bytes


def section_lines(found: list[Case] | None = None) -> list[str]:
    """The page's section: a summary and a table a maker, then what each miss misses by, and why."""
    found = cases() if found is None else found
    lines = [HEADING, "",
             "Inference memory that model makers measured and published (`tests/data/published_inference.toml`,",
             "each row quoted with its source), asked as queries (`validation/published_inference_queries.toml`)",
             "and answered by the detailed method. A figure summed over the GPUs of a `device_map=\"auto\"` split",
             "is compared with the whole job, less the CUDA contexts the allocator does not count. Reproduced:",
             f"within {WITHIN * 100:g} %. Written by `python -m vram.validation.published_inference`;",
             "`tests/test_published_inference.py` checks every row.", "",
             "| maker: table | cases | within | median error | worst error |", "|---|---|---|---|---|"]
    makers = list(dict.fromkeys(c.framework for c in found))
    for maker in makers:
        errors = [c.error for c in found if c.framework == maker]
        lines.append(f"| {maker} | {len(errors)} | {sum(abs(e) <= WITHIN for e in errors)} | "
                     f"{statistics.median(map(abs, errors)):.1%} | {max(errors, key=abs):+.1%} |")
    lines.append("")
    for maker in makers:
        lines += published.group_lines(maker, [c for c in found if c.framework == maker], places=2)
    return lines


def write(page: Path = PAGE) -> None:
    """Replace the section in ``page`` (from its heading to the next), or put it before the training
    peaks' section, which validation/published.py writes to the page's end."""
    text = page.read_text(encoding="utf-8")
    section = "\n".join(section_lines()).rstrip("\n") + "\n\n"
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        tail = rest[rest.find("\n## "):].lstrip("\n") if "\n## " in rest else ""
    else:
        marker = published.HEADING
        head, tail = (text.split(marker, 1)[0], marker + text.split(marker, 1)[1]) if marker in text else (text, "")
    page.write_text(head.rstrip("\n") + "\n\n" + section + tail, encoding="utf-8")


if __name__ == "__main__":
    written = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    write(written)
    print(f"wrote {written}")
