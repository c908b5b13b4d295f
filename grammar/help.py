"""The query language by example: what ``vram help`` (``帮助``) answers, in the query's language."""

from __future__ import annotations

import textwrap
import unicodedata

from vram import messages

#: One line a kind of question (its label: ``help.example.<id>`` in the message catalogs), each a
#: query that reads as written (tests/test_reading.py checks each).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("serve", "infer llama-3-8b fp16 on a 4090"),
    ("context", "serve qwen2.5-72b int4 seq 32k batch 8 on 2x h100"),
    ("generate", "infer llama-3-8b bf16 prompt 6144 generate 2048 on a100"),
    ("kv", "infer llama-3.1-70b fp8 kv fp8 on h100"),
    ("engine", "vllm llama-3.1-8b max-model-len 32k gpu-memory-utilization 0.9"),
    ("users", "how many users vllm llama-3.1-8b seq 8k on a100"),
    ("train", "train chatglm-6b adamw bf16 selective on 8x a100"),
    ("shard", "train llama-3-8b bf16 adamw fsdp seq 4096 batch 4 on 8x h100"),
    ("framework", "train llama-3-8b bf16 with torchtune on 8x h100"),
    ("lora", "lora llama-3-8b bf16 rank 16 on 3090"),
    ("qlora", "qlora llama-2-70b rank 64 on a6000"),
    ("off", "train llama-3-8b bf16 adamw no flash on a100"),
    ("method", "train 7b bf16 adamw method=article"),
    ("size", "train 7b bf16 adamw"),
    ("hub", "infer Qwen/Qwen2.5-7B-Instruct bf16"),
    ("config", "infer ./config.json bf16 on l4"),
    ("flags", "infer llama-3-8b --max-model-len 8192 --max-num-seqs 4 on a100"),
    ("fits", "max batch infer llama-3-8b fp16 seq 4096 on a100"),
    ("longest", "max seq infer llama-3-8b fp16 on a 4090"),
    ("gpus", "min gpus train llama-3-70b bf16 adamw zero 3 on h100"),
    ("which", "which gpus lora llama-3-8b bf16"),
)
#: Examples shown first to a Chinese query: the same questions as a Chinese-speaking engineer types them.
ZH_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("zh_serve", "单卡4090能跑qwen2.5-7b吗"),
    ("zh_train", "8卡a100全参微调llama-3-8b bf16 梯度检查点"),
    ("zh_lora", "lora微调qwen2.5-7b 秩 16 两张3090"),
)
#: The display width of the label column (a CJK character takes two columns of a terminal).
LABEL_COLUMNS = 30


def query_language(lang: str = messages.DEFAULT) -> str:
    """The help: what vram answers, one example a kind of question, and the words a query is made of."""
    examples = (ZH_EXAMPLES + EXAMPLES) if lang != messages.DEFAULT else EXAMPLES
    return "\n".join((
        messages.text("help.intro", lang),
        *(f"  {_padded(messages.text(f'help.example.{what}', lang) + ':')} {query}" for what, query in examples),
        *_wrapped(messages.text("help.words", lang)),
    ))


#: The help is read in a terminal: as wide as the text answer.
HELP_WIDTH = 100


def _wrapped(text: str) -> list[str]:
    """``text`` in lines of at most HELP_WIDTH terminal columns (a CJK character takes two)."""
    wide = any(unicodedata.east_asian_width(c) in "WF" for c in text)
    return textwrap.wrap(text, HELP_WIDTH // 2 if wide else HELP_WIDTH, break_on_hyphens=False)


def _padded(label: str) -> str:
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
    return label + " " * max(0, LABEL_COLUMNS - width)
