"""The breakdown as stacked bars in plain HTML and CSS, each GPU's capacity marked on them.

No script and no SVG (JupyterLab strips both from untrusted notebooks): a bar is absolutely
placed ``div``s whose widths are shares of a common scale, so bars of several estimates compare.
An estimate with phases (the detailed method) gets a bar a phase, of the items live in it: the
longest is the answer, which is why the items do not simply add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from vram import Estimate, Fit, LineItem
from vram.memory.result import Phase, Verdict
from vram.render import ITEM_STYLES, VERDICT_STYLES
from vram.request.enums import Item
from vram.units import format_bytes

from .css import MUTED, SMALL, css

#: A capacity label left of its marker past this point, so it stays inside the chart.
FLIP_LABEL_PERCENT = 60.0
TRACK = "rgba(128, 128, 128, 0.18)"
#: What does not fit is underlined in the colour of "does not fit".
OVER_COLOUR = VERDICT_STYLES[Verdict.DOES_NOT_FIT].colour


def limit_bytes(fit: Fit) -> int:
    """Where the bar stops fitting: the usable memory, plus what the estimate counts of the runtime's
    own share (the detailed method's CUDA context is in the bar)."""
    return fit.usable_bytes + fit.per_gpu_bytes - fit.need_bytes


def chart_scale(estimates: Iterable[Estimate]) -> int:
    """Bytes that the chart's full width stands for: the largest total or GPU capacity."""
    sizes = [1]
    for est in estimates:
        sizes += [est.total_bytes, *(limit_bytes(fit) for fit in est.fit)]
    return max(sizes)


def peak_items(est: Estimate) -> tuple[LineItem, ...]:
    """The items that make up the total: those live at the peak phase, or all of them."""
    peak = est.peak_phase
    return _live(est, peak.live) if peak else est.items


def breakdown_chart(est: Estimate) -> str:
    """One bar of the items, or a bar a phase; the GPUs' capacities named below the last."""
    scale = chart_scale([est])
    if not est.phases:
        return stacked_bar(est.items, est.fit, scale) + _capacity_labels(est.fit, scale)
    rows = [_phase_label(est, phase) + stacked_bar(_live(est, phase.live), est.fit, scale)
            for phase in est.phases]
    return "".join(rows) + _capacity_labels(est.fit, scale)


def stacked_bar(items: Sequence[LineItem], fits: Sequence[Fit], scale: int,
                height_em: float = 1.5) -> str:
    """``items`` end to end on a faint track, a line at each GPU's capacity, red past it."""
    total = sum(item.bytes for item in items)
    inner = "".join(_segments(items, scale, height_em))
    inner += "".join(_marker(fit, scale, height_em) for fit in fits)
    inner += "".join(_overflow(fit, total, scale, height_em) for fit in fits if total > limit_bytes(fit))
    track = css(position="relative", height=f"{height_em}em", background_color=TRACK)
    return f"<div{css(margin='0.3em 0 0.5em 0')}><div{track}>{inner}</div></div>"


def _capacity_labels(fits: Sequence[Fit], scale: int) -> str:
    labels = "".join(_capacity_label(fit, scale) for fit in fits)
    return f"<div{css(position='relative', height='1.3em')}>{labels}</div>" if labels else ""


def swatch(key: Item) -> str:
    """A small square in the item's colour, the legend beside a table row."""
    style = css(display="inline-block", width="0.8em", height="0.8em", margin_right="0.4em",
                vertical_align="middle", background_color=ITEM_STYLES[key].colour)
    return f"<span{style}></span>"


def _live(est: Estimate, keys: Sequence[Item]) -> tuple[LineItem, ...]:
    return tuple(item for item in est.items if item.key in keys)


def _phase_label(est: Estimate, phase: Phase) -> str:
    peak = " (peak)" if phase is est.peak_phase else ""
    number = f'<span title="{phase.bytes} bytes">{format_bytes(phase.bytes)}</span>'
    note = f"<span{css(MUTED)}> · {escape(phase.note)}</span>" if phase.note else ""
    return f"<div{css(SMALL, margin_top='0.4em')}><strong>{escape(phase.name)}{peak}</strong>: {number} GB{note}</div>"


def _segments(items: Sequence[LineItem], scale: int, height_em: float) -> Iterable[str]:
    # Empty boxes, numbers only in their titles: where a host strips styles (GitHub, untrusted
    # classic Notebook) text in them would fall out as a column of bare numbers.
    left = 0.0
    for item in items:
        width = _percent(item.bytes, scale)
        style = css(position="absolute", top="0", left=f"{left:.3f}%", width=f"{width:.3f}%",
                    height=f"{height_em}em", background_color=ITEM_STYLES[item.key].colour)
        title = escape(f"{item.label}: {format_bytes(item.bytes)} GB", quote=True)
        yield f'<div{style} title="{title}"></div>'
        left += width


def _marker(fit: Fit, scale: int, height_em: float) -> str:
    # No border colour: it takes the text colour, which the theme chooses (light or dark).
    style = css(position="absolute", top="-0.25em", left=f"{_percent(limit_bytes(fit), scale):.3f}%",
                height=f"{height_em + 0.5}em", border_left="2px solid")
    title = escape(f"{fit.gpu}: {format_bytes(limit_bytes(fit))} GB usable of {format_bytes(fit.capacity_bytes)} GB",
                   quote=True)
    return f'<div{style} title="{title}"></div>'


def _overflow(fit: Fit, total: int, scale: int, height_em: float) -> str:
    # A red underline from the capacity to the end of the bar: the part that does not fit.
    start = _percent(limit_bytes(fit), scale)
    style = css(position="absolute", top=f"{height_em}em", left=f"{start:.3f}%",
                width=f"{_percent(total, scale) - start:.3f}%", height="4px", background_color=OVER_COLOUR)
    title = escape(f"past the capacity of {fit.gpu}", quote=True)
    return f'<div{style} title="{title}"></div>'


def _capacity_label(fit: Fit, scale: int) -> str:
    at = _percent(limit_bytes(fit), scale)
    side = ({"right": f"{100 - at:.3f}%", "padding_right": "4px"} if at > FLIP_LABEL_PERCENT
            else {"left": f"{at:.3f}%", "padding_left": "4px"})
    style = css(SMALL, position="absolute", top="0", white_space="nowrap", **side)
    return f"<div{style}>{escape(fit.gpu)} usable {format_bytes(limit_bytes(fit))} GB</div>"


def _percent(count: int, scale: int) -> float:
    return 100.0 * count / scale if scale else 0.0
