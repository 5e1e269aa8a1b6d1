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
