"""llama.cpp's side of bench/agreement, run in the llama-cpp-python virtualenv: the GGUF's
logits at every position of a given token sequence (teacher-forced), and its token ids for
a few texts. Writes logits.npy and tokens.json into --out."""
import argparse
import json
import os

import numpy as np
from llama_cpp import Llama


_GGML_TYPE = {"f32": 0, "f16": 1}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gguf", required=True)
    p.add_argument("--ids", required=True, help="JSON list of token ids to read")
    p.add_argument("--texts", required=True, help="JSON object: name -> text to tokenize")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kv-type", choices=("f16", "f32"), default="f16",
                   help="KV cache type: llama.cpp's default f16, or f32 (no rounding of keys and values)")
    a = p.parse_args()
    ids = json.load(open(a.ids))
    llm = Llama(model_path=a.gguf, n_ctx=len(ids) + 16, n_batch=len(ids), logits_all=True,
                n_threads=a.threads, verbose=False,
                type_k=_GGML_TYPE[a.kv_type], type_v=_GGML_TYPE[a.kv_type])
    llm.eval(ids)
    np.save(os.path.join(a.out, "logits.npy"), np.asarray(llm.scores[: len(ids)], dtype=np.float32))
    texts = json.load(open(a.texts))
    tokens = {name: llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) for name, text in texts.items()}
    json.dump(tokens, open(os.path.join(a.out, "tokens.json"), "w"))


if __name__ == "__main__":
    main()
