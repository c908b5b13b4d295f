"""Several estimates side by side: what ``%%vram`` returns, one row a query.

A :class:`Comparison` is a read-only sequence of Estimates (``cmp[0]`` is the first full
answer); in a notebook it shows as one table whose bars share a scale, so they compare by eye.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from vram import Estimate
from vram.units import format_bytes

from .chart import chart_scale, stacked_bar, swatch
from .css import BOX, MUTED, SMALL, TABLE, cell, css
from .render import bytes_cell, fit_verdict

#: Column titles for the item keys, in column order (the order the core lists items in); the
#: items' own labels carry per-row detail such as the dtype, too long for a column head.
COLUMN_TITLES: dict[str, str] = {
    "weights": "Weights", "adapters": "Adapters", "optimizer": "Optimizer",
    "gradients": "Gradients", "activations": "Activations", "kv_cache": "KV cache",
    "logits": "Logits", "quant_overhead": "Quant. overhead",
    "runtime_overhead": "Runtime overhead", "cuda_context": "CUDA context",
}


@dataclass(frozen=True)
class Comparison:
    """Estimates of several queries, in the order they were asked."""

    estimates: tuple[Estimate, ...]

    def __iter__(self) -> Iterator[Estimate]:
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, index: int) -> Estimate:
        return self.estimates[index]

    def _repr_html_(self) -> str:
        return render_comparison_html(self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(render_comparison_text(self))


def item_keys(comparison: Comparison) -> list[str]:
    """Every item key that occurs, known keys in COLUMN_TITLES order: the table's columns."""
    keys = dict.fromkeys(item.key for est in comparison for item in est.items)
    order = list(COLUMN_TITLES)
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))


def render_comparison_html(comparison: Comparison) -> str:
    keys = item_keys(comparison)
    heads = [_th("Query"), _th("Per GPU"), *(_th(f"{swatch(k)}{_title(k)}", "right") for k in keys),
             _th("Total GB", "right"), _th("Fit")]
    scale = chart_scale(comparison)
    rows = "".join(_html_row(est, keys, scale) for est in comparison)
    note = f"<div{css(SMALL, MUTED)}>GB (1e9 bytes) per GPU; bars share one scale; a line marks each GPU's capacity.</div>"
    table = f"<table{css(TABLE)}><thead><tr>{''.join(heads)}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="vram-comparison"{css(BOX, max_width="none", overflow_x="auto")}>{table}{note}</div>'


def render_comparison_text(comparison: Comparison) -> str:
    """A plain table: query, each item and the total in GB, and the verdict."""
    keys = item_keys(comparison)
    head = ["Query", *(_title(k) for k in keys), "Total GB", "Fit"]
    rows = [head, *(_text_row(est, keys) for est in comparison)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    numeric = range(1, len(head) - 1)
    return "\n".join(
        "  ".join(text.rjust(w) if i in numeric else text.ljust(w)
                  for i, (text, w) in enumerate(zip(row, widths))).rstrip()
        for row in rows)


def _html_row(est: Estimate, keys: list[str], scale: int) -> str:
    by_key = {item.key: item for item in est.items}
    items = "".join(bytes_cell(by_key[k].bytes) if k in by_key else f"<td{cell()}></td>" for k in keys)
    bar = stacked_bar(est, scale, labelled=False, height_em=1.1)
    fits = "<br>".join(fit_verdict(fit, short=True) for fit in est.fit) or f"<span{css(MUTED)}>no GPU named</span>"
    return (f'<tr><td class="vram-query"{cell(min_width="12em")}>{escape(est.request.to_query())}</td>'
            f"<td{cell(min_width='9em', width='11em')}>{bar}</td>{items}"
            f"{bytes_cell(est.total_bytes, font_weight='bold')}<td{cell(white_space='nowrap')}>{fits}</td></tr>")


def _text_row(est: Estimate, keys: list[str]) -> list[str]:
    by_key = {item.key: item for item in est.items}
    numbers = [format_bytes(by_key[k].bytes) if k in by_key else "" for k in keys]
    return [est.request.to_query(), *numbers, format_bytes(est.total_bytes), _text_verdict(est)]


def _text_verdict(est: Estimate) -> str:
    words = []
    for fit in est.fit:
        if fit.fits:
            words.append(f"fits {fit.gpu_count}x {fit.gpu} ({format_bytes(fit.headroom_bytes)} GB to spare)")
        else:
            words.append(f"does not fit {fit.gpu_count}x {fit.gpu} ({format_bytes(-fit.headroom_bytes)} GB over)")
    return "; ".join(words) or "no GPU named"


def _th(content: str, align: str = "left") -> str:
    # Heads may wrap ("Runtime overhead"), numbers below them do not.
    return f"<th{cell(align, vertical_align='bottom', white_space='normal')}>{content}</th>"


def _title(key: str) -> str:
    return COLUMN_TITLES.get(key, key.replace("_", " ").capitalize())
