"""The text path under fuzzing: a bounded, seeded run of benchmarks/fuzz_text.py, and every input
the fuzzers found (tests/data/fuzz_findings.txt) replayed.

Nothing but an answer or a VramError may come out of ``vram.ask`` and the renderings of its
answer; the oracle is ``fuzz_text.check``. The coverage-guided fuzzer (benchmarks/fuzz_parser.py,
atheris) is not run here: it needs minutes, not seconds.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import pytest
from conftest import DATA

import vram
from vram import render

_SPEC = importlib.util.spec_from_file_location("fuzz_text", DATA.parent.parent / "benchmarks" / "fuzz_text.py")
fuzz_text = sys.modules["fuzz_text"] = importlib.util.module_from_spec(_SPEC)  # dataclasses look it up
_SPEC.loader.exec_module(fuzz_text)

#: The bounded run: a few thousand mutated queries, the same ones every time.
FUZZ_SEED, FUZZ_INPUTS = 13, 4000


def read_findings() -> list[tuple[str, str]]:
    """(input, what it once gave) from fuzz_findings.txt: a '# found: ...' line, then the input."""
    rows, comment = [], None
    for line in (DATA / "fuzz_findings.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# found: "):
            comment = line.removeprefix("# found: ")
        elif line.strip() and not line.startswith("#"):
            assert comment is not None, f"fuzz_findings.txt: {line} has no '# found:' comment above it"
            rows.append((json.loads(line), comment))
            comment = None
    return rows


FINDINGS = read_findings()


@pytest.fixture(autouse=True)
def _empty_folder(tmp_path, monkeypatch):
    # a fuzzed word may be a path: relative ones must find nothing real
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("text", [pytest.param(text, id=what[:60]) for text, what in FINDINGS])
def test_found_input_gives_an_answer_or_a_vram_error(text):
    assert fuzz_text.check(text) is None


def test_findings_file_is_read_whole():
    raw = [line for line in (DATA / "fuzz_findings.txt").read_text(encoding="utf-8").splitlines()
           if line.strip() and not line.startswith("#")]
    assert raw and len(FINDINGS) == len(raw)


@pytest.fixture(scope="module")
def fuzz_report():
    return fuzz_text.run(count=FUZZ_INPUTS, seed=FUZZ_SEED, minimise_budget=0)


def test_seeded_fuzz_finds_nothing(fuzz_report):
    assert not fuzz_report.groups, "\n".join(fuzz_report.lines())
    assert fuzz_report.inputs == FUZZ_INPUTS and fuzz_report.answered > FUZZ_INPUTS // 10


# The oracle and the mutator themselves: each would let a bug through if it were wrong.

def _raise(error):
    def broken(*args, **kwargs):
        raise error
    return broken


PLANTED = [
    ("raises", lambda mp: mp.setattr(vram, "ask", _raise(KeyError("x"))), "KeyError"),
    ("recurses", lambda mp: mp.setattr(vram, "ask", _raise(RecursionError("deep"))), "RecursionError"),
    ("vram error", lambda mp: mp.setattr(vram, "ask", _raise(vram.RangeError("too big"))), None),
    ("nan in json", lambda mp: mp.setattr(render, "render_json", lambda e: '{"x": NaN}'), "json"),
    ("infinity in json", lambda mp: mp.setattr(render, "render_json", lambda e: '{"x": Infinity}'), "json"),
    ("negative bytes", lambda mp: mp.setattr(render, "render_json", lambda e: '{"a": [{"bytes": -1}]}'), "bytes"),
    ("float bytes", lambda mp: mp.setattr(render, "render_json", lambda e: '{"total_bytes": 1.5}'), "bytes"),
    ("signed headroom", lambda mp: mp.setattr(render, "render_json", lambda e: '{"headroom_bytes": -1}'), None),
    ("text renderer", lambda mp: mp.setattr(render, "render_text", _raise(ZeroDivisionError())), "ZeroDivisionError"),
]


@pytest.mark.parametrize("plant, kind", [pytest.param(p, k, id=name) for name, p, k in PLANTED])
def test_oracle_sees_a_planted_bug(plant, kind, monkeypatch):
    plant(monkeypatch)
    found = fuzz_text.check("infer 7b fp16")
    assert (found and found.kind) == kind


def test_oracle_calls_a_slow_input_a_hang():
    assert fuzz_text.check("infer 7b fp16", slow_s=0.0).kind == "hang"


def test_oracle_stops_an_input_that_never_ends(monkeypatch):
    monkeypatch.setattr(fuzz_text, "STOP_S", 0.2)
    monkeypatch.setattr(vram, "ask", lambda text, method=None: [math.factorial(9) for _ in iter(int, 1)])
    assert fuzz_text.check("infer 7b").key == ("hang", "stopped")


def test_minimise_keeps_only_what_the_bug_needs(monkeypatch):
    def ask(text, method=None):
        if "zz" in text:
            raise KeyError(text)
        return vram.estimate(vram.parse("infer 7b"))
    monkeypatch.setattr(vram, "ask", ask)
    found = fuzz_text.check("infer 7b fp16 zzz on a100")
    assert fuzz_text.minimise(found).text == "zz"


def test_mutator_is_deterministic_and_mutates():
    seeds, words = fuzz_text.seed_queries(), fuzz_text.vocabulary()
    first = [fuzz_text.Mutator(seeds, words, 1).next() for _ in range(1)]
    again = fuzz_text.Mutator(seeds, words, 1)
    other = fuzz_text.Mutator(seeds, words, 2)
    run = [again.next() for _ in range(200)]
    assert run[:1] == first and run != [other.next() for _ in range(200)]
    assert sum(text not in seeds for text in run) > 180


def test_seeds_are_the_projects_queries():
    seeds = fuzz_text.seed_queries()
    assert "train chatglm-6b adamw bf16 selective on 8xA100" in seeds and "" in seeds and len(seeds) > 50


#: Found in grammar/ itself and fixed there; the input may still fail further on (in numbers.py),
#: which its row of fuzz_findings.txt tracks. (input, the place it must no longer fail at)
GRAMMAR_FIXED = [
    ("1e4409000", "grammar/classify.py:_take_sizes"),  # abs() of a Decimal past the context's Emax
    ("infer -1e1000000", "grammar/classify.py:_take_sizes"),
]


@pytest.mark.parametrize("text, place", GRAMMAR_FIXED)
def test_grammar_finding_fixed(text, place):
    found = fuzz_text.check(text)
    assert found is None or found.place != place


#: Found by atheris: an answer that depends on what the same process answered before. The detailed
#: method keeps a job's items (core/memory/detailed/method.py _KEPT) and re-evaluates their formula text at new
#: sizes; a kept multi-GPU suggestion's text ("(...) x held / L") is display text, not code.
ORDER_DEPENDENT = [
    ("serve qwen2.5-14b ctx 8k batch 33 on h100", "serve qwen2.5-14b ctx 6k batch 31 on h100"),
]


@pytest.mark.parametrize("first, then", ORDER_DEPENDENT)
def test_answer_does_not_depend_on_earlier_queries(first, then):
    assert fuzz_text.check(first) is None
    assert fuzz_text.check(then) is None
