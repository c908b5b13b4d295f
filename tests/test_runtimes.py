"""Runtimes (design.md section 8): the engine or framework a request names, read, resolved and said."""

from __future__ import annotations

import pytest

import vram
from vram.catalog.runtimes import runtime_of, runtimes
from vram.errors import ConflictError, UnsupportedError
from vram.memory.detailed import method
from vram.memory.detailed.method import MODELLED_RUNTIMES
from vram.request.enums import Engine, Framework

# query -> (task, engine, framework) as read
READS = [
    ("infer llama-3-8b vllm on h100", "inference", "vllm", None),
    ("vllm serve meta-llama/Llama-3.1-8B-Instruct", "inference", "vllm", None),
    ("sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct", "inference", "sglang", None),
    ("text-generation-launcher --model-id mistralai/Mistral-7B-Instruct-v0.3", "inference", "tgi", None),
    ("llama-server llama-3-8b", "inference", "llama.cpp", None),
    ("ollama run llama-3.1-8b", "inference", "ollama", None),
    ("infer 7b with hf transformers", "inference", "transformers", None),
    ("engine=sglang infer 7b", "inference", "sglang", None),
    ("train llama-3-8b with torchtune on 8x h100", "training", None, "torchtune"),
    ("torchtitan llama-3-8b bf16", "training", None, "torchtitan"),
    ("lora llama-3-8b unsloth", "lora", None, "unsloth"),
    ("qlora 7b with axolotl", "qlora", None, "axolotl"),
    ("sft qwen2.5-7b llama-factory", "training", None, "llama-factory"),
    ("train 7b deepspeed zero 3", "training", None, "deepspeed"),
    ("train llama-3-8b megatron-lm tp 2 on 8x h100", "training", None, "megatron"),
    ("train 7b transformers", "training", None, "transformers"),
    ("train 7b framework=torchtune", "training", None, "torchtune"),
]


@pytest.mark.parametrize("query, task, engine, framework", READS)
def test_runtime_words(query, task, engine, framework):
    request = vram.parse(query)
    assert (request.task, request.engine, request.framework) == (task, engine, framework)
    assert vram.parse(request.to_query()) == request
    assert request.to_dict()["engine" if engine else "framework"] == (engine or framework)


@pytest.mark.parametrize("query, field", [
    ("train 7b vllm", "engine"),
    ("lora llama-3-8b ollama", "engine"),
    ("infer 7b torchtune", "framework"),
    ("infer 7b framework=unsloth", "framework"),
])
def test_a_runtime_of_the_other_kind_is_a_conflict(query, field):
    with pytest.raises(ConflictError) as caught:
        vram.parse(query)
    assert caught.value.field == field and caught.value.position is not None


@pytest.mark.parametrize("kind, enum", [("engine", Engine), ("framework", Framework)])
def test_every_runtime_has_a_sourced_row_and_one_default(kind, enum):
    rows = [r for (k, _), r in runtimes().items() if k == kind]
    assert sorted(r.id for r in rows) == sorted(m.value for m in enum)
    assert all(r.source.startswith("https://") for r in rows)
    assert [r.id for r in rows if r.default] == ["transformers"]


@pytest.mark.parametrize("query, runtime", [
    ("infer 7b", ("engine", "transformers")),
    ("train 7b", ("framework", "transformers")),
    ("qlora 7b", ("framework", "transformers")),
    ("infer 7b vllm", ("engine", "vllm")),
    ("train 7b deepspeed", ("framework", "deepspeed")),
])
def test_runtime_of(query, runtime):
    found = runtime_of(vram.parse(query))
    assert (found.kind, found.id) == runtime


@pytest.mark.parametrize("query, said", [
    ("infer 7b", "engine Hugging Face transformers (generate) (default; say vllm"),
    ("train 7b", "framework Hugging Face transformers (Trainer, PEFT, TRL, Accelerate) (default; say deepspeed"),
    ("train 7b deepspeed zero 2 on 8x a100", "framework DeepSpeed (https://www.deepspeed.ai/docs/config-json/)"),
])
def test_the_answer_says_which_runtime(query, said):
    assert any(line.startswith(said) for line in vram.ask(query).assumptions)


def test_a_framework_sets_its_precision_regime():
    # DeepSpeed and Megatron keep 16-bit weights and gradients with an fp32 master copy in the
    # optimizer: without zero or tp the word alone decides it, where transformers' default is AMP
    base, framework = (vram.ask(q) for q in ("train llama-3-8b bf16 adamw", "train llama-3-8b bf16 adamw megatron"))
    assert any("Megatron-LM / Megatron-Core's mixed precision: master" in a for a in framework.assumptions)
    assert {i.key: i.bytes for i in framework.items}["weights"] * 2 == {i.key: i.bytes for i in base.items}["weights"]


def test_every_runtime_in_the_catalog_is_modelled():
    unmodelled = [(k, i) for (k, i), r in runtimes().items()
                  if (k, i) not in MODELLED_RUNTIMES and (k, r.based_on) not in MODELLED_RUNTIMES]
    assert not unmodelled


@pytest.mark.parametrize("kind, name", [("engine", "sglang"), ("framework", "unsloth")])
def test_a_runtime_row_without_a_model_is_refused_by_name(monkeypatch, kind, name):
    # a runtime added to the catalog before the memory model knows it: refused by name, not guessed
    monkeypatch.setattr(method, "MODELLED_RUNTIMES", method.MODELLED_RUNTIMES - {(kind, name)})
    query = f"infer llama-3-8b {kind}={name}" if kind == "engine" else f"train llama-3-8b {kind}={name}"
    with pytest.raises(UnsupportedError) as caught:
        vram.ask(query)
    assert "not modelled yet" in str(caught.value) and caught.value.field == kind
    article = vram.ask(query + " method=article")  # the rule of thumb answers, and says it ignores the runtime
    assert any("do not depend on the runtime" in a for a in article.assumptions)


@pytest.mark.parametrize("query, tp, said", [
    ("vllm llama-3.1-70b bf16 on 4x h100", 4, True),  # 64 heads, 8 KV heads: tp 4 splits both
    ("sglang qwen2.5-72b awq on 2x rtx 4090", 2, True),
    ("vllm llama-3.1-8b on 3x a100", 1, False),  # 32 heads do not split over 3: left as asked
    ("vllm llama-3.1-70b tp 2 on 4x h100", 2, False),  # parallelism named: as asked
    ("infer llama-3.1-70b on 4x h100", 1, False),  # transformers' generate splits layers instead
    # the largest concurrency or context on the GPUs named: the same launch (was tp 1, "none")
    ("max concurrency qwen2.5-72b with vllm on 4x h100", 4, True),
    ("max context qwen2.5-72b with sglang on 8x h100", 8, True),
])
def test_a_pre_allocating_engine_on_several_gpus_runs_one_tensor_parallel_replica(query, tp, said):
    estimate = vram.ask(query)
    assert estimate.request.tp == tp
    assert any("one replica over all" in line for line in estimate.assumptions) is said


@pytest.mark.parametrize("engine", [Engine.TGI, Engine.LLAMA_CPP])
def test_pre_allocating_engines_agree_with_the_request_s_set(monkeypatch, engine):
    # the request checks engine-only words against PRE_ALLOCATING; the catalog row says it by a
    # memory_fraction column: a row and the set that disagree are a catalog error at load
    from vram.catalog import runtimes as runtimes_module

    flipped = runtimes_module.PRE_ALLOCATING ^ {engine}
    monkeypatch.setattr(runtimes_module, "PRE_ALLOCATING", flipped)
    runtimes.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"engine {engine.value} needs a memory_fraction column"):
            runtimes()
    finally:
        runtimes.cache_clear()
