"""The words of a query: synonym tables the grammar classifies words against.

The grammar (vram.grammar) only knows the shape of a query: words, numbers, ``key=value``,
``8x``. What each word means is decided here, together with the catalogs, so adding a synonym, a
model or a GPU never touches the grammar. Phrases are lower case with single spaces; the parser
tries the longest phrase first, so "full finetune" is a task while "full" alone is a recompute.
"""

from __future__ import annotations

from typing import Any

from vram.request.enums import (
    Dtype, Engine, Framework, Loss, Method, Objective, Offload, Optimizer, Recompute, Regime, Solve, Task
)
from vram.request.quant import QUANT_DTYPES

T, D, O, R = Task, Dtype, Optimizer, Recompute

#: GGUF types as people shorten them, to the file type they mean, with why. llama.cpp's own
#: aliases (tools/quantize/quantize.cpp QUANT_OPTIONS: "Q4_K" is "alias for Q4_K_M", likewise Q3_K
#: and Q5_K); "gguf q4"/"q4 gguf" is the 4-bit type llama.cpp's quantize README recommends and
#: Ollama's default tags ship (ollama.com/library/llama3.1: the 8b tag is Q4_K_M).
_GGUF_WIDTHS = (("q2", "q2_k"), ("q3", "q3_k_m"), ("q4", "q4_k_m"), ("q5", "q5_k_m"), ("q6", "q6_k"),
                ("q8", "q8_0"))
_GGUF_USUAL = "the usual GGUF type of that width; Ollama ships q4_k_m"
GGUF_SHORT: dict[str, tuple[str, str]] = {
    "q4_k": ("q4_k_m", "llama.cpp's alias"), "q5_k": ("q5_k_m", "llama.cpp's alias"),
    "q3_k": ("q3_k_m", "llama.cpp's alias"),
    **{f"{a} {b}": (name, _GGUF_USUAL)
       for bits, name in _GGUF_WIDTHS for a, b in (("gguf", bits), (bits, "gguf"))},
    # bare "q4", "q8" ("gemma 3 27b at q4"): the same GGUF types; the answer says which was taken
    **{bits: (name, _GGUF_USUAL) for bits, name in _GGUF_WIDTHS},
}
GGUF_SHORT_PHRASES = {phrase: ("quant", name) for phrase, (name, _) in GGUF_SHORT.items()}


def _all(field: str, value: Any, *phrases: str) -> dict[str, tuple[str, Any]]:
    return {phrase: (field, value) for phrase in phrases}


#: Words and phrases that set a field to a value.
PHRASES: dict[str, tuple[str, Any]] = {
    **_all("task", T.TRAINING, "train", "training", "trains", "pretrain", "pretraining", "pre-train",
           "finetune", "fine-tune", "fine tune", "finetuning", "fine-tuning", "fine tuning",
           "full finetune", "full fine-tune", "full fine tune", "full finetuning", "full fine-tuning",
           "full parameter", "full-parameter", "full parameters", "full param", "full params",
           "full-param", "full parameter finetune", "full parameter fine-tune", "full parameter fine-tuning",
           "full parameter training", "full weights", "full train", "full training",
           "sft", "ft", "fft", "full ft", "full-ft", "continued pretraining", "from scratch", "train from scratch", "pretrain from scratch",
           "训练", "微调", "全量微调", "预训练"),
    **_all("task", T.INFERENCE, "infer", "inference", "inferencing", "serve", "serving", "run",
           "running", "generate", "generation", "deploy", "推理", "部署"),
    **_all("task", T.LORA, "lora", "peft"),
    **_all("task", T.QLORA, "qlora", "q-lora"),
    **_all("dtype", D.FP32, "fp32", "float32", "f32", "32bit", "32-bit", "32 bit", "full precision"),
    **_all("dtype", D.FP16, "fp16", "float16", "f16", "half", "16bit", "16-bit", "16 bit"),
    **_all("dtype", D.BF16, "bf16", "bfloat16"),
    **_all("dtype", D.FP8, "fp8", "float8", "e4m3", "e5m2", "fp8_e4m3", "fp8_e5m2"),  # vLLM --kv-cache-dtype values
    **_all("dtype", D.INT8, "int8", "8bit", "8-bit", "8 bit", "w8", "w8a16", "load_in_8bit", "bnb 8bit",
           "bnb int8", "llm.int8"),
    **_all("dtype", D.INT4, "int4", "4bit", "4-bit", "4 bit", "w4", "w4a16"),
    **{name: ("quant", name) for name in QUANT_DTYPES},
    **_all("quant", "awq", "autoawq", "awq int4", "awq 4bit", "awq-int4"),
    **_all("quant", "gptq", "autogptq", "gptq int4", "gptq 4bit", "gptq-int4"),
    **_all("quant", "fp8-block", "fp8 block", "fp8 blockwise", "fp8 block-wise", "block fp8", "blockwise fp8",
           "fp8_block"),
    **_all("quant", "mxfp4", "mx fp4", "mxfp4 moe", "mxfp4_moe"),
    **_all("quant", "nvfp4", "nv fp4"),
    **GGUF_SHORT_PHRASES,
    **_all("dtype", D.NF4, "nf4", "load_in_4bit", "bnb 4bit", "bnb-4bit", "bnb nf4", "bitsandbytes 4bit",
           "bitsandbytes-nf4"),  # TGI --quantize bitsandbytes-nf4 (its launcher reference)
    # TGI --quantize eetq: EETQ's int8 per-channel weights (github.com/NetEase-FuXi/EETQ)
    **_all("dtype", D.INT8, "eetq"),
    **_all("mixed_precision", True, "mixed", "mixed precision", "mixed-precision"),
    **_all("mixed_precision", False, "pure", "pure precision"),
    **_all("precision_regime", Regime.AMP, "amp", "autocast", "torch amp"),
    # DeepSpeed's bf16 config keys (deepspeed/runtime/precision_config.py)
    # ("bf16 master" alone is not one: it reads as bf16 with the master regime, the fp32 copy)
    **_all("precision_regime", Regime.BF16_MASTER, "bf16_master", "bf16_master_weights_and_grads",
           "bf16 master weights and grads", "bf16_optimizer_states", "bf16 low-precision master",
           "low-precision master weights"),
    **_all("precision_regime", Regime.MASTER, "master", "master weights", "fp32 master",
           "fp32 master weights", "megatron mixed precision"),
    **_all("kv_dtype", D.FP8, "kv8"),
    **_all("optimizer_foreach", True, "foreach", "foreach optimizer", "foreach adamw"),
    **_all("optimizer_foreach", False, "fused", "fused optimizer", "fused adamw", "adamw_torch_fused"),
    **_all("torch_compile", True, "compile", "compiled", "torch.compile", "torch compile", "with compile"),
    **_all("torch_compile", False, "no compile", "without compile", "not compiled"),
    **_all("offload_activations", True, "offload activations", "activation offloading", "activation offload",
           "offload activations to cpu", "enable_activation_offloading", "offload_activations"),
    **_all("offload_activations", False, "no activation offloading", "without activation offloading"),
    # torchtune's optimizer_in_bwd (README "Fuse optimizer step into backward"; training/memory.py
    # register_optim_in_bwd_hooks)
    **_all("optimizer_in_backward", True, "optimizer in backward", "optimizer_in_bwd", "optimizer in bwd",
           "optimizer step in backward", "fuse optimizer step into backward", "fused optimizer step in backward",
           "optimizer-in-backward", "opt-in-bwd"),
    **_all("optimizer_in_backward", False, "no optimizer in backward", "optimizer after backward"),
    # the loss (issue 17): the whole fp32 logits (transformers' ForCausalLMLoss, torch.nn.CrossEntropyLoss
    # on torchtune's .float() output), chunked (torchtune's CEWithChunkedOutputLoss and
    # LinearCrossEntropyLoss, torchtitan's ChunkedLossWrapper) or fused with the head (Unsloth)
    **_all("loss", Loss.FP32_LOGITS, "fp32 loss", "fp32 logits", "unchunked loss", "full logits",
           "plain cross entropy", "plain cross-entropy", "crossentropyloss", "torch.nn.crossentropyloss",
           "no chunked loss", "without chunked loss", "fp32_logits"),
    **_all("loss", Loss.CHUNKED_LINEAR, "chunked loss", "chunked ce", "chunked cross entropy",
           "chunked cross-entropy", "cewithchunkedoutputloss", "torchtune.modules.loss.cewithchunkedoutputloss",
           "linearcrossentropyloss", "torchtune.modules.loss.linearcrossentropyloss", "chunked_linear",
           "chunked_loss"),
    **_all("loss", Loss.FUSED_LINEAR, "fused loss", "fused ce", "fused cross entropy", "fused cross-entropy",
           "fused_linear"),
    # Liger-Kernel's fused linear cross-entropy (src/liger_kernel/transformers/fused_linear_cross_entropy.py
    # LigerFusedLinearCrossEntropyLoss), as HF Trainer, TRL, Axolotl and LLaMA-Factory switch it on
    **_all("loss", Loss.LIGER, "liger", "liger kernel", "liger kernels", "liger-kernel", "liger_kernel",
           "with liger", "liger loss", "liger ce", "liger fused linear cross entropy",
           "liger fused linear cross-entropy", "ligerfusedlinearcrossentropyloss",
           "liger_kernel.transformers.ligerfusedlinearcrossentropyloss"),
    # Megatron's vocab-parallel cross-entropy (megatron/core/tensor_parallel/cross_entropy.py)
    **_all("loss", Loss.VOCAB_PARALLEL, "vocab-parallel loss", "vocab parallel loss", "vocab-parallel cross entropy",
           "vocab-parallel cross-entropy", "vocab_parallel_cross_entropy", "vocab_parallel"),
    **_all("dropout", True, "dropout", "with dropout", "dropout on"),
    **_all("dropout", False, "no dropout", "without dropout", "dropout off"),
    **_all("enforce_eager", True, "enforce eager", "enforce-eager", "enforce_eager", "no cuda graphs",
           "without cuda graphs", "disable cuda graph", "disable-cuda-graph", "disable_cuda_graph"),
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
    # torchtitan calls recompute "activation checkpointing (AC)": [activation_checkpoint] mode = "selective" |
    # "full" | "none" (torchtitan/config/job_config.py ActivationCheckpoint; docs/debugging.md "selective AC");
    # PyTorch's own name for the per-op policy is "Selective Activation Checkpoint (SAC)" (torch.utils.checkpoint
    # create_selective_checkpoint_contexts)
    **_all("recompute", R.SELECTIVE, "selective ac", "selective_ac", "sac", "per-op sac", "op sac",
           "selective activation checkpointing", "selective activation checkpoint"),
    **_all("recompute", R.FULL, "full ac", "full activation checkpointing"),
    **_all("recompute", R.NONE, "no ac"),
    **_all("sp", True, "sp", "sequence parallel", "sequence parallelism", "sequence-parallel"),
    **_all("flash_attention", True, "flash", "flash attention", "flash-attention", "flashattention",
           "flash attn", "flash-attn", "flash_attention", "fa2", "fa3", "flash attention 2",
           "flash attention 3", "flash_attention_2", "flashattention2", "flash-attn 2", "sdpa",
           "memory efficient attention", "xformers"),
    **_all("flash_attention", False, "eager", "eager attention", "no flash", "no flash attention",
           "without flash attention"),
    # FSDP2 (torch.distributed.fsdp.fully_shard) and FSDP1 both shard parameters, gradients and
    # optimizer states over the data-parallel group, as ZeRO-3 does (pytorch.org/docs/stable/distributed.fsdp.fully_shard.html)
    **_all("zero", 3, "fsdp", "full shard", "zero-3", "zero-infinity", "fsdp2", "fsdp1", "fully_shard"),
    **_all("zero", 2, "zero-2"),
    # Megatron-LM's distributed optimizer shards the optimizer states (and fp32 master weights) over
    # the data-parallel ranks, as ZeRO-1 does (docs/source/api-guide/dist_optimizer.md;
    # --use-distributed-optimizer in megatron/training/arguments.py)
    **_all("zero", 1, "zero-1", "distributed optimizer", "distributed optim", "use distributed optimizer",
           "use_distributed_optimizer"),
    **_all("zero", 0, "ddp", "no zero"),
    **_all("solve", Solve.MAX_BATCH_SIZE, "max batch", "max batch size", "maximum batch", "largest batch",
           "biggest batch", "max bs", "max micro batch", "max concurrency", "maximum concurrency",
           "what batch size", "what batch", "how many concurrent", "how many concurrent sequences",
           "how many users", "how many concurrent users", "how many requests", "how many concurrent requests",
           "how big a batch", "how large a batch", "how big of a batch", "how big a batch size",
           "largest batch size", "biggest batch size"),
    **_all("solve", Solve.MAX_SEQ_LEN, "max context", "max seq", "max seq len", "max sequence",
           "max sequence length", "max context length", "longest context", "max tokens", "max ctx",
           "longest sequence", "longest seq", "longest context length", "max context window",
           "largest context", "biggest context", "what context", "what context length", "what seq len",
           "what sequence length"),
    **_all("solve", Solve.MIN_GPU_COUNT, "min gpus", "min gpu", "min gpu count", "minimum gpus",
           "fewest gpus", "how many gpus", "how many", "smallest number of", "minimum number of",
           "min number of", "fewest number of", "least number of", "fewest"),
    **_all("solve", Solve.GPUS, "which gpus", "which gpu", "what gpus", "what gpu", "which cards",
           "which card"),
    **_all("solve", Solve.GPU_LAYERS, "max layers", "max gpu layers", "max ngl", "max n_gpu_layers",
           "how many layers", "how many gpu layers", "how many layers fit", "layers that fit",
           # llama.cpp "offloads" layers to the GPU (its README: -ngl "number of layers to offload to
           # VRAM"): not the training job's optimizer offload that 'offload' alone reads as
           "how many layers can i offload", "how many layers to offload", "how many layers can be offloaded",
           "how many layers can i put on the gpu", "how many layers can i fit", "layers to offload"),
    **_all("suggest", True, "suggest", "suggestions", "advice", "what would make it fit"),
    # torchtune's recipes say one GPU so (lora_finetune_single_device, full_finetune_single_device)
    **_all("gpu_count", 1, "single device", "single_device", "one device"),
    **_all("offload", Offload.OPTIMIZER, "offload", "cpu offload", "offload optimizer", "optimizer offload",
           "offload_optimizer", "zero offload", "zero-offload", "offload optimizer to cpu", "offload to cpu",
           "optimizer offload to cpu", "offload the optimizer to cpu", "cpu optimizer offload",
           "optimizer cpu offload", "offload optimizer states to cpu", "offload optimizer state to cpu"),
    **_all("offload", Offload.PARAMS, "offload params", "offload parameters", "param offload", "params offload",
           "parameter offload", "offload_param", "offload everything",
           "offload params to cpu", "offload parameters to cpu", "offload param to cpu", "param offload to cpu",
           "cpu offload params", "cpu offload parameters", "cpu offload param", "cpu param offload",
           # ZeRO-Infinity moves parameters and optimizer states to NVMe (DeepSpeed config
           # offload_param/offload_optimizer "device": "nvme"): off the GPU, as with the CPU
           "nvme", "nvme offload", "offload to nvme", "offload params to nvme", "offload parameters to nvme",
           "param offload to nvme"),
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
    # torchtune's recipes as "tune run RECIPE" names them (torchtune/_recipe_registry.py)
    **_all("task", T.LORA, "lora_finetune_single_device", "lora_finetune_distributed", "lora_dpo_single_device",
           "lora_dpo_distributed"),
    **_all("task", T.TRAINING, "full_finetune_single_device", "full_finetune_distributed", "full_dpo_distributed"),
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
    # the policy trained against a reward model held beside it is PPO's setup (TRL PPOTrainer takes
    # reward_model); a reward model trained on its own is "reward model" (RM) below
    **_all("objective", Objective.PPO, "ppo", "ppotrainer", "rlhf", "rlhf ppo", "with reward model",
           "with a reward model", "and reward model", "and a reward model"),
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
                              "max model len", "max model length", "model len",
                              "上下文")},
    **{k: "batch_size" for k in ("batch", "bs", "batch size", "batch_size", "batchsize", "micro batch",
                                 "micro-batch", "micro batch size", "mbs", "micro_batch_size",
                                 "per_device_train_batch_size", "concurrency", "concurrent requests",
                                 "concurrent users", "users", "requests", "parallel requests", "批大小")},
    # vLLM's --kv-cache-memory-bytes (its own log suggests it as --kv-cache-memory=N)
    **{k: "kv_cache_memory_bytes" for k in ("kv cache memory bytes", "kv_cache_memory_bytes", "kv-cache-memory-bytes",
                                            "kv_cache_memory", "kv-cache-memory")},
    # vLLM's --cpu-offload-gb: GiB of each GPU's weights in host memory
    **{k: "cpu_offload_gib" for k in ("cpu offload gb", "cpu_offload_gb", "cpu-offload-gb", "cpu offload gib")},
    # an engine's cap on the sequences it runs at once, in each engine's spelling: a setting of the
    # launch, not a demand ("batch 64", "64 users" are demands). vLLM's scheduler runs at most
    # max_num_seqs (vllm/v1/core/sched/scheduler.py: max_num_running_reqs), SGLang at most
    # max_running_requests (python/sglang/srt/server_args.py), TGI's router at most
    # max_concurrent_requests (text-generation-launcher --help)
    **{k: "max_num_seqs" for k in ("max num seqs", "max_num_seqs", "max-num-seqs", "max running requests",
                                   "max_running_requests", "max-running-requests", "max concurrent requests",
                                   "max_concurrent_requests", "max-concurrent-requests")},
    # the prompt is the context a sequence starts with; the tokens generated after it are new_tokens
    # (transformers' GenerationConfig.max_new_tokens; "output" as serving benchmarks say it)
    **{k: "seq_len" for k in ("prompt", "prompt tokens", "prompt length", "input", "input tokens",
                              "input length")},
    **{k: "new_tokens" for k in ("max new tokens", "max_new_tokens", "new tokens", "output", "out",
                                 "output tokens", "generated tokens", "output length", "max output tokens",
                                 "max_output_tokens", "completion tokens", "generation length")},
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
    # a colocated rollout vLLM's share (TRL's vllm_gpu_memory_utilization); a plain
    # "gpu_memory_utilization" is the serving engine's share, or in a training job the rollout's (grammar)
    **{k: "rollout_fraction" for k in ("rollout fraction", "rollout_fraction", "rollout-fraction",
                                       "vllm_gpu_memory_utilization", "vllm gpu memory utilization")},
    **{k: "params" for k in ("params", "parameters", "param", "parameter")},
    # a serving engine's share of the GPU, in each engine's spelling (vLLM, SGLang, TGI) and ours
    **{k: "memory_fraction" for k in ("memory fraction", "memory_fraction", "memory-fraction",
                                      "gpu memory utilization", "gpu_memory_utilization",
                                      "gpu-memory-utilization", "gpu util", "mem fraction static", "mem fraction",
                                      "mem_fraction", "mem-fraction",
                                      "mem_fraction_static", "mem-fraction-static", "cuda memory fraction",
                                      "cuda_memory_fraction", "cuda-memory-fraction")},
    **{k: "max_num_batched_tokens" for k in ("max num batched tokens", "max_num_batched_tokens",
                                             "max-num-batched-tokens", "chunked prefill size",
                                             "chunked_prefill_size", "chunked-prefill-size", "chunked prefill",
                                             "max batch prefill tokens", "max_batch_prefill_tokens",
                                             "max-batch-prefill-tokens")},
    # TGI's launcher (launcher/src/main.rs Args): --max-input-tokens, and its deprecated spelling --max-input-length
    **{k: "max_input_tokens" for k in ("max input tokens", "max_input_tokens", "max-input-tokens",
                                       "max input length", "max_input_length", "max-input-length")},
    # SGLang's --max-total-tokens (its pool cap) or TGI's (the context): FIELD_BY_ENGINE places it
    **{k: "max_total_tokens" for k in ("max total tokens", "max_total_tokens", "max-total-tokens")},
    **{k: "hidden_size" for k in ("hidden", "hidden size", "hidden_size", "d_model", "d model")},
    **{k: "num_layers" for k in ("layers", "num layers", "num_layers", "n_layers", "n layers")},
    **{k: "num_heads" for k in ("heads", "num heads", "num_heads", "n_heads", "n heads",
                                "attention heads")},
    # llama.cpp's own names (tools/server/README.md: -ngl, -np, -ub) and Ollama's (docs/faq.md: num_ctx,
    # OLLAMA_NUM_PARALLEL, OLLAMA_CONTEXT_LENGTH; docs/modelfile.md: num_gpu)
    **{k: "gpu_layers" for k in ("ngl", "n_gpu_layers", "gpu layers", "gpu_layers", "num_gpu", "layers on gpu",
                                 "offloaded layers", "n gpu layers")},
    **{k: "cpu_moe_layers" for k in ("ncmoe", "n_cpu_moe", "n cpu moe", "cpu moe layers")},
    **{k: "parallel" for k in ("parallel", "n_parallel", "num_parallel", "ollama_num_parallel", "slots",
                               "parallel slots", "parallel sequences")},
    **{k: "ubatch" for k in ("ubatch", "n_ubatch", "ubatch_size", "ubatch size")},
    **{k: "seq_len" for k in ("num_ctx", "n_ctx", "ctx_size", "ctx size", "ollama_context_length")},
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
BIND_SOURCES: dict[str, tuple[str, ...]] = {"kv_dtype": ("dtype", "quant"), "recompute": ("recompute",)}

#: Settings that do not change memory: accepted with their number, and the answer says so.
IGNORED_KEYS: frozenset[str] = frozenset({
    "lr", "learning rate", "learning_rate", "epochs", "epoch", "num_train_epochs", "warmup", "warmup steps",
    "weight decay", "weight_decay", "wd", "alpha", "lora alpha", "lora_alpha", "steps", "max steps", "max_steps", "seed", "temperature", "top p", "top_p", "top k",
    "top_k", "lora dropout", "lora_dropout",
    "logging_steps", "save_steps", "eval_steps", "port", "save_total_limit",
})

#: Settings written as launch flags in the spelling of the engines and trainers people paste them
#: from (vLLM's ``vllm serve --help``, Megatron-LM's arguments.py, Hugging Face TrainingArguments,
#: accelerate launch): the flag without its dashes, '-' as '_', to the field it sets. Only the flags
#: KEYS does not spell: a flag is also read as any KEYS spelling ('--max-model-len', '--seq-len';
#: grammar/words.py read_flag, flag_spellings).
FLAG_KEYS: dict[str, str] = {
    "tensor_parallel_size": "tp", "tensor_model_parallel_size": "tp", "tp_size": "tp",
    "pipeline_parallel_size": "pp", "pipeline_model_parallel_size": "pp", "pp_size": "pp",
    "expert_model_parallel_size": "ep", "expert_parallel_size": "ep",
    "data_parallel_size": "dp", "context_parallel_size": "cp", "context_parallel_degree": "cp",
    "data_parallel_shard_degree": "dp",
    "seq_length": "seq_len", "max_seq_len": "seq_len", "model_max_length": "seq_len",
    # TGI's --num-shard: the GPUs one model is sharded over, tensor-parallel
    # (huggingface.co/docs/text-generation-inference/reference/launcher, NUM_SHARD)
    "num_shard": "tp",
    "train_micro_batch_size_per_gpu": "batch_size", "lora_r": "lora_rank",
    "num_gpus": "gpu_count", "nproc_per_node": "gpu_count", "num_processes": "gpu_count",
    "num_attention_heads": "num_heads",
    # llama.cpp's short flags (common/arg.cpp): -c/--ctx-size, -np/--parallel, -ub/--ubatch-size
    "c": "seq_len", "np": "parallel", "ub": "ubatch",
}

#: The verbs that say a serving engine runs the job; with none named, vLLM is taken (and said).
SERVE_WORDS: frozenset[str] = frozenset({"serve", "serving"})
#: Engine settings in one engine's own spelling: a query with one and no engine named is that
#: engine's (SGLang's server_args.py, TGI's launcher); any other engine setting is vLLM's.
ENGINE_SPELLINGS: dict[str, Engine] = {
    "mem_fraction_static": Engine.SGLANG, "chunked_prefill_size": Engine.SGLANG,
    "cuda_memory_fraction": Engine.TGI, "max_batch_prefill_tokens": Engine.TGI,
    "max_input_tokens": Engine.TGI, "max_input_length": Engine.TGI,
    "max_running_requests": Engine.SGLANG, "max_concurrent_requests": Engine.TGI, "disable_cuda_graph": Engine.SGLANG,
}
#: llama.cpp's and Ollama's settings in their own spelling: a query with one and no engine named is
#: that engine's (common/arg.cpp for llama.cpp's flags; Ollama's docs/faq.md and docs/modelfile.md).
GGML_SPELLINGS: dict[str, Engine] = {
    **{k: Engine.LLAMA_CPP for k in ("ngl", "n_gpu_layers", "gpu_layers", "ncmoe", "n_cpu_moe", "cpu_moe", "cmoe",
                                     "ot", "override_tensor", "np", "ub", "ubatch_size", "n_ubatch",
                                     "ubatch", "ctx_size", "ctk", "ctv", "cache_type_k", "cache_type_v")},
    **{k: Engine.OLLAMA for k in ("num_gpu", "num_ctx", "ollama_num_parallel", "ollama_context_length")},
}
#: Flags whose value is a word, to the field the word sets (``--dtype bfloat16``, ``--optim adamw``).
FLAG_WORD_KEYS: dict[str, str] = {
    "model": "model", "model_name_or_path": "model", "model_path": "model", "model_id": "model", "dtype": "dtype",
    "torch_dtype": "dtype", "quantization": "dtype", "quantize": "dtype", "kv_cache_dtype": "kv_dtype", "optim": "optimizer",
    "optimizer": "optimizer",
    "recompute_granularity": "recompute", "attn_implementation": "flash_attention",
    # llama.cpp -m/--model, -ctk/--cache-type-k, -ctv/--cache-type-v (common/arg.cpp); Ollama's
    # OLLAMA_KV_CACHE_TYPE (docs/faq.md)
    # -hf/--hf-repo <user>/<model>[:quant]: a GGUF repo on the Hub and the file type to take
    "m": "model", "hf": "model", "hf_repo": "model", "ctk": "cache_type_k", "ctv": "cache_type_v", "cache_type_k": "cache_type_k",
    "cache_type_v": "cache_type_v",
    "ollama_kv_cache_type": "kv_dtype",
}
#: torchtune's built-in configs, "--config llama3_1/8B_lora_single_device" (recipes/configs/ and
#: torchtune/_recipe_registry.py): the folder names the model family and version ("llama3_1" is
#: Llama 3.1), the name starts with the size and says the kind of fine-tune; a longest match of
#: these words, first, gives the task. A config that is a file (.yaml) is read as a framework config.
TORCHTUNE_CONFIG_TASKS: tuple[tuple[str, Task], ...] = (
    ("qlora", T.QLORA), ("dora", T.LORA), ("lora", T.LORA), ("full", T.TRAINING),
)

#: Flags that switch a setting on, with an optional on/off value after them (llama.cpp's -fa,
#: --flash-attn [on|off|auto]; Ollama's OLLAMA_FLASH_ATTENTION=1).
FLAG_SWITCHES: dict[str, tuple[str, Any]] = {
    "fa": ("flash_attention", True), "flash_attn": ("flash_attention", True),
    "ollama_flash_attention": ("flash_attention", True),
    # llama.cpp --cpu-moe / -cmoe (common/arg.cpp): every block's experts in host memory, as -ncmoe
    # of the largest count a request takes (the estimate stops at the model's blocks)
    "cpu_moe": ("cpu_moe_layers", 2**16), "cmoe": ("cpu_moe_layers", 2**16),
    # torchtune's recipe keys, as `tune run ... optimizer_in_bwd=True compile=True` overrides them
    "optimizer_in_bwd": ("optimizer_in_backward", True), "enable_activation_offloading": ("offload_activations", True),
    # vLLM --enforce-eager sets cudagraph_mode NONE (vllm/config/vllm.py), and the worker then takes no
    # CUDA-graph estimate from the pool (vllm/v1/worker/gpu_worker.py determine_available_memory:
    # profile_cudagraph_memory only when cudagraph_mode != NONE); SGLang --disable-cuda-graph likewise
    "enforce_eager": ("enforce_eager", True), "disable_cuda_graph": ("enforce_eager", True),
    # Liger's fused linear cross-entropy: transformers TrainingArguments.use_liger_kernel (TRL's configs
    # inherit it), LLaMA-Factory's enable_liger_kernel (hparams/model_args.py), Axolotl's liger plugin
    # key liger_fused_linear_cross_entropy (integrations/liger/args.py); off: the framework's own loss
    **{k: ("loss", Loss.LIGER) for k in ("use_liger_kernel", "enable_liger_kernel", "liger_fused_linear_cross_entropy")},
}
#: Engine launch flags that change memory in a way vram does not model yet: refused by name, never
#: dropped. Each says what the flag does to memory, from the engine's own code.
NOT_MODELLED_FLAGS: dict[str, str] = {
    # vllm/config/cache.py CacheConfig.swap_space: GiB of host memory a GPU for preempted sequences' blocks
    "swap_space": "vLLM reserves that many GiB of host memory a GPU for preempted sequences, outside GPU "
                  "memory, and vram counts no host memory for it",
    # python/sglang/srt/server_args.py: DP attention reserves more memory outside mem_fraction_static and
    # splits the KV pool over the data-parallel attention ranks
    "enable_dp_attention": "SGLang's DP attention reserves more memory and splits the KV pool over its ranks",
    # TGI's router (router/src/server.rs in 2.x, backends/v3/src/lib.rs in 3.x check_max_batch_total_tokens):
    # a Flash Attention model returns the pool its warm-up inferred, and the flag is then ignored ("is
    # deprecated for Flash Attention models"); only models without paged attention use it, which vram
    # does not model for TGI
    "max_batch_total_tokens": "TGI ignores it for Flash Attention models (it logs \"--max-batch-total-tokens is "
                              "deprecated for Flash Attention models\" and sizes the pool at warm-up, as vram "
                              "does) and reads it only for models without paged attention, which vram does not "
                              "model",
}

#: Fields whose flag means another thing to another engine: field to (the engines that read it as
#: that field, the field it is for every other engine); the grammar places them once the engine is known.
FIELD_BY_ENGINE: dict[str, tuple[frozenset[Engine], str]] = {
    # python/sglang/srt/model_executor/model_runner.py init_memory_pool: max_total_num_tokens =
    # min(profiled, max_total_tokens); TGI's launcher (text-generation-launcher --help): max-total-tokens
    # is a request's prompt and output together, the context each sequence may fill
    "max_total_tokens": (frozenset({Engine.SGLANG}), "seq_len"),
}

#: Flags that switch a setting off when their value is false (``--gradient_checkpointing False``).
FLAG_OFF: dict[str, tuple[str, Any]] = {
    "recompute": ("recompute", Recompute.NONE), "flash_attention": ("flash_attention", False),
    "dropout": ("dropout", False), "offload": ("offload", Offload.NONE),
    # use_liger_kernel=False: transformers' own loss, the whole fp32 logits (ForCausalLMLoss)
    "loss": ("loss", Loss.FP32_LOGITS),
}
#: Flags that take no value and do not change memory (``--trust-remote-code``).
IGNORED_SWITCHES: frozenset[str] = frozenset({
    "trust_remote_code", "disable_log_requests", "disable_log_stats", "do_train", "overwrite_output_dir",
    # vLLM's --enable-expert-parallel splits the experts whole over the tensor-parallel GPUs instead of
    # slicing each (EP size = TP x DP, docs.vllm.ai/en/latest/serving/expert_parallel_deployment.html):
    # each GPU holds the same share of expert bytes either way, and attention stays tensor-parallel
    "enable_expert_parallel",
})

#: Words of questions and politeness people wrap a query in ("whats the vram for ..., please?"):
#: they cannot change the answer, so they are let go, and the answer lists each one it let go.
QUESTION_WORDS: frozenset[str] = frozenset({
    "whats", "wat", "hows", "hi", "hello", "hey", "pls", "plz", "thanks", "thank you",
    "thx", "w/", "vs", "versus", "roughly", "approximately", "approx", "about", "around", "ballpark",
    "total", "rough", "exactly", "possible", "possibly", "able", "am i able", "is it possible", "budget",
    "some", "help me", "could you", "can you", "would you", "i want to", "i need to", "let me know",
    "locally", "local", "at home", "home", "my own", "own", "setup", "box", "rig", "workstation", "server",
    # conversation around the question ("quick q: i have a 4070, can it handle ...")
    "quick", "q", "quick q", "quick question", "question", "have", "i have", "i've", "ive", "i've got", "got",
    "there", "anyone", "anybody", "does anyone know", "know", "wondering", "curious", "just wondering", "really",
    "actually", "basically", "currently", "planning", "trying", "going", "gonna", "wanna", "handle", "manage",
    "support", "work", "works", "hold", "okay", "ok", "btw", "guys", "folks", "you", "your", "i'm", "im", "it's", "its",
    "are", "am", "was", "were", "give me", "show me", "breakdown", "memory breakdown", "estimation",
    "calculator", "check", "desktop", "pc", "macbook", "macbook pro", "macbook air", "mac",
    "mac studio", "mac mini", "imac",
    # a part of the answer asked by name: the answer shows every part, that one among them
    "activation memory", "activations memory", "weight memory", "weights memory", "optimizer memory",
    "gradient memory",
    "kv cache memory", "kv cache size", "how much kv cache", "free", "lots", "lots of", "a lot of",
})

#: Words that are not questions but cannot change the answer either: let go, and listed as the
#: question words are. Kept apart from QUESTION_WORDS because some are also part of longer names
#: ("m2 max 96gb", "activation checkpointing"), where the longer reading wins.
LET_GO_WORDS: frozenset[str] = frozenset({
    "activations", "activation",  # a part of the answer asked by name: every part is shown
    # a limit said before its value ("max 32k ctx", "up to 8k tokens"): the value is the setting
    "max", "maximum", "up to",
    # sequence packing fills each sequence to seq_len; the estimate already takes every sequence at
    # seq_len, so packing cannot change it
    "packing", "with packing", "sample packing", "sequence packing",
    "nvlink", "with nvlink",  # the link between cards, not their memory
    # "8k context each", "2k per request": a context is each sequence's already (seq_len is per sequence)
    "each", "per request", "per sequence", "per user", "per slot", "a request", "per prompt",
})

#: The launcher of a pasted command ("python -m sglang.launch_server ...", "torchrun ... train.py"):
#: it starts the job and cannot change its memory, so it is let go and listed as a question word is.
LAUNCH_WORDS: frozenset[str] = frozenset({
    "python", "python3", "torchrun", "torch.distributed.run", "torch.distributed.launch", "srun", "mpirun",
    "uv run", "bash", "sudo", "docker run", "nohup", "cuda_visible_devices", "launch",
})
#: Files a pasted command runs ("train.py", "run.sh"): vram does not read them, and says it let them go.
SCRIPT_SUFFIXES: tuple[str, ...] = (".py", ".sh")
#: Words of a script's name that say its task ("pretrain_gpt.py", "run_sft.sh", "serve.py"); not
#: "run", which names scripts of every kind.
SCRIPT_TASK_WORDS: frozenset[str] = frozenset({
    "train", "training", "pretrain", "pretraining", "finetune", "sft", "lora", "qlora", "serve", "inference", "infer",
})
#: Words before the teacher model of a distillation ("distill qwen2.5-7b from qwen2.5-72b"): read so
#: only beside a distillation word; the model after them is the teacher, not a second student.
TEACHER_WORDS: frozenset[str] = frozenset({"from", "with teacher", "teacher model", "teacher", "教师模型", "教师",
                                           "老师模型"})
#: Words after the teacher and before the student ("distill qwen2.5-72b into qwen2.5-7b"): the model
#: before them is the teacher; read so only beside a distillation word, as TEACHER_WORDS are.
STUDENT_WORDS: frozenset[str] = frozenset({"into", "onto", "到"})

#: Setting words that take a number right after them for another field ("fsdp 8": FSDP over 8
#: data-parallel GPUs, torchtitan's data_parallel_shard_degree; "colocate 0.5": the colocated
#: vLLM's share, TRL's vllm_gpu_memory_utilization): the word, to the field its number sets. A number
#: followed by a GPU stays that GPU's count ("fsdp 8 h100").
SETTING_NUMBERS: dict[str, str] = {
    "fsdp": "dp", "fsdp2": "dp", "full shard": "dp",
    "colocate": "rollout_fraction", "vllm colocate": "rollout_fraction", "colocated": "rollout_fraction",
    "colocate vllm": "rollout_fraction", "colocated vllm": "rollout_fraction", "共置": "rollout_fraction",
    "vllm 共置": "rollout_fraction", "共置 vllm": "rollout_fraction",
}

#: Settings that only an adapter has: a query naming one and no task is a LoRA job (DoRA is LoRA
#: with a trained magnitude, Liu et al. 2024; PEFT's LoraConfig(use_dora=True)).
ADAPTER_ONLY_FIELDS: tuple[str, ...] = ("dora", "lora_targets", "modules_to_save")

#: Serving engines vram does not model, as their users name them: refused plainly, with the ones
#: it models, rather than read as a word they resemble ("lmdeploy" is not "deploy").
UNMODELLED_ENGINES: tuple[str, ...] = (
    "lmdeploy", "tensorrt-llm", "tensorrt_llm", "trt-llm", "trtllm", "tensorrt", "exllama", "exllamav2",
    "exllamav3", "tabbyapi", "mlx", "mlx-lm", "mlx_lm", "mlc-llm", "mlc llm", "ctranslate2", "deepspeed-mii",
    "lightllm", "aphrodite", "aphrodite-engine", "koboldcpp", "lm studio", "lmstudio", "localai", "openvino",
)

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
    **{p: "cpu" for p in ("on cpu", "on the cpu", "cpu only", "cpu-only", "cpu inference", "on my cpu",
                          "without a gpu", "without gpu", "no gpu")},
    # asked in English by the four kinds of user (issue 15): answered plainly, not guessed at
    **{p: "which_model" for p in ("biggest model", "largest model", "best model", "what model", "which model",
                                  "what models", "which models", "biggest llm", "largest llm")},
    # PyTorch FSDP ShardingStrategy.HYBRID_SHARD: "FULL_SHARD within a node, and replicate parameters
    # across nodes" (torch/distributed/fsdp/api.py): per GPU, ZeRO-3 over one node's GPUs
    **{p: "hybrid_shard" for p in ("hybrid shard", "hybrid_shard", "hybrid sharding", "hsdp", "fsdp hybrid shard",
                                   "hybrid-shard")},
    **{p: "copies" for p in ("copies", "2 copies", "two copies", "copies of", "instances of", "replicas of")},
    **{p: "engine" for p in UNMODELLED_ENGINES},
    **{p: "cost" for p in ("cost", "costs", "price", "pricing", "how much money", "dollars", "usd", "$",
                           "budget in dollars", "cheapest", "cheaper", "per hour", "an hour")},
}

#: A query that asks how to ask: answered with the query language by example.
HELP_WORDS: frozenset[str] = frozenset({
    "help", "usage", "examples", "example", "how to use", "how do i use this", "what can i ask", "-h", "man",
})

#: Quantised checkpoints carry their format in their name ("Qwen2.5-32B-Instruct-AWQ",
#: "Qwen2.5-7B-Instruct-GPTQ-Int4", "Llama-3.1-8B-Instruct-FP8", "llama-3-8b-bnb-4bit", a GGUF file
#: "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", an Ollama tag "llama3.1:8b-instruct-q4_K_M"): the
#: name's suffix to the field it sets (a weight format, or the dtype where no format is named) and
#: its value, longest suffix first. Sources: the AutoAWQ and AutoGPTQ model cards (4-bit groups of
#: 128 unless -Int8 says otherwise), bitsandbytes' NF4 for -bnb-4bit, llama.cpp's file type names.
NAME_QUANT: tuple[tuple[str, str, Dtype | str], ...] = (
    *(((name, "quant", name) for name in sorted(QUANT_DTYPES, key=len, reverse=True) if name[0] in "qi")),
    ("gptq-int8", "dtype", Dtype.INT8), ("gptq-int4", "quant", "gptq"), ("awq-int4", "quant", "awq"),
    ("bnb-4bit", "dtype", Dtype.NF4), ("fp8-dynamic", "dtype", Dtype.FP8), ("w8a8-fp8", "dtype", Dtype.FP8),
    ("awq", "quant", "awq"), ("gptq", "quant", "gptq"), ("mxfp4", "quant", "mxfp4"), ("nvfp4", "quant", "nvfp4"),
    ("fp8", "dtype", Dtype.FP8), ("int4", "dtype", Dtype.INT4), ("w4a16", "dtype", Dtype.INT4),
    ("int8", "dtype", Dtype.INT8), ("w8a8", "dtype", Dtype.INT8), ("nf4", "dtype", Dtype.NF4),
    ("4bit", "dtype", Dtype.INT4), ("8bit", "dtype", Dtype.INT8),
)

#: Task words that say fine-tuning: beside them a bare "full" means a full fine-tune (every weight
#: trained, as against LoRA), not full recompute.
FINE_TUNE_WORDS: frozenset[str] = frozenset({
    "sft", "ft", "finetune", "fine-tune", "fine tune", "finetuning", "fine-tuning", "fine tuning", "微调",
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
    "ctk": "cache_type_k", "ctv": "cache_type_v",
    "runtime": "runtime", "objective": "objective", "teacher": "teacher", "teacher_model": "teacher",
    "reference": "reference", "dora": "dora", "loss": "loss",
    # the release an engine's answer follows: engine-version=0.10.1, as pip pins it (vllm==0.10.1 is
    # the same words' meaning) or as a launch log prints it ("vLLM API server version 0.10.1")
    "engine_version": "engine_version", "vllm_version": "engine_version", "sglang_version": "engine_version",
    "tgi_version": "engine_version",
    # the release a training framework's answer follows, likewise: framework-version=0.1.0,
    # torchtitan-version=0.1.0, unsloth-version=2024.12.1 (Unsloth numbers its releases by date)
    "framework_version": "framework_version", "torchtitan_version": "framework_version",
    "torchtune_version": "framework_version", "unsloth_version": "framework_version",
    "deepspeed_version": "framework_version", "megatron_version": "framework_version",
    "transformers_version": "framework_version", "axolotl_version": "framework_version",
}

#: Words that start a list of adapter targets: "targets q_proj v_proj", "target_modules=all-linear".
TARGET_KEYS: frozenset[str] = frozenset({"targets", "target", "target modules", "target_modules", "lora targets",
                                         "lora_targets"})

#: Adapter targets that name nothing else, read as targets with no key before them (PEFT's
#: target_modules="all-linear", peft/tuners/tuners_utils.py INCLUDE_LINEAR_LAYERS_SHORTHAND).
TARGETS_ALONE: frozenset[str] = frozenset({"all-linear", "all_linear"})

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
    "tesla", "nvidia", "geforce", "amd", "instinct", "google", "apple",
    "under", "within", "into", "inside", "all", "get", "i'd", "do i", "id", "hf", "huggingface",
    "pytorch", "torch", "with pytorch", "gpu?", "在", "上", "张", "块", "用", "显存", "多少",
    "需要", "的", "个", "卡", "吗", "?",
    "/",  # "4k in / 1k out": a slash standing alone separates the prompt from the output
})

#: Words each field is written with in canonical query text (Request.to_query()).
CANONICAL: dict[str, str] = {
    "task:training": "train", "task:inference": "infer", "task:lora": "lora", "task:qlora": "qlora",
    "mixed_precision:True": "mixed", "mixed_precision:False": "pure",
    "sp:True": "sp", "flash_attention:True": "flash", "flash_attention:False": "eager",
    "dropout:True": "dropout", "dropout:False": "no dropout",
    "optimizer_foreach:True": "foreach", "optimizer_foreach:False": "fused",
    "torch_compile:True": "compile", "torch_compile:False": "no compile",
    "offload_activations:True": "offload activations", "offload_activations:False": "no activation offloading",
    "optimizer_in_backward:True": "optimizer in backward", "optimizer_in_backward:False": "optimizer after backward",
    "loss:fp32_logits": "fp32 loss", "loss:chunked_linear": "chunked loss", "loss:fused_linear": "fused loss",
    "loss:vocab_parallel": "vocab-parallel loss", "loss:liger": "liger", "lora_targets": "targets",
    "offload:optimizer": "offload", "offload:params": "offload params", "offload:none": "no offload", "ep": "ep",
    "solve:max_batch_size": "max batch", "solve:max_seq_len": "max context",
    "solve:min_gpu_count": "min gpus", "solve:gpus": "which gpus", "solve:gpu_layers": "max layers",
    "suggest:True": "suggest",
    "seq_len": "seq", "new_tokens": "generate", "batch_size": "batch", "tp": "tp", "pp": "pp", "zero": "zero",
    "lora_rank": "rank", "hidden_size": "hidden", "num_layers": "layers", "num_heads": "heads",
    "gpu_count": "gpus", "method": "method", "memory_fraction": "memory-fraction",
    "max_num_batched_tokens": "max-num-batched-tokens", "max_num_seqs": "max-num-seqs",
    "max_input_tokens": "max-input-tokens",
    "kv_cache_memory_bytes": "kv-cache-memory-bytes", "cpu_offload_gib": "cpu-offload-gb",
    "max_total_tokens": "max-total-tokens",
    "enforce_eager:True": "enforce-eager", "enforce_eager:False": "enforce-eager=false", "gpu_layers": "ngl",
    "cpu_moe_layers": "ncmoe", "parallel": "parallel", "ubatch": "ubatch",
    "reference:True": "reference model",
    "reference:False": "no reference", "generations": "generations", "rollout_fraction": "rollout-fraction",
    "teacher": "teacher=", "engine_version": "engine-version=", "framework_version": "framework-version=",
    "dp": "dp", "cp": "cp", "vpp": "vpp", "global_batch": "global batch",
    "grad_accum": "grad accum", "dora:True": "dora", "dora:False": "dora=false", "modules_to_save": "modules_to_save",
}

#: Makers' series prefixes and variant suffixes of consumer GPU names ("gtx 1660", "rx 6700 xt",
#: "rtx 4070 super"): a card the catalog lacks is named whole in the refusal, not by its first word.
#: The prefix to its maker: "gtx 1660" is the catalog's 1660 when that is an NVIDIA card.
GPU_NAME_PREFIXES: dict[str, str] = {"gtx": "nvidia", "rtx": "nvidia", "quadro": "nvidia", "titan": "nvidia",
                                     "rx": "amd", "radeon": "amd", "arc": "intel"}
#: (A laptop's "mobile", "max-q" are LAPTOP_WORDS: let go, then the card refused by its memory.)
GPU_NAME_SUFFIXES: frozenset[str] = frozenset({"super", "ti", "xt", "xtx", "gre"})

#: Kinds of words a query is made of, for "expected ..." in error messages.
EXPECTED_WORDS = (
    "a task (train, infer, lora, qlora)",
    "a model (llama-3-8b, a Hub id such as Qwen/Qwen2.5-7B-Instruct, a config.json path) or size (7b)",
    "a dtype (bf16, int8)",
    "an optimizer (adamw)",
    "a setting (seq 4096, batch 8, tp 2, zero 3)",
    "GPUs (on 8x a100)",
)

# --- Chinese (issue 15): the words a Chinese-speaking engineer types, beside the English ones above.
# Glued text ("单卡4090D能跑qwen3-32b的awq量化版吗") is split against these tables by
# vram.grammar.segment before any of them is looked up, so every entry here is also a word the
# segmenter knows; entries with a space join words the segmenter splits ("卸载 到 cpu").
PHRASES |= {
    **_all("task", T.TRAINING, "全参", "全参微调", "全参数微调", "全参数", "全参训练", "全参数训练", "全量训练",
           "全量", "从头", "从零", "从头开始", "从零开始", "从头预训练", "从头训练", "从零训练", "从零预训练", "从零开始训练", "从头开始训练",
           "继续预训练", "增量预训练", "二次预训练", "指令微调", "监督微调", "有监督微调"),
    **_all("optimizer", O.ADAM8BIT, "8位 adam", "8位 adamw", "8比特 adam", "8比特 adamw", "8位优化器"),
    **_all("task", T.INFERENCE, "服务", "推理服务", "在线推理", "在线服务", "上线", "本地部署", "私有化部署",
           "部署推理", "生成", "对话", "运行"),
    # TRL's vllm_mode="colocate" (GRPO's rollout vLLM in the training process) as Chinese posts say it
    **_all("rollout_fraction", 0.3, "共置", "共置模式", "colocate 模式", "vllm 共置", "共置 vllm"),
    **_all("dtype", D.FP32, "单精度", "全精度", "32位", "32比特"),
    **_all("dtype", D.FP16, "半精度", "16位", "16比特"),
    **_all("dtype", D.INT8, "8位", "8比特"),
    **_all("dtype", D.INT4, "4位", "4比特"),
    **_all("mixed_precision", True, "混合精度"),
    **_all("recompute", R.FULL, "梯度检查点", "激活检查点", "全量重计算", "完全重计算", "全重计算", "完全"),
    **_all("recompute", R.SELECTIVE, "选择性重计算", "选择性检查点", "选择性"),
    **_all("sp", True, "序列并行"),
    **_all("offload", Offload.OPTIMIZER, "卸载", "优化器卸载", "卸载 到 cpu", "offload 到 cpu", "cpu 卸载",
           "优化器 卸载 到 cpu", "优化器 offload 到 cpu"),
    **_all("offload", Offload.PARAMS, "参数卸载", "参数 卸载 到 cpu", "参数 offload 到 cpu"),
    # a count said with a word, not a number: one card, two cards
    **_all("gpu_count", 1, "单卡", "单张", "单块"),
    **_all("gpu_count", 2, "双卡"),
    **_all("solve", Solve.MAX_BATCH_SIZE, "最大批大小", "最大 batch", "最大并发", "最大并发数", "最多并发",
           "最大并发量", "最多多少并发", "最多支持多少并发", "能支持多少并发", "支持多少并发", "多少并发",
           "最多几个并发", "最多多少用户", "多少用户", "最多多少路", "并发多少", "并发是多少", "能并发多少",
           "多少个并发", "并发能到多少", "撑多少并发", "能撑多少并发", "扛多少并发", "能扛多少并发", "撑多少",
           "能撑多少"),
    **_all("solve", Solve.MAX_SEQ_LEN, "最大上下文", "最长上下文", "最大序列长度", "最长序列", "多长上下文",
           "多长的上下文", "最长多少上下文", "上下文最长多少", "上下文最多多少"),
    # Megatron-LM's --use-distributed-optimizer shards the fp32 master weights and optimizer states over
    # the data-parallel ranks, ZeRO-1's split (docs/source/api-guide/dist_optimizer.md; megatron/core/
    # optimizer/distrib_optimizer.py DistributedOptimizer)
    **_all("zero", 1, "分布式优化器"),
    # the loss words of issue 17, as the English ones above (chunked, fused, vocab-parallel, fp32)
    **_all("loss", Loss.CHUNKED_LINEAR, "分块 loss", "分块loss", "分块损失", "分块交叉熵", "分块 交叉熵",
           "分块计算 loss", "分块计算损失", "chunked 交叉熵", "切块 loss"),
    **_all("loss", Loss.FUSED_LINEAR, "融合 loss", "融合loss", "融合损失", "融合交叉熵", "融合 交叉熵",
           "fused 交叉熵"),
    **_all("loss", Loss.VOCAB_PARALLEL, "词表并行 loss", "词表并行loss", "词表并行损失", "词表并行交叉熵",
           "词表并行 交叉熵"),
    **_all("loss", Loss.LIGER, "liger 内核", "liger内核", "liger 算子", "liger算子", "liger 损失", "liger损失",
           "用 liger", "开启 liger", "开 liger", "liger 加速"),
    **_all("loss", Loss.FP32_LOGITS, "fp32 损失", "fp32 交叉熵", "不分块 loss", "不分块loss", "不分块损失"),
    # torchtune's optimizer_in_bwd, as its README says it ("Fuse optimizer step into backward")
    **_all("optimizer_in_backward", True, "优化器融合进反向", "优化器融进反向", "优化器融合到反向",
           "优化器步骤融合进反向", "优化器更新融合进反向", "反向中更新参数", "反向时更新参数", "反向中做优化器更新",
           "优化器在反向中"),
    # the precision words (English "master weights", "pure", "bf16 low-precision master")
    **_all("precision_regime", Regime.MASTER, "主权重", "fp32 主权重", "fp32主权重", "主权重副本", "fp32 主副本"),
    **_all("precision_regime", Regime.BF16_MASTER, "低精度主权重", "bf16 主权重和梯度"),
    **_all("mixed_precision", False, "纯", "纯精度"),
    # TRL's reference model (DPO, PPO, GRPO) and precompute_ref_log_probs
    **_all("reference", True, "参考模型", "带参考模型", "有参考模型", "加参考模型"),
    **_all("reference", False, "不要参考模型", "不用参考模型", "无参考模型", "没有参考模型", "去掉参考模型",
           "不加载参考模型", "预计算参考", "预先算好参考", "预先计算参考", "预计算参考 logprobs",
           "预先算好参考 logprobs", "预先计算参考 logprobs"),
    # PPO's critic and the reward model beside the policy (TRL PPOTrainer's value_model, reward_model),
    # as "with reward model" reads in English; "奖励模型" alone trains a reward model (RM)
    **_all("objective", Objective.PPO, "价值模型", "有奖励模型", "带奖励模型", "加奖励模型", "和奖励模型"),
    # torchtune's enable_activation_offloading
    **_all("offload_activations", True, "激活卸载", "激活值卸载", "卸载激活", "卸载激活值", "激活 offload",
           "激活值 offload", "激活卸载到 cpu", "激活 卸载 到 cpu"),
    **_all("torch_compile", True, "编译", "torch 编译", "开编译", "开启编译"),
    **_all("torch_compile", False, "不编译", "关闭编译", "不开编译"),
    # the post-training objectives, as the English words above name them (TRL's trainers)
    **_all("objective", Objective.RM, "奖励模型", "奖励模型训练", "奖励建模"),
    **_all("objective", Objective.DPO, "直接偏好优化", "偏好优化"),
    **_all("objective", Objective.DISTILL, "知识蒸馏", "蒸馏", "模型蒸馏"),
    **_all("solve", Solve.MIN_GPU_COUNT, "几张", "几张卡", "几块", "几块卡", "多少张卡", "多少张", "多少卡",
           "最少几张卡", "至少几张卡", "最少需要几张卡", "几卡",
           "最少几张", "至少几张", "最少需要几张", "最少要几张", "至少需要几张", "最少几块", "最少几卡", "最少多少张"),
    # llama.cpp's -ngl, the layers put on the GPU ("能放多少层", "最多放几层")
    **_all("solve", Solve.GPU_LAYERS, "放多少层", "能放多少层", "最多放多少层", "放几层", "能放几层", "最多放几层",
           "卸载多少层", "能卸载多少层"),
    **_all("solve", Solve.GPUS, "哪些显卡", "什么显卡", "哪张卡", "哪种卡", "什么卡", "哪些卡", "哪款显卡"),
    **_all("suggest", True, "建议", "优化建议"),
}
KEYS |= {
    **{k: "seq_len" for k in ("序列长度", "序列长", "上下文长度", "上下文窗口", "最大长度", "长度", "文本长度",
                              "输入长度", "序列")},
    **{k: "batch_size" for k in ("batch 大小", "bs 大小", "批次大小", "批量大小", "批量", "批次", "微批", "微批大小", "并发", "并发数",
                                 "并发量", "并发请求", "用户数", "同时在线")},
    **{k: "tp" for k in ("张量并行",)},
    **{k: "pp" for k in ("流水线并行", "流水并行")},
    **{k: "ep" for k in ("专家并行",)},
    **{k: "dp" for k in ("数据并行",)},
    **{k: "cp" for k in ("上下文并行",)},
    **{k: "global_batch" for k in ("全局批大小", "全局 batch", "全局batch", "全局批次大小", "总批大小", "总 batch",
                                   "有效批大小")},
    **{k: "grad_accum" for k in ("梯度累积", "梯度累积步数", "梯度累加", "梯度累加步数", "累积步数")},
    **{k: "memory_fraction" for k in ("显存利用率", "显存占比", "显存比例", "gpu显存利用率")},
    # "vllm显存利用率": vLLM's share when serving; in a GRPO/PPO job the colocated rollout vLLM's (TRL's
    # vllm_gpu_memory_utilization), as the grammar reads a plain "gpu_memory_utilization" there
    **{k: "memory_fraction" for k in ("vllm 显存利用率", "vllm 显存占比", "vllm 占", "vllm 占用", "vllm 显存占",
                                      "vllm 占显存")},
    # GRPO's completions a prompt (TRL num_generations), counted after the number: "8 个生成", "16 个回答"
    **{k: "generations" for k in ("个生成", "个回答", "个采样", "条回答", "条生成", "个 completion",
                                  "个completion", "生成数", "采样数", "组大小")},
    # LLaMA-Factory's own name for the sequence length (src/llamafactory/hparams/data_args.py: cutoff_len,
    # "The cutoff length of the tokenized inputs in the dataset"), written as its users write it
    **{k: "seq_len" for k in ("cutoff_len", "cutoff len", "cutoff-len")},
    **{k: "lora_rank" for k in ("秩",)},
    **{k: "gpu_count" for k in ("卡数", "显卡数", "显卡数量", "卡的数量")},
    **{k: "params" for k in ("参数", "参数量")},
    **{k: "hidden_size" for k in ("隐藏层大小", "隐层维度", "隐藏维度")},
    **{k: "num_layers" for k in ("层数",)},
    **{k: "num_heads" for k in ("头数", "注意力头数")},
}
#: "awq量化版", "4bit 量化", "int8量化": the quantisation word names the dtype beside it; alone it
#: says no width, and the query is asked for one (a 4-bit and an 8-bit model differ by 2x).
BIND_KEYS |= {**{k: "dtype" for k in ("量化", "量化版", "量化版本", "量化后", "量化模型")},
              **{k: "kv_dtype" for k in ("kv 缓存", "kv缓存", "缓存")},
              **{k: "recompute" for k in ("重计算", "激活重计算")}}
#: "tgi mistral-7b quantize awq", "quantized to 4bit": the English words, read as the Chinese ones are
#: (TGI's launcher spells its flag --quantize)
BIND_KEYS |= {k: "dtype" for k in ("quantize", "quantized", "quantised", "quantization", "quantisation")}
BIND_SOURCES |= {"dtype": ("dtype", "quant")}
IGNORED_KEYS |= {"学习率", "轮数", "训练轮数", "epoch数", "步数", "训练步数", "温度", "随机种子", "warmup步数"}
KEYS |= {k: "new_tokens" for k in ("输出长度", "生成长度", "最大生成长度", "输出token数", "生成token数", "输出",
                                   "输出tokens", "最大输出")}
#: the prompt's tokens, as the English "input"/"prompt" words read them: "输入4k 输出1k"
KEYS |= {k: "seq_len" for k in ("输入", "输入tokens", "输入token数", "提示词长度", "prompt长度")}
FINE_TUNE_WORDS |= {"全参微调", "全参数微调", "指令微调", "监督微调", "有监督微调"}
#: "微调" alone names no method: Chinese users mean LoRA as often as a full fine-tune. It is read as
#: the full fine-tune (design.md section 4: full fine-tune is training), and the answer says so.
UNSAID_FINE_TUNE_WORDS: frozenset[str] = frozenset({"微调", "指令微调", "监督微调", "有监督微调"})
NUMBER_WORDS |= {"三": 3, "五": 5, "六": 6, "七": 7, "九": 9, "十": 10, "十二": 12, "十六": 16, "三十二": 32,
                 "六十四": 64}
#: Chinese counts large numbers in 10^4 and 10^8 ("70亿参数" is 7e9): the power of ten, as "e8".
MAGNITUDE_WORDS |= {"亿": "e8"}
#: Measure words after a count of GPUs ("8卡", "两张", "4张a100", "2 块 3090"): the number before one
#: is a count by its form, as "8x" is; "台" counts machines, so "2台8卡" is 2 x 8 GPUs.
MEASURE_WORDS: frozenset[str] = frozenset({"张", "块", "卡", "台"})
MACHINE_MEASURE_WORDS: frozenset[str] = frozenset({"台"})
FILLERS |= MEASURE_WORDS
NEGATION_BEFORE |= {"不使用", "禁用", "不加", "不做", "去掉", "没有", "不带"}
NEGATION_AFTER |= {"关掉", "禁用", "不开"}
OUTSIDE_MEMORY |= {
    **{p: "speed" for p in ("速度", "多快", "吞吐", "吞吐量", "延迟", "每秒", "每秒token数", "首字延迟", "推理速度",
                            "训练速度")},
    **{p: "time" for p in ("多久", "多长时间", "要多久", "训练时间", "耗时", "几天", "几个小时", "多少小时",
                           "多少天")},
    **{p: "cost" for p in ("成本", "多少钱", "价格", "费用", "花费", "租金")},
    # "which model can my card run": choosing a model is not a memory question of one job
    **{p: "model" for p in ("什么模型", "哪些模型", "哪个模型", "啥模型", "推荐模型", "推荐什么模型",
                            "能跑什么", "能跑啥", "跑什么", "跑啥", "多大的模型", "多大模型", "多少b的模型",
                            "多少b模型")},
    # two jobs in one question ("fp16 和 int8 分别要多少", "哪个能跑"): one answer is one job
    **{p: "compare" for p in ("分别", "分别是", "哪个", "哪一个", "哪个好", "对比", "比较", "相比")},
}
#: Chinese names of model families, glued to the version that follows ("千问2.5-7b" is qwen2.5-7b,
#: "百川2-13b" baichuan2-13b); the segmenter writes the family's catalog spelling in their place.
MODEL_FAMILY_WORDS: dict[str, str] = {"千问": "qwen", "通义千问": "qwen", "百川": "baichuan"}
HELP_WORDS |= {"帮助", "用法", "怎么用", "使用说明", "示例", "例子", "说明"}
#: Chinese questions and politeness: let go, and listed with the answer as the English ones are.
QUESTION_WORDS |= {
    "请问", "你好", "您好", "谢谢", "麻烦", "帮我", "帮忙", "帮我算一下", "算一下", "算算", "估算一下", "估计一下",
    "学生党", "新手", "大概", "大约", "左右", "约", "够不够", "够吗", "够用吗", "够用", "能不能", "能不能跑", "能跑", "能跑吗",
    "跑得动", "跑得动吗", "跑得起来", "跑得起来吗", "跑", "可不可以", "可以吗", "行不行", "行吗", "有没有可能",
    "是否可以", "本地", "家用", "自己的", "服务器", "装得下吗", "放得下吗", "能放下吗", "一下",
    # "满血" (full-blooded) is the full model as released, not a distill or a cut-down quant: the model
    # name says which, so the word is let go and listed; "魔改" (modded) a card whose memory was
    # enlarged: the size written beside it says the memory ("2080ti 22g魔改")
    "满血", "满血版", "魔改", "魔改版", "只有", "我只有", "学生", "免费", "免费的",
}
#: Words that say a GPU is a laptop's: its memory need not be the desktop card's (a laptop RTX 3060
#: has 6 GB where the desktop card has 12; NVIDIA's GeForce laptop specifications). Let go as question
#: words are; beside a desktop card's name without its memory the grammar refuses the query.
LAPTOP_WORDS: frozenset[str] = frozenset({"laptop", "notebook", "mobile", "max-q", "笔记本", "笔记本电脑"})
QUESTION_WORDS |= LAPTOP_WORDS
#: Chinese words with no meaning in a query, as the English fillers (particles, "GPU", "model", "use").
FILLERS |= {
    "显卡", "模型", "内存", "和", "跟", "与", "及", "以及", "并且", "进行", "做", "来", "要", "得", "了", "呢", "吧",
    "啊", "呀", "么", "一个", "我", "我的", "我们", "你", "用于", "使用", "采用", "开启", "打开", "启用", "开", "中",
    "时", "的话", "情况下", "够", "能", "可以", "能否", "是否", "大小", "并行", "优化器", "精度", "注意力", "权重",
    "机器", "节点", "集群", "单机", "多大", "占用", "占", "消耗", "放得下", "装得下", "放下", "每", "每张卡",
    "总共", "一共", "如果", "那么", "这个", "显存占用", "版", "版本", "下", "想",
    "我想", "打算", "准备", "需", "任务", "个", "每个", "数据类型", "型号", "是", "有", "我有", "手上有", "手里有", "需要多少显存", "显存需求", 
    # "每个 prompt 8 个生成", "每组 16 个回答": the group the count after them is of ("prompt" alone is
    # the prompt's length); "deepspeed 配置 zero3": the setting said after it
    "每个 prompt", "每个prompt", "每条 prompt", "每个提示", "每个提示词", "每个问题", "每组", "配置",
}

#: Longest phrase, in words, in any table above.
MAX_PHRASE_WORDS = max(len(p.split()) for p in (*PHRASES, *KEYS))
