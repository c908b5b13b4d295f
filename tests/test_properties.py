"""What must always hold, for any input: hypothesis generates the cases.

Any text at all, up to the size bound, gives a Request or a VramError through every entry point;
every Request round-trips through its dict and its canonical query text; numbers at the edges of
their ranges give finite, positive answers.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import vram
from vram import cli
from vram.grammar import MAX_QUERY_CHARS
from vram.request.vocabulary import KEYS, PHRASES

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Words real queries are made of, to reach deep into the classifier, mixed with any text.
VOCABULARY = sorted({*PHRASES, *KEYS, "7b", "350m", "1.3b", "8xa100", "on", "a100", "h100", "4090",
                     "llama-2-7b", "chatglm-6b", "mixtral-8x7b", "seq=8k", "tp=2", "zero3", "=", "x",
                     "./models/x/config.json", "acme/model", "训练", "推理", "0", "-1", "1e30", "?"})
WORDS = st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=12), st.integers(-10, 10**12).map(str))
QUERIES = st.one_of(st.text(max_size=MAX_QUERY_CHARS + 20),
                    st.lists(WORDS, max_size=14).map(" ".join))


def parse_or_error(text: str) -> vram.Request | vram.VramError:
    try:
        return vram.parse(text)
    except vram.VramError as error:
        return error


@SETTINGS
@given(QUERIES)
def test_any_text_gives_a_request_or_a_vram_error(text):
    result = parse_or_error(text)
    if isinstance(result, vram.VramError):
        assert result.message and (result.position is None or 0 <= result.position <= len(text))
        return
    try:
        estimate = vram.estimate(result)
    except vram.VramError:
        return
    assert estimate.total_bytes > 0 and math.isfinite(estimate.total_bytes)


@SETTINGS
@given(QUERIES)
def test_the_cli_answers_or_exits_2(text):
    assert cli.main(["--json", "--", text]) in (0, 2)  # "--": a query may start with "-"


@SETTINGS
@given(QUERIES)
def test_the_slack_handler_always_replies(text):
    from vram.slackbot.answer import reply_to

    message = reply_to(text)
    assert message["text"] and isinstance(message["blocks"], list)


@SETTINGS
@given(QUERIES)
def test_every_request_round_trips(text):
    request = parse_or_error(text)
    if isinstance(request, vram.VramError):
        return
    assert vram.Request.from_dict(request.to_dict()) == request
    assert vram.parse(request.to_query()) == request


@pytest.mark.parametrize("query", [
    "infer 1m fp16", "train 1m bf16 adamw", "infer 10t fp16 seq 1m on 126 h100",
    "infer 10t fp16 seq 1m tp 8 on 100000 h100",
    "train 10t bf16 adamw zero3 seq 1m batch 1 on 1048576 h100", "infer llama-3-8b bf16 seq 16m batch 1048576",
    "train 1000t fp32 adamw seq 16m batch 1048576", "qlora 10t seq 1m", "infer params 1 fp32 seq 1",
])
def test_edges_of_the_ranges_give_finite_positive_answers(query, capsys):
    for method in ("article", "detailed"):
        estimate = vram.ask(query, method=method) if method == "article" else vram.ask(query)
        for item in estimate.items:
            assert isinstance(item.bytes, int) and item.bytes >= 0, item
        assert 0 < estimate.total_bytes < 10**30 and estimate.job_total_bytes >= estimate.total_bytes
        assert cli.main([query]) == 0 and "nan" not in capsys.readouterr().out.lower()


@SETTINGS
@given(st.sampled_from(["train 7b bf16 adamw zero3 on {n} a100", "infer llama-2-70b fp16 on {n} h100",
                        "train 13b bf16 adamw zero1 on {n} a100"]), st.integers(1, 512))
def test_more_gpus_never_raise_the_per_gpu_bytes_of_a_sharded_job(template, n):
    try:
        fewer = vram.ask(template.format(n=n)).total_bytes
        more = vram.ask(template.format(n=n * 2)).total_bytes
    except vram.InvalidRequestError:  # more GPUs than layers to split a model over: refused, said so
        assume(False)
    assert more <= fewer


@SETTINGS
@given(st.sampled_from(["infer", "train"]), st.sampled_from(["llama-2-7b", "7b", "gpt2", "mixtral-8x7b"]),
       st.integers(1, 64), st.integers(1, 16384))
def test_a_wider_dtype_never_needs_less(task, model, batch, seq):
    extra = " adamw" if task == "train" else ""
    narrow = ["int4", "int8", "fp16"] if task == "infer" else ["bf16 pure", "fp32"]
    totals = [vram.ask(f"{task} {model} {d}{extra} batch {batch} seq {seq}").total_bytes for d in narrow]
    assert totals == sorted(totals)


@SETTINGS
@given(st.integers(1, 256), st.integers(1, 8192))
def test_lora_never_needs_more_than_full_training(batch, seq):
    base = vram.parse(f"train llama-2-7b bf16 adamw batch {batch} seq {seq}")
    lora = dataclasses.replace(base, task="lora", mixed_precision=None)
    assert vram.estimate(lora).total_bytes <= vram.estimate(base).total_bytes


@pytest.fixture(scope="module")
def magics():
    from IPython.core.interactiveshell import InteractiveShell

    from vram.ipymagic.magic import VramMagics

    return VramMagics(InteractiveShell.instance())


@SETTINGS
@given(text=QUERIES)
def test_the_magics_answer_or_raise_usage_error(magics, text):
    from IPython.core.error import UsageError

    for call in (lambda: magics.vram_line(text), lambda: magics.vram_cell("", text)):
        try:
            result = call()
        except UsageError as error:
            assert type(error) is UsageError and str(error)
        else:
            assert result is not None
