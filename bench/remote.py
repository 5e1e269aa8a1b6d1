"""The setup users run today, measured against flinkllm in one run: the support-ticket job on a
Flink MiniCluster through Flink's own `openai` model provider (flink-model-openai, async
ML_PREDICT) against llama.cpp's OpenAI-compatible server (llama-cpp-python[server], same GGUF,
127.0.0.1 only, the same threads), the answer parsed with JSON_VALUE; then the same job through
the `flinkllm` provider with the same rows in flight, through `LlmFunction` and through
`AsyncLlmFunction` (the same rows in flight), each with its default options. Same machine, same
weights, same system prompt (the seed prompt with its examples written into it, since the openai
provider sends a system prompt and the row only) and the same schema.

The remote path can only ask for `response_format: json_object` (Flink's provider has no JSON
Schema option), so its answers are checked here: a row whose response does not parse, or whose
fields do not validate against the task's schema, counts as invalid. Its rows/s and latencies
come from a recording proxy between Flink and the server (first request sent to last response
received); flinkllm's from its metrics (first row started to last finished). Model loading is
outside every window.

Usage: bench/remote [--model smollm2|qwen2.5-0.5b] [--rows 40] [--concurrency 16] [--threads 2]
Prints each run's JSON to stderr and a Markdown table to stdout. Figures, never checks.
"""
import argparse
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIRS = {"smollm2": "smollm2-135m-instruct-int8", "qwen2.5-0.5b": "qwen2.5-coder-0.5b-instruct-int8",
              "qwen2.5-1.5b": "qwen2.5-coder-1.5b-instruct-int8"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingProxy(http.server.ThreadingHTTPServer):
    """Forwards every POST to the server and records when each was sent and answered."""

    def __init__(self, upstream_port):
        self.upstream_port, self.calls, self.lock = upstream_port, [], threading.Lock()
        super().__init__(("127.0.0.1", 0), ProxyHandler)


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        started = time.perf_counter()
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=3600)
        upstream.request("POST", self.path, body, {"Content-Type": "application/json"})
        reply = upstream.getresponse()
        data = reply.read()
        with self.server.lock:
            self.server.calls.append((started, time.perf_counter()))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_server(venv, gguf, port, threads):
    cmd = [os.path.join(venv, "bin", "python"), "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", "4096"]
    log = open(os.path.join(ROOT, "bench", "work", "llama-server.log"), "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"the llama.cpp server exited ({server.returncode}): see bench/work/llama-server.log")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/v1/models")
            if c.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(1)
    server.kill()
    sys.exit("the llama.cpp server did not come up in 5 minutes")


def system_prompt():
    """The seed prompt, its examples as text, and the keys to answer with."""
    tasks = os.path.join(ROOT, "tasks")
    text = open(os.path.join(tasks, "support_ticket.system.txt"), encoding="utf-8").read().rstrip()
    examples = [json.loads(l) for l in open(os.path.join(tasks, "support_ticket.examples.jsonl"), encoding="utf-8") if l.strip()]
    text += "\n\nExamples:\n" + "\n".join(f"Ticket: {e['input']}\nAnswer: {json.dumps(e['output'])}" for e in examples)
    return text + "\n\nAnswer with one JSON object with the keys category, severity, sentiment and explanation."


def warm_up(port, model):
    """One request with the job's system prompt, straight to the server (not recorded): the
    server keeps the longest common prompt prefix between requests, so the job's rows start
    with it cached, as the flinkllm paths start with their task prefix computed when the
    model opens (outside their windows)."""
    body = json.dumps({"model": model, "max_tokens": 1, "temperature": 0,
                       "messages": [{"role": "system", "content": system_prompt()}, {"role": "user", "content": "warm-up"}]})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    reply = c.getresponse()
    reply.read()
    if reply.status != 200:
        sys.exit(f"the llama.cpp server answered the warm-up request with {reply.status}")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", choices=sorted(MODEL_DIRS))
    p.add_argument("--rows", type=int, default=40)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--venv", required=True, help="llama-cpp-python venv with the server extras (bench/remote passes it)")
    p.add_argument("--gguf", required=True)
    p.add_argument("--openai-jar", required=True, help="flink-model-openai (bench/remote fetches it)")
    a = p.parse_args()
    work = os.path.join(ROOT, "bench", "work", "remote")
    os.makedirs(work, exist_ok=True)
    tickets = [l for l in open(os.path.join(ROOT, "sql", "data", "support_tickets.jsonl"), encoding="utf-8") if l.strip()]
    inp = os.path.join(work, "input.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        f.writelines(tickets[i % len(tickets)] for i in range(a.rows))
    prompt_file = os.path.join(work, "system.txt")
    with open(prompt_file, "w", encoding="utf-8") as f:
        f.write(system_prompt())
    model_dir = os.path.join(os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm")), "models", MODEL_DIRS[a.model])

    # The UDFs' task: the provider's task document as a file (the same prompt and schema).
    schema = json.load(open(os.path.join(ROOT, "tasks", "support_ticket.schema.json"), encoding="utf-8"))
    task_file = os.path.join(work, "task.json")
    with open(task_file, "w", encoding="utf-8") as f:
        json.dump({"name": "support_ticket_remote", "model": model_dir, "system_prompt_file": "system.txt",
                   "schema": schema, "threads": a.threads}, f)

    port = free_port()
    server = start_server(a.venv, a.gguf, port, a.threads)
    warm_up(port, a.model)
    proxy = RecordingProxy(port)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        args = (f"--input {inp} --out {work} --rows {a.rows} --concurrency {a.concurrency} --threads {a.threads} "
                f"--endpoint http://127.0.0.1:{proxy.server_address[1]}/v1/chat/completions --remote-model {a.model} "
                f"--model {model_dir} --system-prompt-file {prompt_file} --task-file {task_file}")
        proc = subprocess.run(["gradle", "--no-daemon", "-q", "benchRemote", f"-PopenaiJar={a.openai_jar}", f"-PbenchArgs={args}"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"gradle benchRemote failed ({proc.returncode})")
    finally:
        proxy.shutdown()
        server.terminate()
        server.wait()
    runs = {r["run"]: r for r in (json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{"))}

    def invalid(rows_file):
        bad = 0
        for line in open(rows_file, encoding="utf-8"):
            row = json.loads(line)
            if "error" in row:          # a UDF row that failed (FlinkBench's rows)
                bad += 1
                continue
            row = row.get("output", row)
            answer = {k: row.get(k) for k in ("category", "severity", "sentiment", "explanation")}
            try:
                jsonschema.validate(answer, schema)
            except jsonschema.ValidationError:
                bad += 1
        return bad

    calls = proxy.calls
    remote = runs["remote"]
    remote["rows_per_s"] = len(calls) / (max(e for _, e in calls) - min(s for s, _ in calls))
    remote["p50_ms"] = percentile([(e - s) * 1e3 for s, e in calls], 0.5)
    remote["p99_ms"] = percentile([(e - s) * 1e3 for s, e in calls], 0.99)
    remote["requests"] = len(calls)
    for r in runs.values():
        r["invalid"] = invalid(r["rows_file"])
        print(json.dumps(r), file=sys.stderr)
    print(f"Support-ticket job, {a.model} ({os.path.basename(a.gguf)}), {a.rows} rows, {a.concurrency} in flight, "
          f"{a.threads} threads, Flink MiniCluster p=1:\n")
    print("| path | rows/s | p50 ms | p99 ms | invalid answers | vs remote |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| Flink `openai` provider → llama.cpp server (json_object) | {remote['rows_per_s']:.2f} | {remote['p50_ms']:.0f} "
          f"| {remote['p99_ms']:.0f} | {remote['invalid']} of {remote['rows_out']} | 1x |")
    paths = {"flinkllm": "flinkllm provider (async ML_PREDICT, defaults)", "udf": "flinkllm `LlmFunction` (sync UDF, defaults)",
             "async-udf": f"flinkllm `AsyncLlmFunction` ({a.concurrency} in flight, defaults)"}
    for run, label in paths.items():
        if run in runs:
            r = runs[run]
            print(f"| {label} | {r['rows_per_s']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
                  f"| {r['invalid']} of {r['rows_out']} | {r['rows_per_s'] / remote['rows_per_s']:.1f}x |")


if __name__ == "__main__":
    main()
