"""LlmFunction (sync) and AsyncLlmFunction (N rows in flight) on the same support-ticket SQL, on
an embedded Flink MiniCluster with parallelism 1, in one run so the async/sync ratio compares
figures taken under the same machine load.

Usage: bench/flink [--task T] [--input IN.jsonl] [--rows N] [--concurrency 16] [--runs sync,async,ml_predict]

The Java side (io.flinkllm.FlinkBench, `gradle benchFlink`) opens the task once before both
jobs, so the figures are the rows' own: rows/s and generated tokens/s from the first row
starting to the last one finishing, p50/p99 from the function's latencyMs histogram (async:
from the task thread handing the row over to its result), peak RSS of the JVM running the
MiniCluster (model included). Here every output row is validated against the task's schema
with jsonschema. Prints one JSON line per run, then a Markdown table; timings are figures,
never checks (a row that is not schema-valid is: exit status 1).
"""
import argparse
import json
import os
import subprocess
import sys

import jsonschema
from common import ROOT, show_task

NAMES = {"sync": "Flink, LlmFunction (sync), p=1", "async": "Flink, AsyncLlmFunction, {c} in flight, p=1",
         "ml_predict": "Flink, ML_PREDICT (sync) of the task as CREATE MODEL without a task file, p=1"}


def count_valid(rows_file, schema):
    valid = 0
    for line in open(rows_file, encoding="utf-8"):
        row = json.loads(line)
        try:
            jsonschema.validate(row["output"], schema)
            valid += 1
        except (KeyError, jsonschema.ValidationError):
            pass
    return valid


def run(task, input_file, rows, concurrency, out=None, runs=("sync", "async")):
    """The runs, in one JVM; returns [(name, figures)], figures as FlinkBench printed them plus `valid`."""
    task, input_file = os.path.abspath(task), os.path.abspath(input_file)
    out = os.path.abspath(out or os.path.join(ROOT, "build", "bench-flink"))
    args = f"--task {task} --input {input_file} --out {out} --rows {rows} --concurrency {concurrency} --runs {','.join(runs)}"
    if any(c.isspace() for c in task + input_file + out):
        sys.exit("bench/flink: paths with spaces are not supported")
    proc = subprocess.run(["gradle", "--no-daemon", "-q", "benchFlink", f"-PbenchArgs={args}"], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"gradle benchFlink failed ({proc.returncode})")
    schema = show_task(task)["schema"]
    results = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            r["valid"] = count_valid(r["rows_file"], schema)
            print(json.dumps(r), file=sys.stderr)
            kind = r["engine"].split()[-1]
            results.append((NAMES[kind].format(c=r["max_concurrent"]), r))
    if [r["engine"] for _, r in results] != [f"flink {r}" for r in runs]:
        sys.exit(f"bench/flink: expected runs {list(runs)}, got {[r['engine'] for _, r in results]}")
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default=os.path.join(ROOT, "tasks/support_ticket.task.json"))
    p.add_argument("--input", default=os.path.join(ROOT, "sql/data/support_tickets.jsonl"))
    p.add_argument("--rows", type=int, default=40)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--out", default=None, help="folder for the runs' rows (default build/bench-flink)")
    p.add_argument("--runs", default="sync,async", help="comma-separated: sync, async, ml_predict (the task as CREATE MODEL)")
    p.add_argument("--json", action="store_true", help="print only the runs' JSON lines, to stdout (for bench/table)")
    a = p.parse_args()

    results = run(a.task, a.input, a.rows, a.concurrency, a.out, tuple(a.runs.split(",")))
    if a.json:
        for _, r in results:
            print(json.dumps(r))
    else:
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        print("| run | rows/s | gen tok/s | p50 ms | p99 ms | peak RSS MB (JVM) | schema-valid | x sync |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        sync = results[0][1]["rows_per_s"]
        for name, r in results:
            print(f"| {name} | {r['rows_per_s']:.2f} | {r['gen_tokens_per_s']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
                  f"| {r['peak_rss_mb']:.0f} | {r['valid']}/{r['rows']} | {r['rows_per_s'] / sync:.2f} |")
    invalid = [n for n, r in results if r["valid"] != r["rows"]]
    if invalid:
        sys.exit(f"rows that are not schema-valid in: {', '.join(invalid)}")


if __name__ == "__main__":
    main()
