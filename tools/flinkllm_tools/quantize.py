"""Packing weights for com.microsoft MatMulNBits: GGUF blocks repacked exactly, or float → 8-bit."""
import numpy as np

from .graph import BlockQuantized

BLOCK = 32  # GGUF's Q4_1/Q8_0 block length along the input features, and ours


def _blocks(raw, out_features, in_features, block_bytes):
    return raw.reshape(out_features, in_features // BLOCK, block_bytes)


def repack_q4_1(raw, out_features, in_features):
    """GGUF Q4_1 (value = d*q + m) → 4-bit MatMulNBits plus a per-block offset, exactly.

    A Q4_1 block is d (f16), m (f16), then 16 bytes: low nibbles hold values 0..15 and
    high nibbles values 16..31. MatMulNBits wants value 2i in the low and 2i+1 in the high
    nibble of byte i. Its fast kernels need integer zero points, and -m/d is not one, so we
    split d*q + m = d*(q - 8) + (m + 8d): MatMulNBits with the default zero point 8, plus
    the block offsets times each block's input sum (a matmul 32× smaller; see graph.linear).
    """
    blocks = _blocks(raw, out_features, in_features, 20)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = blocks[..., 4:20]
    values = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)            # [N, blocks, 32] in order
    packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    offsets = (m + 8.0 * d).astype(np.float32)                           # [N, blocks]
    return BlockQuantized(packed, d.reshape(-1), None, 4, BLOCK, in_features, out_features,
                          block_offsets=offsets)


def repack_q4_k(raw, out_features, in_features):
    """GGUF Q4_K → 4-bit MatMulNBits plus a per-block offset, exactly, as Q4_1.

    A Q4_K super-block holds 256 values: d and dmin (f16), twelve bytes packing a 6-bit
    scale and a 6-bit minimum for each of its eight 32-value sub-blocks, then 128 bytes of
    4-bit values: for chunk j (0..3), the low nibbles of bytes 32j..32j+31 are sub-block 2j
    and the high nibbles sub-block 2j+1. A value is (d*scale)*q - (dmin*min): per sub-block
    the Q4_1 shape d'*q + m', which repack_q4_1 explains. d*scale and dmin*min are exact in
    float32 (an 11-bit mantissa times a 6-bit integer)."""
    blocks = raw.reshape(out_features, in_features // 256, 144)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)       # [N, S]
    dmin = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    q = blocks[..., 4:16].astype(np.uint8)                                          # [N, S, 12]
    low = np.arange(4)
    scales = np.concatenate([q[..., low] & 63, (q[..., low + 8] & 0x0F) | ((q[..., low] >> 6) << 4)], axis=-1)
    mins = np.concatenate([q[..., low + 4] & 63, (q[..., low + 8] >> 4) | ((q[..., low + 4] >> 6) << 4)], axis=-1)
    qs = blocks[..., 16:144].reshape(out_features, in_features // 256, 4, 32)
    # Sub-blocks in order: chunk j's low nibbles, then its high nibbles.
    values = np.stack([qs & 0x0F, qs >> 4], axis=3).reshape(out_features, in_features // BLOCK, BLOCK)
    step = (d[..., None] * scales.astype(np.float32)).reshape(out_features, -1)    # [N, K/32]
    offset = -(dmin[..., None] * mins.astype(np.float32)).reshape(out_features, -1)
    packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    return BlockQuantized(packed, step.reshape(-1), None, 4, BLOCK, in_features, out_features,
                          block_offsets=(offset + 8.0 * step).astype(np.float32))


def repack_q8_0(raw, out_features, in_features):
    """GGUF Q8_0 (value = d*q, q int8) → 8-bit MatMulNBits with zero point 128, exactly."""
    blocks = _blocks(raw, out_features, in_features, 34)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    q = blocks[..., 2:34].view(np.int8).astype(np.int16)
    packed = (q + 128).astype(np.uint8)
    return BlockQuantized(packed, d.reshape(-1), None, 8, BLOCK, in_features, out_features)


def repack_q5_0(raw, out_features, in_features):
    """GGUF Q5_0 (value = d*(q - 16), q 0..31 per block of 32) → 8-bit MatMulNBits, exactly."""
    d = _f16(_blocks(raw, out_features, in_features, 22)[..., 0:2])              # [N, K/32]
    return _integer_8bit(_dequantized(raw, "Q5_0", out_features, in_features), d, BLOCK)


def repack_q6_k(raw, out_features, in_features):
    """GGUF Q6_K → 8-bit MatMulNBits with blocks of 16, exactly.

    A Q6_K super-block of 256 values is 128 bytes of low nibbles, 64 of high bit pairs, 16
    int8 scales (one per 16 values) and d (f16): value = d*scale*(q - 32), q 0..63. A
    MatMulNBits block of 16 with scale d*scale (exact in float32) holds it; 16-value blocks
    keep ONNX Runtime's int8-compute kernel (measured as fast as blocks of 32)."""
    blocks = raw.reshape(out_features, in_features // 256, 210)
    d = _f16(blocks[..., 208:210])                                                # [N, S]
    scales = blocks[..., 192:208].copy().view(np.int8).astype(np.float32)        # [N, S, 16]
    step = (d[..., None] * scales).reshape(out_features, in_features // 16)
    return _integer_8bit(_dequantized(raw, "Q6_K", out_features, in_features), step, 16)


def _f16(two_bytes):
    return two_bytes.copy().view(np.float16)[..., 0].astype(np.float32)


def _dequantized(raw, qtype, out_features, in_features):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize
    return np.asarray(dequantize(raw, GGMLQuantizationType[qtype]), np.float32).reshape(out_features, in_features)


def _integer_8bit(values, steps, block):
    """Weights that are `step * integer` per block (|integer| <= 127) → 8-bit MatMulNBits
    with the implicit zero point 128. Checks the result reproduces `values` bit for bit:
    the GGUF layouts are read from the gguf package's own dequantiser, so a format we
    misread fails here instead of converting silently into a different model."""
    out_features, in_features = values.shape
    grouped = values.reshape(out_features, in_features // block, block)
    safe = np.where(steps == 0, np.float32(1.0), steps).astype(np.float32)
    q = np.rint(grouped / safe[..., None])
    if np.abs(q).max() > 127 or not np.array_equal((q * steps[..., None]).astype(np.float32), grouped):
        raise ValueError("weights are not integer multiples of their block scales")
    packed = (q + 128).astype(np.uint8)
    return BlockQuantized(packed, steps.astype(np.float32).reshape(-1), None, 8, block, in_features, out_features)


def quantize_8bit(weight):
    """Float [N, K] → symmetric 8-bit per block of 32 along K."""
    return _quantize_symmetric(weight, 8)


def quantize_4bit(weight):
    """Float [N, K] → symmetric 4-bit per block of 32 (for GGUF types we cannot repack)."""
    return _quantize_symmetric(weight, 4)


def _quantize_symmetric(weight, bits):
    """Absmax scale per block and the implicit zero point (2^(bits-1)).

    Leaving out the zero-point input keeps ONNX Runtime on its fast kernels: with one, the
    float-compute path dequantises the whole matrix on every call (measured ~12x slower).
    """
    mid = 1 << (bits - 1)
    out_features, in_features = weight.shape
    blocks = weight.reshape(out_features, in_features // BLOCK, BLOCK).astype(np.float32)
    scale = np.abs(blocks).max(axis=-1) / (mid - 1)
    scale = np.where(scale == 0, np.float32(1.0), scale).astype(np.float32)
    q = (np.clip(np.round(blocks / scale[..., None]), 1 - mid, mid - 1) + mid).astype(np.uint8)
    if bits == 4:   # two values a byte, the first in the low nibble
        q = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return BlockQuantized(q, scale.reshape(-1), None, bits, BLOCK, in_features, out_features)
