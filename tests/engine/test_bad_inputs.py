"""Awkward inputs never abort a run or lose a row: each gives schema-valid output or a
clear per-row error of a known kind."""
import json
import os

import jsonschema

from conftest import DEFAULT_MODEL, model_path
from hostile import BAD_TEXTS, SURROGATE_TEXTS
from engine_support import TASKS, engine_env, flinkllm, run_rows, write_task  # noqa: F401 (fixtures)

KINDS = ("InvalidInput", "InputTooLong", "GenerationLimit")


def rows():
    out = [{"event_id": f"bad-{i}", "message": t} for i, t in enumerate(BAD_TEXTS)]
    # Lines that are not usable rows still get an output line each.
    out += ['{"event_id": "no-message"}', '{"event_id": "number", "message": 42}', "not json at all",
            {"event_id": "null", "message": None}]
    return out


def check(lines, schema):
    v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for line in lines:
        if "output" in line:
            if line["output"] is not None:
                assert not list(v.iter_errors(line["output"])), line
        else:
            assert line["error"].split(":")[0] in KINDS, line


def support_schema():
    with open(os.path.join(TASKS, "support_ticket.schema.json"), encoding="utf-8") as f:
        return json.load(f)


def test_bad_inputs_tiny_model(run_rows, tmp_path):
    schema = support_schema()
    task = write_task(tmp_path, model_path("tiny"), schema, max_new_tokens=400)
    lines = run_rows(task, rows())
    check(lines, schema)
    by_id = {l.get("event_id"): l for l in lines}
    # 10 KB exceeds the tiny model's 2048-token context: truncated-tail is the default.
    assert "output" in by_id["bad-2"], by_id["bad-2"]
    assert by_id["no-message"]["error"].startswith("InvalidInput")
    assert by_id["null"]["output"] is None
    # Failing the row instead is the opt-in alternative.
    lines = run_rows(task, rows(), extra_args=["--context-overflow-action", "error"])
    check(lines, schema)
    assert {l.get("event_id"): l for l in lines}["bad-2"]["error"].startswith("InputTooLong")


def test_bad_inputs_default_model(run_rows):
    model_path(DEFAULT_MODEL)  # fails with instructions when the model is not prepared
    schema = support_schema()
    lines = run_rows(os.path.join(TASKS, "support_ticket.task.json"), rows())
    check(lines, schema)
    ok = [l for l in lines if "output" in l and str(l.get("event_id", "")).startswith("bad-")]
    assert len(ok) == len(BAD_TEXTS), "every text row is read up to the task's max_context_size and must succeed"


def test_lone_surrogate_escapes_are_repaired(run_rows, flinkllm, engine_env, tmp_path):
    """`\\ud83d` without its other half is valid to Python's and Jackson's JSON readers: the
    row gets an answer (over U+FFFD), not a lost line."""
    schema = support_schema()
    task = write_task(tmp_path, model_path("tiny"), schema)  # no max_new_tokens: the cap comes from the schema
    lines_in = [json.dumps({"event_id": f"s-{i}", "message": t}) for i, t in enumerate(SURROGATE_TEXTS)]
    assert all("\\ud" in l for l in lines_in)
    lines = run_rows(task, lines_in)
    check(lines, schema)
    assert [l["event_id"] for l in lines] == [f"s-{i}" for i in range(len(SURROGATE_TEXTS))]
    assert all("output" in l and l["output"] is not None for l in lines), lines
    # The same row written with U+FFFD gives the same answer: the repair is exactly that.
    fixed = run_rows(task, [json.dumps({"event_id": "s-0", "message": SURROGATE_TEXTS[0].replace("\ud83d", "\ufffd")})])
    assert fixed[0]["output"] == lines[0]["output"]
