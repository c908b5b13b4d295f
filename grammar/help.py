"""The query language by example: what ``vram help`` and ``vram --help`` show, at most 100 columns."""

from __future__ import annotations

import textwrap

#: One line a kind of question, each a query that reads as written (tests/test_reading.py checks each),
#: in groups: jobs, settings, where the model comes from, solvers.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("serve a model", "infer llama-3-8b fp16 on a 4090"),
    ("train in full", "train chatglm-6b adamw bf16 selective on 8x a100"),
    ("fine-tune with adapters", "lora llama-3-8b bf16 rank 16 on 3090"),
    ("4-bit adapters", "qlora llama-2-70b rank 64 on a6000"),
    ("context and concurrency", "serve qwen2.5-72b int4 seq 32k batch 8 on 2x h100"),
    ("a quantised KV cache", "infer llama-3.1-70b fp8 kv fp8 on h100"),
    ("shard the training", "train llama-3-8b bf16 adamw fsdp seq 4096 batch 4 on 8x h100"),
    ("switch a setting off", "train llama-3-8b bf16 adamw no flash on a100"),
    ("pick the method", "train 7b bf16 adamw method=article"),
    ("a size alone", "train 7b bf16 adamw"),
    ("a Hub id", "infer Qwen/Qwen2.5-7B-Instruct bf16"),
    ("a config.json file", "infer ./config.json bf16 on l4"),
    ("an engine's launch flags", "infer llama-3-8b --max-model-len 8192 --max-num-seqs 4 on a100"),
    ("the largest batch that fits", "max batch infer llama-3-8b fp16 seq 4096 on a100"),
    ("the longest context", "max seq infer llama-3-8b fp16 on a 4090"),
    ("the fewest GPUs", "min gpus train llama-3-70b bf16 adamw zero 3 on h100"),
    ("which GPUs fit", "which gpus lora llama-3-8b bf16"),
)

#: What each kind of word is, with examples: the vocabulary in one paragraph.
WORDS = ("Words, in any order and case: a task (train, infer or serve, lora, qlora); a model (llama-3-8b, "
         "a Hub id, a config.json path) or a size (7b); a dtype (bf16, int8, int4); an optimizer (adamw, "
         "adam8bit, sgd); settings (seq 4096, batch 8, tp 2, zero 3, fsdp, rank 16, recompute selective, "
         "kv fp8, offload; 'no flash' switches one off); GPUs (on 8x a100, on 2 h100, on a 24gb card); "
         "a solver in front (max batch, max seq, min gpus, which gpus).")

#: The help is read in a terminal: as wide as the text answer.
HELP_WIDTH = 100

QUERY_LANGUAGE = "\n".join((
    "vram answers how much GPU memory a job needs, and whether it fits; say the job in one line:",
    *(f"  {what + ':':<29} {query}" for what, query in EXAMPLES),
    "",
    *textwrap.wrap(WORDS, HELP_WIDTH),
))
