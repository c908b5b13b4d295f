"""Does it fit: verdicts on usable memory, strategies, suggestions, solvers and sweeps."""

from __future__ import annotations

import json
import sys
import types

import pytest

import vram
from vram import catalog, cli
from vram.memory.runtime import CUBLAS_WORKSPACE, CUDA_CONTEXT_BYTES

MIB = 2**20


def usable(gpu_id: str, lt_workspace_mib: int) -> int:
    return catalog.find_gpu(gpu_id).memory_bytes - CUDA_CONTEXT_BYTES - CUBLAS_WORKSPACE - lt_workspace_mib * MIB


def test_usable_memory_of_an_a100_and_an_h100():
    a100 = vram.ask("infer 7b int4 on a100").fit[0]
    assert a100.capacity_bytes == 80 * 2**30
    assert a100.usable_bytes == usable("a100-80gb", 4)  # Ampere, 80 GiB: a 4 MiB cuBLASLt workspace
    assert [d.key for d in a100.deductions] == ["cuda_context", "framework_reserve"]
    h100 = vram.ask("infer 7b int4 on h100").fit[0]
    assert h100.usable_bytes == usable("h100-80gb", 32)  # Hopper: 32 MiB
    t4 = vram.ask("infer 7b int4 on t4").fit[0]
    assert t4.usable_bytes == usable("t4", 1)


def test_no_cuda_context_on_tpus_and_apple():
    for gpu in ("tpu-v4", "m2-ultra-192gb"):
        fit = vram.ask(f"infer 7b int4 on {gpu}").fit[0]
        assert "cuda_context" not in [d.key for d in fit.deductions]
    tpu = vram.ask("infer 7b int4 on tpu-v4").fit[0]
    assert tpu.usable_bytes == tpu.capacity_bytes


#: Metal's recommendedMaxWorkingSetSize as llama.cpp/Ollama logged it (ggml_metal_init, "MB" = MiB).
APPLE_WORKING_SETS = [
    ("m2-max-32gb", 21845.34, "https://github.com/ollama/ollama/issues/434"),
    ("m1-max-32gb", 21845.34, "https://github.com/ggml-org/llama.cpp/pull/2011"),
    ("m2-max-96gb", 73728.00, "https://github.com/ggml-org/llama.cpp/issues/3213"),
]


@pytest.mark.parametrize(("gpu", "logged_mib", "source"), APPLE_WORKING_SETS)
def test_apple_gpus_use_the_working_set_metal_allows(gpu, logged_mib, source):
    fit = vram.ask(f"infer 7b int4 on {gpu}").fit[0]
    assert fit.usable_bytes / 2**20 == pytest.approx(logged_mib, abs=0.05)
    assert fit.usable_bytes < fit.capacity_bytes


def test_the_context_is_not_counted_twice():
    est = vram.ask("infer llama-2-7b fp16 on a100")
    fit = est.fit[0]
    assert fit.need_bytes == est.total_bytes - est.item("cuda_context").bytes
    article = vram.ask("infer llama-2-7b fp16 on a100", method="article").fit[0]
    assert article.need_bytes == article.per_gpu_bytes  # the article counts no context


#: query -> verdict
VERDICTS = {
    # the article's example: replicas do not fit on 8 A100s, ZeRO-3 does (both methods)
    "train chatglm-6b adamw bf16 selective on 8xA100": "does_not_fit",
    "train chatglm-6b adamw bf16 selective zero3 on 8xA100": "fits",
    "train chatglm-6b adamw bf16 selective on 8xA100 method=article": "does_not_fit",
    "train chatglm-6b adamw bf16 selective zero3 on 8xA100 method=article": "fits",
    "infer llama-2-13b fp16 on t4": "does_not_fit",
    "infer llama-2-7b fp16 on t4": "tight",
    "infer llama-2-7b int4 on t4": "fits",
    "infer llama-2-70b int4 on a100-40gb": "fits",
    "infer llama-2-70b fp16 on 2x a100": "fits",
}


@pytest.mark.parametrize("query", VERDICTS)
def test_verdict(query):
    fit = vram.ask(query).fit[0]
    assert fit.verdict == VERDICTS[query]
    share = fit.need_bytes / fit.usable_bytes
    assert fit.verdict == ("does_not_fit" if share > 1 else "tight" if share > 0.9 else "fits")


def test_several_gpus_compare_plain_data_parallelism_with_sharding():
    est = vram.ask("train chatglm-6b adamw bf16 selective on 8xA100")
    assert [alt.request.zero for alt in est.strategies] == [1, 2, 3]
    bytes_by_stage = [est.total_bytes] + [alt.total_bytes for alt in est.strategies]
    assert bytes_by_stage == sorted(bytes_by_stage, reverse=True)
    assert not vram.ask("train chatglm-6b adamw bf16 selective zero3 on 8xA100").strategies
    assert not vram.ask("infer llama-2-70b fp16 on 2x a100").strategies


@pytest.mark.parametrize("query", ["train chatglm-6b adamw bf16 selective on 8xA100", "infer llama-2-70b fp16 on a100",
                                   "train llama-3-8b bf16 adamw seq 2k batch 4 on h100"])
def test_suggestions_fit_say_what_they_trade_and_parse_back(query):
    est = vram.ask(query)
    assert not est.fit[0].fits and est.suggestions
    for alt in est.suggestions:
        assert alt.fit.fits and alt.tradeoff and alt.label
        assert alt.request != est.request
        assert vram.parse(alt.request.to_query()) == alt.request


def test_no_suggestions_when_it_fits_unless_asked():
    assert vram.ask("infer llama-2-7b int4 on a100").suggestions == ()
    asked = vram.ask("infer llama-2-7b int4 on t4 suggest")
    assert asked.suggestions and asked.request.suggest


def test_suggestions_need_a_gpu():
    with pytest.raises(vram.MissingError, match="need a GPU"):
        vram.parse("infer 7b suggest")


#: solver query -> expected value
SOLVERS = {
    "max batch train llama-2-7b pure bf16 adamw checkpointing on a100": ("max_batch_size", "batch_size"),
    "max batch infer llama-3-8b bf16 seq 8k on h100": ("max_batch_size", "batch_size"),
    "max context infer llama-3-8b bf16 batch 8 on 4090": ("max_seq_len", "seq_len"),
    "max context infer llama-2-7b fp16 batch 16 on t4": ("max_seq_len", "seq_len"),
}


@pytest.mark.parametrize("query", SOLVERS)
def test_largest_value_fits_and_one_more_does_not(query):
    solve, field = SOLVERS[query]
    est = vram.ask(query)
    value = est.solution.value
    assert est.solution.solve == solve and value > 1 and est.solution.estimates <= 50
    assert getattr(est.request, field) == value and est.fit[0].fits
    request = vram.parse(query)
    import dataclasses

    one_more = vram.estimate(dataclasses.replace(request, solve=None, **{field: value + 1}))
    assert not one_more.fit[0].fits


def test_fewest_gpus_fit_and_one_fewer_does_not():
    import dataclasses

    est = vram.ask("min gpus train 70b adamw bf16 zero3 h100")
    n = est.solution.value
    assert n > 1 and est.request.gpu_count == n and est.fit[0].fits and est.solution.estimates <= 50
    fewer = vram.estimate(dataclasses.replace(vram.parse("train 70b adamw bf16 zero3 on h100"), gpu_count=n - 1))
    assert not fewer.fit[0].fits


def test_fewest_gpus_under_plain_data_parallelism_answers_for_zero3_and_says_so():
    est = vram.ask("min gpus train 7b adamw bf16 on a100")
    assert est.solution.value > 1 and est.request.zero == 3
    assert est.solution.note.startswith("with ZeRO-3 / FSDP (not named: plain data parallelism keeps a full replica")
    article = vram.ask("min gpus train 7b adamw bf16 on a100", method="article")
    assert article.solution.value > 1 and article.request.zero == 3


def test_which_gpus():
    est = vram.ask("which gpus infer 70b int4")
    listed = est.solution.value
    assert listed and len(est.fit) == len(listed) and all(f.fits for f in est.fit)
    import dataclasses

    base = vram.parse("infer 70b int4")
    for gpu in catalog.gpus().by_id:
        fits = vram.estimate(dataclasses.replace(base, gpu=gpu, gpu_count=1)).fit[0].fits
        assert fits == (gpu in listed), gpu


@pytest.mark.parametrize("query, words", [
    ("max batch train 7b adamw bf16", "needs a GPU"), ("which gpus infer 7b on a100", "looks through the catalog"),
])
def test_solver_errors(query, words):
    with pytest.raises(vram.VramError, match=words):
        vram.parse(query)


def test_the_longest_context_stops_at_the_models_trained_context():
    est = vram.ask("max context infer llama-3-8b bf16 on 4090")
    assert est.solution.value == 8192 and "llama-3-8b's trained context" in est.solution.note


def test_json_carries_the_solution(capsys):
    assert cli.main(["max context infer llama-3-8b bf16 on 4090", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["solution"]["solve"] == "max_seq_len"
    assert document["request"]["seq_len"] == document["solution"]["value"]
    assert document["estimate"]["fit"][0]["verdict"] in ("fits", "tight")


def test_json_carries_verdicts_strategies_and_suggestions(capsys):
    assert cli.main(["train chatglm-6b adamw bf16 selective on 8xA100", "--json"]) == 0
    estimate = json.loads(capsys.readouterr().out)["estimate"]
    assert estimate["fit"][0]["verdict"] == "does_not_fit"
    assert [s["request"]["zero"] for s in estimate["strategies"]] == [1, 2, 3]
    assert all(s["fit"]["fits"] and s["tradeoff"] for s in estimate["suggestions"])


def test_sweep_rows():
    rows = vram.sweep(vram.parse("train 7b bf16 adamw zero3 on 8 a100"), batch_size=[1, 2, 4], gpu=["a100-40gb", "h100"])
    assert [(r["batch_size"], r["gpu"]) for r in rows] == [(b, g) for b in (1, 2, 4) for g in ("a100-40gb", "h100")]
    assert all(r["verdict"] in ("fits", "tight", "does_not_fit") for r in rows)
    totals = [r["total_bytes"] for r in rows if r["gpu"] == "h100"]
    assert totals == sorted(totals)


def test_sweep_to_frame_uses_pandas(monkeypatch):
    frames = []
    fake = types.SimpleNamespace(DataFrame=lambda rows: frames.append(rows) or "frame")
    monkeypatch.setitem(sys.modules, "pandas", fake)
    rows = vram.sweep(vram.parse("infer 7b int4"), seq_len=[1024, 2048])
    assert rows.to_frame() == "frame" and frames[0] == list(rows)


def test_sweep_rejects_unknown_fields():
    with pytest.raises(vram.UnknownWordError, match="did you mean batch_size"):
        vram.sweep(vram.parse("infer 7b"), batchsize=[1])


def test_a_higher_zero_stage_never_needs_more():
    totals = [vram.ask(f"train 13b bf16 adamw zero{k} on 8 a100").total_bytes for k in (1, 2, 3)]
    assert totals == sorted(totals, reverse=True)


#: Jobs no count of GPUs holds as asked: query -> (the rescue the answer names, its fewest GPUs).
#: More GPUs shrink the sharded states, never one GPU's activations of its own micro-batch.
RESCUED = {
    # 70B, ZeRO-3, 4k, no recompute: activations alone pass 80 GB; with checkpointing the states
    # (16 B/param / n) and the layer inputs fit on 15 (issue 17)
    "min gpus train llama-3.1-70b bf16 adamw zero3 seq 4096 on h100": ("with full recompute", 15),
    "min gpus train 7b adamw bf16 on a100": ("with ZeRO-3 / FSDP", 2),
}


@pytest.mark.parametrize("query", RESCUED)
def test_fewest_gpus_names_the_rescue_it_took(query):
    words, count = RESCUED[query]
    est = vram.ask(query)
    assert est.solution.note.startswith(f"{words} (not named") and est.solution.value == count
    assert est.fit[0].fits and est.solution.estimates <= 60


def test_advice_names_recompute_with_more_gpus_before_another_kind_of_fine_tune():
    est = vram.ask("train llama-3.1-70b bf16 adamw zero3 seq 4096 on h100")
    first = est.suggestions[0]
    assert first.label == "15 GPUs instead of 1, with full recompute" and first.fit.fits
    assert first.request.recompute == "full" and first.request.task == "training"
    assert [alt.request.task for alt in est.suggestions][-1] == "qlora"


def test_a_job_whose_activations_pass_the_gpu_stops_at_the_floor():
    est = vram.ask("min gpus train llama-3.1-70b bf16 adamw zero3 full seq 131072 batch 8 on h100")
    assert est.solution.value is None and "no longer shrink" in est.solution.note
    assert est.solution.estimates <= 30
