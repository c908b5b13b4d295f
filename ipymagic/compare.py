"""Several estimates side by side: what ``%%vram`` returns, one row a query.

An :class:`Estimates` is a read-only sequence of Estimates (``cmp[0]`` is the first full
answer); in a notebook it shows as one table whose bars share a scale (``render.py``), in a
terminal as a plain table (here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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

    def __iter__(self) -> Iterator[Estimate]:
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, index: int) -> Estimate:
        return self.estimates[index]

    def _repr_html_(self) -> str:
        return render_comparison_html(self.estimates)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(render_comparison_text(self))


def render_comparison_text(comparison: Estimates) -> str:
    """A plain table: query, each item and the total in GB, and the verdict."""
    keys = item_keys(comparison.estimates)
    head = ["Query", *(ITEM_STYLES[k].title for k in keys), "Total GB", "Fit"]
    rows = [head, *(_text_row(est, keys) for est in comparison)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(_text_line(row, widths) for row in rows)


def _text_line(row: list[str], widths: list[int]) -> str:
    # Numbers (every column but the first and the last) right-aligned.
    last = len(row) - 1
    cells = [text.rjust(w) if 0 < i < last else text.ljust(w) for i, (text, w) in enumerate(zip(row, widths))]
    return "  ".join(cells).rstrip()


def _text_row(est: Estimate, keys: list[Item]) -> list[str]:
    by_key = {item.key: item for item in est.items}
    numbers = [format_bytes(by_key[k].bytes) if k in by_key else "" for k in keys]
    return [est.request.to_query(), *numbers, format_bytes(est.total_bytes), _text_verdict(est)]


def _text_verdict(est: Estimate) -> str:
    words = [f"{parts.words} on {parts.where} ({parts.margin})" for parts in map(fit_parts, est.fit)]
    return "; ".join(words) or "no GPU named"
