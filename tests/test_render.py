"""The presentation table (vram.render): a row for every Item and Verdict, and every frontend takes
its words, marks and colours from it, so a tight fit is said as tight everywhere."""

from __future__ import annotations

import re
import unicodedata

import pytest

import vram
from vram.memory.result import Verdict
from vram.render import (
    ITEM_STYLES, TEXT_WIDTH, VERDICT_STYLES, fit_line, fit_parts, item_keys, render_text, strategies_title,
    suggestions_title, wrap
)
from vram.request.enums import Item, Method, PhaseName, Solve

HEX = re.compile(r"#[0-9a-f]{6}")

#: One query a verdict, judged by the real judge (fit.verdict_for) on the catalog's cards.
VERDICT_QUERIES = {
    Verdict.FITS: "infer 6b fp16 on 1x t4",
    Verdict.TIGHT: "infer 7b fp16 on 1x t4",
    Verdict.DOES_NOT_FIT: "infer llama-3-8b seq 8192 bs 8 on 1x l4",
}

#: Queries that between them make every item the core builds for a job (the fit's deductions
#: aside) and every phase: each task, each method, data, tensor and pipeline parallel, ZeRO-3,
#: offload, a tied embedding, quantised weights.
COVERING_QUERIES = [
    "train chatglm-6b adamw bf16 selective on 8xA100",
    "train chatglm-6b adamw bf16 selective on 8xA100 method=article",
    "train chatglm-6b adamw bf16 selective zero3 on 8xA100",
    "train chatglm-6b adamw bf16 zero2 offload optimizer on 8xA100",
    "train chatglm-6b adamw bf16 zero2 on 8xA100 deepspeed", "train chatglm-6b adamw bf16 zero3 on 8xA100 deepspeed",
    "train gpt2 adamw bf16 foreach on 1x rtx-3090",
    "train llama-3-8b bf16 adamw tp 2 pp 2 on 8xh100",
    "train llama-3.1-8b bf16 adamw seq 4096 on 8x h100 torchtitan",
    "infer 6b int8", "infer 6b int8 method=article", "infer llama-3-70b int4 on 2x rtx-4090",
    "infer qwen2-7b bf16 prompt 8192 generate 256 on a100 transformers engine-version=4.38.2",
    "qlora llama-2-70b seq 4096 on 1x a100-80gb", "lora llama-3-8b on 1x a100-40gb",
    "lora 7b method=article",
    "train llama-3-8b ppo on 8x h100 zero3", "train qwen2.5-7b grpo colocate on h100",
    "train llama-3.2-1b distill teacher=llama-3.1-8b", "serve llama-3-8b vllm max-model-len 8k on h100",
    "serve qwq-32b sglang tp 4 on 4x l4",
]


@pytest.mark.parametrize("item", list(Item))
def test_every_item_has_a_title_and_its_own_colour(item):
    style = ITEM_STYLES[item]
    assert style.title and HEX.fullmatch(style.colour)
    others = [s.colour for key, s in ITEM_STYLES.items() if key is not item]
    assert style.colour not in others  # a bar's segments can be told apart


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_has_words_a_mark_an_emoji_and_a_colour(verdict):
    style = VERDICT_STYLES[verdict]
    assert style.words and style.mark and HEX.fullmatch(style.colour)
    assert re.fullmatch(r":[a-z_]+:", style.emoji)  # a Slack shortcode
    assert len({s.words for s in VERDICT_STYLES.values()}) == len(Verdict)


def test_the_tables_have_nothing_else():
    assert list(ITEM_STYLES) == list(Item)  # Item order: a comparison's column order
    assert set(VERDICT_STYLES) == set(Verdict)


@pytest.mark.parametrize("query", COVERING_QUERIES)
def test_items_and_phases_are_named_by_the_enums(query):
    est = vram.ask(query)
    assert all(type(item.key) is Item for item in est.items)
    assert all(type(d.key) is Item for fit in est.fit for d in fit.deductions)
    assert all(type(p.name) is PhaseName and all(type(k) is Item for k in p.live) for p in est.phases)


@pytest.mark.parametrize("query", [
    "max batch size train llama-3-8b bf16 on 1x a100-80gb", "train chatglm-6b adamw bf16 selective on 8xA100",
])
def test_methods_and_solvers_are_named_by_the_enums(query):
    est = vram.ask(query)
    alternatives = est.strategies + est.suggestions
    assert alternatives and all(type(alt.method) is Method for alt in alternatives)
    assert est.comparisons and all(type(c.method) is Method for c in est.comparisons)
    assert est.solution is None or type(est.solution.solve) is Solve


def test_the_covering_queries_make_every_item_and_phase():
    estimates = [vram.ask(q) for q in COVERING_QUERIES]
    made = {item.key for est in estimates for item in est.items}
    made |= {d.key for est in estimates for fit in est.fit for d in fit.deductions}
    assert made == set(Item)
    assert {p.name for est in estimates for p in est.phases} == set(PhaseName)


@pytest.mark.parametrize("verdict, query", VERDICT_QUERIES.items())
def test_the_judge_gives_the_verdict_the_case_is_for(verdict, query):
    assert [fit.verdict for fit in vram.ask(query).fit] == [verdict]


@pytest.mark.parametrize("verdict, query", VERDICT_QUERIES.items())
def test_fit_parts_are_the_pieces_of_fit_line(verdict, query):
    [fit] = vram.ask(query).fit
    parts = fit_parts(fit)
    assert fit_line(fit) == f"{parts.where}: {parts.words}: {parts.detail}"
    assert parts.where == f"1x {fit.gpu}" and parts.words == VERDICT_STYLES[verdict].words
    assert parts.detail.endswith(parts.margin)
    assert parts.margin.endswith("GB over" if verdict is Verdict.DOES_NOT_FIT else "GB to spare")


@pytest.mark.parametrize("verdict, query", VERDICT_QUERIES.items())
def test_every_frontend_says_the_verdict_in_its_words(verdict, query):
    from vram.ipymagic import Estimates, render_html
    from vram.ipymagic.compare import render_comparison_text
    from vram.slackbot.blocks import answer_message

    est = vram.ask(query)
    style, where = VERDICT_STYLES[verdict], f"1x {est.fit[0].gpu}"
    assert f"{where}: {style.words}: needs" in render_text(est)
    message = answer_message(est, query)
    assert message["text"].endswith(f"; {style.words} on {where}")  # the notification's text
    assert f"{style.emoji} {where}: {style.words}: " in str(message["blocks"])
    html = render_html(est)
    assert f'<strong style="color: {style.colour}">{style.mark} {style.words}</strong> on {where}' in html
    row = render_comparison_text(Estimates((est,))).splitlines()[1]
    assert f"  {style.words} on {where} ({fit_parts(est.fit[0]).margin})" in row


@pytest.mark.parametrize("query, title", [
    ("train chatglm-6b adamw bf16 selective on 8xA100", "What would make it fit"),
    ("train 70b fp32 adamw seq 32768 batch 64 on 1x t4", "No single change makes it fit; the closest"),
])
def test_advice_titles_are_said_once_for_every_frontend(query, title):
    from vram.ipymagic import render_html
    from vram.slackbot.blocks import answer_message

    est = vram.ask(query)
    assert suggestions_title(est) == title
    assert f"\n{title}:\n" in render_text(est)
    assert f"{title}:\\n•" in str(answer_message(est, query)["blocks"])
    assert f"<h4>{title}</h4>" in render_html(est)


def test_strategies_title_is_the_same_in_every_frontend():
    from vram.ipymagic import render_html
    from vram.slackbot.blocks import answer_message

    query = "train chatglm-6b adamw bf16 selective on 8xA100"
    est = vram.ask(query)
    title = strategies_title(est)
    assert title.startswith("On 8 GPUs, plain data parallelism")
    assert f"\n{title}:\n" in render_text(est)
    assert f"{title}:\\n•" in str(answer_message(est, query)["blocks"])
    assert f"<summary>{title}</summary>" in render_html(est)


def test_comparison_columns_follow_item_order():
    queries = ("infer 6b int8", "train chatglm-6b adamw bf16 selective zero3 on 8xA100")
    estimates = [vram.ask(q) for q in queries]
    keys = item_keys(estimates)
    assert keys == sorted(keys, key=list(Item).index)
    assert set(keys) == {item.key for est in estimates for item in est.items}


@pytest.mark.parametrize("query", [
    "full fine-tune llama-3-8b with liger on 8x h100",  # the Liger loss's label made the table 115 wide
    "train chatglm-6b adamw bf16 selective on 8xA100",
])
def test_no_line_of_the_text_answer_is_wider_than_the_terminal_width(query):
    assert max(len(line) for line in render_text(vram.ask(query)).splitlines()) <= TEXT_WIDTH


def _columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


@pytest.mark.parametrize("query", [
    "用 vllm 在 1 张 a100 上部署 llama-3-8b",  # Chinese lines ran to 170 columns: textwrap counts characters
    "全参微调 qwen2.5-7b 需要几张 a100",
    "llama.cpp 在 3090 上跑 qwen2.5-32b q4_k_m 能放几层",
])
def test_a_chinese_answer_is_no_wider_than_the_terminal_in_columns(query):
    lines = render_text(vram.ask(query), lang="zh").splitlines()
    assert max(_columns(line) for line in lines) <= TEXT_WIDTH
    assert not any(line.lstrip().startswith(("，", "。", "）", "：")) for line in lines)


@pytest.mark.parametrize("text, width, expected", [
    ("显存 85.90 GB（A100 datasheet）", 16, ["- 显存 85.90 GB", "  （A100", "  datasheet）"]),
    ("默认：与计算的数据类型相同", 12, ["- 默认：与计", "  算的数据类", "  型相同"]),
    ("plain words stay as textwrap has them", 16, ["- plain words", "  stay as", "  textwrap has", "  them"]),
])
def test_wrap_counts_a_wide_character_as_two_columns(text, width, expected):
    assert wrap(text, "- ", "  ", width) == expected
