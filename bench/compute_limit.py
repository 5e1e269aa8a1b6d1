"""The machine's compute limit for a model, measured here and now: tokens/s of its ONNX graph
alone (onnxruntime in this process, no engine), for one-token decode passes of 1, 16 and 64
rows and for a 64-token prompt pass, each after a cache of 300 positions (a support-ticket
row's prompt prefix and answer). A workload's tokens/s over these figures is the share of the
machine it reaches; compare only figures from one run on one machine.

Usage: bench/compute-limit [--model smollm2-135m-instruct-int8] [--threads 2] [--passes 20]
Prints a Markdown table. Figures, never checks.
"""
import argparse
import os
import statistics
import time

import numpy as np

from flinkllm_tools.decoding import OnnxDecoder

CACHE_POSITIONS = 300


def tokens_per_s(decoder, rows, new_tokens, passes):
    m = decoder.manifest
    shape = (rows, m["num_kv_heads"], CACHE_POSITIONS, m["head_dim"])
    rng = np.random.default_rng(0)
    cache = [(rng.standard_normal(shape, np.float32), rng.standard_normal(shape, np.float32)) for _ in range(decoder.layers)]
    ids = rng.integers(0, m["vocab_size"], (rows, new_tokens))
    decoder.forward(ids, cache)
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        decoder.forward(ids, cache)
        times.append(time.perf_counter() - started)
    return rows * new_tokens / statistics.median(times), statistics.median(times) * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct-int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--passes", type=int, default=20)
    a = p.parse_args()
    models = os.path.join(os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm")), "models")
    decoder = OnnxDecoder(a.model if os.path.isdir(a.model) else os.path.join(models, a.model), threads=a.threads)
    print(f"{decoder.manifest['name']}, {a.threads} threads, cache of {CACHE_POSITIONS} positions, median of {a.passes} passes:\n")
    print("| pass | tokens/s | ms per pass |")
    print("| --- | ---: | ---: |")
    for rows, new_tokens, name in ((1, 1, "decode, 1 row"), (16, 1, "decode, 16 rows"), (64, 1, "decode, 64 rows"),
                                   (1, 64, "prompt, 64 tokens")):
        rate, ms = tokens_per_s(decoder, rows, new_tokens, a.passes)
        print(f"| {name} | {rate:.0f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
