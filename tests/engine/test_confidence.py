"""Label confidence (tiny model, whose random weights make every label a real choice): `flinkllm
run` reports each label field's probability beside the answer without changing the answer;
`flinkllm calibrate` fits a calibration and writes it into the task file, which the task then
applies; `flinkllm eval` prints how well the confidences say how often answers are right."""
import json
import os
import subprocess

from conftest import model_path
from engine_support import DATASETS, engine_env, flinkllm, run_rows, write_task  # noqa: F401 (fixtures)

SCHEMA = {"type": "object", "properties": {
    "category": {"enum": ["auth", "billing", "product-bug", "feature-request", "other"]},
    "note": {"type": "string", "maxLength": 30},
    "urgent": {"type": "boolean"},
    "sentiment": {"enum": ["positive", "neutral", "frustrated"]}},
    "required": ["category", "note", "urgent", "sentiment"], "additionalProperties": False}
TICKETS = os.path.join(DATASETS, "labelled", "tickets.jsonl")


def tickets(n):
    with open(TICKETS, encoding="utf-8") as f:
        return [json.loads(l) for l in f][:n]


def test_confidence_is_reported_per_label_and_leaves_answers_unchanged(run_rows, tmp_path):
    rows = [{"event_id": r["event_id"], "message": r["message"]} for r in tickets(12)]
    plain = run_rows(write_task(tmp_path, model_path("tiny"), SCHEMA, max_new_tokens=120), rows)
    os.makedirs(tmp_path / "c")
    sure = run_rows(write_task(tmp_path / "c", model_path("tiny"), SCHEMA, max_new_tokens=120, confidence=True), rows)
    assert [l["output"] for l in sure] == [l["output"] for l in plain], "confidence must not change an answer"
    for line in sure:
        c = line["confidence"]
        assert list(c) == ["category", "urgent", "sentiment"], c  # label fields, in the order written
        assert all(0.0 < p <= 1.0 for p in c.values()), c
        # A label's confidence is the probability of the labels' path up to it: never rising.
        assert c["category"] >= c["urgent"] >= c["sentiment"], c
    assert "confidence" not in plain[0]
    assert len({round(l["confidence"]["category"], 6) for l in sure}) > 1, "random weights: confidences differ by row"


def test_calibrate_writes_the_calibration_the_task_then_applies(flinkllm, engine_env, run_rows, tmp_path):
    task = write_task(tmp_path, model_path("tiny"), SCHEMA, max_new_tokens=120)
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in tickets(30)), encoding="utf-8")
    proc = subprocess.run([flinkllm, "calibrate", "--task", task, "--input", str(labelled), "--folds", "2",
                           "--held-out", str(tmp_path / "held.jsonl")], capture_output=True, text=True, env=engine_env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(task, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["confidence"] is True
    assert set(doc["calibration"]) == {"category", "sentiment"}, doc["calibration"]  # the fields the rows label
    assert all(p["a"] > 0 for p in doc["calibration"].values())
    assert "held out (2 folds)" in proc.stderr
    with open(tmp_path / "held.jsonl", encoding="utf-8") as f:
        held = [json.loads(l) for l in f]
    assert len(held) == 2 * 30 and {h["field"] for h in held} == {"category", "sentiment"}
    # The task now reports (calibrated) confidence, and eval scores it per label field.
    rows = [{"message": r["message"]} for r in tickets(6)]
    calibrated = run_rows(task, rows)
    out = subprocess.run([flinkllm, "eval", "--task", task, "--input", str(labelled), "--json"],
                         capture_output=True, text=True, env=engine_env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[0])
    for field in ("category", "sentiment"):
        figures = report["confidence"][field]
        assert figures["predictions"] == 30 and 0 <= figures["ece"] <= 1 and 0 <= figures["brier"] <= 1, figures
    assert all("confidence" in l for l in calibrated)


def test_a_calibration_of_a_field_that_is_no_label_is_refused(flinkllm, engine_env, tmp_path):
    task = write_task(tmp_path, model_path("tiny"), SCHEMA, confidence=True, calibration={"note": {"a": 1.0, "b": 0.0}})
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"message": "x"}\n', encoding="utf-8")
    proc = subprocess.run([flinkllm, "run", "--task", task, "--input", str(rows)], capture_output=True, text=True, env=engine_env, timeout=600)
    assert proc.returncode != 0 and 'calibration names "note", which is not a label field' in proc.stderr, proc.stderr
