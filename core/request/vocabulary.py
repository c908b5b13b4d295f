"""The words of a query: synonym tables the grammar classifies words against.

The grammar (vram.grammar) only knows the shape of a query: words, numbers, ``key=value``,
``8x``. What each word means is decided here, together with the catalogs, so adding a synonym, a
model or a GPU never touches the grammar. Phrases are lower case with single spaces; the parser
tries the longest phrase first, so "full finetune" is a task while "full" alone is a recompute.
"""

from __future__ import annotations

from typing import Any

from vram.request.enums import (
    Dtype, Engine, Framework, Method, Objective, Offload, Optimizer, Recompute, Regime, Solve, Task
)

T, D, O, R = Task, Dtype, Optimizer, Recompute


def _all(field: str, value: Any, *phrases: str) -> dict[str, tuple[str, Any]]:
    return {phrase: (field, value) for phrase in phrases}


#: Words and phrases that set a field to a value.
PHRASES: dict[str, tuple[str, Any]] = {
    **_all("task", T.TRAINING, "train", "training", "trains", "pretrain", "pretraining", "pre-train",
           "finetune", "fine-tune", "fine tune", "finetuning", "fine-tuning", "fine tuning",
           "full finetune", "full fine-tune", "full fine tune", "full finetuning", "full fine-tuning",
           "full parameter", "full-parameter", "full parameters", "full param", "full params",
           "full-param", "full parameter finetune", "full parameter fine-tune", "full parameter fine-tuning",
           "full parameter training", "full weights",
           "sft", "continued pretraining", "from scratch", "train from scratch", "pretrain from scratch",
           "训练", "微调", "全量微调", "预训练"),
    **_all("task", T.INFERENCE, "infer", "inference", "inferencing", "serve", "serving", "run",
           "running", "generate", "generation", "deploy", "推理", "部署"),
    **_all("task", T.LORA, "lora", "peft"),
    **_all("task", T.QLORA, "qlora", "q-lora"),
    **_all("dtype", D.FP32, "fp32", "float32", "f32", "32bit", "32-bit", "32 bit", "full precision"),
    **_all("dtype", D.FP16, "fp16", "float16", "f16", "half", "16bit", "16-bit", "16 bit"),
    **_all("dtype", D.BF16, "bf16", "bfloat16"),
    **_all("dtype", D.FP8, "fp8", "float8", "e4m3"),
    **_all("dtype", D.INT8, "int8", "8bit", "8-bit", "8 bit", "w8", "w8a16", "load_in_8bit", "bnb 8bit",
           "bnb int8", "llm.int8"),
    **_all("dtype", D.INT4, "int4", "4bit", "4-bit", "4 bit", "w4", "w4a16", "gptq", "awq"),
    **_all("dtype", D.NF4, "nf4", "load_in_4bit", "bnb 4bit", "bnb-4bit", "bnb nf4", "bitsandbytes 4bit"),
    **_all("mixed_precision", True, "mixed", "mixed precision", "mixed-precision"),
    **_all("mixed_precision", False, "pure", "pure precision"),
    **_all("precision_regime", Regime.AMP, "amp", "autocast", "torch amp"),
    **_all("precision_regime", Regime.MASTER, "master", "master weights", "fp32 master",
           "fp32 master weights", "megatron mixed precision"),
    **_all("kv_dtype", D.FP8, "kv8"),
    **_all("optimizer_foreach", True, "foreach", "foreach optimizer", "foreach adamw"),
    **_all("optimizer_foreach", False, "fused", "fused optimizer", "fused adamw", "adamw_torch_fused"),
    **_all("dropout", True, "dropout", "with dropout", "dropout on"),
    **_all("dropout", False, "no dropout", "without dropout", "dropout off"),
    **_all("optimizer", O.ADAMW, "adamw", "adam"),
    **_all("optimizer", O.ADAM8BIT, "adam8bit", "adamw8bit", "8-bit adam", "8bit adam", "8 bit adam",
           "8-bit adamw", "8bit adamw", "8 bit adamw", "adam 8bit", "adamw 8bit", "adam 8-bit",
           "adamw 8-bit", "bnb adam", "paged adamw 8bit", "8-bit optimizer", "8bit optimizer",
           "adam 8 bit", "adamw 8 bit", "paged_adamw_8bit", "adamw_8bit", "adamw_bnb_8bit", "adam8"),
    **_all("optimizer", O.SGD_MOMENTUM, "sgd", "sgd momentum", "sgd with momentum", "momentum sgd",
           "sgd_momentum"),
    **_all("optimizer", O.SGD_PLAIN, "plain sgd", "vanilla sgd", "sgd without momentum",
           "sgd no momentum", "sgd_plain"),
    **_all("optimizer", O.ADAFACTOR, "adafactor"),
    **_all("optimizer", O.LION, "lion"),
    **_all("optimizer", O.MUON, "muon", "moonlight muon"),
    **_all("optimizer", O.ADAM_MINI, "adam-mini", "adam_mini", "adammini", "adam mini"),
    **_all("recompute", R.NONE, "none", "no recompute", "no recomputation", "no checkpointing",
           "without checkpointing", "no gradient checkpointing", "without gradient checkpointing",
           "no activation checkpointing"),
    **_all("recompute", R.SELECTIVE, "selective", "selective recompute", "selective recomputation",
           "selective checkpointing"),
    **_all("recompute", R.FULL, "full", "full recompute", "full recomputation",
           "checkpointing", "activation checkpointing", "gradient checkpointing",
           "grad checkpointing", "activation recomputation", "gc", "gradient_checkpointing"),
    **_all("sp", True, "sp", "sequence parallel", "sequence parallelism", "sequence-parallel"),
    **_all("flash_attention", True, "flash", "flash attention", "flash-attention", "flashattention",
           "flash attn", "flash-attn", "flash_attention", "fa2", "fa3", "flash attention 2",
           "flash attention 3", "flash_attention_2", "flashattention2", "flash-attn 2", "sdpa",
           "memory efficient attention", "xformers"),
    **_all("flash_attention", False, "eager", "eager attention", "no flash", "no flash attention",
           "without flash attention"),
    **_all("zero", 3, "fsdp", "full shard", "zero-3", "zero-infinity"),
    **_all("zero", 2, "zero-2"),
    **_all("zero", 1, "zero-1"),
    **_all("zero", 0, "ddp", "no zero"),
    **_all("solve", Solve.MAX_BATCH_SIZE, "max batch", "max batch size", "maximum batch", "largest batch",
           "biggest batch", "max bs", "max micro batch"),
    **_all("solve", Solve.MAX_SEQ_LEN, "max context", "max seq", "max seq len", "max sequence",
           "max sequence length", "max context length", "longest context", "max tokens", "max ctx"),
    **_all("solve", Solve.MIN_GPU_COUNT, "min gpus", "min gpu", "min gpu count", "minimum gpus",
           "fewest gpus", "how many gpus", "how many"),
    **_all("solve", Solve.GPUS, "which gpus", "which gpu", "what gpus", "what gpu", "which cards",
           "which card"),
    **_all("suggest", True, "suggest", "suggestions", "advice", "what would make it fit"),
    **_all("offload", Offload.OPTIMIZER, "offload", "cpu offload", "offload optimizer", "optimizer offload",
           "offload_optimizer", "zero offload", "zero-offload", "offload optimizer to cpu", "offload to cpu",
           "optimizer offload to cpu", "offload the optimizer to cpu", "cpu optimizer offload",
           "optimizer cpu offload", "offload optimizer states to cpu", "offload optimizer state to cpu"),
    **_all("offload", Offload.PARAMS, "offload params", "offload parameters", "param offload", "params offload",
           "parameter offload", "offload_param", "offload everything",
           "offload params to cpu", "offload parameters to cpu", "offload param to cpu", "param offload to cpu"),
    **_all("offload", Offload.NONE, "no offload", "without offload"),
    # Runtimes (design.md section 8), as their users name them and as their launch commands start
    # ("vllm serve ...", "python -m sglang.launch_server ...", "llama-server -m ...", "ollama run ...",
    # "tune run ..."): the engine that serves, or the framework that trains.
    **_all("engine", Engine.VLLM, "vllm", "vllm serve", "vllm.entrypoints.openai.api_server", "vllm-openai"),
    **_all("engine", Engine.SGLANG, "sglang", "sglang.launch_server", "sgl", "sglang serve"),
    **_all("engine", Engine.TGI, "tgi", "text-generation-inference", "text generation inference",
           "text-generation-launcher"),
    **_all("engine", Engine.LLAMA_CPP, "llama.cpp", "llamacpp", "llama-cpp", "llama_cpp", "llama cpp",
           "llama-server", "llama-cli", "llama-cpp-python", "ggml"),
    **_all("engine", Engine.OLLAMA, "ollama", "ollama run", "ollama serve"),
    **_all("framework", Framework.DEEPSPEED, "deepspeed"),
    **_all("framework", Framework.MEGATRON, "megatron", "megatron-lm", "megatron lm", "megatron-core",
           "megatron core", "mcore", "nemo"),
    **_all("framework", Framework.TORCHTUNE, "torchtune", "tune run"),
    **_all("framework", Framework.TORCHTITAN, "torchtitan"),
    **_all("framework", Framework.UNSLOTH, "unsloth"),
    **_all("framework", Framework.AXOLOTL, "axolotl"),
    **_all("framework", Framework.LLAMA_FACTORY, "llama-factory", "llamafactory", "llama factory",
           "llamafactory-cli", "llama_factory"),
    # transformers both serves (generate) and trains (Trainer): the task decides which (grammar)
    **_all("runtime", "transformers", "transformers", "hf transformers", "huggingface transformers",
           "hugging face transformers", "hf generate", "model.generate"),
    **_all("framework", Framework.TRANSFORMERS, "hf trainer", "trainer", "huggingface trainer", "trl", "peft trainer",
           "accelerate", "accelerate launch", "sfttrainer"),
    # Post-training objectives, as TRL names its trainers (DPOTrainer, PPOTrainer, GRPOTrainer,
    # RewardTrainer, GKDTrainer) and their papers name the methods
    **_all("objective", Objective.DPO, "dpo", "dpotrainer", "direct preference optimization",
           "direct preference optimisation", "preference tuning"),
    **_all("objective", Objective.PPO, "ppo", "ppotrainer", "rlhf", "rlhf ppo"),
    **_all("objective", Objective.GRPO, "grpo", "grpotrainer"),
    **_all("objective", Objective.RM, "rm", "reward model", "reward modelling", "reward modeling", "rewardtrainer"),
    **_all("objective", Objective.DISTILL, "distill", "distillation", "knowledge distillation", "gkd",
           "gkdtrainer", "distil"),
    **_all("reference", True, "reference model", "with reference", "ref model", "with ref model",
           "with a reference model"),
    **_all("reference", False, "no reference", "no reference model", "without reference", "reference free",
           "reference-free", "precomputed reference", "precompute_ref_log_probs", "precomputed ref log probs",
           "precompute ref log probs"),
    # TRL GRPOConfig(use_vllm=True, vllm_mode="colocate"): vLLM in the training process at its
    # vllm_gpu_memory_utilization, 0.3 by default (trl/trainer/grpo_config.py)
    **_all("rollout_fraction", 0.3, "colocate", "colocated", "vllm_mode colocate", "colocated vllm",
           "vllm colocate", "colocate vllm"),
    # DoRA (Liu et al. 2024), PEFT's LoraConfig(use_dora=True)
    **_all("dora", True, "dora", "use_dora", "with dora", "weight-decomposed lora"),
    **_all("method", Method.ARTICLE, "article", "rule of thumb"),
    **_all("method", Method.DETAILED, "detailed"),
}

#: Words and phrases that take a number, before or after them ("seq 4096", "32k context").
KEYS: dict[str, str] = {
    **{k: "seq_len" for k in ("seq", "seqlen", "seq len", "seq_len", "sequence", "sequence length",
                              "context", "context length", "context window", "ctx", "tokens",
                              "token length", "max len", "length", "max_model_len", "max_seq_length",
                              "上下文")},
    **{k: "batch_size" for k in ("batch", "bs", "batch size", "batch_size", "batchsize", "micro batch",
                                 "micro-batch", "micro batch size", "mbs", "micro_batch_size",
                                 "per_device_train_batch_size", "concurrency", "concurrent requests",
                                 "concurrent users", "users", "requests", "parallel requests", "批大小")},
    **{k: "tp" for k in ("tp", "tensor parallel", "tensor parallelism", "tensor-parallel")},
    **{k: "pp" for k in ("pp", "pipeline parallel", "pipeline parallelism", "pipeline-parallel")},
    **{k: "zero" for k in ("zero", "zero stage", "stage")},
    **{k: "lora_rank" for k in ("rank", "lora rank", "lora_rank", "lora-rank", "r")},
    **{k: "ep" for k in ("ep", "expert parallel", "expert parallelism", "expert-parallel", "ep_size")},
    **{k: "dp" for k in ("dp", "data parallel", "data parallelism", "data-parallel", "dp_size", "dp size")},
    **{k: "cp" for k in ("cp", "context parallel", "context parallelism", "context-parallel", "cp_size")},
    **{k: "vpp" for k in ("vpp", "virtual pipeline", "virtual pipeline stages", "virtual stages", "interleaved",
                          "interleaved pipeline", "virtual_pipeline_model_parallel_size")},
    # Megatron-LM arguments.py: --global-batch-size = micro batch x data-parallel size x accumulation
    **{k: "global_batch" for k in ("global batch", "global batch size", "global_batch_size", "global-batch-size",
                                   "gbs", "total batch", "total batch size", "effective batch", "effective batch size")},
    **{k: "grad_accum" for k in ("gradient accumulation", "grad accum", "gradient accumulation steps",
                                 "gradient_accumulation_steps", "accumulation steps", "grad_accum", "ga")},
    **{k: "gpu_count" for k in ("gpus", "gpu count", "gpu_count", "cards", "devices")},
    **{k: "generations" for k in ("generations", "num generations", "num_generations", "generations per prompt",
                                  "completions per prompt", "group size", "rollouts per prompt")},
    **{k: "rollout_fraction" for k in ("gpu_memory_utilization", "vllm_gpu_memory_utilization",
                                       "gpu memory utilization", "vllm gpu memory utilization")},
    **{k: "params" for k in ("params", "parameters", "param", "parameter")},
    **{k: "hidden_size" for k in ("hidden", "hidden size", "hidden_size", "d_model", "d model")},
    **{k: "num_layers" for k in ("layers", "num layers", "num_layers", "n_layers", "n layers")},
    **{k: "num_heads" for k in ("heads", "num heads", "num_heads", "n_heads", "n heads",
                                "attention heads")},
}

#: Words that name the field of the value beside them: "kv int8", "fp8 kv cache", "recompute
#: selective". The key takes the value word after it, else the one before it; alone, its default.
BIND_KEYS: dict[str, str] = {
    **{k: "kv_dtype" for k in ("kv", "kv cache", "kv-cache", "kv_cache", "kv cache dtype", "kv_cache_dtype",
                               "kv-cache-dtype", "cache dtype", "cache")},
    **{k: "recompute" for k in ("recompute", "recomputation", "activation recompute")},
}
#: The value a binding key takes when no value word stands beside it ("recompute" alone).
BIND_DEFAULTS: dict[str, Any] = {"recompute": R.FULL}
#: The field whose words a binding key takes over (a KV dtype is written with the dtype words).
BIND_SOURCES: dict[str, str] = {"kv_dtype": "dtype", "recompute": "recompute"}

#: Settings that do not change memory: accepted with their number, and the answer says so.
IGNORED_KEYS: frozenset[str] = frozenset({
    "lr", "learning rate", "learning_rate", "epochs", "epoch", "num_train_epochs", "warmup", "warmup steps",
    "weight decay", "weight_decay", "wd", "alpha", "lora alpha", "lora_alpha", "steps", "max steps", "max_steps", "seed", "temperature", "top p", "top_p", "top k",
    "top_k", "lora dropout", "lora_dropout",
    "num_train_epochs", "logging_steps", "save_steps", "eval_steps", "port", "save_total_limit",
})

#: Tokens to generate: they fill the KV cache as the prompt does, so they change memory and are
#: never let go; until serving is modelled with prompt and output apart, the query says the whole
#: context (prompt + generated) as seq.
GENERATED_TOKEN_KEYS: frozenset[str] = frozenset({
    "max new tokens", "max_new_tokens", "output tokens", "new tokens", "generated tokens", "output length",
    "max output tokens", "max_output_tokens", "completion tokens",
})

#: Settings written as launch flags in the spelling of the engines and trainers people paste them
#: from (vLLM's ``vllm serve --help``, Megatron-LM's arguments.py, Hugging Face TrainingArguments,
#: accelerate launch): the flag without its dashes, '-' as '_', to the field it sets.
FLAG_KEYS: dict[str, str] = {
    "tensor_parallel_size": "tp", "tensor_model_parallel_size": "tp", "tp_size": "tp",
    "pipeline_parallel_size": "pp", "pipeline_model_parallel_size": "pp", "pp_size": "pp",
    "expert_model_parallel_size": "ep", "expert_parallel_size": "ep",
    "data_parallel_size": "dp", "context_parallel_size": "cp", "context_parallel_degree": "cp",
    "virtual_pipeline_model_parallel_size": "vpp", "global_batch_size": "global_batch",
    "gradient_accumulation_steps": "grad_accum", "data_parallel_shard_degree": "dp",
    "max_model_len": "seq_len", "seq_length": "seq_len", "max_seq_len": "seq_len", "max_seq_length": "seq_len",
    "model_max_length": "seq_len", "cutoff_len": "seq_len", "context_length": "seq_len", "seq_len": "seq_len",
    "num_generations": "generations", "vllm_gpu_memory_utilization": "rollout_fraction",
    "max_num_seqs": "batch_size", "batch_size": "batch_size", "micro_batch_size": "batch_size",
    "per_device_train_batch_size": "batch_size", "train_micro_batch_size_per_gpu": "batch_size",
    "lora_r": "lora_rank", "lora_rank": "lora_rank", "rank": "lora_rank",
    "num_gpus": "gpu_count", "nproc_per_node": "gpu_count", "num_processes": "gpu_count",
    "zero_stage": "zero", "hidden_size": "hidden_size", "num_layers": "num_layers",
    "num_attention_heads": "num_heads",
}
#: Flags whose value is a word, to the field the word sets (``--dtype bfloat16``, ``--optim adamw``).
FLAG_WORD_KEYS: dict[str, str] = {
    "model": "model", "model_name_or_path": "model", "model_path": "model", "model_id": "model", "dtype": "dtype", "torch_dtype": "dtype",
    "quantization": "dtype", "kv_cache_dtype": "kv_dtype", "optim": "optimizer", "optimizer": "optimizer",
    "recompute_granularity": "recompute", "attn_implementation": "flash_attention",
}
#: Flags that switch a setting off when their value is false (``--gradient_checkpointing False``).
FLAG_OFF: dict[str, tuple[str, Any]] = {
    "recompute": ("recompute", Recompute.NONE), "flash_attention": ("flash_attention", False),
    "dropout": ("dropout", False), "offload": ("offload", Offload.NONE),
}
#: Flags that take no value and do not change memory (``--trust-remote-code``).
IGNORED_SWITCHES: frozenset[str] = frozenset({
    "trust_remote_code", "disable_log_requests", "disable_log_stats", "do_train", "overwrite_output_dir",
})

#: Words of questions and politeness people wrap a query in ("whats the vram for ..., please?"):
#: they cannot change the answer, so they are let go, and the answer lists each one it let go.
QUESTION_WORDS: frozenset[str] = frozenset({
    "whats", "wat", "hows", "hi", "hello", "hey", "pls", "plz", "thanks", "thank you",
    "thx", "w/", "vs", "versus", "roughly", "approximately", "approx", "about", "around", "ballpark",
    "total", "rough", "exactly", "possible", "possibly", "able", "am i able", "is it possible", "budget",
    "some", "help me", "could you", "can you", "would you", "i want to", "i need to", "let me know",
    "locally", "local", "at home", "home", "my own", "own", "setup", "box", "rig", "workstation", "server",
})

#: Questions about something other than memory: the topic each phrase asks about. vram answers
#: memory only, so these are refused plainly rather than read as a setting ("tokens per second"
#: is not a context length, "how long to train" is not "lion").
OUTSIDE_MEMORY: dict[str, str] = {
    **{p: "speed" for p in ("tokens per second", "token per second", "tokens/s", "tok/s", "tokens/sec",
                            "tokens per sec", "tps", "throughput", "latency", "speed", "how fast", "fast",
                            "faster", "slow", "mfu", "ttft", "time to first token", "per second",
                            "samples per second", "it/s")},
    **{p: "time" for p in ("how long", "how many hours", "how many days", "training time", "time to train",
                           "hours", "days", "wall clock", "wall-clock", "eta", "gpu hours", "gpu-hours")},
    **{p: "cost" for p in ("cost", "costs", "price", "pricing", "how much money", "dollars", "usd", "$",
                           "budget in dollars", "cheapest", "cheaper", "per hour", "an hour")},
}

#: A query that asks how to ask: answered with the query language by example.
HELP_WORDS: frozenset[str] = frozenset({
    "help", "usage", "examples", "example", "how to use", "how do i use this", "what can i ask", "-h", "man",
})

#: Quantised checkpoints carry their format in their name ("Qwen2.5-32B-Instruct-AWQ",
#: "Qwen2.5-7B-Instruct-GPTQ-Int4", "Llama-3.1-8B-Instruct-FP8", "llama-3-8b-bnb-4bit"): the
#: name's suffix to the dtype its weights are stored in, longest suffix first. Sources: the AutoAWQ
#: and AutoGPTQ model cards (4-bit groups unless -Int8 says otherwise), bitsandbytes' NF4 for -bnb-4bit.
NAME_QUANT: tuple[tuple[str, Dtype], ...] = (
    ("gptq-int8", Dtype.INT8), ("gptq-int4", Dtype.INT4), ("awq-int4", Dtype.INT4), ("bnb-4bit", Dtype.NF4),
    ("fp8-dynamic", Dtype.FP8), ("w8a8-fp8", Dtype.FP8), ("awq", Dtype.INT4), ("gptq", Dtype.INT4),
    ("fp8", Dtype.FP8), ("int4", Dtype.INT4), ("w4a16", Dtype.INT4), ("int8", Dtype.INT8),
    ("w8a8", Dtype.INT8),
    ("nf4", Dtype.NF4), ("4bit", Dtype.INT4), ("8bit", Dtype.INT8),
)

#: Task words that say fine-tuning: beside them a bare "full" means a full fine-tune (every weight
#: trained, as against LoRA), not full recompute.
FINE_TUNE_WORDS: frozenset[str] = frozenset({
    "sft", "finetune", "fine-tune", "fine tune", "finetuning", "fine-tuning", "fine tuning", "微调",
})

#: Numbers written as words.
NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "sixteen": 16, "thirty-two": 32, "sixty-four": 64, "一": 1, "两": 2, "二": 2,
    "四": 4, "八": 8,
}
#: Magnitudes written as words after a number ("7 billion"): the suffix they stand for.
MAGNITUDE_WORDS: dict[str, str] = {
    "thousand": "k", "million": "m", "mn": "m", "billion": "b", "bn": "b", "trillion": "t",
}

#: One-letter names of the article's symbols, accepted only as ``key=value`` ("a" alone is a filler).
SHORT_KEYS: dict[str, str] = {
    "s": "seq_len", "b": "batch_size", "h": "hidden_size", "l": "num_layers", "a": "num_heads",
    "t": "tp", "p": "pp", "r": "lora_rank",
}

#: Keys that may be glued to their number: "tp2", "zero3", "bs8", "r16", "pp4".
GLUED_KEYS: dict[str, str] = {
    "tp": "tp", "pp": "pp", "ep": "ep", "dp": "dp", "cp": "cp", "vpp": "vpp", "zero": "zero", "stage": "zero", "bs": "batch_size", "r": "lora_rank",
    "rank": "lora_rank", "seq": "seq_len", "ctx": "seq_len",
}

#: Keys whose value is a word: ``method=article``, ``gpu=h100``, ``dtype=bf16``.
WORD_KEYS: dict[str, str] = {
    "task": "task", "model": "model", "gpu": "gpu", "dtype": "dtype", "precision": "dtype",
    "optimizer": "optimizer", "optim": "optimizer", "opt": "optimizer", "recompute": "recompute",
    "checkpointing": "recompute", "method": "method", "sp": "sp", "flash": "flash_attention",
    "flash_attention": "flash_attention", "mixed": "mixed_precision",
    "mixed_precision": "mixed_precision", "regime": "precision_regime",
    "precision_regime": "precision_regime", "kv": "kv_dtype", "kv_dtype": "kv_dtype",
    "kv_cache": "kv_dtype", "dropout": "dropout", "engine": "engine", "framework": "framework",
    "runtime": "runtime", "objective": "objective", "teacher": "teacher", "teacher_model": "teacher",
    "reference": "reference", "dora": "dora",
}

#: Words that start a list of adapter targets: "targets q_proj v_proj", "target_modules=all-linear".
TARGET_KEYS: frozenset[str] = frozenset({"targets", "target", "target modules", "target_modules", "lora targets",
                                         "lora_targets"})

#: Words that start a list of layers trained in full beside the adapters (PEFT's modules_to_save).
SAVE_KEYS: frozenset[str] = frozenset({"modules_to_save", "modules to save", "save modules", "train in full"})

#: Values of yes/no settings written as ``key=value``.
BOOLEANS: dict[str, bool] = {
    "true": True, "yes": True, "on": True, "1": True,
    "false": False, "no": False, "off": False, "0": False,
}

#: Words that switch off the setting after them ("no flash", "without zero", "不用 flash") and
#: after them ("flash off", "checkpointing disabled"): the setting takes its off value below.
NEGATION_BEFORE: frozenset[str] = frozenset({"no", "not", "without", "w/o", "disable", "disabled", "不用", "不开",
                                             "关闭", "关掉", "不要"})
NEGATION_AFTER: frozenset[str] = frozenset({"off", "disabled", "关闭", "关"})
#: The value a negated setting takes, by field: each is the setting switched off (no recompute,
#: plain data parallel for "without zero"/"no fsdp", nothing offloaded). A word of any other field
#: ("no adamw", "no lora") cannot be negated: it names what to use, so the query says what instead.
NEGATED: dict[str, Any] = {
    "flash_attention": False, "recompute": R.NONE, "zero": 0, "offload": Offload.NONE, "sp": False,
    "dropout": False,
}

#: Words that carry no meaning in a query ("how much memory does ... need on a ...?").
FILLERS: frozenset[str] = frozenset({
    "how", "much", "many", "memory", "vram", "gpu", "does", "do", "did", "need", "needs",
    "needed", "take", "takes", "to", "for", "on", "with", "in", "a", "an", "the", "of", "and",
    "using", "use", "uses", "is", "it", "fit", "fits", "will", "would", "can", "could", "i", "my",
    "me", "we", "what", "required", "require", "requires", "be", "estimate", "please", "model",
    "at", "by", "per", "this", "that", "job", "card", "enough", "size", "if", "should",
    "want", "calculate", "tell", "across", "over", "x", "mode", "precision", "weights", "optimizer",
    "attention", "parallel", "parallelism", "checkpoint", "checkpoints", "machine", "node",
    "nodes", "cluster", "ram", "hbm", "up", "×", "*", "method", "single", "a single", "just", "only", "s",
    "tesla", "nvidia", "geforce", "amd", "instinct", "google", "apple", "for inference", "for training",
    "under", "within", "into", "inside", "all", "get", "i'd", "do i", "id", "hf", "huggingface",
    "pytorch", "torch", "with pytorch", "gpu?", "在", "上", "张", "块", "用", "显存", "多少",
    "需要", "的", "个", "卡", "吗", "?",
})

#: Words each field is written with in canonical query text (Request.to_query()).
CANONICAL: dict[str, str] = {
    "task:training": "train", "task:inference": "infer", "task:lora": "lora", "task:qlora": "qlora",
    "mixed_precision:True": "mixed", "mixed_precision:False": "pure",
    "sp:True": "sp", "flash_attention:True": "flash", "flash_attention:False": "eager",
    "dropout:True": "dropout", "dropout:False": "no dropout",
    "optimizer_foreach:True": "foreach", "optimizer_foreach:False": "fused", "lora_targets": "targets",
    "offload:optimizer": "offload", "offload:params": "offload params", "offload:none": "no offload", "ep": "ep",
    "solve:max_batch_size": "max batch", "solve:max_seq_len": "max context",
    "solve:min_gpu_count": "min gpus", "solve:gpus": "which gpus", "suggest:True": "suggest",
    "seq_len": "seq", "batch_size": "batch", "tp": "tp", "pp": "pp", "zero": "zero",
    "lora_rank": "rank", "hidden_size": "hidden", "num_layers": "layers", "num_heads": "heads",
    "gpu_count": "gpus", "method": "method", "reference:True": "reference model",
    "reference:False": "no reference", "generations": "generations", "rollout_fraction": "gpu_memory_utilization",
    "teacher": "teacher=", "dp": "dp", "cp": "cp", "vpp": "vpp", "global_batch": "global batch",
    "grad_accum": "grad accum", "dora:True": "dora", "dora:False": "dora=false", "modules_to_save": "modules_to_save",
}

#: Kinds of words a query is made of, for "expected ..." in error messages.
EXPECTED_WORDS = (
    "a task (train, infer, lora, qlora)",
    "a model (llama-3-8b, a Hub id such as Qwen/Qwen2.5-7B-Instruct, a config.json path) or size (7b)",
    "a dtype (bf16, int8)",
    "an optimizer (adamw)",
    "a setting (seq 4096, batch 8, tp 2, zero 3)",
    "GPUs (on 8x a100)",
)

#: Longest phrase, in words, in any table above.
MAX_PHRASE_WORDS = max(len(p.split()) for p in (*PHRASES, *KEYS))
