"""GGUF → decoder graph weights, for each precision.

fp32: every weight dequantised. int4: the GGUF's own Q4_1 and Q4_K blocks repacked
bit-exactly into 4-bit MatMulNBits, Q8_0 into 8-bit; Q5_0 and Q6_K re-quantised to 8 bits
(4 would lose them); a tied output projection stays float. int8:
every projection, the output one too, re-quantised to 8 bits per block of 32 from the
dequantised weights. See DEFAULT_ACCURACY_LEVEL for how each computes.
"""
import numpy as np

from .graph import Dense, TiedEmbedding
from .quantize import quantize_4bit, quantize_8bit, repack_q4_1, repack_q4_k, repack_q8_0

PRECISIONS = ("fp32", "int8", "int4")

# MatMulNBits accuracy_level per precision: 1 computes in float (int4 then reproduces the
# GGUF weights exactly: top-1 agreement with fp32 1.000), 4 quantises activations to int8
# (faster; int8 agreement ~0.94). Overridable with --accuracy-level.
DEFAULT_ACCURACY_LEVEL = {"fp32": None, "int8": 4, "int4": 1}

_PROJECTIONS = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
                "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
_NORMS = {"attn_norm": "attn_norm", "ffn_norm": "ffn_norm"}
_BIASES = {"q_bias": "attn_q.bias", "k_bias": "attn_k.bias", "v_bias": "attn_v.bias"}


def unpermute_rope_rows(weight, n_head):
    """Undo llama.cpp's Q/K row permutation so standard rotate-half rope applies.

    llama.cpp reorders each head's rows from (2, head_dim/2) to (head_dim/2, 2) for its
    interleaved rope; swapping back per head restores the Hugging Face layout.
    """
    rows = weight.shape[0]
    rest = weight.shape[1:]
    return weight.reshape(n_head, rows // n_head // 2, 2, *rest).swapaxes(1, 2).reshape(weight.shape)


class GgufWeights:
    """Callable weight lookup for DecoderGraph, backed by a GgufModel."""

    def __init__(self, gguf, config, precision):
        self.gguf, self.c, self.precision = gguf, config, precision
        self._permute = gguf.architecture == "llama"

    def __call__(self, name):
        if name == "embed":
            return self.gguf.tensor("token_embd.weight").dequantized()
        if name == "final_norm":
            return self.gguf.tensor("output_norm.weight").dequantized()
        if name == "lm_head":
            if self.gguf.has_tensor("output.weight"):
                return self._projection(self.gguf.tensor("output.weight"), None)
            # int4 keeps the tied output projection in float, sharing the embedding table
            # (its 8-bit form is slow at float accuracy); int8 quantises it like the rest.
            if self.precision in ("fp32", "int4"):
                return TiedEmbedding()
            return self._projection(self.gguf.tensor("token_embd.weight"), None)
        _, layer, part = name.split(".")
        prefix = f"blk.{layer}."
        if part in _NORMS:
            return self.gguf.tensor(prefix + _NORMS[part] + ".weight").dequantized()
        if part in _BIASES:
            bias = self.gguf.tensor(prefix + _BIASES[part]).dequantized()
            return self._unpermute(bias, part[0]) if part[0] in "qk" else bias
        return self._projection(self.gguf.tensor(prefix + _PROJECTIONS[part] + ".weight"), part)

    def _unpermute(self, weight, part):
        if not self._permute or part not in ("q", "k"):
            return weight
        return unpermute_rope_rows(weight, self.c.num_heads if part == "q" else self.c.num_kv_heads)

    def _projection(self, tensor, part):
        out_features, in_features = tensor.shape
        weight_rows = self._unpermute(np.arange(out_features), part) if self._permute and part in ("q", "k") else None
        if self.precision == "int4" and tensor.qtype in _REPACK:
            spec = _REPACK[tensor.qtype](tensor.raw, out_features, in_features)
            # Permuting whole rows keeps every block intact: repack, then reorder rows.
            return spec if weight_rows is None else _reorder_rows(spec, weight_rows)
        weight = self._unpermute(tensor.dequantized(), part)
        if self.precision == "fp32":
            return Dense(weight)
        if self.precision == "int4" and tensor.qtype not in _FOUR_BIT_OR_LESS:
            # 5- and 6-bit blocks (Q5_0, Q6_K) cannot be written in 4 bits without loss:
            # they keep 8 bits (Qwen2.5-0.5B int4 re-quantised to 4 bits agreed with llama.cpp
            # at 0.81 of positions; bench/agreement).
            return quantize_8bit(weight)
        return quantize_4bit(weight) if self.precision == "int4" else quantize_8bit(weight)


# GGUF block types int4 repacks bit-exactly into MatMulNBits.
_REPACK = {"Q4_1": repack_q4_1, "Q4_K": repack_q4_k, "Q8_0": repack_q8_0}
# Types int4 may re-quantise to 4 bits: float tensors (int4 asks for 4 bits, and a float
# source loses no more than any 4-bit quantisation does) and types of 4 bits or fewer.
_FOUR_BIT_OR_LESS = ("F32", "F16", "BF16", "Q4_0", "Q4_1", "Q4_K", "Q2_K", "Q3_K")


def _reorder_rows(spec, order):
    blocks = spec.in_features // spec.block_size
    spec.packed = spec.packed[order]
    spec.scales = spec.scales.reshape(spec.out_features, blocks)[order].reshape(-1)
    # Zero points are packed per row (two 4-bit values a byte for 4 bits), so rows move whole.
    if spec.zero_points is not None:
        spec.zero_points = spec.zero_points.reshape(spec.out_features, -1)[order].reshape(-1)
    if spec.block_offsets is not None:
        spec.block_offsets = spec.block_offsets[order]
    return spec
