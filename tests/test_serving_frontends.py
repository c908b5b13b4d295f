"""An engine's start-up figures (its KV pool in tokens, the concurrency it holds; llama.cpp's
placement) read the same in every frontend: the terminal, the notebook and Slack."""

from __future__ import annotations

import json

import pytest

import vram
from vram.ipymagic.render import render_html
from vram.memory.result import LayerServing
from vram.render import TEXT_WIDTH, render_text
from vram.slackbot.blocks import answer_message

QUERIES = [
    "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 32768 on h100",
    "sglang qwen2.5-7b seq 8k on 4090",
    "llama-server -m Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf -c 8192 -ngl 20 on 3060",
]


@pytest.mark.parametrize("query", QUERIES)
def test_every_frontend_shows_the_serving_figures(query):
    estimate = vram.ask(query)
    serving = estimate.serving
    assert serving is not None
    figures = [f"{serving.kv_cache_tokens:,}"]
    if not isinstance(serving, LayerServing):  # llama.cpp's placement says "N sequence(s)", not "Nx"
        figures.append(f"{serving.max_concurrency:g}x")
    shown = {"text": render_text(estimate), "html": render_html(estimate),
             "slack": json.dumps(answer_message(estimate, query), default=str)}
    for frontend, output in shown.items():
        for figure in figures:
            assert figure in output, (frontend, figure)


@pytest.mark.parametrize("query, words", [
    # vLLM's refusal is quoted whole (376 columns), TGI's header names it in full (104)
    ("serve gemma-2-9b with vllm on 1x l4", "estimated maximum model length"),
    ("serve qwen2.5-7b with tgi on 1x l4", "Hugging Face text-generation-inference"),
    ("serve llama-3-70b with sglang on 1x h100", "Please try to increase --mem-fraction-static"),
])
def test_the_serving_section_wraps_at_the_terminal_width(query, words):
    text = render_text(vram.ask(query))
    assert words in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= TEXT_WIDTH
