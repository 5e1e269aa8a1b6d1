"""GGUF → decoder graph weights, for each precision.

fp32: every weight dequantised. int4: the GGUF's own Q4_1 blocks repacked bit-exactly into
MatMulNBits (and Q8_0 into 8-bit MatMulNBits); a tied output projection stays float. int8:
every projection, the output one too, re-quantised to 8 bits per block of 32 from the
dequantised weights. See DEFAULT_ACCURACY_LEVEL for how each computes.
"""
import numpy as np

from .graph import Dense, TiedEmbedding
from .quantize import quantize_4bit, quantize_8bit, repack_q4_1, repack_q8_0

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
        permuted = self._permute and part in ("q", "k")
        if self.precision == "int4" and not permuted:
            if tensor.qtype == "Q4_1":
                return repack_q4_1(tensor.raw, out_features, in_features)
            if tensor.qtype == "Q8_0":
                return repack_q8_0(tensor.raw, out_features, in_features)
        if self.precision == "int4" and permuted and tensor.qtype in ("Q4_1", "Q8_0"):
            # Permuting whole rows keeps every block intact: repack, then reorder rows.
            spec = (repack_q4_1 if tensor.qtype == "Q4_1" else repack_q8_0)(tensor.raw, out_features, in_features)
            return _reorder_rows(spec, self._unpermute(np.arange(out_features), part))
        weight = self._unpermute(tensor.dequantized(), part)
        if self.precision == "fp32":
            return Dense(weight)
        return quantize_4bit(weight) if self.precision == "int4" else quantize_8bit(weight)


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
