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

    def forward(self, ids, cache, all_logits=False):
        """Run new tokens `ids` ([batch, seq]) after `cache`; returns (logits, new cache)."""
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
