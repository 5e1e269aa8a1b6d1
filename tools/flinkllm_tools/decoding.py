"""Plain ONNX Runtime decoding helpers shared by reference-decode and the tests."""
import json
import os

import numpy as np

# A fixed text (~300 tokens: chat turns, prose, code) for teacher-forced comparisons: a model
# reads it, and at every position its most likely next token is compared with another
# model's or runtime's (tests/model/test_decoding.py, bench/agreement).
AGREEMENT_TEXT = (
    "<|im_start|>user\nMy invoice for March was charged twice and support has not answered in three days. "
    "Please refund the duplicate payment.<|im_end|>\n<|im_start|>assistant\n"
    "I'm sorry about the double charge. I have checked your account and can confirm that the March "
    "invoice was paid twice. The duplicate payment will be refunded to your card within five business days. "
    "Apache Flink is a framework and distributed processing engine for stateful computations over unbounded "
    "and bounded data streams. It has been designed to run in all common cluster environments and perform "
    "computations at in-memory speed and at any scale. The Eiffel Tower is in Paris, the capital of France. "
    "Small language models handle short, bounded tasks well: choosing one label from a fixed list, pulling "
    "names of people, places and companies out of a sentence, or summarising a handful of product reviews "
    "in one sentence. Long prompts make them worse, so instructions stay short and come first, followed by "
    "one or two examples, the harder one first. Data engineers care about rows per second per core, the "
    "memory each task manager needs, and getting the same answer when a job replays after a failure. "
    "def moving_average(values, window):\n    total = sum(values[:window])\n    yield total / window\n"
    "    for i in range(window, len(values)):\n        total += values[i] - values[i - window]\n"
    "        yield total / window\n"
    "Yesterday the river rose two metres after heavy rain in the mountains, and the old stone bridge in the "
    "village was closed to traffic until engineers could inspect it. Children watched from the bank as "
    "branches and whole trees drifted past."
)


class PackedRow:
    """A row of a packed pass: its cache (per layer (key, value), each [1, kv_heads, len,
    head_dim]) and the tokens it feeds."""

    def __init__(self, cache, ids):
        self.cache, self.ids = cache, [int(i) for i in ids]

    @property
    def length(self):
        return self.cache[0][0].shape[2]


def packed_feeds(rows, layers, prefix=None, extra_columns=0, fill=0.0, all_logits=False):
    """The inputs of one packed pass (docs/model-directory.md, "Packed passes"), as the
    engine builds them: `prefix` (per layer (key, value) [1, kv_heads, P, head_dim], or
    None) shared by all rows, then each row's own cache and tokens. A row feeding one
    token joins the token group, a row feeding more the chunk group (at least one chunk
    entry always: a row-0 placeholder that is all padding). Returns the feeds and, per
    row, the packed positions of its tokens."""
    batch = len(rows)
    first = rows[0].cache[0][0]
    if prefix is None or prefix[0][0].shape[2] == 0:
        empty = np.zeros((1, first.shape[1], 1, first.shape[3]), np.float32)
        prefix, prefix_mask = [(empty, empty)] * layers, [0]
    else:
        prefix_mask = [1] * prefix[0][0].shape[2]
    start = prefix[0][0].shape[2] if prefix_mask[0] else 0
    width = max(max(r.length for r in rows) + extra_columns, 1)
    chunk_rows = [b for b, r in enumerate(rows) if len(r.ids) > 1]
    chunk_length = max([len(rows[b].ids) for b in chunk_rows], default=1)
    ids, positions, where = [], [], []
    for r in rows:
        where.append(list(range(len(ids), len(ids) + len(r.ids))))
        ids += r.ids
        positions += range(start + r.length, start + r.length + len(r.ids))
    token_index = [where[b][0] if len(r.ids) == 1 else 0 for b, r in enumerate(rows)]
    token_mask = [int(len(r.ids) == 1) for r in rows]
    chunk_index, chunk_mask = [], []
    for b in chunk_rows:
        n = len(rows[b].ids)
        chunk_index += where[b] + [where[b][0]] * (chunk_length - n)
        chunk_mask.append([1] * n + [0] * (chunk_length - n))
    if not chunk_rows:
        chunk_rows, chunk_index, chunk_mask = [0], [0], [[0]]
    output_index = [0] * len(ids)
    for b, r in enumerate(rows):
        if len(r.ids) == 1:
            output_index[where[b][0]] = b
    for c, b in enumerate(b for b, r in enumerate(rows) if len(r.ids) > 1):
        for t, p in enumerate(where[b]):
            output_index[p] = batch + c * chunk_length + t
    past_mask = np.zeros((batch, width), np.int64)
    for b, r in enumerate(rows):
        past_mask[b, :r.length] = 1
    i64 = lambda x: np.asarray(x, np.int64)
    feeds = {"input_ids": i64([ids]), "position_ids": i64([positions]), "past_mask": past_mask,
             "prefix_mask": i64(prefix_mask),
             "token_index": i64(token_index), "token_mask": i64(token_mask),
             "chunk_rows": i64(chunk_rows), "chunk_index": i64(chunk_index), "chunk_mask": i64(chunk_mask),
             "output_index": i64(output_index),
             "logits_index": i64(list(range(len(ids))) if all_logits else [w[-1] for w in where])}
    for i in range(layers):
        for j, kind in enumerate(("key", "value")):
            feeds[f"prefix_key_values.{i}.{kind}"] = prefix[i][j]
            first = rows[0].cache[i][j]
            past = np.full((batch, first.shape[1], width, first.shape[3]), fill, np.float32)
            for b, r in enumerate(rows):
                past[b, :, :r.length] = r.cache[i][j][0]
            feeds[f"past_key_values.{i}.{kind}"] = past
    return feeds, where


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class OnnxDecoder:
    """One model directory opened with ONNX Runtime, stepping with or without a KV cache."""

    def __init__(self, model_dir, threads=2):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        with open(os.path.join(model_dir, "flinkllm.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        m = self.manifest
        self.io = m["io"]
        self.kv_dtype = np.float16 if m.get("kv_dtype") == "float16" else np.float32
        self.layers = m["num_layers"]

    def empty_cache(self, batch=1):
        m = self.manifest
        shape = (batch, m["num_kv_heads"], 0, m["head_dim"])
        return [(np.zeros(shape, self.kv_dtype), np.zeros(shape, self.kv_dtype)) for _ in range(self.layers)]

    @property
    def packed(self):
        return self.manifest.get("padding_side") == "packed"

    def forward(self, ids, cache, all_logits=False):
        """Run new tokens `ids` ([batch, seq]) after `cache`; returns (logits, new cache)."""
        if self.packed:
            return self._forward_packed(ids, cache, all_logits)
        ids = np.asarray(ids, dtype=np.int64)
        batch, seq = ids.shape
        past = cache[0][0].shape[2]
        feeds = {self.io["input_ids"]: ids,
                 self.io["attention_mask"]: np.ones((batch, past + seq), np.int64)}
        if self.io.get("position_ids"):
            feeds[self.io["position_ids"]] = np.tile(np.arange(past, past + seq, dtype=np.int64), (batch, 1))
        if self.io.get("num_logits_to_keep") and self.io["num_logits_to_keep"] in self.input_names:
            feeds[self.io["num_logits_to_keep"]] = np.array(0 if all_logits else 1, np.int64)
        for i, (k, v) in enumerate(cache):
            feeds[self.io["past_key"].format(i=i)] = k
            feeds[self.io["past_value"].format(i=i)] = v
        names = [self.io["logits"]] + [self.io[kind].format(i=i) for i in range(self.layers)
                                       for kind in ("present_key", "present_value")]
        outputs = self.session.run(names, feeds)
        new_cache = [(outputs[1 + 2 * i], outputs[2 + 2 * i]) for i in range(self.layers)]
        return outputs[0], new_cache

    def _forward_packed(self, ids, cache, all_logits):
        """One row: its cache is the pass's prefix; several: each row's own cache."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape[0] == 1:
            rows, prefix = [PackedRow(self.empty_cache(), ids[0])], cache
        else:
            rows, prefix = [PackedRow([(k[b:b + 1], v[b:b + 1]) for k, v in cache], ids[b]) for b in range(ids.shape[0])], None
        logits, new = self.run_packed(rows, prefix=prefix, all_logits=all_logits)
        new_cache = [(np.concatenate([cache[i][0], new[i][0]], 2), np.concatenate([cache[i][1], new[i][1]], 2))
                     for i in range(self.layers)]
        return logits.reshape(len(rows), -1, logits.shape[-1]), new_cache

    def run_packed(self, rows, prefix=None, all_logits=False, extra_columns=0, fill=0.0):
        """One packed pass (graph.py) over `rows` (each its own cache and new tokens) after
        the shared `prefix` cache; the row caches are laid out right-padded to the longest
        plus `extra_columns`, the padding holding `fill`. Returns the logits (every new position with `all_logits`, else each
        row's last) and each layer's new (key, value) as [rows, kv_heads, new, head_dim],
        right-padded to the longest row's new tokens."""
        feeds, where = packed_feeds(rows, self.layers, prefix, extra_columns, fill, all_logits)
        names = ["logits"] + [f"new.{i}.{kind}" for i in range(self.layers) for kind in ("key", "value")]
        out = self.session.run(names, feeds)
        longest = max(len(r.ids) for r in rows)
        new = []
        for i in range(self.layers):
            pair = []
            for flat in out[1 + 2 * i: 3 + 2 * i]:
                grid = np.zeros((len(rows), flat.shape[1], longest, flat.shape[2]), flat.dtype)
                for r, positions in enumerate(where):
                    grid[r, :, :len(positions)] = flat[positions].transpose(1, 0, 2)
                pair.append(grid)
            new.append(tuple(pair))
        return out[0], new

    def greedy_cached(self, prompt_ids, max_new):
        logits, cache = self.forward([prompt_ids], self.empty_cache())
        out = []
        for _ in range(max_new):
            token = int(np.argmax(logits[0, -1]))
            out.append(token)
            if token in self.manifest["stop_token_ids"]:
                break
            logits, cache = self.forward([[token]], cache)
        return out

    def greedy_uncached(self, prompt_ids, max_new):
        """Recompute the whole sequence every step: slow, simple, the reference."""
        ids = list(prompt_ids)
        out = []
        for _ in range(max_new):
            logits, _ = self.forward([ids], self.empty_cache())
            token = int(np.argmax(logits[0, -1]))
            out.append(token)
            if token in self.manifest["stop_token_ids"]:
                break
            ids.append(token)
        return out

    def encode(self, text):
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.tokenizer.decode(ids, skip_special_tokens=True)
