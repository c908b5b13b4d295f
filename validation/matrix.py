"""The configurations docs/accuracy.md checks: vram queries, each a job the harness can run.

Five architecture families (GPT-2; Llama with full heads; Llama with grouped-query attention;
Qwen2.5 with tied embeddings; Mixtral-style MoE), plus Qwen3 (QK-norm, and its 128-expert MoE),
124M to 70B parameters; inference in fp16 and
bf16 at several batch sizes and contexts, training under AMP and pure bf16 (and one in fp32),
fused and foreach AdamW, SGD, with and without gradient checkpointing, dropout on and off, sdpa
and eager attention; LoRA; the frameworks' terms the CPU can run (torchtune's chunked loss,
torchtitan's per-op selective checkpointing, pure-bf16 adapters, torchtune's activation offloading,
whose host copies are left out of the device peak). Every query names what both methods need to
describe the same job (the recompute, the attention kernel), so that the article's figure is for
that job too.

Rows marked ``gpu_only`` need bitsandbytes kernels (int8, nf4, QLoRA): ``python -m
vram.validation --gpu`` measures them where a GPU is; the CPU table lists them as not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIGS = Path(__file__).with_name("configs")


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the table: a vram query and the family it stands for."""

    query: str  #: the vram query; ``{configs}`` is this package's configs folder
    family: str
    gpu_only: bool = False  #: needs CUDA kernels (bitsandbytes): measured on a GPU only
    known: str = ""  #: a residual the estimate leaves on purpose, and why (shown with the error)

    def text(self, configs: Path | str = CONFIGS) -> str:
        return self.query.format(configs=configs)

    @property
    def shown(self) -> str:
        """The query as the table shows it (the configs folder as its path in the repository)."""
        return self.text("validation/configs")


GPT2, LLAMA_MHA, LLAMA_GQA, QWEN_TIED, MOE = "GPT-2", "Llama, full heads", "Llama, GQA", "Qwen2.5, tied", "MoE"
QWEN3 = "Qwen3 (QK-norm)"
MIXTRAL_SMALL = "{configs}/mixtral-small/config.json"

MATRIX: tuple[Case, ...] = (
    # inference: prefill of the whole context into the KV cache, then a decode step
    Case("infer gpt2 fp16 seq 1024 batch 8", GPT2,
         known="GPT-2's block keeps its attention output in a local through the MLP: one more hidden-size tensor "
               "than the Llama-style blocks the prefill formula follows"),
    Case("infer gpt2-medium fp16 seq 1024 batch 16 eager", GPT2),
    Case("infer llama-2-7b fp16 seq 4096", LLAMA_MHA),
    Case("infer llama-2-13b fp16 seq 2048 batch 4", LLAMA_MHA),
    Case("infer llama-3-8b bf16 seq 8192", LLAMA_GQA),
    Case("infer llama-3-8b bf16 seq 2048 batch 16", LLAMA_GQA),
    Case("infer llama-3-8b bf16 seq 2048 eager", LLAMA_GQA),
    Case("infer llama-3-70b bf16 seq 4096 batch 4", LLAMA_GQA),
    Case("infer qwen2.5-0.5b bf16 seq 4096 batch 8", QWEN_TIED),
    Case("infer qwen2.5-7b bf16 seq 32768", QWEN_TIED),
    Case(f"infer {MIXTRAL_SMALL} bf16 seq 2048 batch 4", MOE),
    Case("infer mixtral-8x7b bf16 seq 4096", MOE),
    Case("infer qwen3-30b-a3b bf16 seq 4096 batch 2", MOE),
    Case("infer llama-3.2-1b int8 seq 2048", LLAMA_GQA, gpu_only=True),
    Case("infer llama-3.2-1b nf4 seq 2048", LLAMA_GQA, gpu_only=True),
    # full training: AMP (the Trainer's bf16=True on an fp32 model) and pure bf16
    Case("train gpt2 bf16 adamw amp flash dropout seq 1024 batch 8", GPT2),
    Case("train gpt2 bf16 adamw amp flash no dropout seq 1024 batch 8", GPT2),
    Case("train gpt2 bf16 adamw pure eager dropout seq 1024 batch 4", GPT2),
    Case("train gpt2-medium fp32 adamw flash no dropout seq 1024 batch 4", GPT2),
    Case("train gpt2 bf16 adamw pure flash dropout checkpointing seq 1024 batch 16", GPT2),
    Case("train llama-3.2-1b bf16 adamw amp flash seq 2048 batch 4", LLAMA_GQA),
    Case("train llama-3.2-1b bf16 adamw pure eager seq 1024 batch 2", LLAMA_GQA),
    Case("train llama-2-7b bf16 adamw amp flash seq 4096", LLAMA_MHA),
    Case("train llama-2-7b bf16 adamw pure flash checkpointing seq 4096 batch 4", LLAMA_MHA),
    Case("train llama-2-13b bf16 adamw amp flash checkpointing seq 4096 batch 2", LLAMA_MHA),
    Case("train llama-3-8b bf16 adamw amp flash seq 2048 batch 2", LLAMA_GQA),
    Case("train llama-3-8b bf16 adamw pure foreach flash seq 4096", LLAMA_GQA),
    Case("train llama-3-8b bf16 adamw amp eager seq 2048", LLAMA_GQA),
    Case("train llama-3-70b bf16 adamw pure flash checkpointing seq 4096", LLAMA_GQA),
    Case("train qwen2.5-0.5b bf16 adamw amp flash seq 2048 batch 8", QWEN_TIED),
    Case("train qwen2.5-1.5b bf16 sgd pure flash seq 4096", QWEN_TIED),
    Case("train qwen2.5-7b bf16 adamw pure flash checkpointing seq 8192", QWEN_TIED),
    Case(f"train {MIXTRAL_SMALL} bf16 adamw pure flash seq 2048 batch 2", MOE),
    Case("train mixtral-8x7b bf16 adamw pure flash checkpointing seq 4096", MOE),
    Case("train qwen3-8b bf16 adamw amp flash seq 2048", QWEN3),
    Case("train qwen3-30b-a3b bf16 adamw pure flash checkpointing seq 2048", MOE),
    # adapters: PEFT LoRA on q_proj and v_proj of a frozen 16-bit base
    Case("lora llama-3-8b bf16 flash checkpointing seq 2048", LLAMA_GQA),
    Case("lora llama-2-7b bf16 flash no recompute rank 16 seq 4096", LLAMA_MHA),
    Case("lora qwen2.5-0.5b bf16 flash checkpointing seq 2048 batch 8", QWEN_TIED),
    Case("qlora llama-3.2-1b flash checkpointing seq 2048", LLAMA_GQA, gpu_only=True),
    # frameworks' own terms the CPU can run (issue 17): torchtune's chunked head-and-loss (with its
    # default layer checkpointing, and without), torchtitan's per-op selective checkpointing on one
    # process (pure bf16: its default mixed precision is FSDP2's, which needs a distributed run),
    # adapters in pure bf16 (torchtune's LoRA; PEFT on a bf16 model)
    Case("train llama-3.2-1b bf16 adamw pure seq 2048 batch 4 torchtune", LLAMA_GQA),
    Case("train qwen2.5-0.5b bf16 adamw pure no recompute seq 2048 batch 4 torchtune", QWEN_TIED),
    Case("train llama-3.2-1b bf16 adamw pure selective seq 2048 batch 4 torchtitan", LLAMA_GQA),
    Case("train llama-3-8b bf16 adamw pure selective seq 4096 torchtitan", LLAMA_GQA),
    Case("train qwen2.5-0.5b bf16 adamw pure selective seq 2048 batch 4 torchtitan", QWEN_TIED),
    Case("lora llama-3.2-1b bf16 pure seq 2048 batch 4 torchtune", LLAMA_GQA),
    Case("train llama-3.2-1b bf16 adamw pure full offload activations seq 2048 batch 4 torchtune", LLAMA_GQA),
    Case("lora qwen2.5-0.5b bf16 pure flash checkpointing seq 2048 batch 8", QWEN_TIED),
)
