"""Does one TaskManager keep up with a Kafka stream, and what latency does a user see?

    bench/kafka [--rates 0.5,1,2,4] [--seconds 30] [--variants llm,llm_async,ml_predict]

A real broker and a real standalone cluster with ONE TaskManager (2 cores here; 1 slot,
parallelism 1, a 1-partition input topic). For each variant of the support-ticket job —
`llm()` (LlmFunction, sync), `llm_async()` (AsyncLlmFunction) and `ML_PREDICT` (the model
provider, async) — one unbounded job runs while events are produced at fixed rates, one phase
per rate, ascending, `--seconds` each. Every event carries its production time; the output
carries the time it was processed. Per phase it prints: offered rate, sustained output rate,
latency p50/p99 (processed − produced), and whether the job keeps up: it does not when fewer
than 95% of the offered events/s come out, or latency grows through the phase (the last
fifth's median more than twice the first fifth's and over a second) — both are growing
consumer lag. The sink is at-least-once so the latency is the pipeline's own; an
exactly-once sink adds up to one checkpoint interval before read_committed consumers see a
record. Figures, never checks: compare rates measured in one run on one machine.
"""
import argparse
import datetime
import json
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from cluster import FlinkCluster  # noqa: E402
from kafka import KafkaBroker, connector_jar  # noqa: E402
from kill import cancel  # noqa: E402
from run_job import ROOT, render, sql_preamble, udf_jar  # noqa: E402

SOURCE = """
CREATE TEMPORARY TABLE events (event_id STRING, phase INT, produced_at BIGINT, message STRING) WITH ('connector' = 'kafka',
  'topic' = '${VARIANT}-in', 'properties.bootstrap.servers' = '${BOOTSTRAP}', 'properties.group.id' = '${VARIANT}',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TEMPORARY TABLE out_events (event_id STRING, phase INT, produced_at BIGINT, category STRING, processed_at TIMESTAMP_LTZ(3))
  WITH ('connector' = 'kafka', 'topic' = '${VARIANT}-out', 'properties.bootstrap.servers' = '${BOOTSTRAP}', 'format' = 'json');
"""
QUERIES = {
    "llm": "INSERT INTO out_events SELECT event_id, phase, produced_at, t.r.category, CURRENT_TIMESTAMP "
           "FROM (SELECT *, llm('support_ticket.task.json', message) AS r FROM events) AS t;",
    "llm_async": "INSERT INTO out_events SELECT event_id, phase, produced_at, t.r.category, CURRENT_TIMESTAMP "
                 "FROM (SELECT *, llm_async('support_ticket.task.json', message) AS r FROM events) AS t;",
    "ml_predict": """CREATE TEMPORARY MODEL triage INPUT (message STRING)
  OUTPUT (category STRING, severity STRING, sentiment STRING, explanation VARCHAR(200)) WITH ('provider' = 'flinkllm',
  'model' = 'smollm2-135m-instruct-int8', 'system-prompt-file' = 'support_ticket.system.txt',
  'examples-file' = 'support_ticket.examples.jsonl', 'output.category.enum' = 'auth, billing, product-bug, feature-request, other',
  'output.severity.enum' = 'P1, P2, P3', 'output.sentiment.enum' = 'positive, neutral, frustrated', 'threads' = '2');
INSERT INTO out_events SELECT event_id, phase, produced_at, category, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE events, MODEL triage, DESCRIPTOR(message));""",
}


def job_sql(variant, concurrency):
    settings = {"table.dml-sync": "false", "table.exec.async-scalar.max-concurrent-operations": concurrency,
                "table.exec.async-ml-predict.max-concurrent-operations": concurrency}
    return (sql_preamble(variant, 1, "5s", **settings) + "CREATE FUNCTION llm_async AS 'io.flinkllm.AsyncLlmFunction';\n"
            + SOURCE + QUERIES[variant] + "\n")


def produce(kafka, topic, messages, rates, seconds):
    """Events at each rate for `seconds`, through one console producer fed on schedule."""
    proc = subprocess.Popen(["java", "-Xmx256m", f"-Dlog4j2.configurationFile={kafka.work / 'log4j2-tools.properties'}",
                             "-cp", str(kafka.libs / "*"), "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
                             kafka.bootstrap, "--topic", topic, "--reader-property", "linger.ms=0"],
                            stdin=subprocess.PIPE, text=True)
    time.sleep(3)  # the producer's JVM start
    n = 0
    for phase, rate in enumerate(rates):
        start = time.time()
        for k in range(int(rate * seconds)):
            time.sleep(max(0.0, start + k / rate - time.time()))
            event = {"event_id": f"{phase}-{k}", "phase": phase, "produced_at": int(time.time() * 1000),
                     "message": messages[n % len(messages)]}
            proc.stdin.write(json.dumps(event) + "\n")
            proc.stdin.flush()
            n += 1
    proc.stdin.close()
    proc.wait()
    return n


def millis(ts):
    return datetime.datetime.strptime(ts.rstrip("Z"), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def phase_figures(rows, rate):
    rows = sorted(rows, key=lambda r: r["produced_at"])
    lat = [millis(r["processed_at"]) - r["produced_at"] for r in rows]
    done = sorted(millis(r["processed_at"]) for r in rows)
    span = (done[-1] - done[0]) / 1000 if len(done) > 1 else 0
    fifth = max(1, len(lat) // 5)
    first, last = statistics.median(lat[:fifth]), statistics.median(lat[-fifth:])
    return {"rate": rate, "events": len(rows), "out_rate": round((len(rows) - 1) / span, 2) if span else None,
            "p50_ms": round(statistics.median(lat)), "p99_ms": round(sorted(lat)[int(0.99 * (len(lat) - 1))]),
            # Behind: fewer events out than offered, or latency climbing through the phase.
            "keeps_up": bool(span) and (len(rows) - 1) / span >= 0.95 * rate and not (last > 2 * first and last > 1000)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="0.5,1,2,4")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--variants", default="llm,llm_async,ml_predict")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    messages = [json.loads(l)["message"] for l in (ROOT / "sql" / "data" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
    work = ROOT / "bench" / "work" / "kafka"
    table = []
    with KafkaBroker(work / "kafka") as kafka:
        for variant in args.variants.split(","):
            cluster = FlinkCluster(work / "cluster", udf_jar(), taskmanagers=1, slots=1, extra_jars=[connector_jar()],
                                   env={"FLINKLLM_TASKS_DIR": str(ROOT / "tasks")})
            with cluster:
                kafka.create_topic(f"{variant}-in")
                kafka.create_topic(f"{variant}-out")
                job = work / f"{variant}.sql"
                job.write_text(job_sql(variant, args.concurrency))
                cluster.sql_client(render(job, {"VARIANT": variant, "BOOTSTRAP": kafka.bootstrap}, job))
                time.sleep(15)  # the model loads in open(): measure the stream, not the start-up
                total = produce(kafka, f"{variant}-in", messages, rates, args.seconds)
                rows = [json.loads(r) for r in kafka.consume(f"{variant}-out", expected=total, timeout_s=120)]
                cancel(cluster, variant)
            for phase, rate in enumerate(rates):
                figures = {"variant": variant, **phase_figures([r for r in rows if r["phase"] == phase], rate)}
                print(json.dumps(figures), flush=True)
                table.append(figures)
    print("\n| job | offered events/s | out events/s | p50 ms | p99 ms | keeps up |\n| --- | ---: | ---: | ---: | ---: | --- |")
    for f in table:
        print(f"| {f['variant']} | {f['rate']} | {f['out_rate']} | {f['p50_ms']} | {f['p99_ms']} | {'yes' if f['keeps_up'] else 'no: lag grows'} |")


if __name__ == "__main__":
    main()
