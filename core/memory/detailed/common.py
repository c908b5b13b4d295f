"""What every task of the detailed method shares: the job with the model's exact architecture,
the block as it runs, the activations and backward items, the phases and the assembled Estimate.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from vram import catalog
from vram.catalog.index import ModelSpec
from vram.catalog.params import ParameterCount, count_parameters
from vram.catalog.resolve import Resolved
from vram.catalog.runtimes import Keeps, TrainingTerms, release_said
from vram.errors import UnsupportedError
from vram.formula import Formula, formula
from vram.memory.detailed.activations import (
    FAMILY_ACTIVATIONS, FUSED_GATE_UP, FUSED_QKV, KORTHIKANTI, LAYER_INPUT, MEASURED, NORMED_INPUT,
    QK_NORM_FAMILIES, BlockOptions, backward_formula, joined, layer_terms, outside_terms, per_op_terms
)
from vram.memory.job import Job, Said, beyond as _beyond, job_fields, runtime_said
from vram.memory.result import Comparison, Estimate, LineItem, Phase, formula_item
from vram.memory.rules import WEIGHT_FORMATS, compute_bytes, dtype_bytes
from vram.memory.runtime import CUDA_CONTEXT_HIGH, CUDA_CONTEXT_LOW, without_context
from vram.messages import Note
from vram.request.enums import Dtype, Item, Loss, Method, PhaseName, Recompute, Task
from vram.request.request import Request
from vram.units import format_bytes, format_count

if TYPE_CHECKING:
    from vram.catalog.files import Checkpoint

#: Source: transformers PreTrainedModel._autoset_attn_implementation (huggingface/transformers#27940):
#: sdpa is the default attention when torch >= 2.1.1.
HF_SDPA = "transformers uses sdpa attention with PyTorch >= 2.1.1"


HF_LOSS = ("transformers ForCausalLMLoss: logits upcast to fp32 before cross_entropy (log_softmax output saved); "
           "at the start of backward nll_loss's gradient and the logits' gradient beside it (measured)")


#: Logits and loss of training, at their largest: the start of backward. In the forward pass the
#: head's 16-bit logits, their fp32 upcast and log_softmax's fp32 output are live together
#: ((c + 4 + 4)bsv, or (4 + 4)bsv in fp32); the 16-bit logits go with the model's output, and the
#: loss's backward then holds log_softmax's saved output, nll_loss's gradient of it and
#: _log_softmax_backward_data's gradient of the logits, each fp32: 12bsv, the larger (measured).
TRAINING_LOGITS = Formula("(4 + 4 + 4)*b*s*v")


#: Why flash attention is on by default, by runtime where it is not transformers' sdpa.
FLASH_DEFAULTS: dict[str, str] = {
    **dict.fromkeys(("llama.cpp", "ollama"), "llama.cpp's -fa auto (common/common.h LLAMA_FLASH_ATTN_TYPE_AUTO) turns "
                    "it on where the backend has it"),
}


@dataclass(frozen=True)
class DetailedJob(Job):
    """The request with the detailed method's defaults, and the model's exact architecture."""

    checkpoint: Checkpoint | None  #: a local checkpoint's header, when one was named
    spec: ModelSpec  #: the exact architecture (a bare size: the reference model's, shaped as given)
    counts: ParameterCount
    params: float  #: counted from the architecture (a bare size: the size given)
    fused_attention: bool  #: flash/sdpa: no s x s scores kept
    compute_bytes: int

    def values(self) -> dict[str, float]:
        """The symbols of the formulas, for this job."""
        spec, moe = self.spec, self.spec.num_experts is not None
        inner = spec.moe_intermediate_size or spec.intermediate_size
        if moe:  # each token runs its experts (and the shared ones): their inner size adds up
            inner *= spec.experts_per_token + (spec.num_shared_experts or 0)
        return {"b": self.batch_size, "s": self.seq_len, "h": spec.hidden_size, "a": spec.num_heads,
                "k": spec.num_kv_heads, "d": spec.head_dim, "f": inner, "v": spec.vocab_size,
                "L": spec.num_layers, "c": self.compute_bytes, "n": self.compute_bytes, "u": self.compute_bytes,
                "x": spec.experts_per_token or 0}


def detailed_job(resolved: Resolved, said: Said) -> DetailedJob:
    """The detailed method's job for ``resolved``; each default it fills is said in ``said``."""
    request = resolved.request
    dtype_default = ((Dtype.FP16, "compute; the weights are sized as the checkpoint stores them")
                     if resolved.checkpoint is not None and request.task is Task.INFERENCE else None)
    # the context beyond the trained one is said last, by assembled(): it alone depends on the context
    fields = job_fields(resolved, said, dtype_default, say_beyond=False)
    said.say(runtime_said(resolved.runtime, request.engine or request.framework))
    if (release := release_said(resolved.runtime)) is not None:
        said.say(release)
    spec = _model_spec(resolved, said)
    counts = count_parameters(spec)
    named = resolved.arch.spec is not None
    params = counts.total if named else resolved.arch.params
    if named:
        said.say(Note("note.counted_params", model=spec.id, params=f"{params:,}",
                      nominal=format_count(spec.nominal_params)))
    else:  # a bare size: the reference's shares, at the size given
        counts = counts.scaled_to(params)
    fused = said.default("flash_attention", request.flash_attention, True,
                         FLASH_DEFAULTS.get(resolved.runtime.id, Note("why.hf_sdpa", sdpa=HF_SDPA)))
    return DetailedJob(**fields, checkpoint=resolved.checkpoint, spec=spec, counts=counts, params=params,
                       fused_attention=fused, compute_bytes=compute_bytes(fields["dtype"]))


def _model_spec(resolved: Resolved, said: Said) -> ModelSpec:
    """The catalog's model, or for a bare size the reference architecture (with any h, L, a given)."""
    arch, request = resolved.arch, resolved.request
    if arch.spec is not None:
        return arch.spec
    base = catalog.nearest_dense_model(arch.params)
    if not (request.hidden_size or request.num_layers or request.num_heads):
        return base
    h, heads = arch.hidden_size, arch.num_heads
    said.say(
        f"the rest of the architecture (MLP {base.mlp}, {base.intermediate_size / base.hidden_size:g} x hidden, "
        f"{base.norm}, vocabulary {base.vocab_size}) follows {base.id}")
    return dataclasses.replace(
        base, id=f"{base.id}-shaped", hidden_size=h, num_layers=arch.num_layers, num_heads=heads,
        num_kv_heads=heads, head_dim=h // heads,
        intermediate_size=round(base.intermediate_size * h / base.hidden_size))


def block_options(job: DetailedJob, said: Said, autocast: bool = False) -> BlockOptions:
    spec = job.spec
    dropout = job.request.dropout
    if dropout is None:
        dropout = spec.dropout
        if job.request.task is not Task.INFERENCE:
            said.say(Note(f"note.dropout_{'on' if dropout else 'off'}", model=spec.id))
    # Hugging Face's Llama-family eager attention (RMSNorm models) takes the softmax in fp32;
    # GPT-2, OPT and BLOOM take it in the compute dtype.
    return BlockOptions(norm=spec.norm, mlp=spec.mlp, fused_attention=job.fused_attention,
                        dropout=dropout, fp32_softmax=spec.norm == "rmsnorm",
                        activation=FAMILY_ACTIVATIONS.get(spec.family, "gelu"), autocast=autocast,
                        half=job.compute_bytes == 2, fused_qkv=spec.family in FUSED_QKV,
                        fused_gate_up=spec.family in FUSED_GATE_UP, moe=spec.num_experts is not None,
                        qk_norm=spec.family in QK_NORM_FAMILIES, qkv_bias=spec.qkv_bias,
                        linear_bias=spec.linear_bias,
                        fused_norm=job.request.task is not Task.INFERENCE and job.runtime.terms.fused_norm)


#: How each kept set reads in a label.
KEEPS_LABEL = {Keeps.ALL: "none recompute", Keeps.ALL_BUT_CORE_ATTENTION: "selective recompute",
               Keeps.PER_OP: "selective recompute, per op", Keeps.LAYER_INPUT: "full recompute",
               Keeps.LAYER_INPUT_ON_HOST: "full recompute, layer inputs in host memory"}


def default_recompute(job: DetailedJob, said: Said, task_default: Recompute = Recompute.NONE,
                      why: str | None = None) -> Recompute:
    """The recompute the query says, else the framework's default (transformers': ``task_default``)."""
    why = why or Note("why.hf_no_checkpointing")
    terms = job.runtime.terms
    if "recompute_default" in terms.sources:
        task_default, why = terms.recompute_default, f"{job.runtime.name}: {terms.sources['recompute_default']}"
    return said.default("recompute", job.request.recompute, task_default, why)


#: Liger-Kernel's fused linear cross-entropy as transformers runs it (TrainingArguments.use_liger_kernel
#: patches the model's forward to skip the logits and call LigerForCausalLMLoss in training).
LIGER_SOURCE = ("Liger-Kernel src/liger_kernel/ops/fused_linear_cross_entropy.py (ead96b6) "
                "fused_linear_cross_entropy_forward: chunk_size = next_power_of_2(ceil(BT / ceil(V / H))) tokens; "
                "each chunk's logits in the matmul's dtype, turned into their gradient in place by "
                "liger_cross_entropy_kernel; grad_input (BT x H) and, for a trained head, grad_weight (V x H, the "
                "weight's dtype) made in forward and kept for backward; loss_1d fp32 (BT)")
#: Liger's other kernels (RMSNorm, SwiGLU, RoPE, transformers' apply_liger_kernel_to_*) change what
#: each layer saves; not modelled, and said so.
LIGER_KERNELS_NOTE = Note("note.liger_kernels")


#: A loss the query names where its framework computes another: the columns it takes (chunks, the
#: largest chunk) from the framework that computes it so, and that framework's source.
NAMED_LOSSES: dict[Loss, tuple[dict[str, float], str]] = {
    Loss.FP32_LOGITS: ({}, "cross_entropy on the whole fp32 logits (torch.nn.CrossEntropyLoss on torchtune's "
                           "TransformerDecoder output, self.output(h).float(), torchtune/modules/transformer.py; "
                           "transformers ForCausalLMLoss)"),
    Loss.CHUNKED_LINEAR: ({"loss_chunks": 8}, "torchtune/modules/loss/ce_chunked_output_loss.py "
                          "CEWithChunkedOutputLoss(num_output_chunks=8): each chunk's logits .float() and cross_entropy"),
    Loss.FUSED_LINEAR: ({"loss_chunk_cap_gib": 4.0}, "unsloth_zoo/fused_losses/cross_entropy_loss.py "
                        "_get_chunk_multiplier: chunks of fp32 logits of at most 4 GiB"),
    Loss.VOCAB_PARALLEL: ({}, "megatron/core/tensor_parallel/cross_entropy.py _VocabParallelCrossEntropy: an fp32 "
                          "softmax of the GPU's vocabulary shard made in place of the logits' upcast"),
    Loss.LIGER: ({}, LIGER_SOURCE),
}


def loss_terms(job: DetailedJob) -> TrainingTerms:
    """The framework's terms with the loss the query names, if it names one the framework does not run."""
    terms = job.runtime.terms
    named = job.request.loss
    if named is None or named is terms.loss:
        return terms
    columns, source = NAMED_LOSSES[named]
    return dataclasses.replace(terms, loss=named, **columns,
                               sources=MappingProxyType({**terms.sources, "loss": source}))


def say_loss(job: DetailedJob, said: Said) -> None:
    """Say the loss where it is not transformers' whole fp32 logits, or where the query named it."""
    terms = loss_terms(job)
    if "loss" in terms.sources:
        said.say(Note("note.loss_named", loss=str(terms.loss), source=terms.sources["loss"])
                 if job.request.loss is not None else
                 Note("note.loss_runtime", runtime=job.runtime.name, loss=str(terms.loss), source=terms.sources["loss"]))
    if terms.loss is Loss.LIGER:
        said.say(LIGER_KERNELS_NOTE)
    if job.request.torch_compile:
        compiled = terms.loss is Loss.CHUNKED_LINEAR or terms.compile_loss
        said.say(Note(f"note.compile_{'loss' if compiled else 'eager'}"))


def kept(job: DetailedJob, recompute: Recompute) -> Keeps:
    """What ``recompute`` keeps in the job's framework (a word it has no mode for is refused)."""
    terms = job.runtime.terms
    keeps = terms.keeps[recompute]
    if keeps is Keeps.NOT_OFFERED:
        offered = " or ".join(r.value for r, k in terms.keeps.items() if k is not Keeps.NOT_OFFERED)
        raise UnsupportedError(f"{job.runtime.name} has no {recompute} recompute ({terms.sources.get(f'keep_{recompute}', '')}); "
                               f"say recompute {offered}", field="recompute")
    if keeps is Keeps.PER_OP and (job.spec.num_experts is not None or not job.fused_attention):
        raise UnsupportedError(f"per-op selective checkpointing ({job.runtime.name}) is modelled for dense models with "
                               "flash/sdpa attention; say recompute full", field="recompute")
    if job.request.offload_activations:
        return _offloaded_keeps(keeps)
    return keeps


#: Activation offloading moves what checkpointing saves, each layer's input, to host memory
#: (torchtune/training/_activation_offloading.py OffloadActivations: saved_tensors_hooks that copy
#: each saved tensor to pinned CPU memory and back in backward; the recipes warn to use it with
#: enable_activation_checkpointing). Without checkpointing every saved tensor would move: not modelled.
OFFLOADED_KEEPS = {Keeps.LAYER_INPUT: Keeps.LAYER_INPUT_ON_HOST, Keeps.LAYER_INPUT_ON_HOST: Keeps.LAYER_INPUT_ON_HOST}


def _offloaded_keeps(keeps: Keeps) -> Keeps:
    if keeps not in OFFLOADED_KEEPS:
        raise UnsupportedError("activation offloading is modelled with full recompute (the checkpointed layer inputs "
                               "in host memory); say recompute full", field="offload_activations")
    return OFFLOADED_KEEPS[keeps]


def activations_item(options: BlockOptions, keeps: Keeps, values: dict[str, float]) -> LineItem:
    text, why = _activations_formula(options, keeps)
    label = f"Activations ({KEEPS_LABEL[keeps]}, {'flash/sdpa' if options.fused_attention else 'eager'})"
    return formula_item(Item.ACTIVATIONS, label, formula(text), values, f"{KORTHIKANTI}; {MEASURED}; {why}")


@functools.lru_cache(maxsize=256)
def _activations_formula(options: BlockOptions, keeps: Keeps) -> tuple[str, str]:
    """The activations' formula text for a block and what its recompute keeps (built once for each)."""
    outside = joined(outside_terms(options))
    if keeps is Keeps.LAYER_INPUT:
        return (f"L*{LAYER_INPUT.formula} + {outside}",
                "checkpointing keeps each layer's input; the layer recomputed in backward is counted "
                "where backward reaches it")
    if keeps is Keeps.LAYER_INPUT_ON_HOST:
        return (f"{LAYER_INPUT.formula} + {outside}",
                "checkpointing with each layer's input copied to host memory: one on its way at a time")
    if keeps is Keeps.PER_OP:
        return f"L*({joined(per_op_terms(options))}) + {outside}", "per-op selective checkpointing"
    layer = joined(layer_terms(options, drop_quadratic=keeps is Keeps.ALL_BUT_CORE_ATTENTION))
    return f"L*({layer}) + {outside}", f"every layer's saved tensors ({KEEPS_LABEL[keeps]})"


def host_activation_bytes(keeps: Keeps, values: dict[str, float], options: BlockOptions | None = None,
                          hooks: bool = False) -> int:
    """Host memory the kept activations take: every layer's input, where they are offloaded; with
    saved-tensor hooks around the model's forward (torchtune's OffloadActivations, ``hooks``) also
    what the forward saves after the layers, the final norm's tensors (and the embedding's dropout
    mask), which the hooks copy like any other; the head runs outside them (traced:
    validation/run.py OffloadActivations, Llama-3.2-1B at 2048 x 4: 0.705 GB of host copies, 0.537
    of them layer inputs)."""
    if keeps is not Keeps.LAYER_INPUT_ON_HOST:
        return 0
    after = [t for t in outside_terms(options) if t is not NORMED_INPUT] if hooks and options else []
    return formula(" + ".join([f"L*{LAYER_INPUT.formula}", *(t.formula for t in after)])).bytes(values)


def backward_layer_item(options: BlockOptions, keeps: Keeps, values: dict[str, float]) -> LineItem:
    return formula_item(Item.BACKWARD_LAYER, "Backward through one layer (its tensors, its MLP's gradients)",
                         _backward_formula(options, keeps), values,
                         f"{MEASURED}: the first layer's backward, the last to run, with every other gradient made")


@functools.lru_cache(maxsize=256)
def _backward_formula(options: BlockOptions, keeps: Keeps) -> Formula:
    # Megatron's selective keeps no scores; the softmax's backward still runs on recomputed ones
    return formula(backward_formula(options, drop_quadratic=keeps is Keeps.ALL_BUT_CORE_ATTENTION))


#: The loss at its largest, by how the framework computes it (symbols: N chunks of tokens, cap the
#: largest fp32 chunk of logits in bytes).
#: - fp32 logits: TRAINING_LOGITS.
#: - chunked linear (torchtune LinearCrossEntropyLoss): each chunk's head output is upcast and
#:   cross_entropy saves its fp32 log_softmax, so every chunk's (4bsv in all) is live at the start
#:   of backward, beside the chunk at hand's nll and logits gradients (8bsv/N).
#: - fused linear (Unsloth's fused CE): no whole logits; the largest chunk's fp32 logits and their
#:   gradient, computed together in forward, and the gradient of the hidden states it accumulates.
#: - Liger (LIGER_SOURCE), at the last chunk of its forward: that chunk's logits (k x v, turned
#:   into their gradient in place) and their product with the head (k x h) on its way into
#:   grad_input, beside grad_input (b*s x h, in the hidden states' dtype n: fp32 under autocast,
#:   where the final norm returns its fp32 input's dtype), the fp32 per-token loss and, where the head is
#:   trained, its gradient (G bytes an element, the weight's dtype), made in forward; all but the
#:   chunk is kept for backward, which only scales them.
#: - vocab-parallel (Megatron's cross-entropy, fused or not): the 16-bit logits are upcast once and
#:   the copy turned into the softmax in place, which is all it saves; backward turns the saved
#:   softmax into the gradient in place and casts it to 16 bits beside it, so 4 + c bytes an element
#:   at either end of the loss (the 16-bit logits and their fp32 copy in forward).
LOSSES: dict[Loss, tuple[str, str]] = {
    Loss.FP32_LOGITS: ("Logits and loss, start of backward (fp32)", TRAINING_LOGITS.text),
    Loss.CHUNKED_LINEAR: ("Loss in N chunks of tokens (fp32 log-softmax of each)", "(4 + 8/N)*b*s*v"),
    Loss.FUSED_LINEAR: ("Fused head and loss (largest chunk, fp32)", "2*min(4*b*s*v, cap) + c*b*s*h"),
    Loss.VOCAB_PARALLEL: ("Vocab-parallel cross-entropy (fp32 softmax, 16-bit logits or their gradient)",
                          "(4 + c)*b*s*v"),
    # the label fits the text answer's 100 columns beside its figure
    Loss.LIGER: ("Liger fused linear cross-entropy (k tokens' logits; hidden and head gradients)",
                 "c*k*(v + h) + n*b*s*h + 4*b*s + G*v*h"),
}


#: The chunked loss compiled (torchtune training.compile_loss compiles each chunk's cross-entropy):
#: torch.compile's min-cut partitioner with inductor's decompositions saves cross_entropy(x.float())'s
#: 16-bit input and two fp32 values a row (its max and log-sum), not the fp32 log-softmax
#: (tests/test_compiled_loss.py reproduces it), so every chunk's 16-bit logits stay for backward,
#: and one chunk's 16-bit gradient is made at a time: the upcast, softmax and its gradient fuse into
#: the kernels around those reductions.
COMPILED_CHUNKED = ("Loss in N chunks of tokens, compiled (16-bit logits of each)", "(c + c/N)*b*s*v")
#: The whole-logits loss compiled, the same partition with one chunk: the 16-bit logits saved and
#: their 16-bit gradient made in backward (the fp32 upcast and log-softmax fused away).
COMPILED_WHOLE = ("Logits and loss, compiled (16-bit logits and their gradient)", "2*c*b*s*v")
COMPILED_PARTITION = ("torch/_functorch/partitioners.py min_cut_rematerialization_partition with "
                      "torch/_inductor/decomposition.py (measured: tests/test_compiled_loss.py)")
COMPILED_SOURCE = ("torchtune/training/_compile.py compile_loss; torch/_functorch/partitioners.py "
                   "min_cut_rematerialization_partition with torch/_inductor/decomposition.py (measured)")


def liger_chunk_tokens(tokens: int, vocab: int, hidden: int) -> int:
    """Tokens in Liger's logits chunk (LIGER_SOURCE: next_power_of_2(ceil(BT / ceil(V / H))), at most BT)."""
    share = -(-tokens // -(-vocab // hidden))
    return min(tokens, 1 << (share - 1).bit_length())


def logits_item(job: DetailedJob, values: dict[str, float], free_bytes: int | None = None,
                head_gradient_bytes: float = 0) -> LineItem:
    """The training loss as the job's framework computes it, or as the query names it; ``free_bytes``:
    the GPU's memory free at the first loss, where the framework sizes its fused loss's chunks by it;
    ``head_gradient_bytes``: the bytes an element of the head's gradient, 0 where it is frozen (a
    loss that makes that gradient in forward, Liger's, counts it)."""
    terms = loss_terms(job)
    if terms.loss is Loss.LIGER:
        label, text = LOSSES[Loss.LIGER]
        tokens = job.batch_size * job.seq_len
        chunk = liger_chunk_tokens(tokens, job.spec.vocab_size, job.spec.hidden_size)
        return formula_item(Item.LOGITS, label, formula(text), {**values, "k": chunk, "G": head_gradient_bytes},
                            terms.sources["loss"])
    if job.request.torch_compile and terms.loss is Loss.CHUNKED_LINEAR:
        label, text = COMPILED_CHUNKED
        return formula_item(Item.LOGITS, label, formula(text), {**values, "N": terms.loss_chunks},
                            f"{terms.sources['loss']}; {COMPILED_SOURCE}")
    if job.request.torch_compile and terms.compile_loss and terms.loss is Loss.FP32_LOGITS:
        label, text = COMPILED_WHOLE
        return formula_item(Item.LOGITS, label, formula(text), values,
                            f"{terms.sources['compile_loss']}; {COMPILED_PARTITION}")
    label, text = LOSSES[terms.loss]
    source = HF_LOSS if terms.loss is Loss.FP32_LOGITS and "loss" not in terms.sources else terms.sources["loss"]
    cap = round(terms.loss_chunk_cap_gib * 2**30)
    if terms.loss_chunk_free_share and free_bytes is not None and free_bytes > 0:
        cap = min(cap, round(terms.loss_chunk_free_share * free_bytes))
    values = {**values, "N": terms.loss_chunks, "cap": cap}
    return formula_item(Item.LOGITS, label, formula(text), values, source)


def phase(name: PhaseName, items: list[LineItem], keys: list[Item], note: str) -> Phase:
    by_key = {item.key: item.bytes for item in items}
    return Phase(name, sum(by_key[k] for k in keys), tuple(keys), note)


def finish(job: DetailedJob, items: list[LineItem], phases: list[Phase], said: Said,
           host_bytes: int = 0, comparisons: Sequence[Comparison] = ()) -> Estimate:
    """The Estimate: peak over the phases, range, and ``comparisons`` (the caller's figures beside it)."""
    return assembled(job.request, job.arch.spec, tuple(items), tuple(phases), said.lines(), job.gpu_count,
                     host_bytes, comparisons)


#: The largest transient tensors, which the caching allocator may hold again (the range's top). A
#: constant, not ``Item.X`` in the loop: a sweep assembles an estimate per row, and an enum member's
#: lookup costs ten times a set's.
SLACK_ITEMS = frozenset({Item.ACTIVATIONS, Item.LOGITS})
#: Items that live in Item.STREAM_POOLS's pools, not the default stream's (allocator.py).
POOLED_ITEMS = frozenset({Item.GRADIENTS})


def assembled(request: Request, spec: ModelSpec | None, items: tuple[LineItem, ...], phases: tuple[Phase, ...],
               assumptions: tuple[str, ...], gpu_count: int, host_bytes: int = 0,
               comparisons: Sequence[Comparison] = ()) -> Estimate:
    # the one assumption that depends on the context length goes last, so a kept job can redo it
    if spec is not None and request.seq_len and request.seq_len > spec.max_seq_len:
        assumptions += (_beyond(request.seq_len, spec),)
    peak = max(p.bytes for p in phases)
    slack_item = max((i for i in items if i.key in SLACK_ITEMS), key=lambda i: i.bytes)
    # the measured context counted among the items gives way to the measured range
    tensors = without_context(peak, items)
    low, high = tensors + CUDA_CONTEXT_LOW, tensors + CUDA_CONTEXT_HIGH + slack_item.bytes
    return Estimate(
        request=request, method=Method.DETAILED, items=items, assumptions=assumptions,
        gpu_count=gpu_count, job_total_bytes=peak * gpu_count, total_bytes=peak, phases=phases,
        low_bytes=low, high_bytes=high, range_reasons=_range_reasons(slack_item.label), host_bytes=host_bytes,
        comparisons=comparisons, reserved_bytes=_reserved(items, phases),
    )


def _reserved(items: tuple[LineItem, ...], phases: tuple[Phase, ...]) -> int | None:
    """The peak's tensors plus the other streams' pools. The sharded gradients live in the
    reduce-scatter pool (FSDP2's reduce_output), so a phase's own stream holds the rest."""
    pools = next((item.bytes for item in items if item.key == Item.STREAM_POOLS), None)
    if pools is None:
        return None
    sizes = {item.key: item.bytes for item in items}
    own = max(p.bytes - sum(sizes[k] for k in p.live if k in POOLED_ITEMS) for p in phases)
    return without_context(own, items) + pools


@functools.lru_cache(maxsize=64)
def _range_reasons(slack_label: str) -> tuple[str, str]:
    return (f"CUDA context: {format_bytes(CUDA_CONTEXT_LOW)} to {format_bytes(CUDA_CONTEXT_HIGH)} GB depending on "
            "the CUDA version and lazy module loading",
            f"PyTorch's caching allocator can hold freed blocks it cannot reuse: up to the largest "
            f"transient tensors again ({slack_label.lower()})")


def quantised_weights(job: DetailedJob, what: str, constants: str,
                      on_gpu: tuple[float, float] | None = None) -> tuple[LineItem, LineItem]:
    """A quantised model's weights (inference and a QLoRA base alike): the blocks' matrices in the
    dtype's format (rules.WEIGHT_FORMATS), embeddings and head in 16 bits, and the format's scales
    as their own item; ``what`` and ``constants`` name the two items; ``on_gpu``: the block and
    other parameters one GPU holds, when the model is split (all of them otherwise)."""
    dtype, fmt = job.dtype, WEIGHT_FORMATS[job.dtype]
    quantised = job.counts.attention + job.counts.mlp
    other = job.params - quantised
    if on_gpu is not None:
        quantised, other = on_gpu
    size = dtype_bytes(dtype)
    weights = LineItem(
        Item.WEIGHTS, f"{what} ({dtype} blocks, 16-bit embeddings and head)", round(size * quantised + 2 * other),
        f"{size:g} B/param x block_params + 2 B/param x other_params",
        {"block_params": quantised, "other_params": other}, fmt.source)
    overhead = formula(f"({fmt.overhead_bits})/8*block_params")
    values = {"h": job.spec.hidden_size, "block_params": quantised}
    return weights, formula_item(Item.QUANT_OVERHEAD, constants, overhead, values, fmt.source)

