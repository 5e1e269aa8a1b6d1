"""The decoder graph: a Llama-family transformer as ONNX, with optimum-style KV-cache I/O.

Standard ONNX ops plus two ONNX Runtime contrib ops (MatMulNBits for block-quantised
weights, FusedMatMul for attention scores), so ORT's own fusions apply and the graph stays
readable. A pass is "packed": the new tokens of all its rows, one after another, whatever
each row feeds (a prompt, a jump-forward chunk, one token), over a batch of KV caches that
the graph only reads; it returns the new keys and values for the caller to append. Every
row's floats are the same as when it runs alone (docs/model-directory.md, "Packed passes").
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
    def rotary(self, position_ids):
        """What `apply_rotary` needs: the positions and cos/sin tables [context, head_dim / 2]
        (computed in float64, stored as float32)."""
        c = self.c
        inv_freq = 1.0 / (c.rope_theta ** (np.arange(0, c.head_dim, 2, dtype=np.float64) / c.head_dim))
        angles = np.arange(c.context_length, dtype=np.float64)[:, None] * inv_freq[None, :]
        return (position_ids, self.b.const(np.cos(angles).astype(np.float32), "cos_cache"),
                self.b.const(np.sin(angles).astype(np.float32), "sin_cache"))

    def apply_rotary(self, x, count, rope):
        """Rotate-half rope on a projection [batch, tokens, count*head_dim], in one
        RotaryEmbedding node (each token on its own: the same floats in any pass)."""
        position_ids, cos_cache, sin_cache = rope
        return self.b.op("RotaryEmbedding", [x, position_ids, cos_cache, sin_cache], domain=MS_DOMAIN,
                         interleaved=0, num_heads=count)

    def layout(self):
        """What every layer's attention shares, computed once per pass: which columns and
        new tokens each query may read, the shapes its reshapes take and the ones its sums
        multiply by (see `attention` and docs/model-directory.md, "Packed passes")."""
        b, c = self.b, self.c
        g, kv, d, heads = c.num_heads // c.num_kv_heads, c.num_kv_heads, c.head_dim, c.num_heads
        as_bool = lambda name, axes: b.op("Unsqueeze", [b.op("Cast", [name], to=TensorProto.BOOL), self._i64(axes)])
        batch = b.op("Shape", ["token_index"])
        chunks = b.op("Shape", ["chunk_rows"])
        length = b.op("Shape", ["chunk_mask"], start=1, end=2)
        queries = b.op("Mul", [self._i64([g]), length])
        steps = b.op("Range", [self._i64(0), b.op("Squeeze", [length]), self._i64(1)])
        # Query slot i of a chunk (repeated for each query head of a group) reads new token j <= i.
        query_step = b.op("Reshape", [b.op("Tile", [steps, self._i64([g])]), self._i64([-1, 1])])
        causal = b.op("LessOrEqual", [b.op("Unsqueeze", [steps, self._i64([0])]), query_step])
        fill = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
        ones = lambda width: b.op("ConstantOfShape", [b.op("Concat", [width, self._i64([16])], axis=0)], value=fill)
        shape = lambda *dims: b.op("Concat", [x if isinstance(x, str) else self._i64([x]) for x in dims], axis=0)
        tokens = b.op("Shape", ["input_ids"], start=1, end=2)
        summary = d + 2   # per query: the prefix's score maximum, weight sum and weighted values
        self.rows = {
            # An empty prefix is one masked column (prefix_mask [0]); a prefix is all ones.
            "has_prefix": b.op("Cast", [b.op("ReduceMax", ["prefix_mask"], keepdims=0)], to=TensorProto.BOOL),
            "prefix": {"stacked": shape(1, kv, b.op("Mul", [tokens, self._i64([g])]), d),
                       "unstacked": shape(kv, tokens, g, summary), "flat": shape(tokens, kv * g * summary)},
            "past_ok": as_bool("past_mask", [1, 2]),                       # [batch, 1, 1, past]
            "token_ok": as_bool("token_mask", [1, 2, 3]),                  # [batch, 1, 1, 1]
            "chunk_past_ok": b.op("Gather", [as_bool("past_mask", [1, 2]), "chunk_rows"], axis=0),
            "chunk_ok": b.op("And", [causal, as_bool("chunk_mask", [1, 2])]),  # [chunks, 1, g*len, len]
            "has_chunks": b.op("Cast", [b.op("ReduceMax", ["chunk_mask"], keepdims=0)], to=TensorProto.BOOL),
            "has_tokens": b.op("Cast", [b.op("ReduceMax", ["token_mask"], keepdims=0)], to=TensorProto.BOOL),
            "no_tokens": b.op("ConstantOfShape", [shape(batch, heads * d)], value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])),
            "no_chunks": b.const(np.zeros((0, heads * d), np.float32), "no_chunks"),
            "ones": {"prefix": ones(b.op("Shape", ["prefix_mask"])), "past": ones(b.op("Shape", ["past_mask"], start=1, end=2)),
                     "token": ones(self._i64([1])), "chunk": ones(length)},
            "token": dict(query=shape(batch, kv, g, d), summary=shape(batch, kv, g, summary),
                          key=shape(batch, kv, 1, d), context=shape(batch, heads * d)),
            "chunk": dict(gathered_query=shape(chunks, length, kv, g, d), gathered_summary=shape(chunks, length, kv, g, summary),
                          summary=shape(chunks, kv, queries, summary), gathered_key=shape(chunks, length, kv, 1, d),
                          query=shape(chunks, kv, queries, d), key=shape(chunks, kv, length, d),
                          heads=shape(chunks, kv, g, length, d), context=shape(b.op("Shape", ["chunk_index"]), heads * d)),
        }

    def branch(self, condition, build, otherwise):
        """An If node: the nodes `build()` adds run only when `condition` holds, else the
        result is `otherwise` (a tensor of the outer graph). Returns the result's name."""
        b = self.b
        outer, b.nodes = b.nodes, []
        result = build()
        then_nodes, b.nodes = b.nodes, outer
        out = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
        then_branch = helper.make_graph(then_nodes, b.name("then"), [], [out(result)])
        passed = b.name("otherwise")
        else_branch = helper.make_graph([helper.make_node("Identity", [otherwise], [passed])], b.name("else"), [], [out(passed)])
        return b.op("If", [condition], then_branch=then_branch, else_branch=else_branch)

    def _reshape(self, x, shape):
        """Reshape to a shape tensor from `layout`; zero is a size there, not 'copy'."""
        return self.b.op("Reshape", [x, shape], allowzero=1)

    def prefix_summary(self, q_flat, prefix_key, prefix_value):
        """Every packed token's attention over the task's prefix (key, value [1, kv_heads,
        P, d], shared by all rows), in one pass over it: each query's score maximum m, its
        weight sum s and weighted values v (weights exp(score - m)), as [tokens, kv_heads *
        g * (d + 2)] for the token and chunk groups to gather (`_attend` joins them to the
        row's own parts). Computed over the packed tokens, not the groups' padded slots, and
        the prefix read once whatever mix of rows the pass holds."""
        b, c, shapes = self.b, self.c, self.rows["prefix"]
        kv, g, d = c.num_kv_heads, c.num_heads // c.num_kv_heads, c.head_dim
        # [tokens, heads * d] -> [1, kv, tokens * g, d]: one matmul for every query of a head group.
        stacked = self._reshape(b.op("Transpose", [self._reshape(q_flat, self._i64([-1, kv, g, d]))], perm=[1, 0, 2, 3]),
                                shapes["stacked"])
        scores = b.op("FusedMatMul", [stacked, prefix_key], domain=MS_DOMAIN, transB=1)
        top = b.op("ReduceMax", [scores, self._i64([-1])], keepdims=1)
        weights = b.op("Exp", [b.op("Sub", [scores, top])])
        total = b.op("Slice", [b.op("MatMul", [weights, self.rows["ones"]["prefix"]]), self._i64([0]), self._i64([1]), self._i64([-1])])
        summary = b.op("Concat", [top, total, b.op("MatMul", [weights, prefix_value])], axis=-1)
        per_token = b.op("Transpose", [self._reshape(summary, shapes["unstacked"])], perm=[1, 0, 2, 3])
        return self._reshape(per_token, shapes["flat"])

    def _attend(self, query, prefix, parts):
        """Softmax attention of `query` [count, kv_heads, slots, d] (already scaled; the
        token or chunk group) over three parts, so that no cache is copied: the task's
        prefix, as `prefix_summary` gave it for these queries ([count, kv_heads, slots, d +
        2]), then `parts`, each (keys, values [count, kv_heads, n, d], mask, ones): a row's
        own cached columns and its new tokens. The prefix's share is rescaled to the
        maximum over all three parts (exp(m - max)), or dropped when the task has none.

        Only ops whose result for one row does not depend on the others, on the caches'
        widths or on the padding after a row's tokens: matmuls reduce in a fixed order over
        the columns (padding adds exact zeros), the maxima are exact, the sums come from
        matmuls too (ones as 16 columns: a one-column matmul takes another kernel whose
        rounding depends on the width), and the parts are added in a fixed order. So a row's
        floats are the same alone and in any batch (tests/model/test_decoding.py)."""
        b = self.b
        d = self.c.head_dim
        neg = self._f32(-np.inf)
        cut = lambda x, start, end: b.op("Slice", [x, self._i64([start]), self._i64([end]), self._i64([-1])])
        # Sums as [.., 16] (every column the same), cut to one column once at the end.
        weight_sum = lambda weights, ones: b.op("MatMul", [weights, ones])

        prefix_top = b.op("Where", [self.rows["has_prefix"], cut(prefix, 0, 1), neg])
        scores = [b.op("Where", [ok, b.op("FusedMatMul", [query, keys], domain=MS_DOMAIN, transB=1), neg]) for keys, _, ok, _ in parts]
        top = b.op("Max", [prefix_top] + [b.op("ReduceMax", [s, self._i64([-1])], keepdims=1) for s in scores])
        prefix_scale = b.op("Exp", [b.op("Sub", [prefix_top, top])])   # 0 without a prefix
        total = b.op("Mul", [cut(prefix, 1, 2), prefix_scale])
        mixed = b.op("Mul", [cut(prefix, 2, 2 + d), prefix_scale])
        for s, (_, values, _, ones) in zip(scores, parts):
            weights = b.op("Exp", [b.op("Sub", [s, top])])
            total = b.op("Add", [total, weight_sum(weights, ones)])
            mixed = b.op("Add", [mixed, b.op("MatMul", [weights, values])])
        return b.op("Div", [mixed, cut(total, 0, 1)])

    def attention(self, layer, x, rope):
        """Attention of a packed pass: the new tokens of every row, one after another in
        `x` [1, tokens, hidden], each reading the task's shared prefix cache, its row's own
        cached columns and its row's new tokens up to itself. The prefix part runs once for
        all packed tokens (`prefix_summary`). A row feeding one token
        attends in the "token" group (one query slot per batch row, over the row caches as
        they are); a row feeding several (a prompt, a jump-forward chunk) in the "chunk"
        group, padded to the longest chunk, over its own cache row gathered by `chunk_rows`
        (a row's own columns are few: the prefix is not among them). New keys and values
        are outputs (`new.{layer}.key|value`, [tokens, kv_heads, head_dim]); the caller
        writes them after each row's own columns."""
        b, c, w, rows = self.b, self.c, self.w, self.rows
        p = f"layers.{layer}."
        d, kv, heads = c.head_dim, c.num_kv_heads, c.num_heads
        biases = [w(p + n) for n in ("q_bias", "k_bias", "v_bias")] if c.attention_bias else None
        q, k, v = self.projections(x, [w(p + "q"), w(p + "k"), w(p + "v")], biases)
        q = b.op("Mul", [self.apply_rotary(q, heads, rope), self._f32(1.0 / np.sqrt(d))])
        k = self.apply_rotary(k, kv, rope)
        k_flat = b.op("Reshape", [k, self._i64([-1, kv * d])])
        v_flat = b.op("Reshape", [v, self._i64([-1, kv * d])])
        b.op("Reshape", [k_flat, self._i64([-1, kv, d])], outputs=[f"new.{layer}.key"])
        b.op("Reshape", [v_flat, self._i64([-1, kv, d])], outputs=[f"new.{layer}.value"])
        q_flat = b.op("Reshape", [q, self._i64([-1, heads * d])])
        past_key, past_value = f"past_key_values.{layer}.key", f"past_key_values.{layer}.value"
        ones = rows["ones"]
        prefix = self.prefix_summary(q_flat, f"prefix_key_values.{layer}.key", f"prefix_key_values.{layer}.value")

        # Token group: [batch, kv, g, d] queries, each row's one new key/value; skipped
        # (zeros, never read) in passes where no row feeds a single token.
        def token_group():
            t = rows["token"]
            pick = lambda flat, shape: self._reshape(b.op("Gather", [flat, "token_index"], axis=0), shape)
            context = self._attend(pick(q_flat, t["query"]), pick(prefix, t["summary"]),
                                   [(past_key, past_value, rows["past_ok"], ones["past"]),
                                    (pick(k_flat, t["key"]), pick(v_flat, t["key"]), rows["token_ok"], ones["token"])])
            return self._reshape(context, t["context"])
        token_context = self.branch(rows["has_tokens"], token_group, rows["no_tokens"])

        # Chunk group: [chunks, kv, g*len, d] queries over the gathered cache rows; skipped
        # (an empty result) in passes where every row feeds one token.
        def chunk_group():
            ch = rows["chunk"]

            def chunked(flat, gathered, shape):
                x = self._reshape(b.op("Gather", [flat, "chunk_index"], axis=0), gathered)
                return self._reshape(b.op("Transpose", [x], perm=[0, 2, 3, 1, 4]), shape)
            query = chunked(q_flat, ch["gathered_query"], ch["query"])
            summary = chunked(prefix, ch["gathered_summary"], ch["summary"])
            keys = chunked(k_flat, ch["gathered_key"], ch["key"])
            values = chunked(v_flat, ch["gathered_key"], ch["key"])
            gather_rows = lambda x: b.op("Gather", [x, "chunk_rows"], axis=0)
            context = self._attend(query, summary,
                                   [(gather_rows(past_key), gather_rows(past_value), rows["chunk_past_ok"], ones["past"]),
                                    (keys, values, rows["chunk_ok"], ones["chunk"])])
            context = b.op("Transpose", [self._reshape(context, ch["heads"])], perm=[0, 3, 1, 2, 4])
            return self._reshape(context, ch["context"])
        chunk_context = self.branch(rows["has_chunks"], chunk_group, rows["no_chunks"])

        context = b.op("Gather", [b.op("Concat", [token_context, chunk_context], axis=0), "output_index"], axis=0)
        return self.linear(b.op("Unsqueeze", [context, self._i64([0])]), w(p + "o"))

    def mlp(self, layer, x):
        b, w, p = self.b, self.w, f"layers.{layer}."
        gate, up = self.projections(x, [w(p + "gate"), w(p + "up")])
        activated = b.op("Mul", [b.op("Mul", [gate, b.op("Sigmoid", [gate])]), up])
        return self.linear(activated, w(p + "down"))

    # ---- whole model --------------------------------------------------------------
    def blocks(self, h, rope):
        """The transformer layers over embeddings `h`."""
        b, w = self.b, self.w
        for layer in range(self.c.num_layers):
            p = f"layers.{layer}."
            h = b.op("Add", [h, self.attention(layer, self.rms_norm(h, w(p + "attn_norm")), rope)])
            h = b.op("Add", [h, self.mlp(layer, self.rms_norm(h, w(p + "ffn_norm")))])
        return h

    def build(self):
        b, c, w = self.b, self.c, self.w
        self._embed_table = b.const(w("embed").astype(np.float32), "embed_tokens")
        self.layout()
        rope = self.rotary("position_ids")

        h = self.blocks(b.op("Gather", [self._embed_table, "input_ids"]), rope)

        # Logits only where the caller samples (each row's last token): a prompt's other
        # positions would cost a [tokens, vocab] projection thrown away.
        h = b.op("Gather", [b.op("Reshape", [h, self._i64([-1, c.hidden_size])]), "logits_index"], axis=0)
        h = self.rms_norm(b.op("Unsqueeze", [h, self._i64([0])]), w("final_norm"))
        logits = self.linear(h, w("lm_head"))
        b.op("Reshape", [logits, self._i64([-1, c.vocab_size])], outputs=["logits"])
        return self._model()

    def _model(self):
        c = self.c
        index = lambda name, dims: helper.make_tensor_value_info(name, TensorProto.INT64, dims)
        inputs = [
            index("input_ids", [1, "tokens"]),
            index("position_ids", [1, "tokens"]),
            index("prefix_mask", ["prefix"]),
            index("past_mask", ["batch", "past"]),
            index("token_index", ["batch"]),
            index("token_mask", ["batch"]),
            index("chunk_rows", ["chunks"]),
            index("chunk_index", ["chunk_slots"]),
            index("chunk_mask", ["chunks", "chunk_length"]),
            index("output_index", ["tokens"]),
            index("logits_index", ["logits_length"]),
        ]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["logits_length", c.vocab_size])]
        for i in range(c.num_layers):
            for kind in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(f"prefix_key_values.{i}.{kind}", TensorProto.FLOAT,
                                                            [1, c.num_kv_heads, "prefix", c.head_dim]))
                inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT,
                                                            ["batch", c.num_kv_heads, "past", c.head_dim]))
                outputs.append(helper.make_tensor_value_info(f"new.{i}.{kind}", TensorProto.FLOAT,
                                                             ["tokens", c.num_kv_heads, c.head_dim]))
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
