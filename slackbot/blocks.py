"""Slack messages for an Estimate, an error, and help: Block Kit built from the core's values.

Every renderer returns a message payload ``{"text": ..., "blocks": [...]}`` that ``respond`` and
``say`` take as it is. Numbers come from the core's neutral rendering (``vram.render``), so Slack
shows to the hundredth what ``vram`` prints.
"""

from __future__ import annotations

import textwrap
from typing import Any

from vram.errors import VramError
from vram.estimate import Estimate, Fit
from vram.render import METHOD_BLURBS, fit_line, formula_text, table_lines
from vram.units import format_bytes

from . import kit
from .question import Intent, Question

Message = dict[str, Any]

SHARE_ACTION = "vram_share"
FORMULAS_ACTION = "vram_formulas"

UNIT = "GB"
FIT_ICONS = {True: ":white_check_mark:", False: ":x:"}
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
    """The answer: what was understood, the table, the total, the fit, the assumptions."""
    table = textwrap.dedent("\n".join(table_lines(estimate, UNIT, formulas=False))).splitlines()
    body = [_summary(estimate), kit.code_section(table)]
    if estimate.fit:
        body.append(kit.section(kit.plain("\n".join(_fit_text(fit) for fit in estimate.fit))))
    body.append(kit.context(kit.plain("Assumptions:\n" + "\n".join(f"• {a}" for a in estimate.assumptions))))
    if formulas:
        body += [kit.divider(), *_formula_blocks(estimate)]
    if shared_by:
        body.append(kit.context(kit.mrkdwn(f"Shared by <@{shared_by}>")))
    return kit.message(_fallback(estimate), body, _buttons(query, formulas, shareable))


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


def _summary(estimate: Estimate) -> kit.Block:
    understood = kit.escape(estimate.request.to_query())
    total = f"*{format_bytes(estimate.total_bytes, UNIT)} {UNIT}*"
    if estimate.gpu_count > 1:
        total += (f" per GPU, {format_bytes(estimate.job_total_bytes, UNIT)} {UNIT} "
                  f"for the {estimate.gpu_count}-GPU job")
    method = estimate.method.value
    return kit.section(kit.mrkdwn(f"`{understood}`\n{total} · {method} method "
                                  f"({kit.escape(METHOD_BLURBS[method])})"))


def _fit_text(fit: Fit) -> str:
    return f"{FIT_ICONS[fit.fits]} {fit_line(fit, UNIT)}"


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
    verdicts = "; ".join(f"{'fits' if fit.fits else 'does not fit'} on {fit.gpu_count}x {fit.gpu}"
                         for fit in estimate.fit)
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
