"""The breakdown as stacked bars in plain HTML, on a scale in GB, each GPU's capacity marked.

No script and no SVG (JupyterLab strips both from untrusted notebooks): a bar is absolutely
placed ``div``s whose widths are shares of a common scale, so bars of several estimates compare.
An estimate with phases (the detailed method) gets a bar a phase, of the items live in it: the
longest is the answer, which is why the items do not simply add up. Geometry and colours are
inline (``css.py`` says why); a bar's numbers are in its segments' titles and in the table below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from vram import Estimate, Fit, LineItem
from vram.memory.result import Phase, Verdict
from vram.render import ITEM_STYLES, VERDICT_STYLES
from vram.request.enums import Item
from vram.units import BYTE_UNITS, format_bytes

from .css import css

#: A capacity label left of its marker past this point, so it stays inside the chart.
FLIP_LABEL_PERCENT = 60.0
TRACK = "rgba(128, 128, 128, 0.18)"
#: What does not fit is underlined in the colour of "does not fit".
OVER_COLOUR = VERDICT_STYLES[Verdict.DOES_NOT_FIT].colour
#: A scale's steps are 1, 2 or 5 times a power of ten, at most this many across the chart.
MAX_TICKS = 8


def limit_bytes(fit: Fit) -> int:
    """Where the bar stops fitting: the usable memory, plus what the estimate counts of the runtime's
    own share (the detailed method's CUDA context is in the bar and already left out of usable)."""
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


def breakdown_chart(est: Estimate, unit: str = "GB") -> str:
    """One bar of the items, or a bar a phase; the GPUs' capacity lines; a scale below."""
    scale = chart_scale([est])
    if not est.phases:
        bars = stacked_bar(est.items, est.fit, scale, unit)
    else:
        bars = "".join(_phase_label(est, phase, unit) + stacked_bar(_live(est, phase.live), est.fit, scale, unit)
                       for phase in est.phases)
    return f'<div class="vram-chart">{bars}{axis(scale, unit)}{_capacity_labels(est.fit, scale, unit)}</div>'


def stacked_bar(items: Sequence[LineItem], fits: Sequence[Fit], scale: int, unit: str = "GB",
                height_em: float = 1.5) -> str:
    """``items`` end to end on a faint track, a line at each GPU's capacity, red past it."""
    total = sum(item.bytes for item in items)
    inner = "".join(_segments(items, scale, height_em, unit))
    inner += "".join(_marker(fit, scale, height_em, unit) for fit in fits)
    inner += "".join(_overflow(fit, total, scale, height_em) for fit in fits if total > limit_bytes(fit))
    track = css(position="relative", height=f"{height_em}em", background_color=TRACK)
    return f"<div{css(margin='0.3em 0 0.5em 0')}><div{track}>{inner}</div></div>"


def tick_step(scale_units: float) -> float:
    """A round step (1, 2 or 5 x 10^k) that puts at most MAX_TICKS ticks across ``scale_units``."""
    if scale_units <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(scale_units / MAX_TICKS))
    return next(power * m for m in (1, 2, 5, 10) if scale_units / (power * m) <= MAX_TICKS)


def axis(scale: int, unit: str = "GB") -> str:
    """The scale under the bars: round numbers of ``unit`` at their places, the unit after the last."""
    size = BYTE_UNITS[unit]
    step = tick_step(scale / size)
    ticks = [n * step for n in range(int(scale / size / step) + 1)]
    labels = "".join(_tick(value, 100.0 * value * size / scale, unit if n == len(ticks) - 1 else "")
                     for n, value in enumerate(ticks))
    return f'<div class="vram-axis small"{css(position="relative", height="1.3em")}>{labels}</div>'


def _tick(value: float, at: float, unit: str) -> str:
    # A tick is its label's left edge; near the end the label ends at its place, so it stays inside.
    text = f"{value:g}" + (f" {unit}" if unit else "")
    place = ({"right": f"{100 - at:.3f}%"} if at > 90
             else {"left": f"{at:.3f}%", "border_left": "1px solid", "padding_left": "2px"})
    return f"<span{css(position='absolute', top='0', white_space='nowrap', **place)}>{text} </span>"


def _capacity_labels(fits: Sequence[Fit], scale: int, unit: str) -> str:
    labels = "".join(_capacity_label(fit, scale, unit) for fit in fits)
    return f"<div{css(position='relative', height='1.3em')}>{labels}</div>" if labels else ""


def swatch(key: Item) -> str:
    """A small square in the item's colour, the legend beside a table row."""
    return f'<span class="swatch"{css(background_color=ITEM_STYLES[key].colour)}></span>'


def _live(est: Estimate, keys: Sequence[Item]) -> tuple[LineItem, ...]:
    return tuple(item for item in est.items if item.key in keys)


def _phase_label(est: Estimate, phase: Phase, unit: str) -> str:
    peak = " (peak)" if phase is est.peak_phase else ""
    number = f'<span title="{phase.bytes} bytes">{format_bytes(phase.bytes, unit)}</span>'
    note = f'<span class="muted"> · {escape(phase.note)}</span>' if phase.note else ""
    return f'<div class="small"><strong>{escape(phase.name)}{peak}</strong>: {number} {unit}{note}</div>'


def _segments(items: Sequence[LineItem], scale: int, height_em: float, unit: str) -> Iterable[str]:
    # Empty boxes, numbers only in their titles: where a host strips styles (GitHub, untrusted
    # classic Notebook) text in them would fall out as a column of bare numbers.
    left = 0.0
    for item in items:
        width = _percent(item.bytes, scale)
        style = css(position="absolute", left=f"{left:.2f}%", width=f"{width:.2f}%", height=f"{height_em}em",
                    background_color=ITEM_STYLES[item.key].colour)
        title = escape(f"{item.label}: {format_bytes(item.bytes, unit)} {unit}", quote=True)
        yield f'<div{style} title="{title}"></div>'
        left += width


def _marker(fit: Fit, scale: int, height_em: float, unit: str) -> str:
    # No border colour: it takes the text colour, which the theme chooses (light or dark).
    style = css(position="absolute", top="-0.25em", left=f"{_percent(limit_bytes(fit), scale):.3f}%",
                height=f"{height_em + 0.5}em", border_left="2px solid")
    return f'<div{style} title="{escape(capacity_text(fit, unit), quote=True)}"></div>'


def capacity_text(fit: Fit, unit: str = "GB") -> str:
    """``a100-80gb: 85.44 GB usable``, the verdict's figure; where the bars count the CUDA context
    that 'usable' already leaves out, the line sits that much further right, and says so."""
    text = f"{fit.gpu}: {format_bytes(fit.usable_bytes, unit)} {unit} usable"
    counted = fit.per_gpu_bytes - fit.need_bytes
    if counted:
        text += f" (+ the bars' {format_bytes(counted, unit)} {unit} of CUDA context)"
    return text


def _overflow(fit: Fit, total: int, scale: int, height_em: float) -> str:
    # A red underline from the capacity to the end of the bar: the part that does not fit.
    start = _percent(limit_bytes(fit), scale)
    style = css(position="absolute", top=f"{height_em}em", left=f"{start:.3f}%",
                width=f"{_percent(total, scale) - start:.3f}%", height="4px", background_color=OVER_COLOUR)
    title = escape(f"past the capacity of {fit.gpu}", quote=True)
    return f'<div{style} title="{title}"></div>'


def _capacity_label(fit: Fit, scale: int, unit: str) -> str:
    at = _percent(limit_bytes(fit), scale)
    side = ({"right": f"{100 - at:.3f}%", "padding_right": "4px"} if at > FLIP_LABEL_PERCENT
            else {"left": f"{at:.3f}%", "padding_left": "4px"})
    style = css(position="absolute", top="0", white_space="nowrap", **side)
    return f'<div class="small"{style}>{escape(capacity_text(fit, unit))}</div>'


def _percent(count: int, scale: int) -> float:
    return 100.0 * count / scale if scale else 0.0
