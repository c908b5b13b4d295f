"""Queries people type parse to the right fields and get an answer."""

from __future__ import annotations

import pytest
from conftest import read_jsonl, read_lines

import vram

EXAMPLES = [case for case in read_jsonl("queries.jsonl") if "want" in case]


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["q"] for c in EXAMPLES])
def test_shared_example_parses_to_its_fields(case):
    got = vram.parse(case["q"]).to_dict()
    assert {key: got[key] for key in case["want"]} == case["want"]


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["q"] for c in EXAMPLES])
def test_shared_example_gets_an_answer(case):
    est = vram.ask(case["q"])
    assert est.total_bytes > 0 and est.items


#: Other ways people write the same things: query -> fields it must give.
PHRASINGS = {
    "TRAIN ChatGLM-6B AdamW BF16 Selective ON 8XA100": {"model": "chatglm-6b", "gpu_count": 8},
    "on 8 x a100 train selective bf16 adamw chatglm-6b": {"task": "training", "gpu": "a100-80gb"},
    "how much memory to train chatglm-6b with adamw in bf16 on 8 h100?": {"gpu": "h100-80gb"},
    "infer 1.3B fp16": {"params": 1.3e9},
    "infer 350m fp16": {"params": 350e6},
    "infer 7b fp16 seq 4k": {"seq_len": 4096},
    "infer 7b fp16 32k context": {"seq_len": 32768},
    "infer 7b fp16 seq=1.5k": {"seq_len": 1536},
    "infer 7b fp16 bs 8": {"batch_size": 8},
    "infer 7b fp16 batch=16": {"batch_size": 16},
    "train 7b bf16 adamw tp2 on 8 a100": {"tp": 2},
    "train 7b bf16 adamw tp=2 pp=2 on 8 a100": {"tp": 2, "pp": 2},
    "train 7b bf16 adamw zero 3 on 8 a100": {"zero": 3},
    "train 7b bf16 adamw zero-2 on 8 a100": {"zero": 2},
    "train 7b bf16 adamw stage 1 on 8 a100": {"zero": 1},
    "train 7b bf16 adamw checkpointing": {"recompute": "full"},
    "train 7b bf16 adamw gradient checkpointing": {"recompute": "full"},
    "finetune 7b bf16": {"task": "training"},
    "fine-tune 7b bf16": {"task": "training"},
    "serve 7b fp16": {"task": "inference"},
    "run llama 2 7b fp16": {"model": "llama-2-7b"},
    "infer Llama-2-7B fp16 on a 4090": {"model": "llama-2-7b", "gpu": "rtx-4090", "gpu_count": 1},
    "infer llama-2-7b fp16 on rtx 4090": {"gpu": "rtx-4090"},
    "infer llama-2-7b fp16 on 2 x rtx 3090": {"gpu": "rtx-3090", "gpu_count": 2},
    "infer llama-2-7b fp16 on 1x a100 80gb": {"gpu": "a100-80gb", "gpu_count": 1},
    "infer llama-2-7b fp16 on A100 40GB": {"gpu": "a100-40gb"},
    "infer llama-2-7b fp16 on 8×H100": {"gpu": "h100-80gb", "gpu_count": 8},
    "infer 7b fp16 on 8 gpus": {"gpu_count": 8, "gpu": None},
    "infer 7b int8 method article": {"method": "article"},
    "train 7b fp16 adamw mixed precision": {"mixed_precision": True},
    "train 7b bf16 adamw, seq 4096, batch 8?": {"seq_len": 4096, "batch_size": 8},
    "train 7b hidden 4096 layers 32 heads 32 bf16 adamw": {"hidden_size": 4096, "num_layers": 32, "num_heads": 32},
    "train 7b h=4096 l=32 a=32 adamw": {"hidden_size": 4096, "num_layers": 32, "num_heads": 32},
    "lora 7b r16": {"lora_rank": 16},
    "qlora 7b rank=64": {"lora_rank": 64, "dtype": None},
    "train 7b bf16 adamw flash attention": {"flash_attention": True},
    "train 7b bf16 adamw sp tp 4 on 4 a100": {"sp": True},
    "train 7b bf16 lion": {"optimizer": "lion"},
    "train 7b bf16 adafactor": {"optimizer": "adafactor"},
    "训练 6b adamw bf16": {"task": "training"},
    "推理 6b int8": {"task": "inference"},
    "infer 7b fp16 gpu=h100": {"gpu": "h100-80gb"},
    "infer 7b dtype=bf16": {"dtype": "bf16"},
    "train 7b optimizer=adam bf16": {"optimizer": "adamw"},
    # From trying the tool as a new user would (the first user test).
    "how much vram do I need to fine-tune llama 3 8b with lora on a 4090?": {"task": "lora", "model": "llama-3-8b"},
    "finetuning llama-3-8b with qlora": {"task": "qlora"},
    "微调 llama-3-8b lora": {"task": "lora"},
    "infer 7b fp16 on a single 3090": {"gpu": "rtx-3090", "gpu_count": 1},
    "can I run llama-2-70b on two 3090s?": {"task": "inference", "gpu": "rtx-3090", "gpu_count": 2},
    "infer llama-3-8b bf16 kv int8": {"dtype": "bf16", "kv_dtype": "int8"},
    "infer llama-3-8b bf16 kv cache in fp8": {"dtype": "bf16", "kv_dtype": "fp8"},
    "infer llama-3-8b int4 fp8 kv cache": {"dtype": "int4", "kv_dtype": "fp8"},
    "infer llama-3-8b bf16 kv_cache_dtype=fp8": {"kv_dtype": "fp8"},
    "train 7b bf16 adamw recompute selective": {"recompute": "selective"},
    "train 7b bf16 adamw recompute": {"recompute": "full"},
    "train 7b bf16 adamw without gradient checkpointing": {"recompute": "none"},
    "infer llama-3-8b bf16 sdpa": {"flash_attention": True},
    "train llama-3-8b bf16 adamw flash attention 2": {"flash_attention": True},
    "infer mixtral 8x7b fp16": {"model": "mixtral-8x7b"},
    "infer Meta-Llama-3-8B-Instruct": {"model": "llama-3-8b"},
    "infer llama3.1:8b": {"model": "llama-3.1-8b"},
    "infer Qwen2.5-72B-Instruct-AWQ int4": {"model": "qwen2.5-72b"},
    "infer llama-3-8b on A100x8": {"gpu": "a100-80gb", "gpu_count": 8},
    "infer llama-3-8b on a100 x 4": {"gpu": "a100-80gb", "gpu_count": 4},
    "infer 13b 3090 x2": {"gpu": "rtx-3090", "gpu_count": 2},
    "infer 7 billion fp16": {"params": 7e9},
    "infer 7e9 fp16": {"params": 7e9},
    "infer llama-3-8b 8k": {"seq_len": 8192},
    "train 7b bf16 adamw bs 4 grad accum 8 lr 1e-4": {"batch_size": 4},
    "lora llama-2-7b r 16 alpha 32": {"lora_rank": 16},
    "infer 7b bf16.": {"dtype": "bf16"},
    "what's the vram for qwen2.5-72b at fp8?": {"task": "inference", "dtype": "fp8"},
    "infer 7b (bf16)": {"dtype": "bf16"},
    "infer llama\u20113\u20118b": {"model": "llama-3-8b"},
    "\uff49\uff4e\uff46\uff45\uff52 \uff17\uff42": {"task": "inference", "params": 7e9},
    "推理 llama-3-8b 在 2 张 a100 上": {"gpu": "a100-80gb", "gpu_count": 2},
    "will mixtral-8x7b fit on an a100": {"task": "inference", "model": "mixtral-8x7b"},
    "infer 7b fp16 on 16 bit": {"dtype": "fp16"},
    "train 7b bf16 paged_adamw_8bit": {"optimizer": "adam8bit"},
    "serve llama-3-8b bf16 32 concurrent requests": {"batch_size": 32},
}


@pytest.mark.parametrize("query", PHRASINGS)
def test_phrasing(query):
    got = vram.parse(query).to_dict()
    want = PHRASINGS[query]
    assert {key: got[key] for key in want} == want


@pytest.mark.parametrize("query", PHRASINGS)
def test_phrasing_gets_an_answer(query):
    assert vram.ask(query).total_bytes > 0


@pytest.mark.parametrize("query", read_lines("canonical_queries.txt"))
def test_canonical_query_prints_back_unchanged(query):
    assert vram.parse(query).to_query() == query


@pytest.mark.parametrize("query", [c["q"] for c in EXAMPLES] + list(PHRASINGS))
def test_to_query_parses_back_to_the_same_request(query):
    request = vram.parse(query)
    assert vram.parse(request.to_query()) == request


def test_what_the_parse_assumed_is_among_the_assumptions():
    est = vram.ask("does llama-3-8b fit on a 4090?")
    assert est.assumptions[0].startswith("no task named: taken as inference")
    est = vram.ask("train 7b bf16 adamw lr 1e-4")
    assert "'lr 1e-4' does not change memory: ignored" in est.assumptions
    assert vram.parse("infer llama-3-8b 8k") == vram.parse("infer llama-3-8b seq 8k")  # notes are not the job
