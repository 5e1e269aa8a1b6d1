"""Plain ONNX Runtime decoding helpers shared by reference-decode and the tests."""
import json
import os

import numpy as np


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
