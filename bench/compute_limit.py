"""The machine's compute limit for a model, measured here and now: tokens/s of its ONNX graph
alone (onnxruntime in this process, no engine), for one-token passes of 1, 16 and 64 rows, a
64-token prompt pass and the mix of a pass with 16 rows in flight, shaped as the engine runs a task: every row reads the task's
shared prefix cache (--prefix positions; 1181 is the support-ticket task's on SmolLM2) and
its own cache (--own positions: the row's prompt and answer so far). A workload's tokens/s
over these figures is the share of the machine it reaches; compare only figures from one
run on one machine. Then the floor of a one-row, one-token pass: the bytes it must read
(weights, prefix keys and values) over the memory bandwidth ONNX Runtime reaches here.

Usage: bench/compute-limit [--model smollm2-135m-instruct-int8] [--threads 2] [--passes 20]
                           [--prefix 1181] [--own 40] [--json]
Prints a Markdown table (with --json: one JSON line, as bench/table reads it). Figures, never
checks.
"""
import argparse
import json
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


def packed_pass(decoder, prefix, own, counts):
    """One pass of rows feeding `counts` new tokens each, as the engine feeds them (row
    caches with the engine's 32 columns of headroom)."""
    rng = np.random.default_rng(0)
    ids = lambda n: [int(i) for i in rng.integers(0, decoder.manifest["vocab_size"], n)]
    feeds, _ = packed_feeds([PackedRow(own, ids(n)) for n in counts], decoder.layers, prefix, extra_columns=32)
    names = ["logits"] + [f"new.{i}.{kind}" for i in range(decoder.layers) for kind in ("key", "value")]
    return lambda: decoder.session.run(names, feeds)


def one_row_bytes(model_dir, prefix):
    """Bytes a one-token pass of one row cannot avoid reading: every weight the graph
    multiplies by (initializers read by ops other than a Gather, which reads one embedding
    row) and the prefix's keys and values."""
    import onnx
    graph = onnx.load(os.path.join(model_dir, "model.onnx"), load_external_data=False).graph
    readers = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, set()).add(node.op_type)
    weights = sum(int(np.prod(t.dims)) * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
                  for t in graph.initializer if readers.get(t.name, {"Gather"}) != {"Gather"})
    return weights + sum(k.nbytes + v.nbytes for k, v in prefix)


def read_bandwidth(threads, megabytes=256):
    """Bytes/s ONNX Runtime reads from memory here and now: a ReduceMax over a buffer far
    larger than any cache, on the decoder's thread count."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("ReduceMax", ["x"], ["y"], keepdims=0)], "read",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.ones(megabytes * 2**20 // 4, np.float32)
    return x.nbytes / timed(lambda: session.run(None, {"x": x}), 10)


# Pass shapes: one-token rows alone and batched, a prompt, and the mix 16 rows in flight
# feed (most rows one token, a few a prompt or a jump-forward chunk).
SHAPES = [("one token, 1 row", [1]), ("one token, 16 rows", [1] * 16), ("one token, 64 rows", [1] * 64),
          ("prompt, 64 tokens", [64]), ("16 rows: 12 one token, 4 of 4-16 tokens", [1] * 12 + [16, 4, 8, 12])]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct-int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--passes", type=int, default=20)
    p.add_argument("--prefix", type=int, default=1181, help="positions of the task's shared prefix cache")
    p.add_argument("--own", type=int, default=40, help="positions of each row's own cache")
    p.add_argument("--json", action="store_true", help="one JSON line instead of the table")
    a = p.parse_args()
    models = os.path.join(os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm")), "models")
    model_dir = a.model if os.path.isdir(a.model) else os.path.join(models, a.model)
    decoder = OnnxDecoder(model_dir, threads=a.threads)
    rng = np.random.default_rng(1)
    prefix, own = random_cache(decoder, a.prefix, rng), random_cache(decoder, a.own, rng)
    figures = []
    for name, counts in SHAPES:
        seconds = timed(packed_pass(decoder, prefix, own, counts), a.passes)
        figures.append({"pass": name, "rows": len(counts), "tokens": sum(counts), "tokens_per_s": round(sum(counts) / seconds, 1),
                        "ms_per_pass": round(seconds * 1e3, 2)})
    floor = {"one_row_mb": round(one_row_bytes(model_dir, prefix) / 1e6, 1), "read_gb_per_s": round(read_bandwidth(a.threads) / 1e9, 1)}
    floor["one_row_floor_ms"] = round(floor["one_row_mb"] / floor["read_gb_per_s"], 2)
    if a.json:
        print(json.dumps({"model": decoder.manifest["name"], "threads": a.threads, "prefix": a.prefix, "own": a.own,
                          "passes": figures, "best_tokens_per_s": max(f["tokens_per_s"] for f in figures), **floor}))
        return
    print(f"{decoder.manifest['name']}, {a.threads} threads, shared prefix of {a.prefix} positions, {a.own} own "
          f"positions per row, median of {a.passes} passes:\n")
    print("| pass | tokens/s | ms per pass |")
    print("| --- | ---: | ---: |")
    for f in figures:
        print(f"| {f['pass']} | {f['tokens_per_s']:.0f} | {f['ms_per_pass']:.1f} |")
    print(f"\nA one-token pass of one row reads {floor['one_row_mb']:.0f} MB (weights and the prefix's keys and values); "
          f"at the {floor['read_gb_per_s']:.1f} GB/s ONNX Runtime reads here now, that takes {floor['one_row_floor_ms']:.1f} ms.")


if __name__ == "__main__":
    main()
