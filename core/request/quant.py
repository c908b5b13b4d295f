"""Weight formats as served, by name, and the types a KV cache is stored in.

A request's ``quant`` names how a checkpoint stores its weights more exactly than the coarse
``dtype`` can: a GGUF file type (llama.cpp's ``llama-quantize`` names, ``q4_k_m``), a GPU format
with its scales (``awq``, ``gptq``, ``fp8-block``, ``mxfp4``, ``nvfp4``). Each name implies one
coarse dtype, so the two stay consistent: the dtype is what the compute and the defaults follow,
the format is what the weight bytes follow (vram.memory.quant).
"""

from __future__ import annotations

from enum import StrEnum

from vram.request.enums import Dtype

#: Each format's coarse dtype: the smallest of int4/int8 that holds its bits a weight (a q5_k_m
#: weight takes 5.5 bits: int8 in the coarse table), fp8 for fp8, int4 for 4-bit floats.
#: GGUF names are llama.cpp's file types (tools/quantize/quantize.cpp QUANT_OPTIONS), lower case.
QUANT_DTYPES: dict[str, Dtype] = {
    "q2_k": Dtype.INT4, "q3_k_s": Dtype.INT4, "q3_k_m": Dtype.INT4, "q3_k_l": Dtype.INT4,
    "q4_0": Dtype.INT4, "q4_1": Dtype.INT4, "q4_k_s": Dtype.INT4, "q4_k_m": Dtype.INT4,
    "iq4_xs": Dtype.INT4, "iq4_nl": Dtype.INT4,
    "q5_0": Dtype.INT8, "q5_1": Dtype.INT8, "q5_k_s": Dtype.INT8, "q5_k_m": Dtype.INT8,
    "q6_k": Dtype.INT8, "q8_0": Dtype.INT8,
    "awq": Dtype.INT4, "gptq": Dtype.INT4, "fp8-block": Dtype.FP8, "mxfp4": Dtype.INT4, "nvfp4": Dtype.INT4,
}

#: The GGUF file types among them (the others are GPU checkpoint formats).
GGUF_TYPES = frozenset(name for name in QUANT_DTYPES if name[0] in "qi")


class KvDtype(StrEnum):
    """What a KV cache is stored in: a float dtype, or a ggml block type (llama.cpp
    ``--cache-type-k/-v``: f32, f16, bf16, q8_0, q4_0, ...)."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"  #: vLLM/SGLang ``--kv-cache-dtype fp8`` (e4m3 or e5m2)
    INT8 = "int8"
    Q8_0 = "q8_0"  #: llama.cpp: 32 values share an fp16 scale (34 bytes a block)
    Q4_0 = "q4_0"  #: llama.cpp: 32 4-bit values share an fp16 scale (18 bytes a block)


__all__ = ["GGUF_TYPES", "QUANT_DTYPES", "KvDtype"]
