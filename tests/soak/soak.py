"""Soak: N rows (default 10,000) through the sync llm() and then the async llm_async() on a
real standalone Flink cluster (a fresh one per function) with the tiny model, sampling the
TaskManager process four times a second: RSS, open file descriptors, threads, and rows done
(the UDF's own `flinkllm.rows` metric, read through the REST API).

    python tests/soak/soak.py [--rows 10000] [--warmup 0.1] [--function sync|async|both]

Checks, per function (exit status 1 if one fails; speed is printed, never checked): RSS
after warm-up stays within ±5%, and fds and threads stay flat (the last sample at most
FLAT_SLACK above the first one after warm-up): a leak per row would show as a steady climb
over thousands of rows. Warm-up = the first `--warmup` share of the rows (model load, JIT,
allocator growth, the async executor's threads starting). One TaskManager, one slot, so one
process holds all the native state being measured; its JVM pre-touches its heap
(-XX:+AlwaysPreTouch) so that heap pages being touched for the first time do not pass for a
leak. The async job keeps 16 rows in flight (`table.exec.async-scalar.max-concurrent-operations`),
which the engine batches.
"""
import argparse
import json
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from cluster import FlinkCluster  # noqa: E402
from run_job import ROOT, render, sql_preamble, udf_jar  # noqa: E402

MODELS = pathlib.Path.home() / ".cache" / "flinkllm" / "models"
WORK = ROOT / "tests" / "e2e" / "work" / "soak"  # ignored by git

ASYNC_SETTINGS = {
    "table.exec.async-scalar.max-concurrent-operations": 16,
    "table.exec.async-scalar.retry-strategy": "NO_RETRY",
}

# Per function: SQL name, CREATE FUNCTION, extra SET lines.
FUNCTIONS = {
    "sync": ("llm", "", {}),
    "async": ("llm_async", "CREATE FUNCTION llm_async AS 'io.flinkllm.AsyncLlmFunction';\n", ASYNC_SETTINGS),
}

RSS_BAND_PCT = 5
SAMPLE_EVERY_S = 0.25
# The REST API serves TaskManager metrics from a cache that its fetcher refreshes every 10 s by
# default: the rows counter would then move in 10 s steps, and a job that runs 10,000 rows in
# a few seconds on a fast machine (the async one does) would leave one sample after warm-up.
METRIC_FETCH_INTERVAL = "200 ms"
MIN_WARM_SAMPLES = 5
FLAT_SLACK = 4  # fds / threads the last sample may be above the first after warm-up

JOB = """
CREATE TEMPORARY TABLE messages (id BIGINT, message STRING)
  WITH ('connector' = 'filesystem', 'path' = '${INPUT}', 'format' = 'json');
CREATE TEMPORARY TABLE results (id BIGINT, label STRING, score BIGINT, error STRING)
  WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'json');
INSERT INTO results
SELECT id, r.label, r.score, r.error
FROM (SELECT id, ${FUNCTION}('${TASK}', message, 'error-handling-strategy=ignore; error-column=true') AS r FROM messages);
"""


def job_sql(function):
    name, create, settings = FUNCTIONS[function]
    return sql_preamble("soak", 1, "10s", **settings) + create + JOB.replace("${FUNCTION}", name)

TASK = {
    "system_prompt": "Classify the message.",
    "schema": {"type": "object", "properties": {
        "label": {"enum": ["spam", "ham"]},
        "score": {"type": "integer", "minimum": 0, "maximum": 9}},
        "required": ["label", "score"], "additionalProperties": False},
    "max_new_tokens": 32,
}

WORDS = "offer meeting lunch invoice winner urgent report free call tomorrow cheap watches".split()


def proc_figures(pid):
    status = dict(l.split(":", 1) for l in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in l)
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "fds": len(list(pathlib.Path(f"/proc/{pid}/fd").iterdir())),
        "threads": int(status["Threads"]),
    }


def rows_done(cluster):
    """The flinkllm.rows counter of the running soak job (None before the operator opened)."""
    for job in cluster.rest("/jobs/overview")["jobs"]:
        if job["name"] != "soak" or job["state"] != "RUNNING":
            continue
        for vertex in cluster.rest(f"/jobs/{job['jid']}")["vertices"]:
            base = f"/jobs/{job['jid']}/vertices/{vertex['id']}/metrics"
            names = [m["id"] for m in cluster.rest(base) if m["id"].endswith("flinkllm.rows")]
            if names:
                return sum(int(float(m["value"])) for m in cluster.rest(f"{base}?get={','.join(names)}"))
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of rows counted as warm-up")
    parser.add_argument("--function", choices=["sync", "async", "both"], default="both")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    task = WORK / "soak.task.json"
    task.write_text(json.dumps(dict(TASK, model=str(MODELS / "tiny"))))
    data = WORK / "messages.jsonl"
    data.write_text("".join(json.dumps({"id": i, "message": " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(3 + i % 9)) + f" #{i}"}) + "\n"
                            for i in range(args.rows)))
    if args.rows != 10_000:
        print(f"NOTE: {args.rows} rows, not the full 10,000-row soak", flush=True)
    failed = []
    for function in (["sync", "async"] if args.function == "both" else [args.function]):
        job = WORK / f"soak-{function}.sql"
        job.write_text(job_sql(function))
        render(job, {"INPUT": data, "OUT": WORK / f"out-{function}", "TASK": task}, job)
        print(f"\n=== {function}: {FUNCTIONS[function][0]}()", flush=True)
        samples, after_job, seconds = soak(job)
        failed += [f"{function}: {p}" for p in report(samples, after_job, args.rows, args.warmup, seconds)]
    if failed:
        sys.exit("soak FAILED:\n  " + "\n  ".join(failed))
    print("\nsoak passed: RSS within ±5% after warm-up, fds and threads flat, for every function")


def soak(job):
    """Runs the job on a fresh one-TaskManager cluster; returns (samples, figures after the job, seconds)."""
    samples = []
    # The heap is touched up front, so RSS growth while rows run is native or off-heap
    # memory, not the JVM heap being paged in for the first time.
    cluster = FlinkCluster(WORK / "cluster", udf_jar(), taskmanagers=1, slots=1,
                           extra_conf={"env.java.opts.taskmanager": "-XX:+AlwaysPreTouch",
                                       "metrics.fetcher.update-interval": METRIC_FETCH_INTERVAL})
    with cluster:
        tm = cluster.taskmanager_pids()[0]
        done = threading.Event()
        runner = threading.Thread(target=lambda: (cluster.sql_client(job), done.set()), daemon=True)
        started = time.time()
        runner.start()
        while runner.is_alive():
            try:
                rows = rows_done(cluster)
            except OSError:
                rows = None
            if rows is not None:
                samples.append(dict(proc_figures(tm), rows=rows, t=time.time() - started))
            runner.join(timeout=SAMPLE_EVERY_S)
        if not done.is_set():
            sys.exit("the soak job failed: see the traceback above")
        after_job = proc_figures(tm)
    return samples, after_job, time.time() - started


def report(samples, after_job, total, warmup_share, seconds):
    """Prints the figures; returns the checks that failed."""
    warm = [s for s in samples if s["rows"] >= total * warmup_share]
    if len(warm) < MIN_WARM_SAMPLES:
        sys.exit(f"too few samples after warm-up ({len(warm)} of {len(samples)}: {samples[-3:]}): use more rows")
    base = warm[0]
    rss = [s["rss_mib"] for s in warm]
    dev = [(r - base["rss_mib"]) / base["rss_mib"] * 100 for r in rss]
    print(f"\nsoak: {total} rows in {seconds:.0f}s ({total / seconds:.0f} rows/s, SQL client and job start included), {len(samples)} samples")
    print(f"{'rows':>7} {'t s':>6} {'RSS MiB':>8} {'fds':>5} {'threads':>7}")
    step = max(1, len(samples) // 12)
    for s in samples[::step] + [samples[-1]]:
        print(f"{s['rows']:>7} {s['t']:>6.0f} {s['rss_mib']:>8.1f} {s['fds']:>5} {s['threads']:>7}")
    rss_ok = max(abs(d) for d in dev) <= RSS_BAND_PCT
    print(f"after warm-up ({base['rows']} rows): RSS {base['rss_mib']:.1f} MiB; later min {min(rss):.1f}, max {max(rss):.1f}, "
          f"last {rss[-1]:.1f} MiB -> deviation {min(dev):+.1f}% .. {max(dev):+.1f}% "
          f"({'within' if rss_ok else 'OUTSIDE'} ±{RSS_BAND_PCT}%)")
    failed = [] if rss_ok else [f"RSS after warm-up moved {min(dev):+.1f}% .. {max(dev):+.1f}% (band ±{RSS_BAND_PCT}%)"]
    for key in ("fds", "threads"):
        flat = warm[-1][key] - base[key] <= FLAT_SLACK
        print(f"{key}: {base[key]} after warm-up, max {max(s[key] for s in warm)}, {warm[-1][key]} at the last sample, "
              f"{after_job[key]} after the job ended ({'flat' if flat else 'CLIMBING'})")
        if not flat:
            failed.append(f"{key} climbed from {base[key]} to {warm[-1][key]} after warm-up")
    return failed


if __name__ == "__main__":
    main()
