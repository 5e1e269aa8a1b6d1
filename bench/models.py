"""The model table: every model on every labelled seed task, through `flinkllm eval` (accuracy,
rows/s with 4 rows in flight, latency, size, peak RSS) and `flinkllm bench` (rows/s one row
at a time, open time), all in one run so the figures compare under the same machine load.

Usage: bench/models [--models a,b,...] [--labelled DIR] [--bench-rows 16]
The labelled sets are the project's copy (tests/data/labelled/) unless --labelled points
elsewhere. Prints each command's JSON lines to stderr and a Markdown table to stdout.
Figures, never checks.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLINKLLM = os.path.join(ROOT, "target", "release", "flinkllm")
# seed task → its labelled set and the scores the table shows
TASKS = {
    "support_ticket": ("tickets.jsonl", ["category", "severity", "sentiment"]),
    "comment_moderation": ("comments.jsonl", ["verdict"]),
    "entities": ("entities.jsonl", ["entities"]),
}
DEFAULT_MODELS = ["smollm2-135m-instruct-int8", "smollm2-135m-instruct-int4",
                  "qwen2.5-coder-0.5b-instruct-int8", "qwen2.5-coder-0.5b-instruct-int4",
                  "qwen2.5-coder-1.5b-instruct-int8", "qwen2.5-coder-1.5b-instruct-int4"]


def json_lines(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    for line in lines:
        print(json.dumps(line), file=sys.stderr)
    return lines


def score(line, field):
    s = line["scores"][field]
    return s["accuracy"] if "accuracy" in s else s["f1"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--labelled", default=os.path.join(ROOT, "tests", "data", "labelled"))
    p.add_argument("--bench-rows", type=int, default=16)
    a = p.parse_args()
    models = a.models.split(",")
    evals = {}
    for task, (labelled, _) in TASKS.items():
        for line in json_lines([FLINKLLM, "eval", "--task", f"tasks/{task}.task.json", "--input", os.path.join(a.labelled, labelled),
                                "--models", ",".join(models), "--concurrency", "4", "--json"]):
            evals[(task, line["model"])] = line
    single = {}
    for model in models:
        single[model] = json_lines([FLINKLLM, "bench", "--task", "tasks/support_ticket.task.json", "--model", model,
                                    "--input", "sql/data/support_tickets.jsonl", "--rows", str(a.bench_rows)])[-1]
    print("| model | on disk | open | peak RSS | tickets rows/s, 1 / 4 in flight | category | severity | sentiment | verdict | entity F1 | row errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for model in models:
        t, c, e = (evals[(task, model)] for task in TASKS)
        errors = sum(sum(line["errors"].values()) for line in (t, c, e))
        rss = max(line["peak_rss_mb"] for line in (t, c, e))
        print(f"| {model} | {t['model_mb'] / 1024:.2f} GB | {single[model]['open_ms'] / 1000:.1f} s | {rss / 1024:.1f} GB "
              f"| {single[model]['rows_per_s']:.2f} / {t['rows_per_s']:.2f} | {score(t, 'category'):.2f} | {score(t, 'severity'):.2f} "
              f"| {score(t, 'sentiment'):.2f} | {score(c, 'verdict'):.2f} | {score(e, 'entities'):.2f} | {errors} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
