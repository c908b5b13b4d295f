"""Issue 13 (items 4, 5, 7, 8): inputs that once ended in an internal error or a wrong number.

Each table tries the reported case and variants of it; every answer is an estimate or a
VramError with a message, never another exception.
"""

from __future__ import annotations

import json

import pytest

import vram
from vram import cli

#: Display text evaluated as code (item 4): multi-GPU inference swept over batch or context.
SPLIT_SWEEPS = [
    "max context infer llama-2-7b on 4x rtx-4090", "max batch infer llama-2-7b on 2x a100",
    "max batch infer 7b int8 on 3x l4", "max context infer mistral-7b on 2x a100",
    "max batch infer llama-2-70b int4 seq 4k on 8 rtx-4090", "max context infer 13b kv=fp8 on 2 h100",
]


@pytest.mark.parametrize("query", SPLIT_SWEEPS)
def test_sweeps_of_split_inference_answer(query):
    estimate = vram.ask(query)
    assert estimate.solution is not None and estimate.solution.value is not None


@pytest.mark.parametrize("query", ["max batch infer llama-2-7b seq 4k on 2x a100",
                                   "max context infer llama-2-7b batch 8 on 4x rtx-4090"])
def test_a_kept_sweep_equals_a_fresh_estimate(query):
    solved = vram.ask(query)
    fresh = vram.estimate(vram.parse(solved.request.to_query().replace("max batch ", "").replace("max context ", "")))
    assert [i.bytes for i in solved.items] == [i.bytes for i in fresh.items]


#: Advice that cannot be computed must not replace the answer (item 4).
ADVICE = [
    "infer llama-2-70b fp16 seq 4k batch 512 on a100", "infer llama-2-70b fp16 seq 32k batch 64 on rtx-4090",
    "train mixtral-8x7b bf16 ep 8 on 8 h100", "train mixtral-8x7b bf16 ep 4 on 4 a100",
    "infer 70b fp16 batch 256 seq 8k on l4", "min gpus train mixtral-8x7b bf16 ep 8 on h100",
    "min gpus infer llama-2-70b fp16 seq 4k batch 512 on a100",
]


@pytest.mark.parametrize("query", ADVICE)
def test_advice_never_replaces_the_answer(query):
    assert vram.ask(query).total_bytes > 0


#: Numbers far out of range (item 4): a RangeError placed at the number, never Overflow.
NUMBERS = [
    ("infer 1e1000000b", 7), ("infer 1e-1000000b", 7), ("infer -1e1000000b", 7), ("infer 7b seq 1e400", 14),
    ("infer 7b batch 1e-400", 16), ("train 7b lora rank 1e100000", 20), ("infer 7b on a100 x 1e999", 20),
    ("infer 7b tp 1e999999999", 13), ("infer 9" * 1 + "9" * 60 + "b", 7),
]


@pytest.mark.parametrize("query, column", NUMBERS)
def test_astronomical_numbers_are_range_errors_at_their_column(query, column):
    with pytest.raises(vram.RangeError) as caught:
        vram.parse(query)
    assert caught.value.column == column and f"(column {column})" in str(caught.value)


@pytest.mark.parametrize("query", ["infer 7b hidden 3", "infer 7b heads 5", "infer 7b hidden 100 heads 3",
                                   "train 1b hidden 7", "infer 13b heads 1000"])
def test_a_width_that_heads_cannot_split_is_refused(query):
    with pytest.raises(vram.InvalidRequestError, match="heads"):
        vram.ask(query)


#: Bare sizes under the smallest reference model (item 5): no negative item, any task or dtype.
@pytest.mark.parametrize("size", ["1m", "17m", "41m", "60m", "125m", "params 1"])
@pytest.mark.parametrize("job", ["infer {} int8", "infer {} int4", "qlora {}", "train {} bf16 adamw pp 2"])
def test_small_bare_sizes_have_no_negative_items(size, job):
    estimate = vram.ask(job.format(size))
    assert all(item.bytes >= 0 and all(v >= 0 for v in item.values.values()) for item in estimate.items)


@pytest.mark.parametrize("query", ["infer 6b on 100000x a100", "infer 7b on 33 a100", "infer llama-2-7b on 33 a100",
                                   "infer 1m on 13 h100"])
def test_more_gpus_than_layers_is_refused_for_named_and_bare_models_alike(query):
    with pytest.raises(vram.InvalidRequestError, match="splits the model by whole layers"):
        vram.ask(query)


#: The error tree (item 7).
@pytest.mark.parametrize("error", [vram.VramError, vram.QueryError, vram.UnknownWordError, vram.MissingError,
                                   vram.ConflictError, vram.RangeError, vram.InvalidRequestError,
                                   vram.UnsupportedError])
def test_every_vram_error_is_a_value_error(error):
    assert issubclass(error, ValueError) and issubclass(error, vram.VramError)


@pytest.mark.parametrize("query", ["infer 7b on a10O", "infer llama-2-7b zero5", "infer 7b seq -5", "tr4in 7b"])
def test_column_matches_the_message(query):
    with pytest.raises(vram.VramError) as caught:
        vram.parse(query)
    error = caught.value
    assert error.column is not None and f"(column {error.column})" in str(error)
    assert error.to_dict()["column"] == error.column


def test_json_is_json_even_on_an_internal_error(capsys, monkeypatch):
    monkeypatch.setattr(vram, "ask", lambda text, method=None: {}["boom"])
    assert cli.main(["infer 7b", "--json"]) == cli.EXIT_INTERNAL
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["internal"] and "KeyError" in error["message"]


#: %%vram expands plain variables only (item 8); the magic shows any error in one line.
@pytest.mark.parametrize("cell, expanded", [
    ("infer {size} int8", "infer 7b int8"), ("infer $size int8", "infer 7b int8"),
    ("infer {__import__('os').system('x')}", "infer {__import__('os').system('x')}"),
    ("infer {obj.attr}", "infer {obj.attr}"), ("infer {obj}", "infer {obj}"),
    ("infer {sizes[0]}", "infer {sizes[0]}"), ("infer {f()}", "infer {f()}"),
    ("infer {missing} $missing", "infer {missing} $missing"), ("infer {size!r:>9}", "infer {size!r:>9}"),
])
def test_cell_expansion_is_a_plain_name_lookup(cell, expanded):
    from vram.ipymagic.magic import expand

    class Trap:
        def __getattr__(self, name):
            raise AssertionError("an attribute was evaluated")

        def __str__(self):
            raise AssertionError("a non-plain value was formatted")

    namespace = {"size": "7b", "sizes": ["7b"], "f": lambda: pytest.fail("called"), "obj": Trap()}
    namespace.pop("obj") if "{obj}" in cell else None
    assert expand(cell, namespace) == expanded


def test_the_magic_shows_an_internal_error_in_one_line(monkeypatch):
    from IPython.core.error import UsageError

    from vram.ipymagic import magic

    monkeypatch.setattr(vram, "ask", lambda text, **options: {}["boom"])
    with pytest.raises(UsageError) as caught:
        magic.ask("infer 7b")
    assert "\n" not in str(caught.value) and "last_error" in str(caught.value)
    assert isinstance(magic.last_error, KeyError)
