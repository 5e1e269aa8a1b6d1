"""The throughput table: the engine alone (one row at a time) and with N rows in flight
(continuous batching), llama.cpp on the same task, and with --flink the same task as Flink
SQL on a MiniCluster through LlmFunction and AsyncLlmFunction (bench/flink), all in one run
so the ratios compare figures taken under the same machine load. Then the machine's compute
limit for the same graph (bench/compute-limit, the task's prefix and the rows' own columns) and
the share of it each engine run reached, and the ceiling that limit sets on rows/s (with the
task's prefix, and with none to attend to) as a multiple of llama.cpp's rows/s. With --rounds N
the engines and llama.cpp run N times, interleaved: each row's ratios are to its own round
(this project's machines drift by a third between runs minutes apart), and a last table
gives every run's ratio to llama.cpp per round with the median.

Usage: bench/table [--model smollm2|qwen2.5-0.5b|qwen2.5-1.5b] [--precision int8] [--task T] [--input IN.jsonl]
                   [--rows N] [--concurrency 4,8,16] [--skip-llamacpp] [--rounds 1]
                   [--flink] [--flink-concurrency 16] [--skip-limit]
Prints the figures each engine's bench printed (one JSON line each) to stderr and a
Markdown table to stdout. Timings are figures, never checks.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    print(line, file=sys.stderr)
    return json.loads(line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="tasks/support_ticket.task.json")
    p.add_argument("--input", default="sql/data/support_tickets.jsonl")
    p.add_argument("--rows", type=int, default=40)
    p.add_argument("--concurrency", default="4,8,16")
    p.add_argument("--flinkllm", default=os.path.join(ROOT, "target/release/flinkllm"))
    p.add_argument("--model", default="smollm2", help="prepare-model catalogue key: the engine runs its --precision "
                   "directory, llama.cpp its GGUF")
    p.add_argument("--precision", default="int8")
    p.add_argument("--skip-llamacpp", action="store_true")
    p.add_argument("--flink", action="store_true", help="add the Flink SQL rows (bench/flink: sync and async UDF)")
    p.add_argument("--flink-concurrency", type=int, default=16, help="async rows in flight for the Flink row")
    p.add_argument("--skip-limit", action="store_true", help="leave out the compute limit and the shares of it")
    p.add_argument("--rounds", type=int, default=1, help="run the engines and llama.cpp this many times, interleaved, "
                   "and print each round's ratios and their median")
    a = p.parse_args()

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from flinkllm_tools.pypi_models import CATALOGUE
    model_dir = f"{CATALOGUE[a.model].name}-{a.precision}"
    base = [a.flinkllm, "bench", "--task", a.task, "--input", a.input, "--rows", str(a.rows), "--model", model_dir]
    # Each round runs every engine once; a row's ratios are to its own round's single stream
    # and llama.cpp, so the machine's drift between rounds does not enter them.
    rounds = []
    for k in range(a.rounds):
        tag = f" (round {k + 1})" if a.rounds > 1 else ""
        runs = [("engine, single stream" + tag, run_json(base + ["--concurrency", "1"]))]
        for c in [int(x) for x in a.concurrency.split(",") if x]:
            runs.append((f"engine, {c} in flight" + tag, run_json(base + ["--concurrency", str(c)])))
        if not a.skip_llamacpp:
            runs.append((f"llama.cpp ({CATALOGUE[a.model].gguf_file}, grammar)" + tag,
                         run_json([os.path.join(ROOT, "bench/llamacpp"), "--model", a.model, "--task", a.task, "--input", a.input,
                                   "--rows", str(a.rows)])))
        rounds.append(runs)
    references = [{"single": runs[0][1]["rows_per_s"], "llama": None if a.skip_llamacpp else runs[-1][1]["rows_per_s"]}
                  for runs in rounds]
    results = [(name, r, ref) for runs, ref in zip(rounds, references) for name, r in runs]
    llama_rps = None if a.skip_llamacpp else statistics.median(ref["llama"] for ref in references)
    if a.flink:
        out = subprocess.run([os.path.join(ROOT, "bench/flink"), "--json", "--task", a.task, "--input", a.input, "--rows", str(a.rows),
                              "--concurrency", str(a.flink_concurrency)], check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT).stdout
        flink = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        results += [(f"Flink SQL, LlmFunction (sync), p=1" if r["engine"] == "flink sync" else
                     f"Flink SQL, AsyncLlmFunction, {r['max_concurrent']} in flight, p=1", r, references[-1]) for r in flink]
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)")
    print("| run | rows/s | steady rows/s | gen tok/s | p50 ms | p99 ms | peak RSS MB | schema-valid | x single | x llama.cpp |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r, ref in results:
        valid = r.get("valid", r.get("ok"))  # engine rows that return are schema-validated
        ratio_llama = f"{r['rows_per_s'] / ref['llama']:.2f}" if ref["llama"] else "-"
        steady = f"{r['steady_rows_per_s']:.2f}" if "steady_rows_per_s" in r else "-"
        print(f"| {name} | {r['rows_per_s']:.2f} | {steady} | {r['gen_tokens_per_s']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
              f"| {r['peak_rss_mb']:.0f} | {valid}/{r['rows']} | {r['rows_per_s'] / ref['single']:.2f} | {ratio_llama} |")
    if a.rounds > 1 and llama_rps:
        print_round_ratios(rounds, references)
    print("\nsteady rows/s: rows finished while every slot was busy (from the first row finishing to the last row "
          "starting); rows/s includes the ramp-up and the drain of a finite run.")
    print("\nWhere an engine row's time goes (ms per row; each pass counts as the row's share of it, by tokens fed):\n")
    print("| run | prefill | chunk passes | chunk ms | one-token passes | one-token ms | constraint ms | wall ms per row |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r, _ in results:
        t = r.get("time_per_row_ms")
        if t:
            print(f"| {name} | {t['prefill']:.0f} | {t['chunk_passes']:.1f} | {t['chunk']:.0f} | {t['token_passes']:.1f} "
                  f"| {t['token_share']:.0f} | {t['constraint']:.1f} | {t['wall']:.0f} |")
    if not a.skip_limit:
        print_limit(model_dir, [(name, r) for name, r, _ in results if "time_per_row_ms" in r], llama_rps)
    if a.flink:
        sync, async_ = (r for _, r, _ in results if r.get("engine", "").startswith("flink "))
        print(f"\nFlink rows: the task opened before the jobs; peak RSS is the whole JVM running the MiniCluster. "
              f"AsyncLlmFunction / LlmFunction in this run: {async_['rows_per_s'] / sync['rows_per_s']:.2f}x rows/s")


def print_round_ratios(rounds, references):
    """Each engine run's multiple of its round's llama.cpp rows/s, per round and the median."""
    print("\n| run | x llama.cpp per round | median |")
    print("| --- | --- | ---: |")
    for i, (name, _) in enumerate(rounds[0][:-1]):
        ratios = [runs[i][1]["rows_per_s"] / ref["llama"] for runs, ref in zip(rounds, references)]
        print(f"| {name.rsplit(' (round', 1)[0]} | {' / '.join(f'{x:.2f}' for x in ratios)} | {statistics.median(ratios):.2f} |")


def print_limit(model_dir, engine_runs, llama_rps):
    """The graph's best tokens/s on this machine now (bench/compute-limit, in the shape the
    runs fed it: the task's prefix, about half a row's tokens as its own columns) and the
    share of it each engine run's fed tokens (prompt after the prefix, picked and forced
    tokens) reached, over the whole run and while every slot was busy. Then the ceiling
    that rate sets on rows/s, and the one the graph would set with no prefix to attend to
    (a one-position prefix): what no scheduling can pass, and what the prefix attention's
    arithmetic costs on top of the weights'."""
    first = engine_runs[0][1]
    fed = first["prompt_tokens_per_row"] + first["gen_tokens_per_row"]
    own = round(first["prompt_tokens_per_row"] + first["gen_tokens_per_row"] / 2)
    measure = lambda prefix: run_json([os.path.join(ROOT, "bench/compute-limit"), "--model", model_dir, "--prefix", str(prefix),
                                       "--own", str(own), "--json"])
    limit = measure(first["prefix_tokens"])
    best = limit["best_tokens_per_s"]
    shapes = ", ".join(f"{f['pass']} {f['tokens_per_s']:.0f}" for f in limit["passes"])
    print(f"\nThe machine's compute limit, measured after the runs (bench/compute-limit: the task's {first['prefix_tokens']}-token "
          f"prefix, {own} own columns per row; tokens/s): {shapes}. The share of the best ({best:.0f} tokens/s) each run reached, "
          f"at {fed:.1f} tokens fed per row:\n")
    print("| run | fed tokens/s | share of the limit | steady fed tokens/s | steady share |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in engine_runs:
        rate, steady = r["rows_per_s"] * fed, r["steady_rows_per_s"] * fed
        print(f"| {name} | {rate:.0f} | {rate / best:.0%} | {steady:.0f} | {steady / best:.0%} |")
    bare = measure(1)["best_tokens_per_s"]
    versus = lambda rows_per_s: f" ({rows_per_s / llama_rps:.1f}x llama.cpp)" if llama_rps else ""
    print(f"\nCeiling at {fed:.1f} fed tokens per row: {best / fed:.2f} rows/s{versus(best / fed)} at the best rate; "
          f"{bare / fed:.2f} rows/s{versus(bare / fed)} if the prefix cost nothing (best {bare:.0f} tokens/s with a "
          "one-position prefix, measured right after).")
    one_row = next(f for f in limit["passes"] if f["rows"] == 1 and f["tokens"] == 1)
    print(f"A one-token pass of one row reads {limit['one_row_mb']:.0f} MB (weights, prefix keys and values): "
          f"{limit['one_row_floor_ms']:.1f} ms at the {limit['read_gb_per_s']:.1f} GB/s ONNX Runtime reads here; "
          f"the graph's one-row pass took {one_row['ms_per_pass']:.1f} ms.")


if __name__ == "__main__":
    main()
