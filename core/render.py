"""Neutral renderings of an Estimate (an aligned plain-text table, the JSON document), and the one
table of how every frontend presents it: each verdict's words, mark, emoji and colour, each line
item's column title and colour, the method blurbs and the advice's titles. The text answer, Slack's
blocks and the notebook's HTML all take their words from here, so they never disagree. At the end,
the catalog lists of ``vram --list``: tables with a head row, at most 80 columns wide, or JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from vram import messages
from vram.catalog.index import Gpu, ModelSpec
from vram.memory.result import (
    Alternative, Comparison, Estimate, Fit, LayerServing, LineItem, Solution, Verdict
)
from vram.request.enums import Item, Method
from vram.units import format_bytes, format_count, format_value

METHOD_BLURBS: dict[Method, str] = {
    Method.ARTICLE: "the seed article's rules: every line item summed",
    Method.DETAILED: "exact architecture, peak over the phases of a step",
}


@dataclass(frozen=True)
class VerdictStyle:
    """How the frontends show one verdict."""

    words: str  #: what the answer says ("fits, tight"): text, Slack and the notebook alike
    mark: str  #: the notebook's sign before the words
    emoji: str  #: Slack's shortcode before the line
    colour: str  #: the notebook's colour for the words, readable on light and dark themes


#: A verdict's words, mark, emoji and colour. The colours keep their contrast on white and on a dark
#: theme's near-black; amber, not a third shade of green, because tight is a warning.
VERDICT_STYLES: dict[Verdict, VerdictStyle] = {
    Verdict.FITS: VerdictStyle("fits", "✔", ":white_check_mark:", "#3a9a3a"),
    Verdict.TIGHT: VerdictStyle("fits, tight", "⚠", ":warning:", "#d08a1c"),
    Verdict.DOES_NOT_FIT: VerdictStyle("does not fit", "✘", ":x:", "#e0474c"),
}


@dataclass(frozen=True)
class ItemStyle:
    """How the frontends show one kind of line item beside others (the item's own label says the rest)."""

    title: str  #: a column's head where estimates are compared: short, a column an item
    colour: str  #: its segment of a bar and its swatch


#: Column titles and bar colours, in Item order (the order of a comparison's columns). Fills are
#: Tableau 10 and 20's mid tones, which read on white and on dark themes: blues for weights,
#: oranges for gradients, greens for optimizer states, purples for activations, greys for the runtime.
ITEM_STYLES: dict[Item, ItemStyle] = {
    Item.WEIGHTS: ItemStyle("Weights", "#4e79a7"),
    Item.WEIGHT_CASTS: ItemStyle("Weight casts", "#a0cbe8"),
    Item.ADAPTERS: ItemStyle("Adapters", "#edc948"),
    Item.QUANT_OVERHEAD: ItemStyle("Quant. scales", "#9c755f"),
    Item.WEIGHT_SEGMENTS: ItemStyle("Weight segments", "#2f5a80"),
    Item.GRADIENTS: ItemStyle("Grads", "#f28e2b"),
    Item.OPTIMIZER: ItemStyle("Optimizer", "#59a14f"),
    Item.OPTIMIZER_TEMP: ItemStyle("Optim. temps", "#8cd17d"),
    Item.ACTIVATIONS: ItemStyle("Activ.", "#b07aa1"),
    Item.KV_CACHE: ItemStyle("KV cache", "#76b7b2"),
    Item.LOGITS: ItemStyle("Logits", "#ff9da7"),
    Item.RUNTIME_OVERHEAD: ItemStyle("Runtime overhead", "#bab0ac"),
    Item.CUDA_CONTEXT: ItemStyle("CUDA context", "#8c8c8c"),
    Item.CUDA_GRAPHS: ItemStyle("CUDA graphs", "#6f6f6f"),
    Item.REFERENCE_MODEL: ItemStyle("Reference", "#499894"),
    Item.VALUE_MODEL: ItemStyle("Value model", "#f1ce63"),
    Item.REWARD_MODEL: ItemStyle("Reward model", "#9d7660"),
    Item.TEACHER: ItemStyle("Teacher", "#e15759"),
    Item.ROLLOUT_ENGINE: ItemStyle("Rollout vLLM", "#d37295"),
    Item.VALUE_ACTIVATIONS: ItemStyle("Value activ.", "#fabfd2"),
    Item.TEACHER_LOGITS: ItemStyle("Teacher logits", "#ff9d9a"),
    Item.BACKWARD_LAYER: ItemStyle("Backward layer", "#d4a6c8"),
    Item.TIED_GRADIENTS: ItemStyle("Tied grads", "#ffbe7d"),
    Item.DDP_BUCKETS: ItemStyle("DDP buckets", "#b6992d"),
    Item.ZERO3_GATHER: ItemStyle("ZeRO-3 gather", "#86bcb6"),
    Item.REDUCE_BUCKET: ItemStyle("Reduce bucket", "#c9ad3f"),
    Item.STEP_GRADIENT: ItemStyle("Step grads", "#7f6d5f"),
    Item.STREAM_POOLS: ItemStyle("Stream pools", "#bcbd22"),
    Item.FRAMEWORK_RESERVE: ItemStyle("Workspaces", "#79706e"),
}


def item_keys(estimates: Sequence[Estimate]) -> list[Item]:
    """Every item key that occurs in ``estimates``, in Item order: a comparison's columns."""
    present = {item.key for est in estimates for item in est.items}
    return [key for key in ITEM_STYLES if key in present]


def total_word(estimate: Estimate) -> str:
    """``Peak`` (the most over the phases of a step) or ``Total`` (the items' sum)."""
    return "Peak" if estimate.phases else "Total"


def total_label(estimate: Estimate) -> str:
    """``Peak per GPU (optimizer step)`` or ``Total``: what the estimate's total is."""
    per_gpu = " per GPU" if estimate.gpu_count > 1 else ""
    phase = f" ({estimate.peak_phase.name})" if estimate.phases else ""
    return f"{total_word(estimate)}{per_gpu}{phase}"


def total_rows(estimate: Estimate) -> list[tuple[str, int]]:
    """The breakdown's foot, (label, bytes) a row: the total, the whole job's on several GPUs, and
    the host memory an offload takes."""
    rows = [(total_label(estimate), estimate.total_bytes)]
    if estimate.gpu_count > 1:
        rows.append((f"Job total ({estimate.gpu_count} GPUs)", estimate.job_total_bytes))
    if estimate.host_bytes:
        rows.append(("Host memory, offloaded (job)", estimate.host_bytes))
    if estimate.reserved_bytes is not None:
        rows.append(("Reserved per GPU (max_memory_reserved, no CUDA context)", estimate.reserved_bytes))
    return rows


def no_gpu_text(lang: str = messages.DEFAULT, alone: bool = False) -> str:
    """What the answer says in place of a verdict when no GPU is named (the message catalogs');
    ``alone``: as a sentence of its own, its first letter a capital."""
    said = messages.text("serving.no_gpu_named", lang)
    return said[:1].upper() + said[1:] if alone else said


def strategies_title(estimate: Estimate) -> str:
    """The heading of the sharded strategies shown beside plain data parallelism."""
    return f"On {estimate.gpu_count} GPUs, plain data parallelism keeps a full replica on each; sharded"


def suggestions_title(estimate: Estimate) -> str:
    """The heading of the suggestions: whether any of them fits (tight counts as fitting)."""
    fitting = any(alt.fit is not None and alt.fit.verdict is not Verdict.DOES_NOT_FIT
                  for alt in estimate.suggestions)
    return "What would make it fit" if fitting else "No single change makes it fit; the closest"


def to_json_document(estimate: Estimate) -> dict[str, Any]:
    """``{"request": ..., "estimate": ...}`` (and ``"solution"`` for a solver), what ``vram --json`` prints."""
    document = {"request": estimate.request.to_dict(), "estimate": estimate.to_dict()}
    if estimate.solution is not None:
        document["solution"] = estimate.solution.to_dict()
    return document


def render_json(estimate: Estimate) -> str:
    return json.dumps(to_json_document(estimate), indent=2, ensure_ascii=False, allow_nan=False)


#: The text answer is read in a terminal: no line wider than this; formulas wrap under their item.
TEXT_WIDTH = 100
#: The headline's labels ("Verdict:  ") and the indent that continues them.
HEAD_INDENT = 10


def render_text(estimate: Estimate, unit: str = "GB", formulas: bool = True, lang: str = messages.DEFAULT) -> str:
    """The answer in a terminal: the headline (the peak a GPU, the verdict and its reason, or the
    solver's answer), then the breakdown, phases, range, assumptions and advice; GB (1e9) or GiB;
    the verdicts in ``lang``."""
    sections = (headline_lines(estimate, unit, lang), table_lines(estimate, unit, formulas),
                phases_lines(estimate, unit), _fitted(serving_lines(estimate, unit, lang)), range_lines(estimate, unit),
                assumptions_lines(estimate),
                advice_lines(estimate, unit))
    return "\n\n".join("\n".join(lines) for lines in sections if lines)


def headline_lines(estimate: Estimate, unit: str = "GB", lang: str = messages.DEFAULT) -> list[str]:
    """What was asked, the solver's answer, the peak a GPU and the verdict on the GPUs named."""
    lines = _labelled("Query:", estimate.request.to_query())
    if estimate.solution is not None:
        lines += _labelled("Answer:", solution_text(estimate.solution))
    lines += _labelled(f"{total_word(estimate)}:", peak_text(estimate, unit))
    if not estimate.fit:
        lines += _labelled("Verdict:", no_gpu_text(lang))
    for number, fit in enumerate(estimate.fit):
        lines += _labelled("Verdict:" if number == 0 else "", fit_line(fit, unit, lang))
    if len(estimate.fit) == 1:
        lines += _labelled("", f"({usable_line(estimate.fit[0], unit)})")
    lines += _labelled("Method:", f"{estimate.method.value} ({METHOD_BLURBS[estimate.method]})")
    return lines


def peak_text(estimate: Estimate, unit: str = "GB") -> str:
    """``103.50 GB a GPU, at the tied embedding gradient sum`` or ``7.20 GB``."""
    text = f"{format_bytes(estimate.total_bytes, unit)} {unit}"
    if estimate.gpu_count > 1:
        text += " a GPU"
    if estimate.peak_phase is not None:
        text += f", at the {estimate.peak_phase.name}"
    return text


def _labelled(label: str, text: str) -> list[str]:
    """``text`` after a headline label, continued under it."""
    return wrap(text, f"{label:<{HEAD_INDENT}}", " " * HEAD_INDENT)


def wrap(text: str, first: str, rest: str, width: int = TEXT_WIDTH) -> list[str]:
    """``text`` in lines of at most ``width``, the first after ``first``, the others after ``rest``;
    formulas break at their spaces, never inside a name."""
    if any(_wide(char) for char in text):
        return _wrap_wide(text, first, rest, width)
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def _wide(char: str) -> bool:
    """A character a terminal draws two columns wide (Chinese), per Unicode's East Asian Width."""
    return unicodedata.east_asian_width(char) in "WF"


def _columns(text: str) -> int:
    return sum(2 if _wide(char) else 1 for char in text)


def _wrap_wide(text: str, first: str, rest: str, width: int) -> list[str]:
    """wrap() counting terminal columns, not characters (textwrap counts one a character, so a
    Chinese line ran to 170 columns): breaks at spaces and beside any wide character."""
    lines, line = [], first
    for chunk in _chunks(" ".join(text.split())):
        if chunk == " ":
            line += " " if line.strip() else ""
            continue
        if line.strip() and _columns(line + chunk) > width:
            lines.append(line.rstrip())
            line = rest
        line += chunk
    return [*lines, line.rstrip()]


#: Full-width punctuation that closes: kept on the line of what it follows, never one's start.
CLOSING = frozenset("，。；：、！？）】」")


def _chunks(text: str) -> list[str]:
    """The pieces a line may break between: runs of narrow characters, single spaces, and each wide
    character alone (a closing mark with what it follows)."""
    chunks, word = [], ""
    for char in text:
        if char in CLOSING and (word or chunks):
            word, chunks = ("", [*chunks[:-1], chunks[-1] + char]) if not word else (word + char, chunks)
            continue
        if char == " " or _wide(char):
            chunks += [word, char] if word else [char]
            word = ""
        else:
            word += char
    return [*chunks, word] if word else chunks


def _fitted(lines: list[str]) -> list[str]:
    """``lines`` in TEXT_WIDTH, each continued four columns under its own indent (an engine's
    refusal, quoted whole, runs to 380 columns)."""
    return [part for line in lines
            for part in wrap(line.lstrip(), line[:len(line) - len(line.lstrip())],
                             " " * (len(line) - len(line.lstrip()) + 4))]


def _said(lang: str, key: str, **values: object) -> str:
    return messages.text(key, lang, **values)


def serving_lines(estimate: Estimate, unit: str = "GB", lang: str = messages.DEFAULT) -> list[str]:
    """A pre-allocating engine's start-up: its KV pool, the concurrency it holds, or its refusal."""
    serving = estimate.serving
    if serving is None:
        return []
    if isinstance(serving, LayerServing):
        return _layer_serving_lines(serving, unit)
    text = functools.partial(_said, lang)
    head = text("serving.head", engine=serving.engine_name, flag=serving.memory_fraction_flag,
                fraction=f"{serving.memory_fraction:g}", context=serving.max_model_len)
    if serving.kv_cache_bytes is None:
        return [head, text("serving.one_sequence", size=format_bytes(serving.request_kv_bytes, unit), unit=unit)]
    lines = [head,
             text("serving.pool", size=format_bytes(serving.kv_cache_bytes, unit), unit=unit,
                  tokens=f"{serving.kv_cache_tokens:,}", block=serving.block_size),
             text("serving.concurrency", context=serving.max_model_len, times=f"{serving.max_concurrency:g}")]
    if serving.refusal is None:
        lines.append(text("serving.running", running=serving.max_running, cap=serving.max_num_seqs))
    if serving.pool_set is not None:
        lines.insert(2, text("serving.pool_set", flag=serving.memory_fraction_flag))
    if serving.refusal is not None:
        lines.append(text("serving.refused", engine=serving.engine_name, refusal=serving.refusal))
    elif serving.concurrency_asked > 1:
        holds = serving.holds(serving.concurrency_asked)
        capped = not holds and serving.max_num_seqs < serving.concurrency_asked <= serving.max_concurrency
        lines.append(text("serving.capped" if capped else "serving.holds" if holds else "serving.does_not_hold",
                          asked=serving.concurrency_asked, cap=serving.max_num_seqs))
    return lines


def _layer_serving_lines(serving: LayerServing, unit: str) -> list[str]:
    """llama.cpp's placement: the layers on the GPUs, the cache, the host memory the rest takes."""
    lines = [f"Serving ({serving.engine_name}):",
             f"  layers on the GPU: {serving.gpu_layers} of {serving.total_layers} (n_gpu_layers)",
             f"  KV cache: {format_bytes(serving.kv_cache_bytes, unit)} {unit} on the GPU, {serving.kv_cache_tokens:,} "
             f"cells; {serving.max_concurrency:g} sequence(s) of {serving.max_model_len:,} tokens",
             f"  host memory: {format_bytes(serving.host_bytes, unit)} {unit} (the rest of the model, buffers)"]
    if serving.partial_offload:
        lines.append("  partial offload: it runs, more slowly (the CPU runs the layers left in host memory)")
    return lines


def table_lines(estimate: Estimate, unit: str = "GB", formulas: bool = True) -> list[str]:
    """The breakdown as aligned lines: a header, one line an item (its formula wrapped below it), a
    rule, the totals."""
    rows = [(item.label, format_bytes(item.bytes, unit)) for item in estimate.items]
    totals = [(label, format_bytes(count, unit)) for label, count in total_rows(estimate)]
    label_width = max(len(row[0]) for row in rows + totals)
    number_width = max(len(unit), *(len(row[1]) for row in rows + totals))
    header = f"  {'Item'.ljust(label_width)}  {unit.rjust(number_width)}"
    body = []
    for item, (label, number) in zip(estimate.items, rows):
        body.append(f"  {label.ljust(label_width)}  {number.rjust(number_width)}")
        if formulas:
            body += wrap(formula_text(item), "      ", "        ")
    rule = "  " + "-" * (label_width + 2 + number_width)
    foot = [f"  {label.ljust(label_width)}  {number.rjust(number_width)}" for label, number in totals]
    return [header, *body, rule, *foot]


def phases_lines(estimate: Estimate, unit: str = "GB") -> list[str]:
    """Each phase of a step with what is live in it, and why (detailed method only)."""
    if not estimate.phases:
        return []
    lines = ["Phases (the peak is the answer; the article sums every item):"]
    width = max(len(p.name) for p in estimate.phases)
    for p in estimate.phases:
        lines += wrap(f"{format_bytes(p.bytes, unit)} {unit}: {', '.join(p.live)}",
                      f"  {p.name.ljust(width)}  ", " " * (width + 4))
        if p.note:
            lines += wrap(f"({p.note})", " " * (width + 4), " " * (width + 5))
    return lines


def range_lines(estimate: Estimate, unit: str = "GB") -> list[str]:
    """The range and its reasons, and the other method's total beside this one."""
    lines = []
    if estimate.low_bytes is not None:
        lines.append(range_line(estimate, unit))
        lines += [line for reason in estimate.range_reasons for line in wrap(reason, "  - ", "    ")]
    lines += [line for other in estimate.comparisons for line in wrap(comparison_line(estimate, other, unit), "", "")]
    return lines


def assumptions_lines(estimate: Estimate) -> list[str]:
    """Every default and catalog value the answer took, a bullet each."""
    return ["Assumptions:", *(line for text in estimate.assumptions for line in wrap(text, "  - ", "    "))]


def advice_lines(estimate: Estimate, unit: str = "GB") -> list[str]:
    """Sharded strategies beside plain data parallelism, then what would make it fit."""
    lines = []
    if estimate.strategies:
        lines += [f"{strategies_title(estimate)}:",
                  *(line for alt in estimate.strategies for line in wrap(alternative_line(alt, unit), "  ", "    "))]
    if estimate.suggestions:
        lines += [""] if lines else []
        lines.append(f"{suggestions_title(estimate)}:")
        for number, alt in enumerate(estimate.suggestions, 1):
            lines += wrap(alternative_line(alt, unit), f"  {number}. ", "     ")
            lines += wrap(f"trade-off: {alt.tradeoff}", "     ", "       ")
            lines += wrap(f"query: {alt.request.to_query()}", "     ", "       ")
    return lines


def range_line(estimate: Estimate, unit: str = "GB") -> str:
    """``Range: 99.06 to 108.42 GB`` (only for an estimate with a range)."""
    return f"Range: {format_bytes(estimate.low_bytes, unit)} to {format_bytes(estimate.high_bytes, unit)} {unit}"


def comparison_line(estimate: Estimate, other: Comparison, unit: str = "GB") -> str:
    """``The article method gives 103.99 GB; this answer is 5 % lower``."""
    change = (estimate.total_bytes - other.total_bytes) / other.total_bytes * 100
    return (f"The {other.method} method gives {format_bytes(other.total_bytes, unit)} {unit}; "
            f"this answer is {abs(change):.0f} % {'higher' if change >= 0 else 'lower'}")


def formula_text(item: LineItem) -> str:
    """The item's formula with the numbers substituted: ``2 B/param x params   [params=6e9]``."""
    values = "  ".join(f"{name}={format_value(value)}" for name, value in item.values.items())
    return f"{item.formula}   [{values}]" if values else item.formula


@dataclass(frozen=True)
class FitParts:
    """One verdict in pieces, for a renderer that lays them out its own way."""

    where: str  #: ``8x a100-80gb``
    words: str  #: ``does not fit``: the verdict's words
    detail: str  #: ``needs 98.77 of 85.44 GB usable, 116% used, 13.33 GB over``
    margin: str  #: ``13.33 GB over`` or ``4.20 GB to spare``
    style: VerdictStyle


def verdict_words(verdict: Verdict, lang: str = messages.DEFAULT) -> str:
    """A verdict's words in ``lang`` (the message catalogs' ``verdict.*``); English is the style's own."""
    return VERDICT_STYLES[verdict].words if lang == messages.DEFAULT else messages.text(f"verdict.{verdict}", lang)


def fit_parts(fit: Fit, unit: str = "GB", lang: str = messages.DEFAULT) -> FitParts:
    """The pieces of ``fit_line``: where, the verdict's words, the numbers, the margin."""
    text = functools.partial(_said, lang)
    room = format_bytes(abs(fit.headroom_bytes), unit)
    margin = text("verdict.spare" if fit.headroom_bytes >= 0 else "verdict.over", room=room, unit=unit)
    if not fit.fits and fit.headroom_bytes >= 0:  # memory left, but a setting (a pool set too small) stops it
        margin = text("verdict.settings_stop", room=room, unit=unit)
    detail = text("verdict.detail", need=format_bytes(fit.need_bytes, unit), usable=format_bytes(fit.usable_bytes, unit),
                  unit=unit, used=f"{fit.utilisation:.0%}", margin=margin)
    style = VERDICT_STYLES[fit.verdict]
    return FitParts(f"{fit.gpu_count}x {fit.gpu}", verdict_words(fit.verdict, lang), detail, margin, style)


def fit_line(fit: Fit, unit: str = "GB", lang: str = messages.DEFAULT) -> str:
    """One verdict: ``8x a100-80gb: does not fit: needs 98.77 of 85.44 GB usable, 116% used, 13.33 GB over``."""
    parts = fit_parts(fit, unit, lang)
    return f"{parts.where}: {parts.words}: {parts.detail}"


def usable_line(fit: Fit, unit: str = "GB") -> str:
    """Where 'usable' comes from, and why 'needs' is below the peak when the estimate counts a context."""
    taken = "".join(f" - {format_bytes(d.bytes, unit)} {d.label}" for d in fit.deductions if d.bytes)
    counted = (f"; 'needs' is the peak less the {format_bytes(fit.per_gpu_bytes - fit.need_bytes, unit)} "
               f"{unit} of CUDA context the card's side already counts" if fit.per_gpu_bytes > fit.need_bytes
               and fit.deductions else "")
    return f"usable: {format_bytes(fit.capacity_bytes, unit)} {unit}{taken}{counted}"


def alternative_line(alt: Alternative, unit: str = "GB") -> str:
    """One changed request: ``ZeRO-3 / FSDP over the GPUs named: 19.99 GB a GPU, fits (article)``."""
    verdict = f", {VERDICT_STYLES[alt.fit.verdict].words}" if alt.fit else ""
    return f"{alt.label}: {format_bytes(alt.total_bytes, unit)} {unit} a GPU{verdict} ({alt.method})"


def solution_text(solution: Solution) -> str:
    """A solver's answer in words: ``max batch size = 12 (batch 12 fits; 13 does not; 9 estimates)``."""
    value = solution.value
    shown = "none" if value is None or value == [] else (", ".join(value) if isinstance(value, list) else str(value))
    calls = f"{solution.estimates} estimate{'' if solution.estimates == 1 else 's'}"
    return f"{solution.solve.replace('_', ' ')} = {shown} ({solution.note}; {calls})"


# --- the catalog lists (`vram --list models|gpus`) -------------------------------------------------

#: The lists are read in a terminal: no line wider than this (the classic 80 columns).
LIST_WIDTH = 80


@dataclass(frozen=True)
class Column:
    """One column of a catalog list: its head, how it aligns, and what it shows of a record."""

    head: str  #: names the column and its unit ("Heads (q/kv)", "Memory (GiB)")
    align: str  #: "<" for words, ">" for numbers, so digits line up
    cell: Callable[[Any], str]


#: A model's facts that decide its memory, one column each; aliases, sources and the rest are in --json.
MODEL_COLUMNS: tuple[Column, ...] = (
    Column("Model", "<", lambda m: m.id),
    Column("Params", ">", lambda m: format_count(m.nominal_params)),
    Column("Layers", ">", lambda m: str(m.num_layers)),
    Column("Hidden", ">", lambda m: str(m.hidden_size)),
    Column("Heads (q/kv)", ">", lambda m: f"{m.num_heads}/{m.num_kv_heads}"),
    Column("Context", ">", lambda m: f"{m.max_seq_len:,}"),
)


def gpu_columns(unit: str) -> tuple[Column, ...]:
    """A GPU's id, its memory as the driver reports it in ``unit``, and its name."""
    return (
        Column("GPU", "<", lambda g: g.id),
        Column(f"Memory ({unit})", ">", lambda g: format_bytes(g.memory_bytes, unit)),
        Column("Name", "<", lambda g: g.name),
    )


def render_model_list(models: Sequence[ModelSpec]) -> str:
    """The models table, by id, with a head row and a pointer to the fields it leaves out."""
    rows = models_in_list_order(models)
    footer = "Aliases, sources and every other field: vram --list models --json"
    return "\n".join([*list_table(MODEL_COLUMNS, rows), "", footer])


def render_gpu_list(gpus: Sequence[Gpu], unit: str = "GB") -> str:
    """The GPUs table, smallest memory first, with a head row and a pointer to the rest."""
    rows = gpus_in_list_order(gpus)
    footer = "Aliases, speeds, sources and every other field: vram --list gpus --json"
    return "\n".join([*list_table(gpu_columns(unit), rows), "", footer])


def models_in_list_order(models: Sequence[ModelSpec]) -> list[ModelSpec]:
    """Models by id: families sit together."""
    return sorted(models, key=lambda m: m.id)


def gpus_in_list_order(gpus: Sequence[Gpu]) -> list[Gpu]:
    """GPUs by memory, then id: the order in which one asks 'what is the smallest that fits'."""
    return sorted(gpus, key=lambda g: (g.memory_bytes, g.id))


def list_table(columns: Sequence[Column], records: Sequence[Any], width: int = LIST_WIDTH) -> list[str]:
    """Columns two spaces apart, each as wide as its widest cell; the last cut with '…' to fit ``width``."""
    cells = [[column.cell(record) for column in columns] for record in records]
    widths = [max(len(column.head), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    lines = [_list_row([c.head for c in columns], columns, widths)]
    lines += [_list_row(row, columns, widths) for row in cells]
    return [line if len(line) <= width else line[:width - 1] + "…" for line in lines]


def _list_row(cells: Sequence[str], columns: Sequence[Column], widths: Sequence[int]) -> str:
    return "  ".join(f"{cell:{c.align}{w}}" for cell, c, w in zip(cells, columns, widths)).rstrip()


def catalog_json(records: Sequence[ModelSpec | Gpu]) -> str:
    """Catalog records as JSON: an array of objects with the catalog's fields (aliases as arrays)."""
    return json.dumps([dataclasses.asdict(record) for record in records], indent=2, ensure_ascii=False,
                      allow_nan=False)
