"""A decoder graph in the optimum `text-generation-with-past` convention (concatenating
attention, `present` = past + new, logits for every position), built from the same weight
lookup as tools/prepare-model's packed graphs: what an optimum export of the tiny model
would be, for the import-optimum tests."""
import numpy as np
from onnx import TensorProto, helper

from flinkllm_tools.graph import MS_DOMAIN, OPSET, DecoderGraph


class ConcatenatingGraph(DecoderGraph):
    def attention(self, layer, x, rope):
        b, c, w = self.b, self.c, self.w
        g, d, kv, heads = c.num_heads // c.num_kv_heads, c.head_dim, c.num_kv_heads, c.num_heads
        p = f"layers.{layer}."
        q, k, v = self.projections(x, [w(p + "q"), w(p + "k"), w(p + "v")])
        q = self.apply_rotary(q, heads, rope)
        k = self.apply_rotary(k, kv, rope)
        split = lambda t, n: b.op("Transpose", [b.op("Reshape", [t, self._i64([0, 0, n, d])])], perm=[0, 2, 1, 3])
        present_key = b.op("Concat", [f"past_key_values.{layer}.key", split(k, kv)], axis=2, outputs=[f"present.{layer}.key"])
        present_value = b.op("Concat", [f"past_key_values.{layer}.value", split(v, kv)], axis=2,
                             outputs=[f"present.{layer}.value"])
        # [batch, kv, g * seq, d]: each kv head's query heads one after another.
        query = b.op("Reshape", [split(q, heads), self._i64([0, kv, -1, d])])
        scores = b.op("Mul", [b.op("MatMul", [query, b.op("Transpose", [present_key], perm=[0, 1, 3, 2])]),
                              self._f32(1.0 / np.sqrt(d))])
        scores = b.op("Where", [self.visible, scores, self._f32(-np.inf)])
        context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), present_value])
        context = b.op("Reshape", [context, self._i64([0, heads, -1, d])])
        context = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), self._i64([0, 0, heads * d])])
        return self.linear(context, w(p + "o"))

    def build(self):
        b, c, w = self.b, self.c, self.w
        g = c.num_heads // c.num_kv_heads
        self._embed_table = b.const(w("embed").astype(np.float32), "embed_tokens")
        seq = b.op("Shape", ["input_ids"], start=1, end=2)
        total = b.op("Shape", ["attention_mask"], start=1, end=2)
        column = b.op("Range", [self._i64(0), b.op("Squeeze", [total]), self._i64(1)])
        row = b.op("Add", [b.op("Range", [self._i64(0), b.op("Squeeze", [seq]), self._i64(1)]), b.op("Sub", [total, seq])])
        row = b.op("Reshape", [b.op("Tile", [row, self._i64([g])]), self._i64([-1, 1])])
        causal = b.op("LessOrEqual", [b.op("Unsqueeze", [column, self._i64([0])]), row])
        attend = b.op("Unsqueeze", [b.op("Cast", ["attention_mask"], to=TensorProto.BOOL), self._i64([1, 2])])
        self.visible = b.op("And", [causal, attend])
        rope = self.rotary("position_ids")
        h = self.blocks(b.op("Gather", [self._embed_table, "input_ids"]), rope)
        logits = self.linear(self.rms_norm(h, w("final_norm")), w("lm_head"))
        b.op("Identity", [logits], outputs=["logits"])
        ids = lambda name, dims: helper.make_tensor_value_info(name, TensorProto.INT64, dims)
        cache = lambda name, length: helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", c.num_kv_heads, length, c.head_dim])
        inputs = [ids("input_ids", ["batch", "seq"]), ids("attention_mask", ["batch", "total"]), ids("position_ids", ["batch", "seq"])]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", c.vocab_size])]
        for i in range(c.num_layers):
            for kind in ("key", "value"):
                inputs.append(cache(f"past_key_values.{i}.{kind}", "past"))
                outputs.append(cache(f"present.{i}.{kind}", "total"))
        graph = helper.make_graph(b.nodes, "optimum", inputs, outputs, b.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)])
        model.ir_version = 10
        return model
