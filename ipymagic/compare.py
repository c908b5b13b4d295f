"""Several estimates side by side: what ``%%vram`` returns, one row a query.

An :class:`Estimates` is a read-only sequence of Estimates (``cmp[0]`` is the first full
answer); in a notebook it shows as one table whose bars share a scale (``render.py``), in a
terminal as a plain table (here), and ``to_frame()`` gives a pandas DataFrame. Columns come in
the order that answers first: the query, its peak, the verdict, then the items.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vram import Estimate
from vram.render import ITEM_STYLES, fit_parts, item_keys
from vram.request.enums import Item
from vram.units import format_bytes

from .render import render_comparison_html


@dataclass(frozen=True)
class Estimates:
    """Estimates of several queries, in the order they were asked (not the core's
    ``estimate.Comparison``, which is another method's total for one query)."""

    estimates: tuple[Estimate, ...]
    unit: str = "GB"  #: how the table shows bytes: GB (1e9) or GiB

    def __iter__(self) -> Iterator[Estimate]:
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, index: int) -> Estimate:
        return self.estimates[index]

    def _repr_html_(self) -> str:
        return render_comparison_html(self.estimates, self.unit)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(render_comparison_text(self))

    def to_frame(self) -> Any:
        """A pandas DataFrame, a row a query: query, method, GPUs, peak bytes a GPU, verdict, then each
        item's bytes (0 where a query has no such item); exact integers, for sums and plots.

        >>> import vram
        >>> from vram.ipymagic import Estimates
        >>> frame = Estimates((vram.ask("infer 6b int8 method=article"),)).to_frame()
        >>> row = frame.iloc[0]
        >>> row["query"], int(row["peak_bytes"]), int(row["weights"])
        ('infer 6b int8 method article', 7200000000, 6000000000)
        """
        try:
            import pandas
        except ImportError:
            raise ImportError("Estimates.to_frame() needs pandas, which vram does not install: "
                              "pip install pandas", name="pandas") from None
        return pandas.DataFrame(frame_rows(self.estimates))


def frame_rows(estimates: tuple[Estimate, ...]) -> list[dict[str, Any]]:
    """The rows of ``to_frame``, as plain dicts (column name to value)."""
    keys = item_keys(estimates)
    return [{"query": est.request.to_query(), "method": est.method.value,
             "gpu": est.request.gpu, "gpu_count": est.gpu_count, "peak_bytes": est.total_bytes,
             "verdict": "; ".join(f"{p.words} on {p.where}" for p in map(fit_parts, est.fit)) or None,
             **{key.value: _item_bytes(est, key) for key in keys}} for est in estimates]


def _item_bytes(est: Estimate, key: Item) -> int:
    return sum(item.bytes for item in est.items if item.key is key)


def render_comparison_text(comparison: Estimates) -> str:
    """A plain table: the query, its peak, the verdict, then each item in GB (or GiB)."""
    keys = item_keys(comparison.estimates)
    head = ["Query", f"Peak {comparison.unit}", "Fit", *(ITEM_STYLES[k].title for k in keys)]
    rows = [head, *(_text_row(est, keys, comparison.unit) for est in comparison)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(_text_line(row, widths) for row in rows)


def _text_line(row: list[str], widths: list[int]) -> str:
    # Words (the query and the verdict) left-aligned, numbers right-aligned.
    cells = [text.ljust(w) if i in (0, 2) else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths))]
    return "  ".join(cells).rstrip()


def _text_row(est: Estimate, keys: list[Item], unit: str) -> list[str]:
    by_key = {item.key: item for item in est.items}
    numbers = [format_bytes(by_key[k].bytes, unit) if k in by_key else "" for k in keys]
    return [est.request.to_query(), format_bytes(est.total_bytes, unit), _text_verdict(est, unit), *numbers]


def _text_verdict(est: Estimate, unit: str) -> str:
    words = [f"{parts.words} on {parts.where} ({parts.margin})" for parts in (fit_parts(f, unit) for f in est.fit)]
    return "; ".join(words) or "no GPU named"
