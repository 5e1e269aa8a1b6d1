"""Does a task manager with 4 slots load the model once, and what does it cost in memory?

Runs sql/support_tickets.sql over the first N tickets twice on a fresh 1-TaskManager
cluster with 4 slots: once at parallelism 1, once at parallelism 4. Prints the task
manager's peak and final RSS for each, their ratio (target ≤ 1.15) and the model loads
the task manager logged. A measurement, not a timed assertion.

    python3 tests/e2e/measure_parallelism.py [--tickets 12]
"""
import argparse
import pathlib
import re

from cluster import FlinkCluster
from run_job import ROOT, read_rows, render, udf_jar

WORK = ROOT / "tests" / "e2e" / "work" / "parallelism"


def rss_mb(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    field = lambda name: int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024
    return field("VmHWM"), field("VmRSS")


def run(parallelism, tickets):
    work = WORK / f"p{parallelism}"
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    lines = (ROOT / ".." / "shared" / "datasets" / "support_tickets.jsonl").read_text().splitlines()[:tickets]
    (data / "support_tickets.jsonl").write_text("\n".join(lines) + "\n")
    cluster = FlinkCluster(work / "cluster", udf_jar(), taskmanagers=1, slots=4,
                           tm_process_size="3072m", tm_task_off_heap="1024m",
                           env={"FLINKLLM_TASKS_DIR": str(ROOT / "tasks")})
    with cluster:
        job = render(ROOT / "sql" / "support_tickets.sql", {"FLINKLLM_DATA": data, "FLINKLLM_OUT": work / "out"},
                     work / "job.sql")
        job.write_text(job.read_text().replace("'parallelism.default' = '2'", f"'parallelism.default' = '{parallelism}'"))
        idle_peak, _ = rss_mb(cluster.taskmanager_pids()[0])
        cluster.sql_client(job)
        peak, final = rss_mb(cluster.taskmanager_pids()[0])
        log = "\n".join(p.read_text(errors="replace") for p in (work / "cluster" / "log").glob("*taskexecutor*.log"))
        opens = re.findall(r"flinkllm opened task .* \(model loads in this process: (\d+)\)", log)
        slots_used = len(re.findall(r"flinkllm closed task", log))
    rows = len(read_rows(work / "out" / "support_tickets"))
    return {"parallelism": parallelism, "rows": rows, "tm_idle_peak_rss_mb": round(idle_peak),
            "tm_peak_rss_mb": round(peak), "tm_final_rss_mb": round(final),
            "task_opens_logged": len(opens), "model_loads": opens[-1] if opens else "none logged",
            "task_closes_logged": slots_used}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=12)
    args = parser.parse_args()
    results = [run(1, args.tickets), run(4, args.tickets)]
    for r in results:
        print(" ".join(f"{k}={v}" for k, v in r.items()))
    print(f"peak RSS ratio p4/p1 = {results[1]['tm_peak_rss_mb'] / results[0]['tm_peak_rss_mb']:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
