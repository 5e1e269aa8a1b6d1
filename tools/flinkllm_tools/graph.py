"""The decoder graph: a Llama-family transformer as ONNX, with optimum-style KV-cache I/O.

Standard ONNX ops plus two ONNX Runtime contrib ops: MatMulNBits for block-quantised
weights and GroupQueryAttention, so ORT's own fusions apply and the graph stays readable.
Rows are right-padded: `attention_mask` marks each row's cache columns 0..len, and
rotary positions come from `position_ids`, which is what batched decoding needs.
"""
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21
MS_DOMAIN = "com.microsoft"


@dataclass
class LlamaConfig:
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    rope_theta: float
    rms_eps: float
    context_length: int
    attention_bias: bool = False


@dataclass
class Dense:
    """A float weight in PyTorch layout: [out_features, in_features]."""
    weight: np.ndarray


@dataclass
class TiedEmbedding:
    """The output projection re-uses the input embedding table (no second copy)."""


@dataclass
class BlockQuantized:
    """A weight for com.microsoft MatMulNBits: `(q - zero_point) * scale` per block along K."""
    packed: np.ndarray        # uint8 [N, blocks, block_size * bits / 8]
    scales: np.ndarray        # float32 [N * blocks]
    zero_points: np.ndarray   # uint8 packed (bits per value), float32 [N * blocks], or None
    bits: int
    block_size: int
    in_features: int          # K
    out_features: int         # N
    block_offsets: np.ndarray = None  # float32 [N, blocks]: added as offset * sum(x over block)


def fuse(specs):
    """One projection for several that read the same input (q/k/v, gate/up): fewer, larger
    matmuls, which on CPU saves per-node overhead that rivals the small matmuls themselves.
    Returns the fused spec, or None when the specs cannot share one node."""
    if all(isinstance(s, Dense) for s in specs):
        return Dense(np.concatenate([s.weight for s in specs], axis=0))
    if not all(isinstance(s, BlockQuantized) for s in specs):
        return None
    first = specs[0]
    same = all((s.bits, s.block_size, s.in_features) == (first.bits, first.block_size, first.in_features)
               and (s.zero_points is None) == (first.zero_points is None)
               and (s.block_offsets is None) == (first.block_offsets is None) for s in specs)
    if not same or first.zero_points is not None:
        return None
    return BlockQuantized(
        np.concatenate([s.packed for s in specs], axis=0), np.concatenate([s.scales for s in specs]), None,
        first.bits, first.block_size, first.in_features, sum(s.out_features for s in specs),
        block_offsets=None if first.block_offsets is None else np.concatenate([s.block_offsets for s in specs]))


def out_features(spec):
    return spec.weight.shape[0] if isinstance(spec, Dense) else spec.out_features


class _Builder:
    """Collects nodes and initializers with unique names."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array, hint="const"):
        tensor = numpy_helper.from_array(np.asarray(array), self.name(hint))
        self.initializers.append(tensor)
        return tensor.name

    def op(self, op_type, inputs, hint=None, domain=None, outputs=None, **attrs):
        outs = outputs or [self.name(hint or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs


class ProjectionGraph:
    """What the decoder and encoder graphs share: constants and the projections of
    `Dense` or `BlockQuantized` weights (one node, or one fused node split)."""

    def __init__(self, accuracy_level=4):
        self.accuracy_level = accuracy_level
        self.b = _Builder()
        self._embed_table = None

    def _i64(self, values):
        return self.b.const(np.array(values, dtype=np.int64), "shape")

    def _f32(self, value):
        return self.b.const(np.array(value, dtype=np.float32), "scalar")

    def linear(self, x, spec, bias=None):
        b = self.b
        if isinstance(spec, Dense):
            y = b.op("MatMul", [x, b.const(np.ascontiguousarray(spec.weight.T, dtype=np.float32), "weight")])
        elif isinstance(spec, BlockQuantized):
            inputs = [x, b.const(spec.packed, "qweight"), b.const(spec.scales, "scales")]
            if spec.zero_points is not None:   # absent = the symmetric midpoint (8 for 4 bits)
                inputs.append(b.const(spec.zero_points, "zero_points"))
            y = b.op("MatMulNBits", inputs,
                     domain=MS_DOMAIN, K=spec.in_features, N=spec.out_features, bits=spec.bits,
                     block_size=spec.block_size, accuracy_level=self.node_accuracy_level(spec))
            if spec.block_offsets is not None:
                y = b.op("Add", [y, self._block_offset_term(x, spec)])
        elif isinstance(spec, TiedEmbedding):
            # Gemm with transB reads the [vocab, hidden] table in place: no transposed copy.
            flat = b.op("Reshape", [x, self._i64([-1, self.c.hidden_size])])
            logits = b.op("Gemm", [flat, self._embed_table], transB=1)
            y = b.op("Reshape", [logits, b.op("Concat", [b.op("Shape", [x], end=2), self._i64([-1])], axis=0)])
        else:
            raise TypeError(f"unknown weight spec {type(spec).__name__}")
        if bias is not None:
            y = b.op("Add", [y, b.const(bias.astype(np.float32), "bias")])
        return y

    def node_accuracy_level(self, spec):
        """The graph's level for 4-bit nodes; 8-bit nodes always compute with int8
        activations (level 4): ONNX Runtime has no float kernel for 8 bits and below level 4
        dequantises the whole matrix on every call (~250x slower per one-row matmul, measured)."""
        return max(self.accuracy_level, 4) if spec.bits == 8 else self.accuracy_level

    def projections(self, x, specs, biases=None):
        """x @ each spec, fused into one node and split when possible."""
        fused = fuse(specs)
        if fused is None:
            return [self.linear(x, spec, bias) for spec, bias in zip(specs, biases or [None] * len(specs))]
        bias = None if biases is None else np.concatenate(biases)
        y = self.linear(x, fused, bias)
        return self.b.op("Split", [y, self._i64([out_features(s) for s in specs])], axis=-1,
                         outputs=[self.b.name("proj") for _ in specs])

    def _block_offset_term(self, x, spec):
        """sum over blocks of offset[n, blk] * sum(x[k] for k in blk): [.., K] → [.., N]."""
        b = self.b
        blocks = spec.in_features // spec.block_size
        grouped = b.op("Reshape", [x, self._i64([0, 0, blocks, spec.block_size])])
        block_sums = b.op("ReduceSum", [grouped, self._i64([-1])], keepdims=0)
        return b.op("MatMul", [block_sums, b.const(np.ascontiguousarray(spec.block_offsets.T), "block_offsets")])


class DecoderGraph(ProjectionGraph):
    """Builds the ONNX model from a config and a weight lookup (see `build`)."""

    def __init__(self, config: LlamaConfig, weights, accuracy_level=4):
        super().__init__(accuracy_level)
        self.c = config
        self.w = weights

    def rms_norm(self, x, weight):
        # The Pow→ReduceMean→Add→Sqrt→Div→Mul chain is what ORT fuses into SimplifiedLayerNormalization.
        b = self.b
        var = b.op("ReduceMean", [b.op("Pow", [x, self._f32(2.0)]), self._i64([-1])], keepdims=1)
        denom = b.op("Sqrt", [b.op("Add", [var, self._f32(self.c.rms_eps)])])
        return b.op("Mul", [b.op("Div", [x, denom]), b.const(weight.astype(np.float32), "norm_weight")])

    # ---- graph parts --------------------------------------------------------------
    def sequence_lengths(self, attention_mask):
        """GroupQueryAttention's per-row lengths from the optimum-style mask: rows are
        right-padded (a row's tokens fill columns 0..len, the mask is 1 there), so
        `seqlens_k` = attended columns - 1 and the total length is the mask's width."""
        b = self.b
        attended = b.op("ReduceSum", [attention_mask, self._i64([1])], keepdims=0)
        seqlens_k = b.op("Cast", [b.op("Sub", [attended, self._i64(1)])], to=TensorProto.INT32)
        total = b.op("Cast", [b.op("Squeeze", [b.op("Shape", [attention_mask], start=1, end=2)])], to=TensorProto.INT32)
        return seqlens_k, total

    def rotary(self, position_ids):
        """cos and sin, each [batch, seq, 1, head_dim], for rotate-half rope on [batch, seq, heads, head_dim]."""
        b, c = self.b, self.c
        inv_freq = 1.0 / (c.rope_theta ** (np.arange(0, c.head_dim, 2, dtype=np.float64) / c.head_dim))
        pos = b.op("Unsqueeze", [b.op("Cast", [position_ids], to=TensorProto.FLOAT), self._i64([-1])])
        freqs = b.op("Mul", [pos, b.const(inv_freq.astype(np.float32), "inv_freq")])
        angles = b.op("Unsqueeze", [b.op("Concat", [freqs, freqs], axis=-1), self._i64([2])])
        return b.op("Cos", [angles]), b.op("Sin", [angles])

    def apply_rotary(self, x, count, cos, sin):
        """Rope on a projection [batch, seq, count*head_dim], returned in the same layout."""
        b, d = self.b, self.c.head_dim
        half = d // 2
        x = b.op("Reshape", [x, self._i64([0, 0, count, d])])
        first = b.op("Slice", [x, self._i64([0]), self._i64([half]), self._i64([-1])])
        second = b.op("Slice", [x, self._i64([half]), self._i64([d]), self._i64([-1])])
        rotated = b.op("Concat", [b.op("Neg", [second]), first], axis=-1)
        x = b.op("Add", [b.op("Mul", [x, cos]), b.op("Mul", [rotated, sin])])
        return b.op("Reshape", [x, self._i64([0, 0, count * d])])

    def attention(self, layer, x, lengths, cos, sin):
        """ONNX Runtime's GroupQueryAttention over a right-padded cache. Each row's
        attention reads only its own `seqlens_k + 1` columns, so a row's result does not
        depend on which other rows share the batch or how long they are: batched and
        single-row decoding agree bit for bit. The new keys/values are written at each
        row's own length, so a shorter row's cache never has holes."""
        b, c, w = self.b, self.c, self.w
        p = f"layers.{layer}."
        biases = [w(p + n) for n in ("q_bias", "k_bias", "v_bias")] if c.attention_bias else None
        q, k, v = self.projections(x, [w(p + "q"), w(p + "k"), w(p + "v")], biases)
        q = self.apply_rotary(q, c.num_heads, cos, sin)
        k = self.apply_rotary(k, c.num_kv_heads, cos, sin)
        seqlens_k, total = lengths
        context = b.op("GroupQueryAttention",
                       [q, k, v, f"past_key_values.{layer}.key", f"past_key_values.{layer}.value", seqlens_k, total],
                       domain=MS_DOMAIN, num_heads=c.num_heads, kv_num_heads=c.num_kv_heads,
                       scale=float(1.0 / np.sqrt(c.head_dim)),
                       outputs=[b.name("context"), f"present.{layer}.key", f"present.{layer}.value"])[0]
        return self.linear(context, w(p + "o"))

    def mlp(self, layer, x):
        b, w, p = self.b, self.w, f"layers.{layer}."
        gate, up = self.projections(x, [w(p + "gate"), w(p + "up")])
        activated = b.op("Mul", [b.op("Mul", [gate, b.op("Sigmoid", [gate])]), up])
        return self.linear(activated, w(p + "down"))

    # ---- whole model --------------------------------------------------------------
    def build(self):
        b, c, w = self.b, self.c, self.w
        self._embed_table = b.const(w("embed").astype(np.float32), "embed_tokens")
        lengths = self.sequence_lengths("attention_mask")
        cos, sin = self.rotary("position_ids")

        h = b.op("Gather", [self._embed_table, "input_ids"])
        for layer in range(c.num_layers):
            p = f"layers.{layer}."
            h = b.op("Add", [h, self.attention(layer, self.rms_norm(h, w(p + "attn_norm")), lengths, cos, sin)])
            h = b.op("Add", [h, self.mlp(layer, self.rms_norm(h, w(p + "ffn_norm")))])

        # Only the last `num_logits_to_keep` positions need logits (0 = all): prefill of a
        # long prompt then skips a [seq, vocab] projection it would throw away.
        keep = b.op("Reshape", ["num_logits_to_keep", self._i64([1])])
        h = b.op("Slice", [h, b.op("Neg", [keep]), self._i64([np.iinfo(np.int64).max]), self._i64([1])])
        h = self.rms_norm(h, w("final_norm"))
        logits = self.linear(h, w("lm_head"))
        b.op("Identity", [logits], outputs=["logits"])
        return self._model()

    def _model(self):
        c = self.c
        kv_shape = ["batch_size", c.num_kv_heads, "past_sequence_length", c.head_dim]
        present_shape = ["batch_size", c.num_kv_heads, "total_sequence_length", c.head_dim]
        inputs = [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        ]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "logits_length", c.vocab_size])]
        for i in range(c.num_layers):
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, kv_shape))
                outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, present_shape))
        inputs.append(helper.make_tensor_value_info("num_logits_to_keep", TensorProto.INT64, []))
        graph = helper.make_graph(self.b.nodes, "decoder", inputs, outputs, self.b.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
                                  producer_name="flinkllm")
        model.ir_version = 10
        return model


def save_model(model, out_dir):
    """model.onnx plus one external-data file, so ORT can map weights instead of parsing protobuf."""
    import os
    onnx.save_model(model, os.path.join(out_dir, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=1024)
