"""The machine's compute limit for a model, measured here and now: tokens/s of its ONNX graph
alone (onnxruntime in this process, no engine), for one-token passes of 1, 16 and 64 rows and
for a 64-token prompt pass, shaped as the engine runs a task: every row reads the task's
shared prefix cache (--prefix positions; 1181 is the support-ticket task's on SmolLM2) and
its own cache (--own positions: the row's prompt and answer so far). A workload's tokens/s
over these figures is the share of the machine it reaches; compare only figures from one
run on one machine.

Usage: bench/compute-limit [--model smollm2-135m-instruct-int8] [--threads 2] [--passes 20]
                           [--prefix 1181] [--own 40]
Prints a Markdown table. Figures, never checks.
"""
import argparse
import os
import statistics
import time

import numpy as np

from flinkllm_tools.decoding import OnnxDecoder, PackedRow, packed_feeds


def timed(run, passes):
    run()
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def random_cache(decoder, positions, rng):
    m = decoder.manifest
    shape = (1, m["num_kv_heads"], positions, m["head_dim"])
    return [(rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32))
            for _ in range(decoder.layers)]


def packed_pass(decoder, prefix, own, rows, tokens):
    """`rows` rows of `tokens` new tokens each, as the engine feeds them (row caches with
    the engine's 32 columns of headroom)."""
    rng = np.random.default_rng(0)
    ids = lambda: [int(i) for i in rng.integers(0, decoder.manifest["vocab_size"], tokens)]
    feeds, _ = packed_feeds([PackedRow(own, ids()) for _ in range(rows)], decoder.layers, prefix, extra_columns=32)
    names = ["logits"] + [f"new.{i}.{kind}" for i in range(decoder.layers) for kind in ("key", "value")]
    return lambda: decoder.session.run(names, feeds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct-int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--passes", type=int, default=20)
    p.add_argument("--prefix", type=int, default=1181, help="positions of the task's shared prefix cache")
    p.add_argument("--own", type=int, default=40, help="positions of each row's own cache")
    a = p.parse_args()
    models = os.path.join(os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm")), "models")
    decoder = OnnxDecoder(a.model if os.path.isdir(a.model) else os.path.join(models, a.model), threads=a.threads)
    rng = np.random.default_rng(1)
    prefix, own = random_cache(decoder, a.prefix, rng), random_cache(decoder, a.own, rng)
    print(f"{decoder.manifest['name']}, {a.threads} threads, shared prefix of {a.prefix} positions, {a.own} own "
          f"positions per row, median of {a.passes} passes:\n")
    print("| pass | tokens/s | ms per pass |")
    print("| --- | ---: | ---: |")
    shapes = [(f"one token, {r} row{'s' if r > 1 else ''}", r, 1) for r in (1, 16, 64)] + [("prompt, 64 tokens", 1, 64)]
    for name, rows, tokens in shapes:
        seconds = timed(packed_pass(decoder, prefix, own, rows, tokens), a.passes)
        print(f"| {name} | {rows * tokens / seconds:.0f} | {seconds * 1e3:.1f} |")

if __name__ == "__main__":
    main()
