"""Slack messages for an Estimate, an error, and help: Block Kit built from the core's values.

Every renderer returns a message payload ``{"text": ..., "blocks": [...]}`` that ``respond`` and
``say`` take as it is. Numbers come from the core's neutral rendering (``vram.render``), so Slack
shows to the hundredth what ``vram`` prints.
"""

from __future__ import annotations

from typing import Any, Sequence

from vram.errors import VramError
from vram.memory.result import Estimate, Fit
from vram.messages import DEFAULT, language_of
from vram.render import (
    METHOD_BLURBS, VERDICT_STYLES, alternative_line, comparison_line, fit_line, fit_parts, formula_text,
    no_gpu_text, peak_text, range_line, serving_lines, solution_text, strategies_title, suggestions_title,
    total_rows
)
from vram.units import format_bytes

from . import kit
from .question import Intent, Question

Message = dict[str, Any]

SHARE_ACTION = "vram_share"
FORMULAS_ACTION = "vram_formulas"

UNIT = "GB"
#: How much of a refused query is echoed back: enough to recognise it.
ECHO_CHARS = 200

EXAMPLES = (
    "train chatglm-6b adamw bf16 selective on 8xA100",
    "infer 6b int8",
    "infer llama-3-70b int4 on 2x rtx-4090",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb",
    "train 7b bf16 adamw zero3 on 8 a100",
)


def answer_message(estimate: Estimate, query: str, *, formulas: bool = False,
                   shareable: bool = False, shared_by: str | None = None) -> Message:
    """The answer, in the order of every frontend: the headline (what was understood, the peak, the
    verdict), the breakdown in short lines, phases, range, assumptions, advice."""
    lang = language_of(query)  # a Chinese query reads its verdicts in Chinese
    body = [_headline(estimate, lang), kit.lines_section(breakdown_lines(estimate))]
    serving = serving_lines(estimate, UNIT, lang)  # an engine's KV pool and the concurrency it holds
    if serving:
        body.append(kit.section(kit.plain("\n".join(line.strip() for line in serving))))
    if estimate.phases and not formulas:
        body.append(kit.context(kit.plain(_phases_in_brief(estimate))))
    notes = [range_line(estimate, UNIT)] if estimate.low_bytes is not None else []
    notes += [comparison_line(estimate, other, UNIT) for other in estimate.comparisons]
    notes.append(f"{estimate.method.value} method ({METHOD_BLURBS[estimate.method]})")
    body.append(kit.context(kit.plain(" · ".join(notes))))
    body.append(kit.context(kit.plain(_bullets("Assumptions:", estimate.assumptions))))
    body += _advice(estimate)
    if formulas:
        body += [kit.divider(), *_workings(estimate), *_formula_blocks(estimate)]
    if shared_by:
        body.append(kit.context(kit.mrkdwn(f"Shared by <@{shared_by}>")))
    return kit.message(_fallback(estimate), body, _buttons(query, formulas, shareable))


def breakdown_lines(estimate: Estimate) -> list[str]:
    """A line an item, its size first in a fixed-width span so the numbers line up, the label after:
    short enough to read on a phone, where a table's long rows would wrap."""
    rows = [(format_bytes(item.bytes, UNIT), kit.escape(item.label)) for item in estimate.items]
    totals = [(format_bytes(count, UNIT), kit.escape(label)) for label, count in total_rows(estimate)]
    width = max(len(number) for number, _ in rows + totals)
    lines = [f"*Breakdown* ({UNIT})"]
    lines += [f"`{number:>{width}}` {label}" for number, label in rows]
    lines.append(f"*`{totals[0][0]:>{width}}` {totals[0][1]}*")
    lines += [f"`{number:>{width}}` {label}" for number, label in totals[1:]]
    return lines


def error_message(error: VramError, query: str) -> Message:
    """The parser's message and suggestion, with the query and a caret under the word at fault."""
    body = [kit.section(kit.plain(f":warning: {error.message}"))]
    if query:
        body.append(kit.code_section(_query_with_caret(query, error.position)))
    body.append(kit.context(kit.mrkdwn("`/vram help` shows what vram reads, with examples.")))
    return kit.message(f"vram: {error.message}", body)


def internal_error_message(query: str) -> Message:
    """A bug in vram: said plainly; the traceback stays in the server's log."""
    text = ("vram failed on this query (a bug in vram, not in the query). "
            "The error is logged on the server; please report the query to whoever runs this bot.")
    body = [kit.section(kit.plain(f":boom: {text}")), kit.code_section([_echo(query)])]
    return kit.message(f"vram: {text}", body)


def help_message() -> Message:
    """Usage with examples."""
    usage = "\n".join([
        "*vram* answers how much GPU memory an LLM job takes, and whether it fits.",
        "`/vram QUERY`  the answer, shown to you only, with a button to share it",
        "`/vram explain QUERY`  the same with every formula, its numbers and its source",
        "`@vram QUERY`  in a channel: answered in the thread",
        "A direct message to vram: answered there",
    ])
    notes = ("Words in any order and case. Numbers take suffixes (7b, 350m, 4k); GPUs take counts "
             "(8xA100, on 2 h100); settings are `key value` (seq 4096, bs 8, tp2, zero3, r=16). "
             "A plain A100 is the 80 GB card.")
    body = [kit.section(kit.mrkdwn(usage)), kit.section(kit.mrkdwn("*Examples*")),
            kit.code_section(f"/vram {example}" for example in EXAMPLES),
            kit.context(kit.mrkdwn(notes))]
    return kit.message("vram: /vram QUERY, for example /vram " + EXAMPLES[0], body)


def _advice(estimate: Estimate) -> list[kit.Block]:
    """Sharded strategies beside plain data parallelism, and what would make it fit."""
    blocks = []
    if estimate.strategies:
        lines = [alternative_line(a, UNIT) for a in estimate.strategies]
        blocks.append(kit.context(kit.plain(_bullets(f"{strategies_title(estimate)}:", lines))))
    if estimate.suggestions:
        lines = [f"{alternative_line(a, UNIT)}; {a.tradeoff}. Ask: {a.request.to_query()}" for a in estimate.suggestions]
        blocks.append(kit.section(kit.plain(_bullets(f"{suggestions_title(estimate)}:", lines))))
    return blocks


def _headline(estimate: Estimate, lang: str = DEFAULT) -> kit.Block:
    """The query as understood, the solver's answer, the peak a GPU and the verdict on each GPU."""
    lines = [f"`{kit.escape(estimate.request.to_query())}`"]
    if estimate.solution is not None:
        lines.append(f"*Answer:* {kit.escape(solution_text(estimate.solution))}")
    lines.append(_total_text(estimate))
    verdicts = [_fit_text(fit, lang) for fit in estimate.fit] or [no_gpu_text(lang, alone=True)]
    lines += [kit.escape(verdict) for verdict in verdicts]
    return kit.section(kit.mrkdwn("\n".join(lines)))


def _total_text(estimate: Estimate) -> str:
    """The peak as the terminal's headline says it ("17.02 GB a GPU, at the prefill"), the figure bold."""
    figure, _, rest = peak_text(estimate, UNIT).partition(f" {UNIT}")
    return f"*{figure} {UNIT}*{kit.escape(rest)}"


def _phases_in_brief(estimate: Estimate) -> str:
    peak = estimate.peak_phase
    return "Phases: " + " · ".join(
        f"{phase.name} {format_bytes(phase.bytes, UNIT)} {UNIT}" + (" (peak)" if phase is peak else "")
        for phase in estimate.phases)


def _workings(estimate: Estimate) -> list[kit.Block]:
    """The phases with what is live in each, and why the answer is a range."""
    blocks = []
    if estimate.phases:
        phases = [f"{p.name}: {format_bytes(p.bytes, UNIT)} {UNIT}, live: {', '.join(p.live)}"
                  + (f" ({p.note})" if p.note else "") for p in estimate.phases]
        blocks.append(kit.section(kit.plain(_bullets("Phases (the peak is the answer):", phases))))
    if estimate.low_bytes is not None:
        blocks.append(kit.section(kit.plain(_bullets(range_line(estimate, UNIT), estimate.range_reasons))))
    return blocks


def _bullets(title: str, lines: Sequence[str]) -> str:
    return "\n".join([title, *(f"• {line}" for line in lines)])


def _fit_text(fit: Fit, lang: str = DEFAULT) -> str:
    return f"{VERDICT_STYLES[fit.verdict].emoji} {fit_line(fit, UNIT, lang)}"


def _formula_blocks(estimate: Estimate) -> list[kit.Block]:
    blocks = []
    for item in estimate.items:
        size = f"{format_bytes(item.bytes, UNIT)} {UNIT}"
        blocks.append(kit.section(kit.mrkdwn(
            f"*{kit.escape(item.label)}*  {size}\n`{kit.escape(formula_text(item))}`")))
        if item.source:
            blocks.append(kit.context(kit.plain(f"Source: {item.source}")))
    return blocks


def _buttons(query: str, formulas: bool, shareable: bool) -> list[kit.Block]:
    shown = Question(Intent.EXPLAIN if formulas else Intent.ANSWER, query)
    elements = []
    if shareable:
        elements.append(kit.button("Share in channel", SHARE_ACTION, shown.text, primary=True))
    if not formulas:
        elements.append(kit.button("Show formulas", FORMULAS_ACTION, Question(Intent.EXPLAIN, query).text))
    return [kit.actions(*elements)] if elements else []


def _fallback(estimate: Estimate) -> str:
    per_gpu = " per GPU" if estimate.gpu_count > 1 else ""
    text = f"{estimate.request.to_query()}: {format_bytes(estimate.total_bytes, UNIT)} {UNIT}{per_gpu}"
    verdicts = "; ".join(f"{parts.words} on {parts.where}" for parts in map(fit_parts, estimate.fit))
    return f"{text}; {verdicts}" if verdicts else text


def _query_with_caret(query: str, position: int | None) -> list[str]:
    echoed = _echo(query)
    if position is None or position >= len(echoed):
        return [echoed]
    return [echoed, " " * position + "^"]


def _echo(query: str) -> str:
    # A code block shows its text as typed except a backtick, which would end the block early;
    # U+02CB looks the same and keeps the caret's column.
    return kit.clip(query, ECHO_CHARS).replace("`", "\u02cb")
