"""The command line: text and JSON answers, units, methods, and a light `import vram`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vram
from vram import cli

CASES = Path(__file__).with_name("cases")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_document(capsys):
    code, out, _ = run(capsys, "train chatglm-6b adamw bf16 selective on 8xA100", "--json", "--method", "article")
    assert code == 0
    document = json.loads(out)
    assert document["request"]["gpu_count"] == 8
    estimate = document["estimate"]
    assert estimate["method"] == "article"
    assert estimate["total_bytes"] == 103_985_954_816
    assert [item["key"] for item in estimate["items"]] == ["weights", "optimizer", "gradients", "activations"]
    assert estimate["items"][0] == {
        "key": "weights", "label": "Model weights (mixed precision)", "bytes": 12_000_000_000,
        "formula": "2 B/param x params", "values": {"params": 6e9}, "source": "seed article; EleutherAI Transformer Math 101",
    }
    assert estimate["fit"][0]["gpu"] == "a100-80gb" and estimate["fit"][0]["fits"] is False
    assert any("a100-80gb is the" in text for text in estimate["assumptions"])


def test_json_equals_the_api(capsys):
    query = "lora llama-2-13b bf16 rank 64"
    _, out, _ = run(capsys, query, "--json")
    assert json.loads(out) == json.loads(vram.render_json(vram.ask(query)))


def test_words_may_come_as_separate_arguments(capsys):
    code, out, _ = run(capsys, "infer", "6b", "int8", "--json", "--method", "article")
    assert code == 0 and json.loads(out)["estimate"]["total_bytes"] == 7_200_000_000


@pytest.mark.parametrize("name, argv", [
    ("chatglm_train_8xa100", ["train chatglm-6b adamw bf16 selective on 8xA100", "--method", "article"]),
    ("chatglm_train_detailed", ["train chatglm-6b adamw bf16 selective"]),
    ("llama_infer_int4_detailed", ["infer llama-3-8b int4 seq 8k batch 4 on l4"]),
    ("infer_6b_int8_gib", ["infer 6b int8", "--gib"]),
    ("qlora_70b_no_formulas", ["qlora llama-2-70b seq 4096 on 1x a100-80gb", "--no-formulas"]),
    # issue 16: a launch's --max-num-seqs is the engine's cap, not 512 sequences asked
    ("vllm_max_num_seqs_l40s", ["vllm serve Qwen/Qwen2.5-7B-Instruct --max-num-seqs 512 on l40s"]),
])
def test_text_answer_golden(capsys, name, argv):
    code, out, _ = run(capsys, *argv)
    golden = CASES / f"{name}.txt"
    if os.environ.get("VRAM_UPDATE_GOLDENS"):  # after a deliberate change; read the diff
        golden.write_text(out, encoding="utf-8")
    assert code == 0
    assert out == golden.read_text(encoding="utf-8")


def test_detailed_json_has_phases_range_and_the_article_beside_it(capsys):
    code, out, _ = run(capsys, "train chatglm-6b adamw bf16 selective", "--json")
    estimate = json.loads(out)["estimate"]
    assert code == 0 and estimate["method"] == "detailed"
    assert estimate["total_bytes"] == max(p["bytes"] for p in estimate["phases"])
    assert estimate["peak_phase"] in [p["name"] for p in estimate["phases"]]
    assert estimate["range"]["low_bytes"] <= estimate["total_bytes"] <= estimate["range"]["high_bytes"]
    assert estimate["comparisons"] == [{"method": "article", "total_bytes": 103_985_954_816}]


def test_detailed_method_answers_tensor_parallel_inference(capsys):
    code, out, _ = run(capsys, "infer llama-2-70b fp16 tp 4 on 4 a100", "--method", "detailed", "--json")
    estimate = json.loads(out)["estimate"]
    assert code == 0 and estimate["method"] == "detailed"
    assert [i["key"] for i in estimate["items"]][:2] == ["weights", "kv_cache"]


def test_article_method_flag(capsys):
    code, out, _ = run(capsys, "infer 6b int8", "--method", "article", "--json")
    assert code == 0 and json.loads(out)["estimate"]["method"] == "article"


def test_no_query_prints_usage_and_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "usage: vram" in capsys.readouterr().err


def test_import_vram_does_not_import_lark():
    code = "import sys, vram; print(any(m == 'lark' or m.startswith('lark.') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"


def test_answering_a_query_imports_no_lark():
    # the grammar ships compiled by lark's standalone tool (grammar/query_standalone.py): lark is
    # the generator's dependency, not a query's (issue 14, cold start)
    code = ("import sys, vram\nvram.ask('infer 6b int8')\ntry: vram.parse('=4096 7b')\n"
            "except vram.QueryError: pass\n"
            "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]"


def test_console_script_answers():
    done = subprocess.run([sys.executable, "-m", "vram", "infer 6b int8", "--json", "--method", "article"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert json.loads(done.stdout)["estimate"]["total_bytes"] == 7_200_000_000


def test_help_as_a_query_prints_the_query_language_and_exits_0(capsys):
    assert cli.main(["help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("vram answers how much GPU memory a job needs")
    assert "infer llama-3-8b fp16 on a 4090" in out


def test_help_flag_shows_the_query_language(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "say the job in one line" in capsys.readouterr().out


#: Answers of every shape: each method, a solver, no GPU, several GPUs, offload, adapters, a long
#: formula (the detailed activations), a long assumption (a catalog source), advice.
SHAPES = [
    ["train chatglm-6b adamw bf16 selective on 8xA100"],
    ["train chatglm-6b adamw bf16 selective on 8xA100", "--method", "article"],
    ["train chatglm-6b adamw bf16 selective"],
    ["train chatglm-6b adamw bf16 zero2 offload optimizer on 8xA100", "--gib"],
    ["train llama-3-8b bf16 adamw tp 2 pp 2 seq 8k batch 4 on 8xh100"],
    ["train llama-3-70b bf16 adamw no flash seq 32k batch 16 on 1x t4"],
    ["infer llama-3-8b int4 seq 8k batch 4 on l4"],
    ["qlora llama-2-70b seq 4096 on 1x a100-80gb", "--no-formulas"],
    ["max batch size train llama-3-8b bf16 on 1x a100-80gb"],
    ["which gpus lora llama-3-8b bf16"],
    ["infer 6b int8"],
]
WIDTH = 100


@pytest.mark.parametrize("argv", SHAPES, ids=lambda argv: " ".join(argv))
def test_every_line_fits_100_columns(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    too_wide = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not too_wide


def test_the_help_fits_100_columns(capsys):
    assert cli.main(["help"]) == 0
    assert max(map(len, capsys.readouterr().out.splitlines())) <= WIDTH


#: The answer's shape: the headline first (what was asked, the solver's answer, the peak, the
#: verdict), then the breakdown, phases, range, assumptions and advice.
ORDER = ("Query:", "Answer:", "Peak:", "Total:", "Verdict:", "Method:", "  Item ", "Phases (", "Range:",
         "Assumptions:", "On ", "What would make it fit:", "No single change makes it fit")


@pytest.mark.parametrize("argv", SHAPES, ids=lambda argv: " ".join(argv))
def test_the_headline_comes_first_and_the_sections_in_order(capsys, argv):
    _, out, _ = run(capsys, *argv)
    lines = out.splitlines()
    starts = [next((n for n, line in enumerate(lines) if line.startswith(mark)), None) for mark in ORDER]
    found = [n for n in starts if n is not None]
    assert found == sorted(found) and starts[0] == 0
    assert (starts[2] is None) != (starts[3] is None)  # a peak over phases, or a sum
    assert starts[4] is not None and (starts[4] < 5 or starts[1] == 1)  # soon after the query, or the solver's answer
    if "--no-formulas" in argv:
        assert not any(" B/param" in line for line in lines)


def test_a_formula_sits_under_its_item(capsys):
    _, out, _ = run(capsys, "infer 6b int8", "--method", "article")
    lines = out.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("  Model weights (int8)"))
    assert lines[at + 1] == "      1 B/param x params   [params=6e9]"
