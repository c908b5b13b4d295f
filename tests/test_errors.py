"""Bad input gets an actionable VramError (what, where, what was expected), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import read_jsonl

import vram
from vram import cli

BAD = [case["q"] for case in read_jsonl("bad_queries.jsonl") if "want" not in case]

#: query -> (error class, words the message must hold, 0-based position or None, suggestion)
EXPECTED = {
    "": (vram.QueryError, "empty", None, None),
    "train": (vram.MissingError, "which model", None, None),
    "infer 7b fp12": (vram.UnknownWordError, "unknown word 'fp12'", 9, "fp16"),
    "infer -7b fp16": (vram.RangeError, "parameter count -7b is out of range", 6, None),
    "train 7b adamw on 0xa100": (vram.RangeError, "GPU count 0 is out of range", 18, None),
    "infer 7b int8 on 4xfoo": (vram.UnknownWordError, "unknown GPU 'foo'", 19, None),
    "train 7b fp16 bf16 adamw": (vram.ConflictError, "conflicting dtype 'bf16'", 14, None),
    "train 7b adamw sgd": (vram.ConflictError, "conflicting optimizer 'sgd'", 15, None),
    "infer 7b int8 batch 0": (vram.RangeError, "batch size 0 is out of range", 20, None),
    "infer 7b int8 seq 1e30": (vram.RangeError, "sequence length 1e30 is out of range", 18, None),
    "train 7b adamw bf16 zero5": (vram.RangeError, "ZeRO stage 5 is out of range", 20, None),
    "infer llama-9-7b fp16": (vram.UnknownWordError, "unknown model 'llama-9-7b'", 6, "llama-2-7b"),
    "train llama-2-7b tp=5 on 8xa100": (vram.InvalidRequestError, "tp 5 does not divide", 17, None),
    "<script>alert(1)</script>": (vram.QueryError, "unexpected character '<'", 0, None),
}

#: More bad input, as people mistype it.
MORE_BAD = {
    "infer 7b int8 on a10O": (vram.UnknownWordError, "unknown GPU 'a10O'", 17, "a100-80gb"),
    "train 7b adamx bf16": (vram.UnknownWordError, "'adamx'", 9, "adam"),  # adam and adamw equally close
    "infer 7b 4096": (vram.QueryError, "number '4096' without a name", 9, None),
    "infer 7b seq": (vram.MissingError, "'seq' needs a number", 9, None),
    "infer 7b seq=": (vram.QueryError, "needs a value", 12, None),
    "=4 infer 7b": (vram.QueryError, "needs a setting name", 0, None),
    "train 7b torchtitan==": (vram.QueryError, "'==' pins a release and needs one", 19, None),
    "train 7b seq==": (vram.QueryError, "'==' pins a release and needs one", 12, None),
    "infer 7b blah=3": (vram.UnknownWordError, "unknown setting 'blah'", 9, "batch="),
    "infer 7b seq=abc": (vram.QueryError, "should be a number", 13, None),
    "infer 7b adamw": (vram.ConflictError, "optimizer applies to training", 9, None),
    "infer 7b selective": (vram.ConflictError, "recompute applies to training", 9, None),
    "train 7b int8 adamw": (vram.InvalidRequestError, "int8 cannot be trained", 9, None),
    "train 7b fp32 mixed": (vram.ConflictError, "mixed precision computes in 16 bits", 14, None),
    "qlora 7b bf16": (vram.ConflictError, "qlora does not take a bf16 base", 9, None),
    "train 7b rank 8": (vram.ConflictError, "LoRA rank applies to lora", 14, None),
    # a size that restates the model's own ("deepseek-r1 671b") is let go and said; another one conflicts
    "infer llama-2-7b 13b fp16": (vram.ConflictError, "both a model", 17, None),
    "infer llama-2-7b hidden 4096": (vram.ConflictError, "architecture words apply", 24, None),
    "infer 7b fp16 on a100 h100": (vram.ConflictError, "conflicting gpu 'h100'", 22, None),
    "train 7b bf16 adamw sp": (vram.InvalidRequestError, "give tp > 1 with sp", 20, None),
    "train llama-2-7b bf16 adamw tp 2 on 3 a100": (vram.InvalidRequestError, "does not divide 3 GPUs", 36, None),
    # uneven stages are run (Megatron, torchtitan); more stages than layers are not
    "train llama-2-7b bf16 adamw pp 64": (vram.InvalidRequestError, "pp 64 stages for the model's 32 layers", 31, None),
    "fp16 batch 8": (vram.MissingError, "say what the job does and with which model", None, None),
    "infer 7b seq 1.5": (vram.RangeError, "must be a whole number", 13, None),
    "infer 7b batch 99999999": (vram.RangeError, "batch size 99,999,999 is out of range", 15, None),
    "infer 99999t": (vram.RangeError, "out of range", 6, None),
    "infer 7b on 8x": (vram.UnknownWordError, "'8x'", 12, None),
    "infer 7b on 8x 7b": (vram.QueryError, "should be followed by a GPU", 12, None),
    "infer 7b <fp16>": (vram.QueryError, "unexpected character '<'", 9, None),
    "infer 7b --json": (vram.QueryError, "options such as --json go outside the quoted query", 9, None),
    "infer llama 70b": (vram.QueryError, "llama 70b could be llama-2-70b, llama-3-70b", 6, None),
    "infer llama": (vram.QueryError, "which llama?", 6, None),
    "infer qwen 9b": (vram.QueryError, "qwen 9b is not in the catalog", 6, None),
    "infer 7b on 1030": (vram.UnknownWordError, "unknown GPU '1030'", 12, None),  # 3080 and 1080 are in the catalog now
    "infer 7b billion": (vram.QueryError, "'billion' needs a number before it", 9, None),
    "train 7b bf16 adamw kv": (vram.MissingError, "'kv' needs a value beside it", 20, None),
    "infer 7b fp16 x8": (vram.QueryError, "'x8' should follow a GPU", 14, None),
    "train 7b hidden 8192 layers 80 heads 64 adamw": (vram.ConflictError, "make about 64.42450944b parameters (12 L h^2), not 7b", 16, None),
    "infer 7b " + "fp16 " * 200: (vram.QueryError, "the limit is 500", None, None),
    # found by fuzzing (benchmarks/fuzz_parser.py): a word shaped almost like a Hub repo id
    "qlora 3/\xff": (vram.UnknownWordError, "unknown word '3/\xff'", 6, None),
    "infer 3/-": (vram.UnknownWordError, "unknown word '3/-'", 6, None),
    "qlora ~a/0g": (vram.InvalidRequestError, "no home folder for '~a' in '~a/0g'", 6, None),
}

ALL = {**EXPECTED, **MORE_BAD}


def test_every_shared_bad_query_is_covered():
    assert sorted(BAD) == sorted(EXPECTED)


@pytest.mark.parametrize("query", ALL)
def test_error_is_actionable(query):
    kind, words, position, suggestion = ALL[query]
    with pytest.raises(kind) as info:
        vram.ask(query)
    error = info.value
    assert words in error.message
    assert error.position == position
    assert error.suggestion == suggestion
    if position is not None:
        assert f"(column {position + 1})" in error.message
    if suggestion is not None:
        assert error.message.endswith(f"did you mean {suggestion}?")


@pytest.mark.parametrize("query", ALL)
def test_cli_prints_the_message_and_exits_2(query, capsys):
    assert cli.main([query]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("vram: ") and "Traceback" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("query", BAD)
def test_cli_json_error(query, capsys):
    assert cli.main([query, "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert set(document["error"]) == {"message", "position", "column", "expected", "suggestion"}


@pytest.mark.parametrize("query", ["infer llama-9-7b fp16", "<script>alert(1)</script>", ""])
def test_installed_command_exits_2_without_traceback(query):
    done = subprocess.run([sys.executable, "-m", "vram", query], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith("vram: ")


def test_request_errors_from_python_name_the_field():
    with pytest.raises(vram.RangeError) as info:
        vram.Request(task="inference", params=7e9, seq_len=0)
    assert info.value.field == "seq_len"
    with pytest.raises(vram.UnknownWordError, match="did you mean bf16"):
        vram.Request(task="inference", params=7e9, dtype="bf61")
