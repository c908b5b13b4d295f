"""Neutral renderings of an Estimate: an aligned plain-text table, and the JSON document."""

from __future__ import annotations

import json
from typing import Any

from .estimate import Estimate, Fit, LineItem
from .units import format_bytes, format_value

METHOD_BLURBS = {
    "article": "the seed article's rules: every line item summed",
    "detailed": "exact architecture, peak over the phases of a step",
}


def to_json_document(estimate: Estimate) -> dict[str, Any]:
    """``{"request": ..., "estimate": ...}``, what ``vram --json`` prints."""
    return {"request": estimate.request.to_dict(), "estimate": estimate.to_dict()}


def render_json(estimate: Estimate) -> str:
    return json.dumps(to_json_document(estimate), indent=2, ensure_ascii=False)


def render_text(estimate: Estimate, unit: str = "GB", formulas: bool = True) -> str:
    """The answer as an aligned table, in GB (1e9 bytes) or GiB."""
    lines = [
        f"Query:  {estimate.request.to_query()}",
        f"Method: {estimate.method.value} ({METHOD_BLURBS[estimate.method.value]})",
        "",
        *_table(estimate, unit, formulas),
    ]
    lines += _phases(estimate, unit)
    if estimate.fit:
        lines += ["", "Fit:", *(f"  {_fit_line(fit, unit)}" for fit in estimate.fit)]
    lines += ["", "Assumptions:", *(f"  - {text}" for text in estimate.assumptions)]
    return "\n".join(lines)


def _table(estimate: Estimate, unit: str, formulas: bool) -> list[str]:
    per_gpu = " per GPU" if estimate.gpu_count > 1 else ""
    rows = [(item.label, format_bytes(item.bytes, unit), _formula_text(item) if formulas else "")
            for item in estimate.items]
    total = f"Peak{per_gpu} ({estimate.peak_phase.name})" if estimate.phases else f"Total{per_gpu}"
    totals = [(total, format_bytes(estimate.total_bytes, unit), "")]
    if estimate.gpu_count > 1:
        totals.append((f"Job total ({estimate.gpu_count} GPUs)",
                       format_bytes(estimate.job_total_bytes, unit), ""))
    label_width = max(len(row[0]) for row in rows + totals)
    number_width = max(len(unit), *(len(row[1]) for row in rows + totals))
    header = f"  {'Item'.ljust(label_width)}  {unit.rjust(number_width)}" + ("  Formula" if formulas else "")
    body = [f"  {label.ljust(label_width)}  {number.rjust(number_width)}" + (f"  {text}" if text else "")
            for label, number, text in rows]
    rule = "  " + "-" * (label_width + 2 + number_width)
    foot = [f"  {label.ljust(label_width)}  {number.rjust(number_width)}" for label, number, _ in totals]
    return [header, *body, rule, *foot]


def _phases(estimate: Estimate, unit: str) -> list[str]:
    lines = []
    if estimate.phases:
        lines += ["", "Phases (the peak is the answer; the article sums every item):"]
        width = max(len(p.name) for p in estimate.phases)
        for p in estimate.phases:
            lines.append(f"  {p.name.ljust(width)}  {format_bytes(p.bytes, unit)} {unit}: {', '.join(p.live)}")
            if p.note:
                lines.append(f"  {''.ljust(width)}  ({p.note})")
    if estimate.low_bytes is not None:
        lines += ["", f"Range: {format_bytes(estimate.low_bytes, unit)} to {format_bytes(estimate.high_bytes, unit)} {unit}",
                  *(f"  - {reason}" for reason in estimate.range_reasons)]
    for other in estimate.comparisons:
        change = (estimate.total_bytes - other.total_bytes) / other.total_bytes * 100
        lines += ["", f"The {other.method} method gives {format_bytes(other.total_bytes, unit)} {unit}; "
                      f"this answer is {abs(change):.0f} % {'higher' if change >= 0 else 'lower'}"]
    return lines


def _formula_text(item: LineItem) -> str:
    values = "  ".join(f"{name}={format_value(value)}" for name, value in item.values.items())
    return f"{item.formula}   [{values}]" if values else item.formula


def _fit_line(fit: Fit, unit: str) -> str:
    need = format_bytes(fit.per_gpu_bytes, unit)
    has = format_bytes(fit.capacity_bytes, unit)
    if fit.fits:
        verdict = f"fits: {need} of {has} {unit}, {format_bytes(fit.headroom_bytes, unit)} {unit} to spare"
    else:
        verdict = f"does not fit: needs {need} {unit}, has {has} {unit} ({format_bytes(-fit.headroom_bytes, unit)} {unit} over)"
    return f"{fit.gpu_count}x {fit.gpu}: {verdict}"
