"""The breakdown as a stacked bar in plain HTML and CSS, each GPU's capacity marked on it.

No script and no SVG (JupyterLab strips both from untrusted notebooks): the bar is absolutely
placed ``div``s whose widths are shares of a common scale, so bars of several estimates compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from vram import Estimate, Fit
from vram.units import format_bytes

from .css import OVER_COLOUR, SMALL, colour_of, css

#: A capacity label left of its marker past this point, so it stays inside the chart.
FLIP_LABEL_PERCENT = 60.0
TRACK = "rgba(128, 128, 128, 0.18)"


def chart_scale(estimates: Iterable[Estimate]) -> int:
    """Bytes that the chart's full width stands for: the largest total or GPU capacity."""
    sizes = [1]
    for est in estimates:
        sizes += [est.total_bytes, *(fit.capacity_bytes for fit in est.fit)]
    return max(sizes)


def stacked_bar(est: Estimate, scale: int, labelled: bool = True, height_em: float = 1.5) -> str:
    """One bar: the items end to end on a faint track, a line at each GPU's capacity (named
    below the bar when ``labelled``)."""
    track = css(position="relative", height=f"{height_em}em", background_color=TRACK)
    inner = "".join(_segments(est, scale, height_em))
    inner += "".join(_marker(fit, scale, height_em) for fit in est.fit)
    inner += "".join(_overflow(fit, scale, height_em) for fit in est.fit if not fit.fits)
    labels = "".join(_marker_label(fit, scale) for fit in est.fit) if labelled else ""
    below = f"<div{css(position='relative', height='1.3em')}>{labels}</div>" if labels else ""
    return f"<div{css(margin='0.5em 0')}><div{track}>{inner}</div>{below}</div>"


def swatch(key: str) -> str:
    """A small square in the item's colour, the legend beside a table row."""
    style = css(display="inline-block", width="0.8em", height="0.8em", margin_right="0.4em",
                vertical_align="middle", background_color=colour_of(key))
    return f"<span{style}></span>"


def _segments(est: Estimate, scale: int, height_em: float) -> Iterable[str]:
    # Empty boxes, numbers only in their titles: where a host strips styles (GitHub, untrusted
    # classic Notebook) text in them would fall out as a column of bare numbers.
    left = 0.0
    for item in est.items:
        width = _percent(item.bytes, scale)
        style = css(position="absolute", top="0", left=f"{left:.3f}%", width=f"{width:.3f}%",
                    height=f"{height_em}em", background_color=colour_of(item.key))
        title = escape(f"{item.label}: {format_bytes(item.bytes)} GB", quote=True)
        yield f'<div{style} title="{title}"></div>'
        left += width


def _marker(fit: Fit, scale: int, height_em: float) -> str:
    # No border colour: it takes the text colour, which the theme chooses (light or dark).
    style = css(position="absolute", top="-0.25em", left=f"{_percent(fit.capacity_bytes, scale):.3f}%",
                height=f"{height_em + 0.5}em", border_left="2px solid")
    title = escape(f"{fit.gpu}: {format_bytes(fit.capacity_bytes)} GB", quote=True)
    return f'<div{style} title="{title}"></div>'


def _overflow(fit: Fit, scale: int, height_em: float) -> str:
    # A red underline from the capacity to the end of the bar: the part that does not fit.
    start = _percent(fit.capacity_bytes, scale)
    width = _percent(fit.per_gpu_bytes, scale) - start
    style = css(position="absolute", top=f"{height_em}em", left=f"{start:.3f}%", width=f"{width:.3f}%",
                height="4px", background_color=OVER_COLOUR)
    title = escape(f"{format_bytes(-fit.headroom_bytes)} GB over {fit.gpu}", quote=True)
    return f'<div{style} title="{title}"></div>'


def _marker_label(fit: Fit, scale: int) -> str:
    at = _percent(fit.capacity_bytes, scale)
    side = ({"right": f"{100 - at:.3f}%", "padding_right": "4px"} if at > FLIP_LABEL_PERCENT
            else {"left": f"{at:.3f}%", "padding_left": "4px"})
    style = css(SMALL, position="absolute", top="0.1em", white_space="nowrap", **side)
    return f"<div{style}>{escape(fit.gpu)} capacity {format_bytes(fit.capacity_bytes)} GB</div>"


def _percent(count: int, scale: int) -> float:
    return 100.0 * count / scale if scale else 0.0
