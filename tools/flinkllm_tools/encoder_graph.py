"""The encoder graph: a BERT-family sentence encoder as ONNX, with the I/O of the usual
`feature-extraction` export (`input_ids`, `attention_mask`, `token_type_ids` →
`last_hidden_state`), so the engine pools and normalises and any such export runs too.

Standard ONNX ops only (ORT fuses the attention, LayerNorm and GELU patterns); projections
are MatMul (fp32) or 8-bit MatMulNBits with int8 activations (int8). Padded positions are
masked out of every row's attention with an additive bias whose exponent is exactly 0, so
a row's vector does not depend on how long the other rows of its batch are.
"""
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper

from .graph import MS_DOMAIN, OPSET, Dense, ProjectionGraph
from .quantize import quantize_8bit

# Added to the attention scores of padded keys: exp(-1e9 - max) is exactly 0 in float32.
MASKED_SCORE = -1e9


@dataclass
class BertConfig:
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    vocab_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, cfg):
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
            raise ValueError(f"not a BERT encoder with gelu: model_type {cfg.get('model_type')!r}, "
                             f"hidden_act {cfg.get('hidden_act')!r}")
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"],
                   cfg["num_attention_heads"], cfg["vocab_size"], cfg["max_position_embeddings"],
                   cfg["type_vocab_size"], cfg["layer_norm_eps"])


class EncoderGraph(ProjectionGraph):
    """`weights`: the safetensors names of a Hugging Face `BertModel` → float arrays."""

    def __init__(self, config: BertConfig, weights, precision):
        super().__init__(accuracy_level=4)
        self.c, self.weights, self.precision = config, weights, precision

    def w(self, name):
        return self.weights[name].astype(np.float32)

    def projection(self, name):
        weight = self.w(name + ".weight")
        return Dense(weight) if self.precision == "fp32" else quantize_8bit(weight)

    def layer_norm(self, x, prefix):
        b = self.b
        return b.op("LayerNormalization", [x, b.const(self.w(prefix + ".weight"), "ln_scale"),
                                           b.const(self.w(prefix + ".bias"), "ln_bias")],
                    axis=-1, epsilon=self.c.layer_norm_eps)

    def dense(self, x, prefix):
        return self.linear(x, self.projection(prefix), self.w(prefix + ".bias"))

    def embeddings(self):
        b = self.b
        words = b.op("Gather", [b.const(self.w("embeddings.word_embeddings.weight"), "word_embeddings"), "input_ids"])
        types = b.op("Gather", [b.const(self.w("embeddings.token_type_embeddings.weight"), "type_embeddings"),
                                "token_type_ids"])
        seq = b.op("Squeeze", [b.op("Shape", ["input_ids"], start=1, end=2)])
        positions = b.op("Range", [self._i64(0), seq, self._i64(1)])
        pos = b.op("Gather", [b.const(self.w("embeddings.position_embeddings.weight"), "position_embeddings"), positions])
        return self.layer_norm(b.op("Add", [b.op("Add", [words, types]), pos]), "embeddings.LayerNorm")

    def mask_bias(self):
        """[batch, 1, 1, seq]: 0 where the mask is 1, MASKED_SCORE where it is 0."""
        b = self.b
        padding = b.op("Sub", [self._f32(1.0), b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)])
        return b.op("Unsqueeze", [b.op("Mul", [padding, self._f32(MASKED_SCORE)]), self._i64([1, 2])])

    def heads(self, x):
        """[batch, seq, hidden] → [batch, heads, seq, head_dim]."""
        c, b = self.c, self.b
        split = b.op("Reshape", [x, self._i64([0, 0, c.num_heads, c.hidden_size // c.num_heads])])
        return b.op("Transpose", [split], perm=[0, 2, 1, 3])

    def attention(self, layer, x, bias):
        b, c = self.b, self.c
        p = f"encoder.layer.{layer}.attention.self."
        specs = [self.projection(p + n) for n in ("query", "key", "value")]
        biases = [self.w(p + n + ".bias") for n in ("query", "key", "value")]
        q, k, v = self.projections(x, specs, biases)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        scale = self._f32(1.0 / np.sqrt(c.hidden_size // c.num_heads))
        scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])]), scale]), bias])
        context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
        merged = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), self._i64([0, 0, c.hidden_size])])
        return self.dense(merged, f"encoder.layer.{layer}.attention.output.dense")

    def gelu(self, x):
        """The exact (erf) GELU BERT uses: 0.5 * x * (1 + erf(x / sqrt 2))."""
        b = self.b
        erf = b.op("Erf", [b.op("Div", [x, self._f32(np.sqrt(2.0))])])
        return b.op("Mul", [b.op("Mul", [x, self._f32(0.5)]), b.op("Add", [erf, self._f32(1.0)])])

    def build(self):
        b = self.b
        h = self.embeddings()
        bias = self.mask_bias()
        for layer in range(self.c.num_layers):
            p = f"encoder.layer.{layer}."
            h = self.layer_norm(b.op("Add", [h, self.attention(layer, h, bias)]), p + "attention.output.LayerNorm")
            ffn = self.dense(self.gelu(self.dense(h, p + "intermediate.dense")), p + "output.dense")
            h = self.layer_norm(b.op("Add", [h, ffn]), p + "output.LayerNorm")
        b.op("Identity", [h], outputs=["last_hidden_state"])
        inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch_size", "sequence_length"])
                  for n in ("input_ids", "attention_mask", "token_type_ids")]
        outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                                 ["batch_size", "sequence_length", self.c.hidden_size])]
        graph = helper.make_graph(b.nodes, "encoder", inputs, outputs, b.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
                                  producer_name="flinkllm")
        model.ir_version = 10
        return model
