"""Estimates as HTML: one answer (the chart, the items with their formulas, the fit verdicts, the
assumptions), or several compared in one table, a row each.

Functions of the Estimates only; the numbers are the core's, formatted as the CLI formats them
(GB of 1e9 bytes), with the exact bytes in each number's ``title`` (shown on hover).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vram import Estimate, Fit, LineItem
from vram.render import (
    ITEM_STYLES, METHOD_BLURBS, alternative_line, fit_parts, item_keys, solution_text, strategies_title,
    suggestions_title, total_label
)
from vram.request.enums import Item
from vram.units import format_bytes, format_value

from .chart import breakdown_chart, chart_scale, peak_items, stacked_bar, swatch
from .css import BOX, MUTED, SMALL, TABLE, cell, css

RULE = {"border-top": "1px solid"}  # no colour: the theme's text colour


def render_html(est: Estimate) -> str:
    """The whole answer as one ``<div>``: what ``text/html`` shows for an Estimate."""
    parts = (_heading(est), _solution(est), breakdown_chart(est), _items_table(est), _fit_list(est),
             _advice(est), _range(est), _other_methods(est), _assumptions(est))
    return f'<div class="vram-estimate"{css(BOX)}>{"".join(parts)}</div>'


def _heading(est: Estimate) -> str:
    """The query as understood (canonical text) and the method that answered."""
    method = f"{est.method.value} method: {METHOD_BLURBS[est.method]}"
    return (f'<div><strong class="vram-query">{escape(est.request.to_query())}</strong></div>'
            f"<div{css(SMALL, MUTED)}>{escape(method)}</div>")


def _bytes_cell(count: int, **props: str) -> str:
    """A right-aligned GB number with its exact bytes as the hover title."""
    return f'<td{cell("right", **props)} title="{count} bytes">{format_bytes(count)}</td>'


def _fit_verdict(fit: Fit, short: bool = False) -> str:
    """'✔ fits', '⚠ fits, tight' or '✘ does not fit' in colour, then the numbers (``short``: the
    margin only, below it, for a table whose row already names the GPU)."""
    parts = fit_parts(fit)
    title = escape(f"{parts.where} ({fit.gpu_name}): {parts.detail}", quote=True)
    words = f"<br>{parts.margin}" if short else f" on {escape(parts.where)}: {escape(parts.detail)}"
    verdict = f"<strong{css(color=parts.style.colour)}>{parts.style.mark} {parts.words}</strong>"
    return f'<span title="{title}">{verdict}{words}</span>'


def _items_table(est: Estimate) -> str:
    head = (f"<thead><tr><th{cell()}>Item</th><th{cell('right')}>GB</th>"
            f"<th{cell()}>Formula</th></tr></thead>")
    rows = [_item_row(item) for item in est.items] + _total_rows(est)
    return f"<table{css(TABLE)}>{head}<tbody>{''.join(rows)}</tbody></table>"


def _item_row(item: LineItem) -> str:
    # Labels stay on one line; long formulas wrap instead.
    return (f"<tr><td{cell(white_space='nowrap')}>{swatch(item.key)}{escape(item.label)}</td>"
            f"{_bytes_cell(item.bytes)}<td{cell()}>{_formula(item)}</td></tr>")


def _formula(item: LineItem) -> str:
    # The formula stays in view; the numbers put into it and its source open on a click.
    values = ", ".join(f"{name} = {format_value(value)}" for name, value in item.values.items())
    body = f"<div{css(SMALL)}>{escape(values)}</div>" if values else ""
    if item.source:
        body += f"<div{css(SMALL, MUTED)}>source: {escape(item.source)}</div>"
    return f"<details><summary><code>{escape(item.formula)}</code></summary>{body}</details>"


def _total_rows(est: Estimate) -> list[str]:
    total = escape(total_label(est))
    rows = [f"<tr><td{cell(**RULE, font_weight='bold', white_space='nowrap')}>{total}</td>"
            f"{_bytes_cell(est.total_bytes, **RULE, font_weight='bold')}<td{cell(**RULE)}></td></tr>"]
    if est.gpu_count > 1:
        rows.append(f"<tr><td{cell()}>Job total ({est.gpu_count} GPUs)</td>"
                    f"{_bytes_cell(est.job_total_bytes)}<td{cell()}></td></tr>")
    return rows


def _fit_list(est: Estimate) -> str:
    if not est.fit:
        hint = "No GPU named: add one, as in <code>on 8xA100</code>, to see whether it fits."
        return f"<div{css(MUTED)}>{hint}</div>"
    return "".join(f"<div>{_fit_verdict(fit)}</div>" for fit in est.fit)


def _solution(est: Estimate) -> str:
    if est.solution is None:
        return ""
    return f"<div><strong>Answer:</strong> {escape(solution_text(est.solution))}</div>"


def _advice(est: Estimate) -> str:
    """Sharded strategies beside plain data parallelism, and what would make it fit."""
    parts = []
    if est.strategies:
        rows = "".join(f"<li>{escape(alternative_line(alt))}</li>" for alt in est.strategies)
        parts.append(_disclosure(escape(strategies_title(est)), rows))
    if est.suggestions:
        title = escape(suggestions_title(est))
        rows = "".join(f"<li>{escape(alternative_line(alt))}<br><span{css(MUTED)}>{escape(alt.tradeoff)}; "
                       f"<code>{escape(alt.request.to_query())}</code></span></li>" for alt in est.suggestions)
        parts.append(f"<div{css(margin_top='0.3em')}><strong>{title}:</strong>"
                     f"<ul{css(SMALL, margin='0.2em 0', padding_left='1.5em')}>{rows}</ul></div>")
    return "".join(parts)


def _range(est: Estimate) -> str:
    # Where the model cannot know (CUDA version, allocator), the core gives a range and why.
    if est.low_bytes is None:
        return ""
    low, high = (f'<span title="{n} bytes">{format_bytes(n)}</span>' for n in (est.low_bytes, est.high_bytes))
    reasons = "".join(f"<li>{escape(text)}</li>" for text in est.range_reasons)
    return _disclosure(f"Range: {low} to {high} GB", reasons)


def _other_methods(est: Estimate) -> str:
    lines = (f'<div>The {escape(other.method)} method gives <span title="{other.total_bytes} bytes">'
             f"{format_bytes(other.total_bytes)}</span> GB.</div>" for other in est.comparisons)
    return "".join(lines)


def _disclosure(summary: str, items: str) -> str:
    """A closed <details> whose body is a small bulleted list."""
    listing = f"<ul{css(SMALL, margin='0.3em 0', padding_left='1.5em')}>{items}</ul>"
    return f"<details{css(margin_top='0.3em')}><summary>{summary}</summary>{listing}</details>"


def _assumptions(est: Estimate) -> str:
    items = "".join(f"<li>{escape(text)}</li>" for text in est.assumptions)
    return _disclosure(f"Assumptions ({len(est.assumptions)})", items)


def render_comparison_html(estimates: Sequence[Estimate]) -> str:
    """Several answers as one table, a row each, their bars on one scale."""
    keys = item_keys(estimates)
    heads = [_th("Query"), _th("Per GPU"), *(_th(f"{swatch(k)}{ITEM_STYLES[k].title}", "right") for k in keys),
             _th("Total GB", "right"), _th("Fit")]
    scale = chart_scale(estimates)
    rows = "".join(_comparison_row(est, keys, scale) for est in estimates)
    note = ("GB (1e9 bytes) per GPU. Total: the peak over the phases of a step (detailed method) or "
            "the items' sum (article); the bar is what is live then. Bars share one scale; a line "
            "marks each GPU's capacity.")
    note = f"<div{css(SMALL, MUTED)}>{note}</div>"
    table = f"<table{css(TABLE, font_size='0.9em')}><thead><tr>{''.join(heads)}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="vram-comparison"{css(BOX, max_width="none", overflow_x="auto")}>{table}{note}</div>'


def _comparison_row(est: Estimate, keys: list[Item], scale: int) -> str:
    by_key = {item.key: item for item in est.items}
    items = "".join(_bytes_cell(by_key[k].bytes) if k in by_key else f"<td{cell()}></td>" for k in keys)
    bar = stacked_bar(peak_items(est), est.fit, scale, height_em=1.1)
    fits = "<br>".join(_fit_verdict(fit, short=True) for fit in est.fit)
    fits = fits or f"<span{css(MUTED)}>no GPU named</span>"
    return (f'<tr><td class="vram-query"{cell(min_width="12em")}>{escape(est.request.to_query())}</td>'
            f"<td{cell(min_width='8em', width='9em')}>{bar}</td>{items}"
            f"{_bytes_cell(est.total_bytes, font_weight='bold')}"
            f"<td{cell(white_space='nowrap')}>{fits}</td></tr>")


def _th(content: str, align: str = "left") -> str:
    # Heads may wrap ("Runtime overhead"), numbers below them do not.
    return f"<th{cell(align, vertical_align='bottom', white_space='normal')}>{content}</th>"
