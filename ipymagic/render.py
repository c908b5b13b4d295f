"""Estimates as HTML: one answer (the headline: the peak and the verdict; the chart; the items with
their formulas; range, assumptions and advice), or several compared in one table, a row each.

Functions of the Estimates only; the numbers are the core's, formatted as the CLI formats them
(GB of 1e9 bytes, or GiB), with the exact bytes in each number's ``title`` (shown on hover). The
markup is semantic (a heading, paragraphs, tables, lists) so that it reads with every style
stripped; ``css.py`` says what is styled where.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vram import Estimate, Fit, LineItem
from vram.render import (
    ITEM_STYLES, METHOD_BLURBS, alternative_line, comparison_line, fit_parts, item_keys, no_gpu_text,
    peak_text, serving_lines, solution_text, strategies_title, suggestions_title, total_rows, total_word
)
from vram.request.enums import Item
from vram.units import format_bytes, format_value

from .chart import breakdown_chart, chart_scale, peak_items, stacked_bar, swatch
from .css import STYLESHEET, css

def render_html(est: Estimate, unit: str = "GB") -> str:
    """The whole answer as one ``<div>``: what ``text/html`` shows for an Estimate."""
    parts = (_headline(est, unit), breakdown_chart(est, unit), _items_table(est, unit), _serving(est, unit),
             _range(est, unit), _assumptions(est), _advice(est, unit))
    return f'<div class="vram vram-estimate">{STYLESHEET}{"".join(parts)}</div>'


def _headline(est: Estimate, unit: str) -> str:
    """The query as understood, the solver's answer, the peak a GPU, the verdicts, the method."""
    parts = [f'<h4 class="vram-query">{escape(est.request.to_query())}</h4>']
    if est.solution is not None:
        parts.append(f"<p><strong>Answer:</strong> {escape(solution_text(est.solution))}</p>")
    total = f'<span title="{est.total_bytes} bytes">{escape(peak_text(est, unit))}</span>'
    parts.append(f'<p class="headline"><strong>{total_word(est)}: {total}</strong></p>')
    no_gpu = f'<p class="muted">{escape(no_gpu_text(alone=True))}</p>'
    parts += [f"<p>{_fit_verdict(fit, unit)}</p>" for fit in est.fit] or [no_gpu]
    method = f"{est.method.value} method: {METHOD_BLURBS[est.method]}"
    parts.append(f'<p class="small muted">{escape(method)}</p>')
    return "".join(parts)


def _bytes_cell(count: int, unit: str, bold: bool = False) -> str:
    """A right-aligned number with its exact bytes as the hover title."""
    number = f"<strong>{format_bytes(count, unit)}</strong>" if bold else format_bytes(count, unit)
    return f'<td class="num" title="{count} bytes">{number}</td>'


def _fit_verdict(fit: Fit, unit: str, short: bool = False) -> str:
    """'✔ fits', '⚠ fits, tight' or '✘ does not fit' in colour, then the numbers (``short``: the
    margin only, below it, for a table whose row already names the GPU)."""
    parts = fit_parts(fit, unit)
    title = escape(f"{parts.where} ({fit.gpu_name}): {parts.detail}", quote=True)
    words = f"<br>{parts.margin}" if short else f" on {escape(parts.where)}: {escape(parts.detail)}"
    verdict = f"<strong{css(color=parts.style.colour)}>{parts.style.mark} {parts.words}</strong>"
    return f'<span title="{title}">{verdict}{words}</span>'


def _items_table(est: Estimate, unit: str) -> str:
    head = f'<thead><tr><th>Item</th><th class="num">{unit}</th><th>Formula</th></tr></thead>'
    rows = [_item_row(item, unit) for item in est.items] + _total_rows(est, unit)
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _item_row(item: LineItem, unit: str) -> str:
    # Labels stay on one line; long formulas wrap instead.
    return (f'<tr><td class="label">{swatch(item.key)}{escape(item.label)}</td>'
            f"{_bytes_cell(item.bytes, unit)}<td>{_formula(item)}</td></tr>")


def _formula(item: LineItem) -> str:
    # The formula stays in view; the numbers put into it and its source open on a click.
    values = ", ".join(f"{name} = {format_value(value)}" for name, value in item.values.items())
    body = f'<div class="small">{escape(values)}</div>' if values else ""
    if item.source:
        body += f'<div class="small muted">source: {escape(item.source)}</div>'
    return f"<details><summary><code>{escape(item.formula)}</code></summary>{body}</details>"


def _total_rows(est: Estimate, unit: str) -> list[str]:
    # the first row, the peak, is the answer; the job's total and the host memory follow it
    cells = [f'<td class="label">{escape(label)}</td>{_bytes_cell(count, unit)}<td></td>'
             for label, count in total_rows(est)]
    return [f'<tr class="total">{cells[0]}</tr>', *(f"<tr>{row}</tr>" for row in cells[1:])]


def _advice(est: Estimate, unit: str) -> str:
    """Sharded strategies beside plain data parallelism, and what would make it fit."""
    parts = []
    if est.strategies:
        rows = "".join(f"<li>{escape(alternative_line(alt, unit))}</li>" for alt in est.strategies)
        parts.append(_disclosure(escape(strategies_title(est)), rows))
    if est.suggestions:
        rows = "".join(f'<li>{escape(alternative_line(alt, unit))}<br><span class="muted">{escape(alt.tradeoff)}; '
                       f"<code>{escape(alt.request.to_query())}</code></span></li>" for alt in est.suggestions)
        parts.append(f'<h4>{escape(suggestions_title(est))}</h4><ul class="small">{rows}</ul>')
    return "".join(parts)


def _serving(est: Estimate, unit: str) -> str:
    """A serving engine's start-up (its KV pool, the concurrency it holds; llama.cpp's placement):
    the lines the terminal shows, as a heading and a list."""
    lines = serving_lines(est, unit)
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line.strip())}</li>" for line in lines[1:])
    return f'<section class="vram-serving"><p><strong>{escape(lines[0].rstrip(":"))}</strong></p><ul>{items}</ul></section>'


def _range(est: Estimate, unit: str) -> str:
    # Where the model cannot know (CUDA version, allocator), the core gives a range and why.
    parts = []
    if est.low_bytes is not None:
        low, high = (f'<span title="{n} bytes">{format_bytes(n, unit)}</span>' for n in (est.low_bytes, est.high_bytes))
        reasons = "".join(f"<li>{escape(text)}</li>" for text in est.range_reasons)
        parts.append(_disclosure(f"Range: {low} to {high} {unit}", reasons))
    parts += [f'<p title="{other.total_bytes} bytes">{escape(comparison_line(est, other, unit))}</p>'
              for other in est.comparisons]
    return "".join(parts)


def _disclosure(summary: str, items: str) -> str:
    """A closed <details> whose body is a small bulleted list."""
    return f'<details><summary>{summary}</summary><ul class="small">{items}</ul></details>'


def _assumptions(est: Estimate) -> str:
    items = "".join(f"<li>{escape(text)}</li>" for text in est.assumptions)
    return _disclosure(f"Assumptions ({len(est.assumptions)})", items)


def render_comparison_html(estimates: Sequence[Estimate], unit: str = "GB") -> str:
    """Several answers as one table, a row each: the query, its peak and verdict first, then the
    bar (all on one scale) and the items."""
    keys = item_keys(estimates)
    heads = ["<th>Query</th>", f'<th class="num">Peak {unit}</th>', "<th>Fit</th>", "<th>Breakdown</th>",
             *(f'<th class="num">{swatch(k)}{ITEM_STYLES[k].title}</th>' for k in keys)]
    scale = chart_scale(estimates)
    rows = "".join(_comparison_row(est, keys, scale, unit) for est in estimates)
    note = (f"{unit} per GPU. Peak: the most over the phases of a step (detailed method) or the items' sum "
            "(article); the bar is what is live then. Bars share one scale; a line marks each GPU's capacity.")
    table = f"<table><thead><tr>{''.join(heads)}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="vram vram-comparison">{STYLESHEET}{table}<p class="small muted">{note}</p></div>'


def _comparison_row(est: Estimate, keys: list[Item], scale: int, unit: str) -> str:
    by_key = {item.key: item for item in est.items}
    items = "".join(_bytes_cell(by_key[k].bytes, unit) if k in by_key else "<td></td>" for k in keys)
    bar = stacked_bar(peak_items(est), est.fit, scale, unit, height_em=1.1)
    fits = "<br>".join(_fit_verdict(fit, unit, short=True) for fit in est.fit)
    fits = fits or '<span class="muted">no GPU named</span>'
    return (f'<tr><td class="vram-query">{escape(est.request.to_query())}</td>'
            f'{_bytes_cell(est.total_bytes, unit, bold=True)}<td class="label">{fits}</td>'
            f"<td{css(min_width='8em', width='9em')}>{bar}</td>{items}</tr>")
