"""Reading a Llama-family GGUF file: hyper-parameters, weights (raw blocks or float) and vocabulary."""
import os
from dataclasses import dataclass

import numpy as np

from .errors import ToolError
from .graph import LlamaConfig

# Architectures whose GGUF tensors map onto our decoder graph. Qwen2 adds q/k/v biases and,
# unlike llama, is written by llama.cpp without the rope row permutation.
SUPPORTED_ARCHITECTURES = ("llama", "qwen2")


@dataclass
class GgufTensor:
    name: str
    qtype: str          # GGML type name: F32, F16, Q4_1, Q8_0, ...
    shape: tuple        # numpy order: (rows = output features, columns = input features)
    raw: np.ndarray     # the bytes as stored (blocks for quantised types)

    def dequantized(self):
        from gguf.quants import dequantize
        from gguf import GGMLQuantizationType
        values = dequantize(self.raw, GGMLQuantizationType[self.qtype])
        return np.ascontiguousarray(values, dtype=np.float32).reshape(self.shape)


class GgufModel:
    """A parsed GGUF file. Raises ToolError for anything we cannot convert."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise ToolError(f"GGUF file not found: {path}")
        try:
            from gguf import GGUFReader
            self._reader = GGUFReader(path)
        except Exception as e:  # the reader raises ValueError/struct errors on corrupt files
            raise ToolError(f"not a readable GGUF file: {path} ({type(e).__name__}: {e})") from None
        self.path = path
        self.architecture = self._field("general.architecture", required=True)
        if self.architecture not in SUPPORTED_ARCHITECTURES:
            raise ToolError(
                f"unsupported architecture '{self.architecture}' in {path}: "
                f"supported are {', '.join(SUPPORTED_ARCHITECTURES)}")
        self.tensors = {t.name: self._tensor(t) for t in self._reader.tensors}

    # ---- metadata -------------------------------------------------------------------
    def _field(self, key, required=False, default=None):
        field = self._reader.fields.get(key)
        if field is None:
            if required:
                raise ToolError(f"GGUF file {self.path} lacks metadata key '{key}'")
            return default
        return field.contents()

    def _arch(self, key, required=True, default=None):
        return self._field(f"{self.architecture}.{key}", required=required, default=default)

    def config(self):
        hidden = int(self._arch("embedding_length"))
        heads = int(self._arch("attention.head_count"))
        vocab = self._arch("vocab_size", required=False)
        if vocab is None:
            vocab = len(self._reader.fields["tokenizer.ggml.tokens"].data)
        return LlamaConfig(
            num_layers=int(self._arch("block_count")),
            hidden_size=hidden,
            intermediate_size=int(self._arch("feed_forward_length")),
            num_heads=heads,
            num_kv_heads=int(self._arch("attention.head_count_kv", required=False, default=heads)),
            head_dim=int(self._arch("rope.dimension_count", required=False, default=hidden // heads)),
            vocab_size=int(vocab),
            rope_theta=float(self._arch("rope.freq_base", required=False, default=10000.0)),
            rms_eps=float(self._arch("attention.layer_norm_rms_epsilon")),
            context_length=int(self._arch("context_length", required=False, default=4096)),
            attention_bias=self.architecture == "qwen2",
        )

    def tokenizer_fields(self):
        model = self._field("tokenizer.ggml.model", required=True)
        if model != "gpt2":
            raise ToolError(
                f"unsupported tokenizer model '{model}' in {self.path}: only byte-level BPE ('gpt2') is supported")
        tokens_field = self._reader.fields["tokenizer.ggml.tokens"]
        types_field = self._reader.fields.get("tokenizer.ggml.token_type")
        merges_field = self._reader.fields.get("tokenizer.ggml.merges")
        if merges_field is None:
            raise ToolError(f"GGUF file {self.path} has a BPE tokenizer without merges")
        parts = tokens_field.parts
        tokens = [bytes(parts[i]).decode("utf-8") for i in tokens_field.data]
        types = [int(types_field.parts[i][0]) for i in types_field.data] if types_field else [1] * len(tokens)
        merges = [bytes(merges_field.parts[i]).decode("utf-8") for i in merges_field.data]
        return {
            "tokens": tokens,
            "token_types": types,
            "merges": merges,
            "pre": self._field("tokenizer.ggml.pre", default="default"),
            "bos_token_id": self._field("tokenizer.ggml.bos_token_id"),
            "eos_token_id": self._field("tokenizer.ggml.eos_token_id"),
            "pad_token_id": self._field("tokenizer.ggml.padding_token_id"),
            "chat_template": self._field("tokenizer.chat_template"),
        }

    # ---- tensors --------------------------------------------------------------------
    @staticmethod
    def _tensor(t):
        # GGUF lists dims innermost first (ne0 = input features); numpy wants rows first.
        shape = tuple(int(d) for d in reversed(t.shape))
        return GgufTensor(t.name, t.tensor_type.name, shape, t.data)

    def tensor(self, name):
        try:
            return self.tensors[name]
        except KeyError:
            raise ToolError(f"GGUF file {self.path} lacks tensor '{name}'") from None

    def has_tensor(self, name):
        return name in self.tensors
