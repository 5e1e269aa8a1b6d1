"""GGUF → decoder graph weights, for each precision.

fp32: every weight dequantised. int4: the GGUF's own Q4_1 and Q4_K blocks repacked
bit-exactly into 4-bit MatMulNBits, Q8_0, Q5_0 and Q6_K bit-exactly into 8-bit (4 bits
would lose them); a tied output projection stays float. int8: Q8_0, Q5_0 and Q6_K
repacked bit-exactly into 8 bits, every other projection (the output one too) re-quantised
to 8 bits per block of 32 from the dequantised weights. See DEFAULT_ACCURACY_LEVEL for how
each computes.
"""
import numpy as np

from .graph import Dense, TiedEmbedding
from .quantize import (quantize_4bit, quantize_8bit, repack_q4_1, repack_q4_k, repack_q5_0, repack_q6_k,
                       repack_q8_0)

PRECISIONS = ("fp32", "int8", "int4")

# MatMulNBits accuracy_level per precision: 4 quantises activations to int8, as llama.cpp
# does for its own quantised matmuls; 1 computes 4-bit nodes in float, reproducing the GGUF
# weights' arithmetic exactly (SmolLM2 int4 top-1 agreement with fp32 1.000) at ~1.5x the
# time per token (Qwen 1.5B: 128 against 84 ms). 8-bit nodes always compute at 4 (see
# DecoderGraph.node_accuracy_level). Overridable with --accuracy-level.
DEFAULT_ACCURACY_LEVEL = {"fp32": None, "int8": 4, "int4": 4}

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
        repack = _REPACK.get(self.precision, {}).get(tensor.qtype)
        if repack is not None:
            spec = repack(tensor.raw, out_features, in_features)
            # Permuting whole rows keeps every block intact: repack, then reorder rows.
            return spec if weight_rows is None else _reorder_rows(spec, weight_rows)
        weight = self._unpermute(tensor.dequantized(), part)
        if self.precision == "fp32":
            return Dense(weight)
        return quantize_4bit(weight) if self.precision == "int4" else quantize_8bit(weight)


# GGUF block types repacked bit-exactly into MatMulNBits, per precision. 5- and 6-bit blocks
# (Q5_0, Q6_K) keep 8 bits in int4: re-quantised to 4 bits, Qwen2.5-0.5B agreed with
# llama.cpp at 0.81 of positions (bench/agreement). Other types are re-quantised.
_EXACT_8BIT = {"Q8_0": repack_q8_0, "Q5_0": repack_q5_0, "Q6_K": repack_q6_k}
_REPACK = {"int4": {"Q4_1": repack_q4_1, "Q4_K": repack_q4_k, **_EXACT_8BIT}, "int8": _EXACT_8BIT}


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
