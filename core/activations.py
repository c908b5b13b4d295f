"""Activation memory tensor by tensor: what autograd keeps from the forward pass for the backward.

Symbols: b batch, s sequence, h hidden, a heads, k KV heads, d head dim, f MLP inner size,
L layers; c bytes of a 16-bit (or fp32) compute value, n bytes of the residual stream (fp32 under
autocast, where the embedding output is fp32). Each term names the tensor and the op that saves
it; the terms compose by the block's parts (norm, attention, MLP), so GPT-style blocks
(LayerNorm, plain GELU MLP, dropout, eager attention) reproduce Korthikanti et al. 2022's
34sbh + 5as^2b a layer exactly (their section 4.1), plus the LayerNorm statistics they leave out.
"""

from __future__ import annotations

from dataclasses import dataclass

KORTHIKANTI = "Korthikanti et al. 2022, section 4.1 (tensors saved for backward)"


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

#: The input of the projections after each norm (the norm's output, or autocast's 16-bit cast).
NORMED_INPUT = Term("input of the projections after the norm", "c*b*s*h")

#: Attention with a fused kernel (FlashAttention, PyTorch SDPA): Q, K, V as the kernel saves them
#: (K and V at KV-head size), its output and log-sum-exp, and the output projection's input.
FUSED_ATTENTION = (
    Term("Q, K, V saved by the attention kernel", "c*b*s*(a + 2*k)*d"),
    Term("attention output and its log-sum-exp", "c*b*s*a*d + 4*b*a*s"),
    Term("output projection input", "c*b*s*a*d"),
)

#: Eager attention: Q and K saved by the score matmul, V by the value matmul, each at the full
#: head count (HF repeats K and V for grouped-query attention), then the score tensors.
EAGER_ATTENTION = (
    Term("Q, K, V saved by the matmuls", "3*c*b*s*a*d"),
    Term("output projection input", "c*b*s*a*d"),
)
SOFTMAX_OUTPUT = {False: Term("softmax output", "c*b*a*s*s", True),
                  True: Term("softmax output, fp32", "4*b*a*s*s", True)}
SOFTMAX_CAST = Term("softmax output cast back to 16 bits", "c*b*a*s*s", True)
ATTENTION_DROPOUT = Term("attention dropout: mask and output", "b*a*s*s + c*b*a*s*s", True)

#: MLPs: plain saves the activation's input and the second matrix's input; gated (SwiGLU) saves
#: the gate output, its activation, the up output and their product.
MLP_TERMS: dict[str, tuple[Term, ...]] = {
    "plain": (Term("activation input and second matrix input", "2*c*b*s*f"),),
    "gated": (Term("gate, activation, up and their product", "4*c*b*s*f"),),
}
RESIDUAL_DROPOUT = Term("residual dropout masks (after attention and MLP)", "2*b*s*h")
EMBEDDING_DROPOUT = Term("embedding dropout mask", "b*s*h")
LAYER_INPUT = Term("layer input kept by activation checkpointing", "n*b*s*h")


@dataclass(frozen=True, slots=True)
class BlockOptions:
    norm: str  #: "rmsnorm" or "layernorm"
    mlp: str  #: "plain" or "gated"
    fused_attention: bool  #: flash / sdpa rather than eager
    dropout: bool
    fp32_softmax: bool  #: eager softmax computed in fp32 (HF Llama-style models)


def layer_terms(options: BlockOptions, drop_quadratic: bool = False) -> list[Term]:
    """The tensors one transformer layer saves for backward."""
    terms = [*(_twice(t) for t in NORM_TERMS[options.norm]), _twice(NORMED_INPUT)]
    terms += FUSED_ATTENTION if options.fused_attention else _eager_attention(options)
    terms += MLP_TERMS[options.mlp]
    if options.dropout:
        terms.append(RESIDUAL_DROPOUT)
    return [t for t in terms if not (drop_quadratic and t.quadratic)]


def _twice(term: Term) -> Term:
    """The same tensors for both of a layer's norms (before attention and before the MLP)."""
    return Term(f"{term.name}, both norms", f"2*({term.formula})", term.quadratic)


def _eager_attention(options: BlockOptions) -> list[Term]:
    terms = [*EAGER_ATTENTION, SOFTMAX_OUTPUT[options.fp32_softmax]]
    if options.dropout:
        terms.append(ATTENTION_DROPOUT)
    elif options.fp32_softmax:
        terms.append(SOFTMAX_CAST)
    return terms


def outside_terms(options: BlockOptions) -> list[Term]:
    """Saved outside the layers: embedding dropout, the final norm and the head's input."""
    terms = [EMBEDDING_DROPOUT] if options.dropout else []
    return terms + [*NORM_TERMS[options.norm], NORMED_INPUT]


def joined(terms: list[Term]) -> str:
    return " + ".join(t.formula for t in terms)


#: Inference (no autograd): only one layer's working set is live at a time. The residual stream
#: and the normed input, then the larger of attention (Q, K, V and output; eager adds K and V
#: repeated to every head and the scores) and the MLP (plain: two inner-size tensors; gated: the
#: activation, the up projection and their product).
PREFILL_STREAM = "2*c*b*s*h"
PREFILL_ATTENTION = {True: "c*b*s*(2*a + 2*k)*d",
                     False: "c*b*s*(4*a)*d + c*b*a*s*s"}
PREFILL_FP32_SOFTMAX = " + 4*b*a*s*s"
PREFILL_MLP = {"plain": "2*c*b*s*f", "gated": "3*c*b*s*f"}


def prefill_formula(options: BlockOptions) -> str:
    attention = PREFILL_ATTENTION[options.fused_attention]
    if not options.fused_attention and options.fp32_softmax:
        attention += PREFILL_FP32_SOFTMAX
    return f"{PREFILL_STREAM} + max({attention}, {PREFILL_MLP[options.mlp]})"
