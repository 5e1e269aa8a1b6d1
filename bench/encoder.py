"""Encoder figures, all in one run so the ratios compare under the same machine load:

- embedding rows/s through the engine (`flinkllm bench`: one row at a time, and 16 rows in
  flight from 16 threads sharing passes; `flinkllm embed --batch 16`: passes of 16 rows grouped
  by length), each next to the bare ONNX graph (onnxruntime in this process, same model file,
  same threads, pre-tokenized rows, no pooling) at the same batch size and row order;
- classification rows/s (the category task, 16 in flight) next to the generative
  support-ticket task's rows/s on its default model;
- with --accuracy, category and sentiment accuracy on the labelled tickets for both paths
  (`flinkllm eval`).

Usage: bench/encoder [--model all-minilm-l6-v2-int8] [--rows 980] [--generative-rows 8] [--accuracy]
Prints each command's JSON to stderr and a Markdown table to stdout. Figures, never checks.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLINKLLM = os.path.join(ROOT, "target", "release", "flinkllm")
TICKETS = os.path.join(ROOT, "sql", "data", "support_tickets.jsonl")
LABELLED = os.path.join(ROOT, "tests", "data", "labelled", "tickets.jsonl")
MODELS = os.path.join(os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm")), "models")
THREADS = 2


def json_line(cmd):
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    print(json.dumps(lines[-1] if lines else proc.stderr.strip().splitlines()[-1]), file=sys.stderr)
    return lines[-1] if lines else proc.stderr


def engine_bench(task, model, rows, concurrency):
    return json_line([FLINKLLM, "bench", "--task", task, "--model", model, "--input", TICKETS, "--rows", str(rows),
                      "--concurrency", str(concurrency), "--threads", str(THREADS), "--warmup", "16"])


def engine_embed(model, texts, batch):
    """rows/s of `flinkllm embed --batch N` over `texts` (its own stderr figure)."""
    path = os.path.join(ROOT, "bench", "work", "encoder-input.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"message": t}) + "\n" for t in texts)
    proc = subprocess.run([FLINKLLM, "embed", "--model", model, "--input", path, "--output", os.devnull, "--batch", str(batch),
                           "--threads", str(THREADS)], check=True, capture_output=True, text=True, cwd=ROOT)
    figures = dict(kv.split("=") for kv in proc.stderr.strip().splitlines()[-1].split()[2:])
    print(json.dumps({"embed": figures}), file=sys.stderr)
    return float(figures["rows_per_s"])


class BareGraph:
    """The model's ONNX graph alone: what the engine's passes cannot beat."""

    def __init__(self, model_dir, max_length):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
        self.session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)

    def rows_per_s(self, texts, batch, by_length=False):
        ids = [self.tokenizer.encode(t).ids for t in texts]
        if by_length:
            ids.sort(key=len)
        chunks = [ids[i:i + batch] for i in range(0, len(ids), batch)]
        self.run(chunks[0])
        started = time.perf_counter()
        for chunk in chunks:
            self.run(chunk)
        return len(ids) / (time.perf_counter() - started)

    def run(self, rows):
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})


def accuracy(task, field):
    line = json_line([FLINKLLM, "eval", "--task", task, "--input", LABELLED, "--concurrency", "4", "--json"])
    return line["scores"][field]["accuracy"], line["rows_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all-minilm-l6-v2-int8")
    p.add_argument("--rows", type=int, default=980, help="rows per embedding figure (the 98 tickets, cycled)")
    p.add_argument("--generative-rows", type=int, default=8)
    p.add_argument("--accuracy", action="store_true", help="also category and sentiment accuracy of both paths")
    a = p.parse_args()
    model_dir = os.path.join(MODELS, a.model)
    with open(os.path.join(model_dir, "flinkllm.json"), encoding="utf-8") as f:
        max_length = json.load(f)["max_length"]
    tickets = [json.loads(l)["message"] for l in open(TICKETS, encoding="utf-8") if l.strip()]
    texts = [tickets[i % len(tickets)] for i in range(a.rows)]
    embedding_task = os.path.join("tasks", "ticket_embedding.task.json")

    bare = BareGraph(model_dir, max_length)
    rows = [
        ("one row at a time", engine_bench(embedding_task, a.model, a.rows, 1)["rows_per_s"], bare.rows_per_s(texts, 1)),
        ("16 in flight, shared passes", engine_bench(embedding_task, a.model, a.rows, 16)["rows_per_s"], bare.rows_per_s(texts, 16)),
        ("`embed --batch 16` (by length)", engine_embed(a.model, texts, 16), bare.rows_per_s(texts, 16, by_length=True)),
    ]
    print(f"Embedding, {a.model}, {a.rows} support tickets, {THREADS} threads:\n")
    print("| path | engine rows/s | bare graph rows/s (same batch) | engine / bare |")
    print("| --- | ---: | ---: | ---: |")
    for name, engine, graph in rows:
        print(f"| {name} | {engine:.0f} | {graph:.0f} | {engine / graph:.0%} |")

    classify = engine_bench(os.path.join("tasks", "ticket_category.task.json"), a.model, a.rows, 16)
    generative = json_line([FLINKLLM, "bench", "--task", os.path.join("tasks", "support_ticket.task.json"), "--input", TICKETS,
                            "--rows", str(a.generative_rows)])
    print("\n| support-ticket category | model | rows/s | ratio |")
    print("| --- | --- | ---: | ---: |")
    print(f"| classification (encoder, 16 in flight) | {classify['model']} | {classify['rows_per_s']:.1f} "
          f"| {classify['rows_per_s'] / generative['rows_per_s']:.0f}x |")
    print(f"| generative (one row at a time) | {generative['model']} | {generative['rows_per_s']:.2f} | 1x |")

    if a.accuracy:
        print("\n| labelled tickets (80) | category | sentiment |")
        print("| --- | ---: | ---: |")
        encoder = [accuracy(os.path.join("tasks", f"ticket_{f}.task.json"), f)[0] for f in ("category", "sentiment")]
        line = json_line([FLINKLLM, "eval", "--task", os.path.join("tasks", "support_ticket.task.json"), "--input", LABELLED,
                          "--concurrency", "4", "--json"])
        print(f"| encoder ({a.model}, nearest centroid) | {encoder[0]:.2f} | {encoder[1]:.2f} |")
        print(f"| generative ({line['model']}) | {line['scores']['category']['accuracy']:.2f} | "
              f"{line['scores']['sentiment']['accuracy']:.2f} |")


if __name__ == "__main__":
    main()
