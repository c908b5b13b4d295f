"""Closed vocabularies of a request: the canonical values of design.md section 4."""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    INFERENCE = "inference"  #: forward passes only: serving, generation
    TRAINING = "training"  #: every weight trained (a full fine-tune is training)
    LORA = "lora"  #: frozen 16-bit base, trained low-rank adapters (Hu et al. 2021)
    QLORA = "qlora"  #: frozen 4-bit base, trained adapters (Dettmers et al. 2023)


class Dtype(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    NF4 = "nf4"  #: 4-bit NormalFloat (QLoRA)


#: Data types a job can train in (weights updated in place). 8- and 4-bit types only hold frozen
#: weights (inference, or a LoRA/QLoRA base).
TRAINABLE_DTYPES = frozenset({Dtype.FP32, Dtype.FP16, Dtype.BF16})
HALF_DTYPES = frozenset({Dtype.FP16, Dtype.BF16})


def mixed_by_default(dtype: Dtype) -> bool:
    """Whether training in ``dtype`` is mixed precision when the query does not say: 16-bit training
    keeps fp32 master weights (design.md section 4); fp32 training is never mixed. The one home of
    this default: the Request, its canonical text and both methods ask it."""
    return dtype in HALF_DTYPES
FOUR_BIT_DTYPES = frozenset({Dtype.INT4, Dtype.NF4})


class Optimizer(StrEnum):
    ADAMW = "adamw"  #: Adam with decoupled weight decay; two fp32 moments
    ADAM8BIT = "adam8bit"  #: bitsandbytes 8-bit Adam (Dettmers et al. 2021)
    SGD_MOMENTUM = "sgd_momentum"  #: SGD with one momentum buffer
    SGD_PLAIN = "sgd_plain"  #: SGD without momentum: no state
    ADAFACTOR = "adafactor"  #: factored second moment (Shazeer & Stern 2018)
    LION = "lion"  #: one momentum buffer (Chen et al. 2023)
    MUON = "muon"  #: one momentum buffer on the blocks' matrices, AdamW on the rest (Keller Jordan 2024)
    ADAM_MINI = "adam_mini"  #: Adam's first moment, one second moment a block (Zhang et al. 2024)


class Recompute(StrEnum):
    NONE = "none"  #: every activation kept for backward
    SELECTIVE = "selective"  #: attention's s x s part recomputed (Korthikanti et al. 2022)
    FULL = "full"  #: only each layer's input kept: activation / gradient checkpointing


class Regime(StrEnum):
    """How a training job holds its weights, gradients and optimizer states (design.md 5.2)."""

    AMP = "amp"  #: PyTorch autocast: fp32 weights, gradients and states; 16-bit compute
    PURE = "pure"  #: everything in the model's dtype (bf16 or fp16, or fp32)
    MASTER = "master"  #: 16-bit weights and gradients, fp32 master copy in the optimizer (DeepSpeed, Megatron)
    #: DeepSpeed's bf16_master_weights_and_grads with bf16_optimizer_states: a bf16 master copy and
    #: bf16 optimizer states beside the bf16 weights and gradients, computed under torch.autocast
    BF16_MASTER = "bf16_master"


class Loss(StrEnum):
    """How the language-model loss is computed (a framework's own way, or the query's word)."""

    FP32_LOGITS = "fp32_logits"  #: the whole b x s x vocab logits upcast to fp32, then cross-entropy
    CHUNKED_LINEAR = "chunked_linear"  #: head and cross-entropy chunk by chunk of tokens
    FUSED_LINEAR = "fused_linear"  #: head and loss fused, chunks capped in size
    VOCAB_PARALLEL = "vocab_parallel"  #: Megatron's cross-entropy: an fp32 softmax made in place of the 16-bit logits' upcast
    #: Liger-Kernel's fused linear cross-entropy: head and loss a chunk of tokens at a time, each chunk's
    #: logits turned into their gradient in place, the hidden states' and head's gradients made in forward
    LIGER = "liger"


class Solve(StrEnum):
    """What a solver query asks for instead of the bytes of one job."""

    MAX_BATCH_SIZE = "max_batch_size"  #: the largest micro-batch that fits the GPUs named
    MAX_SEQ_LEN = "max_seq_len"  #: the longest context that fits
    MIN_GPU_COUNT = "min_gpu_count"  #: the fewest GPUs of the kind named that fit
    GPUS = "gpus"  #: the catalog's GPUs on which the job fits
    GPU_LAYERS = "gpu_layers"  #: llama.cpp/Ollama: the most layers (n_gpu_layers) the GPUs hold


class Offload(StrEnum):
    """What ZeRO keeps in host memory instead of the GPU's (DeepSpeed offload_optimizer / _param)."""

    NONE = "none"
    OPTIMIZER = "optimizer"  #: optimizer states (and the fp32 gradient partitions) in CPU memory
    PARAMS = "params"  #: the optimizer and, with ZeRO-3, the parameters too


class Engine(StrEnum):
    """What serves an inference job (design.md section 8); None in a request means transformers."""

    TRANSFORMERS = "transformers"  #: Hugging Face transformers' generate: the default, as before engines
    VLLM = "vllm"
    SGLANG = "sglang"
    TGI = "tgi"  #: Hugging Face text-generation-inference
    LLAMA_CPP = "llama.cpp"
    OLLAMA = "ollama"


#: Engines that size a KV pool from a share of the GPU at start-up (design.md section 8).
PRE_ALLOCATING = frozenset({Engine.VLLM, Engine.SGLANG, Engine.TGI})


class Framework(StrEnum):
    """What runs a training job (design.md section 8); None in a request means transformers."""

    TRANSFORMERS = "transformers"  #: Hugging Face Trainer, PEFT, TRL, Accelerate: the default
    DEEPSPEED = "deepspeed"
    MEGATRON = "megatron"
    TORCHTUNE = "torchtune"
    TORCHTITAN = "torchtitan"
    UNSLOTH = "unsloth"
    AXOLOTL = "axolotl"  #: transformers underneath, with its own defaults
    LLAMA_FACTORY = "llama-factory"  #: transformers underneath, with its own defaults


class Objective(StrEnum):
    """What a training job optimises beyond next-token prediction (post-training); None in a
    request means supervised fine-tuning or pre-training, one model and its labels."""

    DPO = "dpo"  #: direct preference optimisation: chosen and rejected answers, a frozen reference
    PPO = "ppo"  #: policy, value, reference and reward models (InstructGPT's RLHF)
    GRPO = "grpo"  #: group relative policy optimisation: several generations a prompt, no value model
    RM = "rm"  #: reward modelling: a scalar head scoring chosen against rejected
    DISTILL = "distill"  #: distillation: a frozen teacher's logits as the target


class Method(StrEnum):
    ARTICLE = "article"  #: the seed article's rules (design.md 5.1)
    DETAILED = "detailed"  #: the exact-architecture model (design.md 5.2)


TRAINING_TASKS = frozenset({Task.TRAINING, Task.LORA, Task.QLORA})
ADAPTER_TASKS = frozenset({Task.LORA, Task.QLORA})


class Item(StrEnum):
    """A line item of the memory budget: the stable ``key`` of design.md section 3.

    Members are in the order a comparison shows them as columns: model states, then what the
    step adds, then what the runtime takes.
    """

    WEIGHTS = "weights"  #: the model's parameters as the GPU holds them (frozen base for LoRA)
    WEIGHT_CASTS = "weight_casts"  #: autocast's 16-bit copies of fp32 matrices, made in forward
    ADAPTERS = "adapters"  #: LoRA adapter weights
    QUANT_OVERHEAD = "quant_overhead"  #: scales and zeros of quantised weights
    #: the caching allocator's segments around the weight tensors, beyond them (2 MiB rounding): what an
    #: engine that sizes its pool from the free memory after loading loses with the weights
    WEIGHT_SEGMENTS = "weight_segments"
    GRADIENTS = "gradients"  #: one gradient a trained parameter
    OPTIMIZER = "optimizer"  #: optimizer states (and the fp32 master copy where the regime keeps one)
    OPTIMIZER_TEMP = "optimizer_temp"  #: full-size temporaries of a foreach optimizer step
    ACTIVATIONS = "activations"  #: tensors saved for backward, or inference's prefill working set
    KV_CACHE = "kv_cache"  #: keys and values of every token in context
    LOGITS = "logits"  #: logits and loss (training), or the last token's logits (inference)
    RUNTIME_OVERHEAD = "runtime_overhead"  #: the article's 20 % on top of inference weights
    CUDA_CONTEXT = "cuda_context"  #: the driver's context and kernels, outside PyTorch's allocator
    CUDA_GRAPHS = "cuda_graphs"  #: a serving engine's captured CUDA graphs, where it takes them from its pool
    REFERENCE_MODEL = "reference_model"  #: post-training: a frozen copy of the policy (DPO, PPO, GRPO's KL)
    VALUE_MODEL = "value_model"  #: PPO: the value model's weights, gradients and optimizer states
    REWARD_MODEL = "reward_model"  #: PPO: the frozen reward model
    TEACHER = "teacher"  #: distillation: the frozen teacher's weights
    ROLLOUT_ENGINE = "rollout_engine"  #: GRPO/PPO: a colocated vLLM generating the rollouts
    VALUE_ACTIVATIONS = "value_activations"  #: PPO: the value model's saved activations
    TEACHER_LOGITS = "teacher_logits"  #: distillation: the teacher's logits and log-probabilities
    BACKWARD_LAYER = "backward_layer"  #: one layer's tensors and gradients while backward runs it
    TIED_GRADIENTS = "tied_gradients"  #: a tied embedding's two gradient halves being summed
    DDP_BUCKETS = "ddp_buckets"  #: DDP's all-reduce buckets, a copy of the gradients
    ZERO3_GATHER = "zero3_gather"  #: ZeRO-3's largest layer, gathered while it runs
    REDUCE_BUCKET = "reduce_bucket"  #: ZeRO-1/2's gradient reduce bucket (DeepSpeed reduce_bucket_size)
    STEP_GRADIENT = "step_gradient"  #: ZeRO-3's step: a sub-group's gradient cast to the fp32 master dtype
    STREAM_POOLS = "stream_pools"  #: reserved, not live at the peak: FSDP2's collectives' own streams' cached blocks
    FRAMEWORK_RESERVE = "framework_reserve"  #: cuBLAS / hipBLAS workspaces: a fit deduction, not a job item


class PhaseName(StrEnum):
    """A moment of a job at which the detailed method counts what is live (design.md 5.2)."""

    LOAD = "load"  #: inference: weights in place, nothing run yet
    PREFILL = "prefill"  #: inference: the whole context as one prompt
    DECODE = "decode"  #: inference: one new token a step against the full cache
    PROMPT_LOGITS = "prompt logits"  #: inference, transformers before 4.45: the head over every prompt position
    START_OF_BACKWARD = "start of backward"  #: training: every saved activation and the loss's gradient
    BACKWARD_LAST_LAYER = "backward, last layer"  #: training with checkpoints: the first layer backward runs, all checkpoints live
    BACKWARD_FIRST_LAYER = "backward, first layer"  #: training: the last layer backward reaches
    TIED_GRADIENT_SUM = "tied embedding gradient sum"  #: training: a tied embedding's gradients summed
    OPTIMIZER_STEP = "optimizer step"  #: training: activations freed, the states updated
