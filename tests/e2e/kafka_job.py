"""A sql/kafka/ job end to end: a fresh broker, the dataset produced to the input topic, the
job on a fresh standalone cluster (the Kafka connector next to the UDF JAR in lib/), the
output topic consumed with read_committed.

    python3 tests/e2e/kafka_job.py [sql/kafka/support_tickets.sql] [--rows 10]
"""
import argparse
import json
import pathlib
import sys
import time
import uuid

from kafka import KafkaBroker, connector_jar
from run_job import ROOT, run_job

# job file → (input topic, dataset file, output topic, intermediate topics)
JOBS = {
    "support_tickets": ("tickets", "support_tickets.jsonl", "enriched_tickets", ()),
    "comment_moderation": ("comments", "youtube_comments.jsonl", "moderated_comments", ()),
    "entities": ("sentences", "ner_sentences.jsonl", "sentence_entities", ()),
    "review_summary": ("reviews", "product_reviews.jsonl", "review_summaries", ("review_windows",)),
}


def run_kafka_job(sql_file, work, events, partitions=2, taskmanagers=2, expected=None, model=None):
    """Returns (output records as dicts, job seconds). `events`: the JSON lines to produce;
    `expected`: output records to wait for (default: one per event); `model`: as for run_job."""
    name = pathlib.Path(sql_file).stem
    source, _, sink, intermediate = JOBS[name]
    work = pathlib.Path(work)
    with KafkaBroker(work / "kafka") as kafka:
        # Both task managers read: one partition per source subtask.
        kafka.create_topic(source, partitions=partitions)
        for topic in (sink, *intermediate):
            kafka.create_topic(topic, partitions=partitions)
        kafka.produce(source, events)
        values = {"KAFKA_BOOTSTRAP": kafka.bootstrap, "KAFKA_RUN": uuid.uuid4().hex[:8]}
        _, seconds = run_job(sql_file, work / "job", taskmanagers=taskmanagers, values=values, extra_jars=[connector_jar()],
                             model=model)
        records = kafka.consume(sink, expected=expected or len(events), timeout_s=30)
        return [json.loads(r) for r in records], seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sql", nargs="?", default=str(ROOT / "sql" / "kafka" / "support_tickets.sql"))
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--work", default=str(ROOT / "tests" / "e2e" / "work" / "kafka"))
    args = parser.parse_args()
    _, dataset, sink, _ = JOBS[pathlib.Path(args.sql).stem]
    events = [l for l in (ROOT / "sql" / "data" / dataset).read_text().splitlines() if l.strip()]
    started = time.time()
    rows, seconds = run_kafka_job(args.sql, args.work, events)
    print(f"\n== topic {sink}: {len(rows)} committed records for {len(events)} events (job ran {seconds:.0f}s, "
          f"{time.time() - started:.0f}s with broker and cluster)")
    for row in rows[: args.rows]:
        print(json.dumps(row, ensure_ascii=False))
    # The review summary writes one record per product window, not per event.
    sys.exit(0 if rows and (len(rows) == len(events) or pathlib.Path(args.sql).stem == "review_summary") else 1)


if __name__ == "__main__":
    main()
