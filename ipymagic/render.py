"""An Estimate as HTML: the chart, the items with their formulas, the fit verdicts, assumptions.

Functions of the Estimate only; the numbers are the core's, formatted as the CLI formats them
(GB of 1e9 bytes), with the exact bytes in each number's ``title`` (shown on hover).
"""

from __future__ import annotations

from html import escape

from vram import Estimate, Fit, LineItem
from vram.render import METHOD_BLURBS
from vram.units import format_bytes, format_value

from .chart import chart_scale, stacked_bar, swatch
from .css import BOX, FITS_COLOUR, MUTED, OVER_COLOUR, SMALL, TABLE, cell, css

RULE = {"border-top": "1px solid"}  # no colour: the theme's text colour


def render_html(est: Estimate) -> str:
    """The whole answer as one ``<div>``: what ``text/html`` shows for an Estimate."""
    parts = (heading(est), stacked_bar(est, chart_scale([est])), _items_table(est),
             _fit_list(est), _assumptions(est))
    return f'<div class="vram-estimate"{css(BOX)}>{"".join(parts)}</div>'


def heading(est: Estimate) -> str:
    """The query as understood (canonical text) and the method that answered."""
    method = f"{est.method.value} method: {METHOD_BLURBS[est.method.value]}"
    return (f'<div><strong class="vram-query">{escape(est.request.to_query())}</strong></div>'
            f"<div{css(SMALL, MUTED)}>{escape(method)}</div>")


def bytes_cell(count: int, **props: str) -> str:
    """A right-aligned GB number with its exact bytes as the hover title."""
    return f'<td{cell("right", **props)} title="{count} bytes">{format_bytes(count)}</td>'


def fit_verdict(fit: Fit, short: bool = False) -> str:
    """'✔ fits' or '✘ does not fit' in colour, then the numbers (``short``: the margin only,
    below it, for a table whose row already names the GPU)."""
    need, has = format_bytes(fit.per_gpu_bytes), format_bytes(fit.capacity_bytes)
    if fit.fits:
        mark, colour, margin = "✔ fits", FITS_COLOUR, f"{format_bytes(fit.headroom_bytes)} GB to spare"
        detail = f"{need} of {has} GB, {margin}"
    else:
        mark, colour, margin = "✘ does not fit", OVER_COLOUR, f"{format_bytes(-fit.headroom_bytes)} GB over"
        detail = f"needs {need} GB, has {has} GB ({margin})"
    where = f"{fit.gpu_count}x {fit.gpu}"
    title = escape(f"{where} ({fit.gpu_name}): {detail}", quote=True)
    words = f"<br>{margin}" if short else f" on {escape(where)}: {detail}"
    return f'<span title="{title}"><strong{css(color=colour)}>{mark}</strong>{words}</span>'


def _items_table(est: Estimate) -> str:
    head = (f"<thead><tr><th{cell()}>Item</th><th{cell('right')}>GB</th>"
            f"<th{cell()}>Formula</th></tr></thead>")
    rows = [_item_row(item) for item in est.items] + _total_rows(est)
    return f"<table{css(TABLE)}>{head}<tbody>{''.join(rows)}</tbody></table>"


def _item_row(item: LineItem) -> str:
    return (f"<tr><td{cell()}>{swatch(item.key)}{escape(item.label)}</td>"
            f"{bytes_cell(item.bytes)}<td{cell()}>{_formula(item)}</td></tr>")


def _formula(item: LineItem) -> str:
    # The formula stays in view; the numbers put into it and its source open on a click.
    values = ", ".join(f"{name} = {format_value(value)}" for name, value in item.values.items())
    body = f"<div{css(SMALL)}>{escape(values)}</div>" if values else ""
    if item.source:
        body += f"<div{css(SMALL, MUTED)}>source: {escape(item.source)}</div>"
    return f"<details><summary><code>{escape(item.formula)}</code></summary>{body}</details>"


def _total_rows(est: Estimate) -> list[str]:
    per_gpu = " per GPU" if est.gpu_count > 1 else ""
    rows = [f"<tr><td{cell(**RULE, font_weight='bold')}>Total{per_gpu}</td>"
            f"{bytes_cell(est.total_bytes, **RULE, font_weight='bold')}<td{cell(**RULE)}></td></tr>"]
    if est.gpu_count > 1:
        rows.append(f"<tr><td{cell()}>Job total ({est.gpu_count} GPUs)</td>"
                    f"{bytes_cell(est.job_total_bytes)}<td{cell()}></td></tr>")
    return rows


def _fit_list(est: Estimate) -> str:
    if not est.fit:
        return f"<div{css(MUTED)}>No GPU named: add one, as in <code>on 8xA100</code>, to see whether it fits.</div>"
    return "".join(f"<div>{fit_verdict(fit)}</div>" for fit in est.fit)


def _assumptions(est: Estimate) -> str:
    items = "".join(f"<li>{escape(text)}</li>" for text in est.assumptions)
    listing = f"<ul{css(SMALL, margin='0.3em 0', padding_left='1.5em')}>{items}</ul>"
    return (f"<details{css(margin_top='0.4em')}><summary>Assumptions ({len(est.assumptions)})</summary>"
            f"{listing}</details>")
