"""Activation memory tensor by tensor: what autograd keeps from the forward pass for the backward.

Symbols: b batch, s sequence, h hidden, a heads, k KV heads, d head dim, f MLP inner size (for
MoE: one expert's, times the experts a token runs), x routed experts a token runs, L layers;
c bytes of a 16-bit (or fp32) compute value, n bytes of the residual stream (fp32 under
autocast, where the embedding output is fp32), u bytes of what autocast upcasts to fp32
(``pow``, ``softmax``, ``layer_norm``: 4 under autocast, else c). Each term names the tensor and
the op that saves it; the terms compose by the block's parts (norm, attention, MLP), so GPT-style
blocks (LayerNorm, plain GELU MLP, dropout, eager attention) reproduce Korthikanti et al. 2022's
34sbh + 5as^2b a layer exactly (their section 4.1), plus the LayerNorm statistics they leave out.

Checked against measurement (``vram.validation``, docs/accuracy.md): the live tensors of real
transformers models, op by op, name the mechanisms below that the paper's Megatron block does
not have (separate autocast casts per projection, Python GELU, the fused kernel's output shared
with the output projection, the MoE experts' gathered tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

KORTHIKANTI = "Korthikanti et al. 2022, section 4.1 (tensors saved for backward)"
MEASURED = "measured: vram.validation live tensors of transformers models (docs/accuracy.md)"


@dataclass(frozen=True, slots=True)
class Term:
    """One saved tensor (or group): its name and its bytes as a formula."""

    name: str
    formula: str
    quadratic: bool = False  #: an s x s attention-score tensor (dropped by recompute of attention)


#: What each norm saves. HF RMSNorm upcasts x to fp32 (saved by pow), saves rsqrt(var) and the
#: normalised x cast back to the input dtype (saved by weight * x); PyTorch's native layer_norm
#: saves its input, the mean and the reciprocal std (fp32).
NORM_TERMS: dict[str, tuple[Term, ...]] = {
    "rmsnorm": (Term("RMSNorm: fp32 input, rsqrt, normalised input", "(4 + n)*b*s*h + 4*b*s"),),
    "layernorm": (Term("LayerNorm: input, mean and rstd", "n*b*s*h + 8*b*s"),),
}
#: A fused norm kernel saves its input as it came and its fp32 statistics, no fp32 upcast of the
#: input (Transformer Engine's LayerNormLinear, which Megatron-Core fuses into linear_qkv and
#: linear_fc1: transformer_engine/pytorch/module/layernorm_linear.py saves inputmat, ln_out for the
#: weight gradient, mu and rsigma; ln_out is NORMED_INPUT below).
FUSED_NORM_TERMS: dict[str, tuple[Term, ...]] = {
    "rmsnorm": (Term("RMSNorm, fused kernel: input and rsigma", "n*b*s*h + 4*b*s"),),
    "layernorm": NORM_TERMS["layernorm"],
}

#: The input of the projections after each norm (the norm's output, or autocast's 16-bit cast).
NORMED_INPUT = Term("input of the projections after the norm", "c*b*s*h")

#: Families whose attention reads the norm output once, through one fused QKV matrix (GPT-2's
#: c_attn; query_key_value in Falcon, BLOOM, GPT-NeoX/Pythia and ChatGLM; Phi-3's qkv_proj;
#: Baichuan's W_pack; InternLM2's wqkv), and families whose gated MLP reads it once through a
#: fused gate-and-up matrix (Phi-3's gate_up_proj, ChatGLM2+'s dense_h_to_4h), from each family's
#: modeling code. The others have separate q/k/v and gate/up projections.
FUSED_QKV = frozenset({"gpt2", "falcon", "bloom", "pythia", "gpt_neox", "chatglm", "glm", "phi3", "baichuan",
                       "internlm2"})
FUSED_GATE_UP = frozenset({"phi3", "chatglm", "glm"})

#: Attention with a fused kernel (FlashAttention, PyTorch SDPA): Q, K, V as the kernel saves them
#: (K and V at KV-head size: CUDA flash takes grouped-query attention natively, and transformers
#: passes enable_gqa when there is no mask), its output and log-sum-exp. The output is laid out
#: (b, s, a, d), so the output projection reads that same tensor: transformers' transpose and
#: contiguous() copy nothing (measured: no second tensor).
FUSED_ATTENTION = (
    Term("Q, K, V saved by the attention kernel", "c*b*s*(a + 2*k)*d"),
    Term("attention output (the output projection's input) and its log-sum-exp", "c*b*s*a*d + 4*b*a*s"),
)

#: Qwen3's RMSNorm on each head's query and key (q_norm, k_norm), before the rotary embedding:
#: as any HF RMSNorm, an fp32 copy of its input, rsqrt, and the normalised values cast back to the
#: projection's 16-bit dtype (measured on qwen3-8b).
QK_NORM = Term("RMSNorm of each query and key head: fp32 input, rsqrt, normalised",
               "(4 + c)*b*s*(a + k)*d + 4*b*s*(a + k)")
QK_NORM_FAMILIES = frozenset({"qwen3", "qwen3_moe"})

#: Eager attention: Q and K saved by the score matmul, V by the value matmul, each at the full
#: head count (HF repeats K and V for grouped-query attention), then the score tensors; the
#: output projection reads a contiguous copy of the (b, a, s, d) matmul output.
EAGER_ATTENTION = (
    Term("Q, K, V saved by the matmuls", "3*c*b*s*a*d"),
    Term("output projection input", "c*b*s*a*d"),
)
SOFTMAX_OUTPUT = {False: Term("softmax output", "c*b*a*s*s", True),
                  True: Term("softmax output, fp32", "4*b*a*s*s", True)}
SOFTMAX_CAST = Term("softmax output cast back to 16 bits", "c*b*a*s*s", True)
ATTENTION_DROPOUT = Term("attention dropout: mask and output", "b*a*s*s + c*b*a*s*s", True)

#: MLPs: gated (SwiGLU) saves the gate output, its activation, the up output and their product.
#: Plain MLPs depend on how the activation is written: a native GELU (F.gelu) saves its input,
#: and the second matrix its output; transformers' "gelu_new" (GPT-2) is Python arithmetic whose
#: autograd keeps pow's input, tanh's output, 1 + tanh and 0.5x, and under CUDA autocast pow runs
#: in fp32, so its input copy, tanh and 1 + tanh are 4-byte values (measured).
GATED_MLP = Term("gate, activation, up and their product", "4*c*b*s*f")
PLAIN_MLP: dict[str, Term] = {
    "gelu": Term("activation input and second matrix input", "2*c*b*s*f"),
    "gelu_tanh_python": Term("tanh GELU in Python: pow input, tanh, 1 + tanh, x/2, second matrix input",
                             "3*u*b*s*f + 2*c*b*s*f"),
}
#: The plain-MLP activation of families that do not use a native GELU (transformers' ACT2FN
#: "gelu_new" is NewGELUActivation, Python arithmetic).
FAMILY_ACTIVATIONS = {"gpt2": "gelu_tanh_python"}
#: transformers' MoE experts (grouped_mm, its default): the tokens gathered in expert order (the
#: first grouped matmul's input) and the experts' outputs before the routing weights multiply them.
MOE_ROUTING = Term("MoE: tokens gathered for their experts, expert outputs before routing weights",
                   "2*c*b*s*x*h")
RESIDUAL_DROPOUT = Term("residual dropout masks (after attention and MLP)", "2*b*s*h")
EMBEDDING_DROPOUT = Term("embedding dropout mask", "b*s*h")
LAYER_INPUT = Term("layer input kept by activation checkpointing", "n*b*s*h")

#: The gradients a layer's backward makes while its own saved tensors are still live: the
#: gradient of the MLP's product and of its two factors (gated), or of the activation's output
#: and input (plain), the largest moment of a layer's backward (measured).
MLP_BACKWARD = {"gated": Term("MLP backward: gradients of the product and both its factors", "3*c*b*s*f"),
                "plain": Term("MLP backward: gradients of the activation's output and input", "2*c*b*s*f")}

#: Unsloth's kernels (its fast path for the families its models/*.py patch, LoRA with no dropout
#: and no bias), which keep fewer tensors than transformers' modules:
#: - unsloth/kernels/rms_layernorm.py Fast_RMS_Layernorm: save_for_backward(X, W, r), the input
#:   and one fp32 rstd a row, no fp32 copy of the input;
#: - unsloth/kernels/fast_lora.py LoRA_MLP: save_for_backward(..., X, e, g), the input and the
#:   gate and up outputs (the product h is made again in backward), and backward makes one f-wide
#:   tensor (DW = dY @ down^T) while _backward_function writes the activation's gradients into e
#:   and g in place.
UNSLOTH_NORM = Term("Fast_RMS_Layernorm: input and fp32 rstd", "n*b*s*h + 4*b*s")
UNSLOTH_MLP = Term("LoRA_MLP: gate and up outputs", "2*c*b*s*f")
UNSLOTH_MLP_BACKWARD = Term("LoRA_MLP backward: the down projection's input gradient (the rest in place)",
                            "c*b*s*f")
UNSLOTH_SOURCE = ("unsloth/kernels/rms_layernorm.py Fast_RMS_Layernorm.forward, unsloth/kernels/fast_lora.py "
                  "LoRA_MLP.forward and backward: the tensors each saves and makes")


@dataclass(frozen=True, slots=True)
class BlockOptions:
    """How a block is built and run, as its saved tensors depend on it (a docstring also spares
    dataclass the inspect.signature it calls to write one)."""

    norm: str  #: "rmsnorm" or "layernorm"
    mlp: str  #: "plain" or "gated"
    fused_attention: bool  #: flash / sdpa rather than eager
    dropout: bool
    fp32_softmax: bool  #: eager softmax computed in fp32 (HF Llama-style models)
    activation: str = "gelu"  #: a plain MLP's activation, a key of PLAIN_MLP
    autocast: bool = False  #: PyTorch AMP: fp32-list ops in fp32, each projection casts its own input
    half: bool = True  #: 16-bit compute (fp32 training has no casts back to 16 bits)
    fused_qkv: bool = False  #: one QKV matrix reads the attention norm's output
    fused_gate_up: bool = False  #: one gate-and-up matrix reads the MLP norm's output
    moe: bool = False  #: routed experts (transformers' grouped_mm experts)
    qk_norm: bool = False  #: RMSNorm on each query and key head (Qwen3)
    fused_norm: bool = False  #: the norms run as one fused kernel (FUSED_NORM_TERMS), not eager PyTorch ops
    unsloth_kernels: bool = False  #: Unsloth's fast RMSNorm and fused LoRA MLP (UNSLOTH_NORM, UNSLOTH_MLP)
    qkv_bias: bool = False  #: the query, key and value projections have a bias (Qwen2)
    linear_bias: bool = False  #: every projection has a bias (GPT-2)


def layer_terms(options: BlockOptions, drop_quadratic: bool = False) -> list[Term]:
    """The tensors one transformer layer saves for backward."""
    terms = [*(_twice(t) for t in _norm_terms(options)), _normed_inputs(options)]
    if options.qk_norm:
        terms.append(QK_NORM)
    terms += FUSED_ATTENTION if options.fused_attention else _eager_attention(options)
    terms += _mlp_terms(options)
    if options.dropout:
        terms.append(RESIDUAL_DROPOUT)
    return [t for t in terms if not (drop_quadratic and t.quadratic)]


def _twice(term: Term) -> Term:
    """The same tensors for both of a layer's norms (before attention and before the MLP)."""
    return Term(f"{term.name}, both norms", f"2*({term.formula})", term.quadratic)


def _normed_inputs(options: BlockOptions) -> Term:
    # Autocast caches the 16-bit casts of weights only: each projection reading the fp32 norm
    # output casts it again and keeps its own copy for its weight gradient (measured: three bf16
    # copies before q_proj, k_proj and v_proj under AMP, two before gate_proj and up_proj).
    attention = 1 if options.fused_qkv else 3
    mlp = 1 if options.fused_gate_up or options.mlp == "plain" else 2
    if not options.autocast or attention + mlp == 2:
        return _twice(NORMED_INPUT)
    return Term(f"{NORMED_INPUT.name}: a cast for each of {attention} + {mlp} projections under autocast",
                f"({attention} + {mlp})*c*b*s*h")


def _norm_terms(options: BlockOptions) -> tuple[Term, ...]:
    if options.unsloth_kernels and options.norm == "rmsnorm":  # an RMSNorm kernel: LayerNorm models keep theirs
        return (UNSLOTH_NORM,)
    return (FUSED_NORM_TERMS if options.fused_norm else NORM_TERMS)[options.norm]


def _fused_lora_mlp(options: BlockOptions) -> bool:
    """Unsloth's LoRA_MLP replaces a dense gated MLP (a layer's mlp.gate_proj, up_proj, down_proj),
    not a block of routed experts."""
    return options.unsloth_kernels and not options.moe


def _mlp_backward(options: BlockOptions) -> Term:
    return UNSLOTH_MLP_BACKWARD if _fused_lora_mlp(options) else MLP_BACKWARD[options.mlp]


def _mlp_terms(options: BlockOptions) -> list[Term]:
    if _fused_lora_mlp(options):
        return [UNSLOTH_MLP]
    if options.mlp == "gated":
        return [GATED_MLP, MOE_ROUTING] if options.moe else [GATED_MLP]
    return [PLAIN_MLP[options.activation]]


def _eager_attention(options: BlockOptions) -> list[Term]:
    # CUDA autocast runs softmax in fp32 (autocast_mode.h, AT_FORALL_FP32_SET_OPT_DTYPE), as
    # Llama-style models do explicitly; the 16-bit cast the value matmul reads is a copy of its own.
    fp32_softmax = options.fp32_softmax or options.autocast
    terms = [*EAGER_ATTENTION, SOFTMAX_OUTPUT[fp32_softmax]]
    if options.dropout:
        terms.append(ATTENTION_DROPOUT)
    elif fp32_softmax and options.half:
        terms.append(SOFTMAX_CAST)
    return terms


#: Per-op selective checkpointing (torchtitan's SelectiveAC, torchtitan/distributed/activation_checkpoint.py,
#: _get_default_save_ops and _get_custom_policy; parallelize_llama.py _save_list at the Dec 2024
#: benchmarks' commit 9dec370): a checkpointed layer keeps its input and the outputs of the ops in
#: its save list, the attention kernel's and every matmul's but every second one (the count starts
#: again in each layer, recomputed matmuls are the 2nd, 4th ...); norms, rotary, activations and
#: products are recomputed in backward. A projection with a bias runs as aten.addmm, which the save
#: list has (torch's compute-intensive ops) but the count does not (it counts mm and linear): it is
#: always kept and the others alternate without it (traced: validation/run.py per_op_checkpointing,
#: Qwen2.5-0.5B's biased q, k and v all kept).
PER_OP_ATTENTION = Term("attention kernel output and log-sum-exp (saved op)", "c*b*s*a*d + 4*b*a*s")


def per_op_terms(options: BlockOptions) -> list[Term]:
    """What one layer keeps under per-op selective checkpointing: its input, the attention kernel's
    output and the outputs of the layer's odd-numbered matmuls in forward order."""
    matmuls = _matmuls(options)
    biased = {name for name, _ in matmuls if options.linear_bias or (options.qkv_bias and name in QKV_NAMES)}
    counted = [name for name, _ in matmuls if name not in biased][0::2]
    kept = [(name, width) for name, width in matmuls if name in biased or name in counted]
    names = ", ".join(name for name, _ in kept)
    what = "the biased ones and " if biased else ""
    return [LAYER_INPUT, PER_OP_ATTENTION,
            Term(f"outputs of {what}the 1st, 3rd ... matmuls ({names})", f"c*b*s*({' + '.join(o for _, o in kept)})")]


QKV_NAMES = frozenset({"qkv", "q", "k", "v"})


def _matmuls(options: BlockOptions) -> list[tuple[str, str]]:
    """A block's matmuls in forward order with their output widths."""
    attention = [("qkv", "(a + 2*k)*d")] if options.fused_qkv else [("q", "a*d"), ("k", "k*d"), ("v", "k*d")]
    attention.append(("o", "h"))
    if options.mlp == "plain":
        mlp = [("up", "f")]
    else:
        mlp = [("gate_up", "2*f")] if options.fused_gate_up else [("gate", "f"), ("up", "f")]
    return attention + mlp + [("down", "h")]


def outside_terms(options: BlockOptions) -> list[Term]:
    """Saved outside the layers: embedding dropout, the final norm and the head's input."""
    terms = [EMBEDDING_DROPOUT] if options.dropout else []
    return terms + [*_norm_terms(options), NORMED_INPUT]


#: Eager attention's own moment of a layer's backward: softmax's backward makes the scores'
#: gradient in the softmax's dtype (fp32 in Llama-style models and under autocast, whose CUDA
#: fp32 list has softmax) while the attention's saved tensors are live; the MLP's saved tensors
#: are freed by then, its backward having run first. Its b a s^2 outgrows the MLP's moment at long
#: context (issue 17, traced), so a layer's backward peaks at the larger of the two.
SOFTMAX_BACKWARD = {True: Term("eager attention backward: the scores' gradient through the fp32 softmax", "4*b*a*s*s"),
                    False: Term("eager attention backward: the scores' gradient through the softmax", "c*b*a*s*s")}


def backward_formula(options: BlockOptions, drop_quadratic: bool = False) -> str:
    """The largest moment of one layer's backward: the MLP's (its saved tensors and its
    gradients), or with eager attention the larger of that and the softmax's backward (the
    attention's saved tensors and the scores' gradient)."""
    layer = layer_terms(options, drop_quadratic)
    if options.fused_attention:
        return joined([*layer, _mlp_backward(options)])
    mlp = _mlp_terms(options)
    rest = [t for t in layer if t not in mlp]
    softmax = SOFTMAX_BACKWARD[options.fp32_softmax or options.autocast]
    return f"{joined(rest)} + max({joined([*mlp, _mlp_backward(options)])}, {softmax.formula})"


def joined(terms: list[Term]) -> str:
    return " + ".join(t.formula for t in terms)


#: Inference (no autograd): only one layer's working set is live at a time, beside the residual
#: stream. Measured in transformers: the embedding output (inputs_embeds stays a local of the
#: model's forward), the layer's input (held by the loop), and within the layer the attention
#: residual and the normed input: three hidden-size tensors during attention, four during the MLP.
#: Attention: Q, K, V and output (eager adds K and V repeated to every head and the scores).
#: MLP: gated, the activation, the up projection and their product (the gate output is freed);
#: a fused gate-up matrix (FUSED_GATE_UP) keeps its whole 2f output while the activation's f and
#: the product's f are made, 4f in all: gate and up are chunk() views that hold the 2f tensor
#: (transformers' Phi3MLP and GlmMLP: gate_up_proj, chunk(2), up * act(gate); ChatGLM's MLP:
#: dense_h_to_4h, then swiglu's chunk and silu(x0) * x1, the 2f held by intermediate_parallel);
#: MoE experts keep their fused gate-up output (gate and up are views of it) and the gathered
#: tokens; a native GELU its input and output; Python tanh GELU x, x/2 and two intermediates.
PREFILL_ATTENTION = {True: "3*c*b*s*h + c*b*s*(2*a + 2*k)*d",
                     False: "3*c*b*s*h + c*b*s*(4*a)*d + c*b*a*s*s"}
#: Eager scores beside the masked scores (c): a softmax in the compute dtype, or (fp32 softmax)
#: the fp32 upcast softmax(dtype=float32) makes of its input and its fp32 output.
PREFILL_SOFTMAX = {False: "c*b*a*s*s", True: "8*b*a*s*s"}
PREFILL_MLP = {"gated": "4*c*b*s*h + 3*c*b*s*f", "gated_fused": "4*c*b*s*h + 4*c*b*s*f",
               "moe": "4*c*b*s*h + 4*c*b*s*f + c*b*s*x*h",
               "gelu": "4*c*b*s*h + 2*c*b*s*f", "gelu_tanh_python": "4*c*b*s*h + 4*c*b*s*f"}


def prefill_formula(options: BlockOptions) -> str:
    attention = PREFILL_ATTENTION[options.fused_attention]
    if not options.fused_attention:
        attention += " + " + PREFILL_SOFTMAX[options.fp32_softmax]
    return f"max({attention}, {PREFILL_MLP[_prefill_mlp(options)]})"


def _prefill_mlp(options: BlockOptions) -> str:
    if options.moe:
        return "moe"
    if options.mlp == "gated":
        return "gated_fused" if options.fused_gate_up else "gated"
    return options.activation
