"""The machine's compute limit for a model, measured here and now: tokens/s of its ONNX graph
alone (onnxruntime in this process, no engine), for one-token decode passes of 1, 16 and 64
rows and for a 64-token prompt pass, each after a cache of 300 positions (a support-ticket
row's prompt prefix and answer). Decode passes run as the engine runs them: the cache bound as
both the past input and the present output (GroupQueryAttention's shared buffer), so no pass
copies the cache. A workload's tokens/s over these figures is the share of the
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


def timed(run, passes):
    run()
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def decode_pass(decoder, rows):
    """One-token pass of `rows` rows, each with CACHE_POSITIONS cached, the cache updated in place."""
    import onnxruntime as ort
    m, io = decoder.manifest, decoder.io
    capacity = CACHE_POSITIONS + 64
    rng = np.random.default_rng(0)
    binding = decoder.session.io_binding()
    binding.bind_cpu_input(io["input_ids"], rng.integers(0, m["vocab_size"], (rows, 1)))
    mask = np.zeros((rows, capacity), np.int64)
    mask[:, :CACHE_POSITIONS + 1] = 1
    binding.bind_cpu_input(io["attention_mask"], mask)
    binding.bind_cpu_input(io["position_ids"], np.full((rows, 1), CACHE_POSITIONS, np.int64))
    binding.bind_cpu_input(io["num_logits_to_keep"], np.array(1, np.int64))
    cache = []
    for i in range(decoder.layers):
        for past, present in (("past_key", "present_key"), ("past_value", "present_value")):
            value = ort.OrtValue.ortvalue_from_numpy(
                rng.standard_normal((rows, m["num_kv_heads"], capacity, m["head_dim"]), np.float32))
            binding.bind_ortvalue_input(io[past].format(i=i), value)
            binding.bind_ortvalue_output(io[present].format(i=i), value)
            cache.append(value)
    binding.bind_output(io["logits"])
    return lambda: decoder.session.run_with_iobinding(binding)


def prompt_pass(decoder, new_tokens):
    """`new_tokens` prompt tokens of one row after CACHE_POSITIONS cached (as the engine's prompt pass)."""
    m = decoder.manifest
    shape = (1, m["num_kv_heads"], CACHE_POSITIONS, m["head_dim"])
    rng = np.random.default_rng(0)
    cache = [(rng.standard_normal(shape, np.float32), rng.standard_normal(shape, np.float32)) for _ in range(decoder.layers)]
    ids = rng.integers(0, m["vocab_size"], (1, new_tokens))
    return lambda: decoder.forward(ids, cache)


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
    for name, tokens, run in [(f"decode, {r} row{'s' if r > 1 else ''}", r, decode_pass(decoder, r)) for r in (1, 16, 64)] + \
            [("prompt, 64 tokens", 64, prompt_pass(decoder, 64))]:
        seconds = timed(run, a.passes)
        print(f"| {name} | {tokens / seconds:.0f} | {seconds * 1e3:.1f} |")


if __name__ == "__main__":
    main()
