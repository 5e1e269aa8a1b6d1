"""A tiny random-weights Llama with the real SmolLM2 tokenizer: fast tests of everything but quality."""
import hashlib
import json
import os

import numpy as np

from .convert import log
from .gguf_source import GgufModel
from .graph import DecoderGraph, Dense, LlamaConfig, TiedEmbedding, save_model
from .manifest import build_manifest, is_up_to_date, special_tokens
from .model_dir import read_manifest, staged_output, write_manifest
from .tokenizer_build import build_tokenizer

SEED = 20261121


def tiny_config(vocab_size):
    return LlamaConfig(num_layers=2, hidden_size=64, intermediate_size=128, num_heads=4, num_kv_heads=2,
                       head_dim=16, vocab_size=vocab_size, rope_theta=10000.0, rms_eps=1e-5,
                       context_length=2048)


class RandomWeights:
    """Deterministic per-name weights: the same name always gets the same values."""

    def __init__(self, config):
        self.c = config

    def _rng(self, name):
        return np.random.default_rng([SEED, int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")])

    def __call__(self, name):
        c = self.c
        if name == "lm_head":
            return TiedEmbedding()
        if name.endswith("norm"):
            return np.ones(c.hidden_size, np.float32)
        shapes = {"embed": (c.vocab_size, c.hidden_size),
                  "q": (c.num_heads * c.head_dim, c.hidden_size), "k": (c.num_kv_heads * c.head_dim, c.hidden_size),
                  "v": (c.num_kv_heads * c.head_dim, c.hidden_size), "o": (c.hidden_size, c.num_heads * c.head_dim),
                  "gate": (c.intermediate_size, c.hidden_size), "up": (c.intermediate_size, c.hidden_size),
                  "down": (c.hidden_size, c.intermediate_size)}
        weight = (self._rng(name).standard_normal(shapes[name.split(".")[-1]]) * 0.5).astype(np.float32)
        return weight if name == "embed" else Dense(weight)


def build_tiny(gguf_path, out_dir):
    gguf = GgufModel(gguf_path)
    fields = gguf.tokenizer_fields()
    config = tiny_config(len(fields["tokens"]))
    fingerprint = hashlib.sha256(json.dumps([SEED, config.__dict__, gguf.architecture], sort_keys=True).encode()
                                 + open(gguf_path, "rb").read(1 << 20)).hexdigest()
    if is_up_to_date(read_manifest(out_dir), precision="fp32", source_sha256=fingerprint):
        log(f"{out_dir} is up to date (tiny): nothing to do")
        return False
    with staged_output(out_dir) as staging:
        log("building tokenizer.json (SmolLM2 vocabulary)")
        build_tokenizer(fields).save(os.path.join(staging, "tokenizer.json"))
        log("building the tiny random-weights graph")
        save_model(DecoderGraph(config, RandomWeights(config)).build(), staging)
        write_manifest(staging, build_manifest(
            name="tiny-random-llama", architecture="llama", precision="fp32", config=config,
            tokens=special_tokens(fields), chat_template=fields["chat_template"], padding_side="packed",
            source={"kind": "random", "file": f"seed {SEED}", "sha256": fingerprint}))
    log(f"wrote {out_dir}")
    return True
