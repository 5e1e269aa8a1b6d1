"""The same task through llama.cpp (llama-cpp-python) on the original GGUF: what a user of
Ollama or a llama.cpp server runs. Prints one JSON line with the figures `flinkllm bench`
prints, so the two can be put side by side.

The prompt is built the way the engine builds it (system prompt, plus the schema's field
list unless the task turns it off, then each example as a user/assistant turn) and rendered
by the GGUF's own chat template; the output is constrained by the same JSON schema through
llama.cpp's grammar (`response_format`). Greedy. llama.cpp keeps the KV cache of the
longest common prompt prefix between calls, as the engine does for the task prefix; one
untimed call fills it first (`prefix_ms`), as the engine fills its prefix when the task opens.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import jsonschema
from llama_cpp import Llama

from common import show_task


def read_task(path):
    """The prompt parts the engine builds for the task (`flinkllm show`)."""
    task = show_task(path)
    return task["system_message"], task["examples"], task["schema"], task["input_template"], task["max_new_tokens"]


def messages_for(system, examples, template, text):
    msgs = [{"role": "system", "content": system}]
    for ex in examples:
        msgs.append({"role": "user", "content": template.replace("{input}", ex["input"])})
        msgs.append({"role": "assistant", "content": json.dumps(ex["output"], ensure_ascii=False)})
    msgs.append({"role": "user", "content": template.replace("{input}", text)})
    return msgs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--input", required=True, help="JSONL with a `message` field")
    p.add_argument("--field", default="message")
    p.add_argument("--rows", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-grammar", action="store_true", help="free generation (outputs often invalid)")
    args = p.parse_args()

    system, examples, schema, template, max_tokens = read_task(args.task)
    rows = [json.loads(l)[args.field] for l in open(args.input, encoding="utf-8") if l.strip()][: args.rows]
    started = time.perf_counter()
    llm = Llama(model_path=args.gguf, n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                n_batch=512, seed=0, verbose=False)
    open_ms = (time.perf_counter() - started) * 1000
    fmt = None if args.no_grammar else {"type": "json_object", "schema": schema}
    # The prompt prefix's cache is filled before the timed rows, as the engine fills its task
    # prefix when it opens the task (outside its rows/s): else the first row pays for it.
    started = time.perf_counter()
    llm.create_chat_completion(messages_for(system, examples, template, "warm-up"), temperature=0.0, top_k=1, max_tokens=1)
    prefix_ms = (time.perf_counter() - started) * 1000

    latencies, gen_tokens, prompt_tokens, valid = [], 0, 0, 0
    started = time.perf_counter()
    for text in rows:
        t0 = time.perf_counter()
        out = llm.create_chat_completion(messages_for(system, examples, template, text), temperature=0.0,
                                         top_k=1, max_tokens=max_tokens, response_format=fmt, seed=0)
        latencies.append((time.perf_counter() - t0) * 1000)
        gen_tokens += out["usage"]["completion_tokens"]
        prompt_tokens += out["usage"]["prompt_tokens"]
        try:
            jsonschema.validate(json.loads(out["choices"][0]["message"]["content"]), schema)
            valid += 1
        except (ValueError, jsonschema.ValidationError):
            pass
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "engine": "llama.cpp" + (" (no grammar)" if args.no_grammar else ""),
        "rows": len(rows), "rows_per_s": round(len(rows) / elapsed, 3),
        "gen_tokens_per_s": round(gen_tokens / elapsed, 1), "gen_tokens_per_row": round(gen_tokens / len(rows), 1),
        "prompt_tokens_per_row": round(prompt_tokens / len(rows), 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "open_ms": round(open_ms, 1), "prefix_ms": round(prefix_ms, 1), "valid": valid,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
