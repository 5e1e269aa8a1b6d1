"""Run one of the sql/ jobs on a fresh standalone cluster and print its output rows.

    python3 tests/e2e/run_job.py sql/support_tickets.sql [--rows 10] [--taskmanagers 2]

Needs build/libs/flinkllm-<version>.jar (`gradle jar`) and the models the job's task
files name (`tools/prepare-model default`). The SQL client has no variables, so the
job's ${FLINKLLM_DATA} / ${FLINKLLM_OUT} placeholders are filled in here, and
FLINKLLM_TASKS_DIR points the relative task names at the repo's tasks/.
"""
import argparse
import glob
import json
import os
import pathlib
import re
import shutil
import sys
import time

from cluster import FlinkCluster

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The model of the cluster tests that check plumbing rather than answers (exactly once,
# failover, the ML_PREDICT wiring): the seed tasks' default model is ~20x slower on 2 CPUs,
# and those tests' outcome does not depend on which model answers. The llm() support-ticket
# job, the poison-row test and the demo run the default model.
SMALL_MODEL = "smollm2-135m-instruct-int8"


def udf_jar():
    jars = sorted(glob.glob(str(ROOT / "build" / "libs" / "flinkllm-*.jar")))
    if not jars:
        sys.exit("build/libs/flinkllm-*.jar is missing: run `gradle jar` first")
    return pathlib.Path(jars[-1])


def render(sql_file, values, out_file):
    text = pathlib.Path(sql_file).read_text()
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - values.keys())
    if missing:
        raise KeyError(f"{sql_file}: no value for placeholders {missing}")
    out_file.write_text(re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text))
    return out_file


def pin_model(sql, model):
    """The job on `model` instead of the one its files name: `SET 'flinkllm.model'` for the
    llm() calls' task files, and CREATE MODEL's `'model'` option rewritten (or added, over a task file)."""
    sql = re.sub(r"'model'\s*=\s*'[^']*'", f"'model' = '{model}'", sql)
    # A CREATE MODEL over a task file names no model: its 'model' option overrides the file's.
    sql = re.sub(r"'provider'\s*=\s*'flinkllm',(?=\s*'task-file')", f"'provider' = 'flinkllm', 'model' = '{model}',", sql)
    return f"SET 'flinkllm.model' = '{model}';\n" + sql


def sql_preamble(name, parallelism, checkpoint_interval, **settings):
    """The SET lines and CREATE FUNCTION a test job starts with (settings: more SET pairs)."""
    lines = {"table.dml-sync": "true", "pipeline.name": name, "parallelism.default": parallelism,
             "execution.checkpointing.interval": checkpoint_interval, **settings}
    return "".join(f"SET '{k}' = '{v}';\n" for k, v in lines.items()) + "CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction';\n"


def read_rows(folder):
    """Rows of every committed part file (in-progress files are hidden, dot-prefixed)."""
    rows = []
    for part in sorted(pathlib.Path(folder).rglob("part-*")):
        rows.extend(json.loads(line) for line in part.read_text().splitlines() if line.strip())
    return rows


def run_job(sql_file, work, taskmanagers=2, slots=1, data=None, values=None, extra_jars=(), model=None):
    """Start a cluster, run the job, stop the cluster; return (output folder, seconds).
    `values` fill more placeholders; `extra_jars` go into the cluster's lib/; `model` runs
    the job on that model (pin_model)."""
    work = pathlib.Path(work).resolve()
    out = work / "out"
    # The filesystem sink adds files: a previous run's output would be read as this one's.
    shutil.rmtree(out, ignore_errors=True)
    values = {
        # The project's copy of the demo datasets; tests point FLINKLLM_DATA at ../shared.
        "FLINKLLM_DATA": str(data or os.environ.get("FLINKLLM_DATA", ROOT / "sql" / "data")),
        "FLINKLLM_OUT": str(out),
        **(values or {}),
    }
    tasks_dir = os.environ.get("FLINKLLM_TASKS_DIR", str(ROOT / "tasks"))
    cluster = FlinkCluster(work / "cluster", udf_jar(), taskmanagers=taskmanagers, slots=slots,
                           env={"FLINKLLM_TASKS_DIR": tasks_dir}, extra_jars=extra_jars)
    with cluster:
        job = render(sql_file, values, work / pathlib.Path(sql_file).name)
        if model:
            job.write_text(pin_model(job.read_text(), model))
        started = time.time()
        cluster.sql_client(job)
        return out, time.time() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql")
    parser.add_argument("--rows", type=int, default=10, help="output rows to print per table")
    parser.add_argument("--taskmanagers", type=int, default=2)
    parser.add_argument("--work", default=str(ROOT / "tests" / "e2e" / "work" / "job"))
    args = parser.parse_args()
    out, seconds = run_job(args.sql, args.work, taskmanagers=args.taskmanagers)
    for table in sorted(p for p in out.iterdir() if p.is_dir()):
        rows = read_rows(table)
        print(f"\n== {table.name}: {len(rows)} rows in {table} (job ran {seconds:.0f}s)")
        for row in rows[: args.rows]:
            print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
