"""The Slack messages: golden Block Kit JSON, Slack's limits, the same numbers as the CLI.

Goldens live in tests/cases/slack/<name>.json; after a deliberate change, rewrite them with
``VRAM_UPDATE_GOLDENS=1 python -m pytest tests/test_slack_blocks.py`` and read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
from conftest import read_jsonl, read_lines
from slack_fakes import shown_numbers
from slack_sdk.errors import SlackObjectFormationError

import vram
from vram.catalog import files as model_files
from vram.memory.result import LineItem
from vram.render import fit_parts
from vram.slackbot import kit
from vram.slackbot.answer import reply_to
from vram.slackbot.blocks import EXAMPLES, answer_message
from vram.slackbot.question import Intent, Question, read_question
from vram.units import format_bytes

GOLDENS = Path(__file__).with_name("cases") / "slack"

GOLDEN_CASES = [
    ("answer_train_8xa100", "train chatglm-6b adamw bf16 selective on 8xA100", {"shareable": True}),
    ("answer_qlora_mention", "<@UBOT> qlora llama-2-70b seq 4096 on 1x a100-80gb", {}),
    ("explain_infer_6b_int8", "explain infer 6b int8", {"shareable": True}),
    ("shared_infer_70b_int4", "infer llama-3-70b int4 on 2x rtx-4090", {"shared_by": "U0ADA"}),
    ("help", "help", {}),
    ("error_unknown_gpu", "infer 7b int8 on a10O", {"shareable": True}),
    ("error_conflict", "infer 7b fp16 bf16", {}),
    ("error_backtick", "infer `7b` on zz", {}),
    ("error_too_long", "infer 7b " + "int8 " * 120, {}),
    ("error_local_file", "infer ~/models/llama/config.json", {}),
]


@pytest.mark.parametrize("name, text, options", GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden_block_kit(name, text, options):
    path = GOLDENS / f"{name}.json"
    message = reply_to(text, **options)
    if os.environ.get("VRAM_UPDATE_GOLDENS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(message, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert message == json.loads(path.read_text(encoding="utf-8"))


ANSWERED = [case["q"] for case in read_jsonl("queries.jsonl")] + read_lines("canonical_queries.txt")
REFUSED = [case["q"] for case in read_jsonl("bad_queries.jsonl")]


@pytest.mark.parametrize("query", ANSWERED + REFUSED)
@pytest.mark.parametrize("prefix", ["", "explain "])
def test_every_message_keeps_slacks_limits(query, prefix):
    assert_within_limits(reply_to(prefix + query, shareable=True))


@pytest.mark.parametrize("query", ANSWERED)
def test_the_table_shows_the_clis_numbers(query):
    estimate = vram.ask(query)
    expected = [item.bytes for item in estimate.items] + [estimate.total_bytes]
    if estimate.gpu_count > 1:
        expected.append(estimate.job_total_bytes)
    if estimate.host_bytes:  # render.py's host-memory row: offloaded layers, ZeRO offload, offloaded checkpoints
        expected.append(estimate.host_bytes)
    if estimate.reserved_bytes is not None:  # render.py's reserved row: FSDP2's stream pools beside the peak
        expected.append(estimate.reserved_bytes)
    assert shown_numbers(reply_to(query)) == [format_bytes(b) for b in expected]


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_help_examples_are_answered(example):
    assert reply_to(example)["blocks"][1]["text"]["text"].startswith("*Breakdown* (GB)\n`")


@pytest.mark.parametrize("query, path, column", [
    ("infer /etc/passwd", "/etc/passwd", 7),
    ("infer ~root/.bashrc int8", "~root/.bashrc", 7),
    ("train model=./ckpt/model.safetensors", "./ckpt/model.safetensors", 7),
    ("infer model: ../config.json", "../config.json", 14),
    ("infer weights.gguf?", "weights.gguf", 7),
    # sentence punctuation, quotes and settings around a bare file name in the bot's folder
    ("infer secret.json.", "secret.json", 7),
    ("infer secret.json,", "secret.json", 7),
    ("infer secret.json:", "secret.json", 7),
    ("infer secret.json;", "secret.json", 7),
    ('infer "secret.json"', "secret.json", 8),
    ("infer 'secret.json' int8", "secret.json", 8),
    ("infer model=secret.json.", "unknown model 'secret.json.'", 7),  # a setting's value keeps its dot
    ("infer sub/../secret.json", "sub/../secret.json", 7),
    ("infer ./sub/../../secret.json bf16", "./sub/../../secret.json", 7),
    ("infer ~/secret.json", "~/secret.json", 7),
    ("infer C:/models/config.json", "C:/models/config.json", 7),
    ("infer model.safetensors", "model.safetensors", 7),
])
def test_a_model_path_is_refused_before_any_file_is_read(monkeypatch, query, path, column):
    def read_model_path(name):
        raise AssertionError(f"the bot read {name}")

    monkeypatch.setattr(model_files, "read_model_path", read_model_path)
    monkeypatch.setattr(model_files, "read_json", read_model_path)
    text = reply_to(query)["text"]
    refusal = (path if path.startswith("unknown") else
               f"'{path}' would be a file on the server, and files are not read here")
    assert text.startswith(f"vram: {refusal} (column {column});"), text


def test_a_huge_estimate_is_cut_to_fit():
    estimate = vram.ask("train chatglm-6b adamw bf16 selective on 8xA100")
    items = tuple(LineItem(f"k{i}", f"Item {i} " + "x" * 80, 10**9, "a*b " * 1000, {"a": 1}, "s" * 4000)
                  for i in range(80))
    huge = dataclasses.replace(estimate, items=items, assumptions=("y" * 5000,) * 3)
    message = answer_message(huge, "q" * 3000, formulas=True, shareable=True)
    assert_within_limits(message)
    assert message["blocks"][-1]["type"] == "actions"
    assert message["blocks"][-2]["elements"][0]["text"].endswith("more blocks left out")


@pytest.mark.parametrize("text, question", [
    ("", Question(Intent.HELP, "")),
    ("  HELP  ", Question(Intent.HELP, "")),
    ("explain", Question(Intent.HELP, "")),
    ("infer 6b", Question(Intent.ANSWER, "infer 6b")),
    ("Explain  infer 6b", Question(Intent.EXPLAIN, "infer 6b")),
    ("<@UBOT> infer 6b", Question(Intent.ANSWER, "infer 6b")),
    ("<@UBOT|vram> explain infer 6b", Question(Intent.EXPLAIN, "infer 6b")),
    ("infer 6b on <http://a100.com|a100.com>", Question(Intent.ANSWER, "infer 6b on a100.com")),
    ("infer 6b &lt;fp16&gt; &amp;", Question(Intent.ANSWER, "infer 6b <fp16> &")),
    ("infer\n6b\tint8", Question(Intent.ANSWER, "infer 6b int8")),
])
def test_reading_slack_text(text, question):
    assert read_question(text) == question


@pytest.mark.parametrize("question, text", [
    (Question(Intent.ANSWER, "infer 6b"), "infer 6b"),
    (Question(Intent.EXPLAIN, "infer 6b"), "explain infer 6b"),
    (Question(Intent.HELP, ""), "help"),
])
def test_a_question_reads_back_from_its_text(question, text):
    assert question.text == text and read_question(text) == question


@pytest.mark.parametrize("text, expected", [
    ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
    ("&amp;", "&amp;amp;"),
])
def test_escape(text, expected):
    assert kit.escape(text) == expected


def assert_within_limits(message):
    """Block Kit's limits (https://api.slack.com/reference/block-kit/blocks) and a fallback text."""
    assert message["text"].strip() and len(message["text"]) <= kit.MAX_FALLBACK_CHARS
    assert len(message["blocks"]) <= kit.MAX_BLOCKS
    for block in message["blocks"]:
        texts = [block["text"]] if "text" in block else []
        texts += [e for e in block.get("elements", ()) if e["type"] in ("mrkdwn", "plain_text")]
        assert all(len(t["text"]) <= kit.MAX_TEXT_CHARS for t in texts)
        buttons = [e for e in block.get("elements", ()) if e["type"] == "button"]
        assert all(len(b["value"]) <= kit.MAX_BUTTON_VALUE_CHARS for b in buttons)
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


#: A phone shows some 40 characters a line: a code block's table wraps mid-row there. The
#: breakdown is a line an item instead, its number first in a fixed-width span (so numbers line
#: up and a long label wraps on its own), no wider than the longest label allows.
PHONE_QUERIES = ["train chatglm-6b adamw bf16 selective on 8xA100", "infer 6b int8",
                 "qlora llama-2-70b seq 4096 on 1x a100-80gb", "train chatglm-6b adamw bf16 zero2 offload optimizer on 8xA100",
                 "max batch size train llama-3-8b bf16 on 1x a100-80gb"]


@pytest.mark.parametrize("query", PHONE_QUERIES)
def test_the_breakdown_reads_on_a_phone(query):
    message = reply_to(query)
    breakdown = message["blocks"][1]["text"]["text"]
    assert "```" not in breakdown
    spans = [re.match(r"\*?`([^`]+)` ", line) for line in breakdown.splitlines()[1:]]
    assert all(spans) and len({len(span[1]) for span in spans}) == 1  # one width: the numbers line up
    assert not any("```" in str(block) for block in message["blocks"])


@pytest.mark.parametrize("query", PHONE_QUERIES)
def test_the_headline_comes_first(query):
    estimate = vram.ask(query)
    [headline, breakdown, *rest] = reply_to(query)["blocks"]
    text = headline["text"]["text"]
    assert text.startswith(f"`{estimate.request.to_query()}`")
    assert f"*{format_bytes(estimate.total_bytes)} GB*" in text
    assert all(fit_parts(fit).words in text for fit in estimate.fit)
    assert "Assumptions:" in str(rest) and "Assumptions:" not in str([headline, breakdown])


def test_the_block_models_catch_a_limit_the_text_does_not_cut():
    with pytest.raises(SlackObjectFormationError):
        kit.message("x", [kit.actions(kit.button("a label far longer than seventy-five characters, "
                                                 "which is the most a button's label may have", "act", "v"))])
