"""Published training peaks asked as vram queries, by framework: the table of docs/accuracy.md.

``python -m vram.validation.published`` rewrites that section of docs/accuracy.md (``python -m
vram.validation`` writes it too, with the rest of the page). The peaks are the rows of
tests/data/published_training.toml; the queries that ask them are validation/published_queries.toml.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import vram
from vram.memory import runtime

HERE = Path(__file__).resolve().parent
PEAKS = HERE.parent / "tests" / "data" / "published_training.toml"
QUERIES = HERE / "published_queries.toml"
PAGE = HERE.parent / "docs" / "accuracy.md"
HEADING = "## Published training peaks, by framework"
#: Within this share of the published peak a case is reproduced (issue 17).
WITHIN = 0.10
UNITS = {"peak_gib": (2**30, "GiB"), "peak_gb": (1e9, "GB")}
#: A case's `unit` where the source prints GB or MB that its script computes in binary units.
BINARY = {"GiB": 2**30, "MiB": 2**20}
#: Statistics PyTorch's caching allocator keeps (torch.cuda.max_memory_allocated, memory_stats()
#: "active_bytes.all.peak" and "reserved_bytes.all.peak") count only the blocks it hands out; the CUDA
#: context lives outside it (https://pytorch.org/docs/stable/notes/cuda.html#memory-management: "the
#: unused memory managed by the allocator will still show as if used in nvidia-smi"; the context is
#: the driver's), so against them the peak is compared without vram's CUDA context item.
ALLOCATOR_STATISTICS = frozenset({"allocated", "active", "reserved"})


@dataclass(frozen=True)
class Case:
    id: str
    framework: str
    query: str
    published: float  #: as the source prints it, in ``unit``
    unit: str
    statistic: str
    ours: float  #: the detailed method's peak, in ``unit``
    expect: str
    assumed: str
    why: str
    source: str

    @property
    def error(self) -> float:
        return self.ours / self.published - 1

    @property
    def within(self) -> bool:
        return abs(self.error) <= WITHIN


def cases() -> list[Case]:
    """Every case of the query table, answered (a case printed as GB and computed in GiB says so:
    the row's notes)."""
    return read_cases(PEAKS, QUERIES, UNITS, BINARY, lambda row: row["framework"], _compared_bytes)


def read_cases(peaks: Path, queries: Path, units: dict[str, tuple[float, str]], binary: dict[str, int],
               group: Callable[[dict], str], compared: Callable[[vram.Estimate, str], int]) -> list[Case]:
    """The cases of a query table, each asked and compared with its published row: ``units`` by the
    row's figure key, ``binary`` where a case's unit says the source printed GB or MB that it
    computed in GiB or MiB, ``group`` the table a row is shown in, ``compared`` the estimate's
    bytes as the row's statistic counts them."""
    rows = {row["id"]: row for row in tomllib.loads(peaks.read_text(encoding="utf-8"))["peak"]}
    found = []
    for case in tomllib.loads(queries.read_text(encoding="utf-8"))["case"]:
        row = rows[case["id"]]
        (key, figure), = ((k, v) for k, v in row["peak"].items() if k != "statistic")
        size, unit = units[key]
        if case.get("unit") in binary:
            size, unit = binary[case["unit"]], case["unit"]
        found.append(Case(case["id"], group(row), case["query"], figure, unit, row["peak"]["statistic"],
                          compared(vram.ask(case["query"]), row["peak"]["statistic"]) / size,
                          case["expect"], case.get("assumed", ""), case.get("why", ""), row["source"]))
    return found


def _compared_bytes(estimate: vram.Estimate, statistic: str) -> int:
    """The detailed peak as the row's statistic counts it."""
    if statistic not in ALLOCATOR_STATISTICS:
        return estimate.total_bytes
    if statistic == "reserved" and estimate.reserved_bytes is not None:
        return estimate.reserved_bytes  # the other streams' pools too (memory/detailed/allocator.py)
    return runtime.without_context(estimate.total_bytes, estimate.items)


def section_lines(found: list[Case] | None = None) -> list[str]:
    """The page's section: a table a framework, then what each miss misses by, and why."""
    found = cases() if found is None else found
    lines = [HEADING, "",
             "Peaks that framework authors and users measured and published (`tests/data/published_training.toml`,",
             "each row quoted with its source), asked as queries (`validation/published_queries.toml`) and",
             "answered by the detailed method. Against a statistic of PyTorch's caching allocator (allocated,",
             "active, reserved) the peak is compared without the CUDA context, which the allocator does not",
             f"count. Reproduced: within {WITHIN * 100:g} %. Written by",
             "`python -m vram.validation.published`; `tests/test_published_peaks.py` checks every row.", ""]
    for framework in dict.fromkeys(c.framework for c in found):
        lines += group_lines(framework, [c for c in found if c.framework == framework], places=1)
    return lines


def group_lines(group: str, mine: list[Case], places: int) -> list[str]:
    """One group's table (a framework's, a model maker's), vram's figure to ``places`` decimals, then
    what each case assumed and what each miss misses by, and why."""
    lines = [f"### {group}: {sum(c.within for c in mine)} of {len(mine)} reproduced", "",
             "| published row | query | published | statistic | vram | error |",
             "|---|---|---|---|---|---|"]
    lines += [f"| [{c.id}]({c.source}) | `{c.query}` | {c.published:g} {c.unit} | {c.statistic} | "
              f"{c.ours:.{places}f} {c.unit} | {c.error:+.1%} |" for c in mine]
    notes = [f"- {c.id}: {'assumed ' + c.assumed + '. ' if c.assumed else ''}"
             f"{'Missed by ' + format(c.error, '+.1%') + ': ' + c.why if not c.within else ''}".rstrip()
             for c in mine if c.assumed or not c.within]
    return lines + (["", *notes, ""] if notes else [""])


def write(page: Path = PAGE) -> None:
    """Replace the section in ``page`` (everything from its heading on), or append it."""
    text = page.read_text(encoding="utf-8")
    head = text.split(HEADING)[0].rstrip("\n")
    page.write_text(head + "\n\n" + "\n".join(section_lines()).rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    written = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    write(written)
    print(f"wrote {written}")
