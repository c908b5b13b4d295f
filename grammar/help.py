"""The query language by example: what ``vram help`` answers."""

from __future__ import annotations

#: One line a kind of question, each a query that reads as written (tests/test_reading.py checks each).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("serve a model", "infer llama-3-8b fp16 on a 4090"),
    ("with context and concurrency", "serve qwen2.5-72b int4 seq 32k batch 8 on 2x h100"),
    ("prompt and generated tokens", "infer llama-3-8b bf16 prompt 6144 generate 2048 on a100"),
    ("a quantised KV cache", "infer llama-3.1-70b fp8 kv fp8 on h100"),
    ("a serving engine's KV pool", "vllm llama-3.1-8b max-model-len 32k gpu-memory-utilization 0.9 on h100"),
    ("how many users it holds", "how many users vllm llama-3.1-8b seq 8k on a100"),
    ("train in full", "train chatglm-6b adamw bf16 selective on 8x a100"),
    ("shard the training", "train llama-3-8b bf16 adamw fsdp seq 4096 batch 4 on 8x h100"),
    ("fine-tune with adapters", "lora llama-3-8b bf16 rank 16 on 3090"),
    ("4-bit adapters", "qlora llama-2-70b rank 64 on a6000"),
    ("a size alone", "train 7b bf16 adamw"),
    ("a Hub id (or a config.json path)", "infer Qwen/Qwen2.5-7B-Instruct bf16"),
    ("launch flags", "infer llama-3-8b --max-model-len 8192 --tensor-parallel-size 2 on 2x a100"),
    ("what fits", "max batch infer llama-3-8b fp16 seq 4096 on a100"),
    ("how many GPUs", "min gpus train llama-3-70b bf16 adamw zero 3 on h100"),
    ("which GPUs", "which gpus lora llama-3-8b bf16"),
)

QUERY_LANGUAGE = "\n".join((
    "vram answers how much GPU memory a job needs; say the job in one line, in any order:",
    *(f"  {what + ':':<30} {query}" for what, query in EXAMPLES),
    "words: a task (train, infer, serve, lora, qlora), an engine (vllm, sglang, tgi), a model (llama-3-8b, a Hub id, a config.json path) or a size "
    "(7b), a dtype (bf16, int8, int4), an optimizer (adamw), settings (seq 4096, generate 1024, batch 8, tp 2, "
    "zero 3, rank 16, recompute selective, kv fp8, offload) and GPUs (on 8x a100, on 2 h100, on a 24gb card)",
))
