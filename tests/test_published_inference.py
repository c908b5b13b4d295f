"""Published inference peaks of model makers asked as queries (validation/published_inference_queries.toml):
each case is where its table says, within 10 % or outside with the reason, and docs/accuracy.md shows them."""

from __future__ import annotations

import tomllib

import pytest

import vram
from vram.request.enums import Item, PhaseName
from vram.validation import published_inference

CASES = published_inference.cases()
PEAKS = tomllib.loads(published_inference.PEAKS.read_text(encoding="utf-8"))["peak"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_where_its_table_says(case):
    assert case.expect in ("within", "outside")
    assert case.within is (case.expect == "within"), f"{case.id}: {case.error:+.1%}; update the table"
    assert case.expect == "within" or case.why  # a miss says why


@pytest.mark.parametrize("row", PEAKS, ids=[row["id"] for row in PEAKS])
def test_each_row_quotes_its_figure(row):
    (key, figure), = ((k, v) for k, v in row["peak"].items() if k != "statistic")
    assert f"{figure:.2f}" in row["quote"] or f"{figure:g}" in row["quote"], row["id"]
    assert row["source"].startswith("https://github.com/") and "/blob/" in row["source"]


def test_the_page_shows_every_case():
    page = published_inference.PAGE.read_text(encoding="utf-8")
    shown = page.split(published_inference.HEADING, 1)[1]
    shown = shown[:shown.find("\n## ")] if "\n## " in shown else shown
    assert shown.strip() == "\n".join(published_inference.section_lines(CASES)[1:]).strip()


QWEN2_7B_VOCAB = 152_064  # Qwen/Qwen2-7B-Instruct config.json vocab_size


@pytest.mark.parametrize("release, logits_bytes", [
    ("4.38.2", (2 + 4) * 6144 * QWEN2_7B_VOCAB),  # every prompt position, bf16 and the fp32 copy
    ("4.44.2", (2 + 4) * 6144 * QWEN2_7B_VOCAB),
    ("4.45.0", (2 + 4) * QWEN2_7B_VOCAB),  # num_logits_to_keep=1 (transformers PR #31292)
    (None, (2 + 4) * QWEN2_7B_VOCAB),
])
def test_the_transformers_release_decides_the_prompt_logits(release, logits_bytes):
    asked = "infer qwen2-7b bf16 prompt 6144 generate 2048 on a100 transformers"
    est = vram.ask(asked + (f" engine-version={release}" if release else ""))
    assert {item.key: item.bytes for item in est.items}[Item.LOGITS] == logits_bytes
    by_phase = {p.name: p for p in est.phases}
    assert (PhaseName.PROMPT_LOGITS in by_phase) is (logits_bytes > 6 * QWEN2_7B_VOCAB)
    assert Item.ACTIVATIONS not in by_phase.get(PhaseName.PROMPT_LOGITS, by_phase[PhaseName.DECODE]).live


def test_a_release_needs_an_engine_that_reads_it():
    with pytest.raises(vram.VramError, match="transformers and ollama read it, not llama.cpp"):
        vram.ask("infer qwen2-7b bf16 llama.cpp engine-version=4.38.2")


def test_a_model_with_its_own_code_keeps_the_last_logits_in_any_release():
    # ChatGLM's modeling_chatglm.py: return_last_logit=True from prepare_inputs_for_generation
    est = vram.ask("infer chatglm2-6b fp16 prompt 8192 generate 16 transformers engine-version=4.30.2")
    assert {item.key: item.bytes for item in est.items}[Item.LOGITS] == (2 + 4) * 65_024
