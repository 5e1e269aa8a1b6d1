"""Schemas written to hang or exhaust a task manager (issue: bounded constraint compilation).
Each runs in its own `flinkllm run` process with the tiny model and one row: it either answers
schema-valid rows or is refused with `UnsupportedSchema`/`InvalidTask` naming where, and in
either case the compile stays inside the engine's default budget. The wall time and the peak
RSS above a plain schema's are printed for every case (the figures, not timed assertions; the
hang guard below is 30 s, three times the budget's wall-time backstop)."""
import json
import os
import subprocess
import time

import jsonschema
import pytest

from conftest import model_path
from engine_support import engine_env, flinkllm  # noqa: F401 (fixtures)

EXTRA_RSS_LIMIT_MB = 256
HANG_GUARD_S = 30

# (name, schema of property `v`, what must happen: "answers", "GenerationLimit" (each row is
# schema-valid or ends with that per-row error), or the text the refusal names)
CASES = [
    # The three that hung before the budget.
    ("alternation-then-20-counted", {"type": "string", "pattern": "^(a|b)*a(a|b){20}$", "maxLength": 60},
     "#/properties/v/pattern: the pattern needs more than"),
    ("class-then-24-counted", {"type": "string", "pattern": "^[a-z]*x[a-z]{24}$", "maxLength": 80},
     "#/properties/v/pattern: the pattern needs more than"),
    ("any-20000", {"type": "string", "pattern": "^.{0,20000}$"},
     "#/properties/v/pattern: the pattern needs more than"),
    # No answer can satisfy it: the default 512-character bound is shorter than the pattern.
    ("unsatisfiable-1000", {"type": "string", "pattern": "^[0-9a-f]{1000}$"},
     "#/properties/v/pattern: no string can match: the pattern's shortest match has 1000 characters, more than maxLength 512"),
    ("const-50000", {"const": "x" * 50000}, "#/properties/v/enum: the `enum` needs more than 20000 automaton states"),
    ("enum-45000", {"enum": [f"value-{i}" for i in range(45000)]}, "#/properties/v/enum: the `enum` needs more than"),
    ("counted-5000", {"type": "string", "pattern": "^[a-z]{5000}$", "maxLength": 6000},
     "#: the schema's token index needs more than 25000000 (state, token) transitions"),
    ("alternation-5000-words", {"type": "string", "pattern": "^(" + "|".join(f"w{i}x" for i in range(5000)) + ")$"},
     "exceed the model's context"),
    ("nested-quantifiers", {"type": "string", "pattern": "^((a+)+)+b$", "maxLength": 40}, "answers"),
    ("counted-500", {"type": "string", "pattern": "^[a-z]{500}$", "maxLength": 600}, "answers"),
    # Loads (no automaton cost); where the random model writes until the token cap, the row
    # ends with the documented GenerationLimit (an answer longer than the cap), never a hang.
    ("max-length-1e9", {"type": "string", "maxLength": 10**9}, "GenerationLimit"),
    ("ref-chain-200", {"$ref": "#/$defs/a0"}, "answers"),
    # Legitimate patterns keep working (the random tiny model wanders to the length bound:
    # the pattern must still be able to finish inside it).
    ("email", {"type": "string", "pattern": "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$"}, "answers"),
    ("uuid", {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}, "answers"),
    ("iso-date", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}, "answers"),
    ("phone", {"type": "string", "pattern": "^\\+?[0-9][0-9 ()-]{6,18}[0-9]$", "maxLength": 24}, "answers"),
    ("ticket-id", {"type": "string", "pattern": "^[A-Z]{2,4}-[0-9]{1,6}$"}, "answers"),
]


def schema_of(name, v):
    schema = {"type": "object", "properties": {"v": v}, "required": ["v"], "additionalProperties": False}
    if name == "ref-chain-200":
        schema["$defs"] = {f"a{i}": {"$ref": f"#/$defs/a{i + 1}"} for i in range(200)}
        schema["$defs"]["a200"] = {"type": "string", "maxLength": 10}
    return schema


def test_hostile_schemas_answer_or_are_refused_within_the_budget(flinkllm, engine_env, tmp_path):
    baseline = None
    figures = []
    for name, v, expect in [("plain", {"type": "string", "maxLength": 20}, "answers")] + CASES:
        schema = schema_of(name, v)
        code, err, out, seconds, rss = run_measured(flinkllm, engine_env, str(tmp_path), name, schema)
        if baseline is None:
            baseline = rss
        figures.append((name, seconds, rss, rss - baseline, "answered" if code == 0 else err.strip().splitlines()[-1][:150]))
        if expect in ("answers", "GenerationLimit"):
            assert code == 0, f"{name}: {err[-2000:]}"
            with open(out, encoding="utf-8") as f:
                lines = [json.loads(l) for l in f]
            assert len(lines) == 3, f"{name}: {lines}"
            for line in lines:
                if "output" in line:
                    jsonschema.validate(line["output"], schema)
                else:
                    assert expect == "GenerationLimit" and line["error"].startswith("GenerationLimit: "), f"{name}: {line}"
        else:
            assert code != 0, f"{name}: loaded, but it must be refused ({expect})"
            assert err.startswith("flinkllm: UnsupportedSchema: ") or err.startswith("flinkllm: InvalidTask: "), f"{name}: {err[-2000:]}"
            assert expect in err, f"{name}: {err[-2000:]}"
    print(f"\n{'schema':<28} {'seconds':>8} {'peak RSS MB':>12} {'above plain':>12}  result")
    for name, seconds, rss, extra, result in figures:
        print(f"{name:<28} {seconds:>8.2f} {rss:>12.0f} {extra:>12.0f}  {result}")
    over = [(n, e) for n, _, _, e, _ in figures if e > EXTRA_RSS_LIMIT_MB]
    assert not over, f"extra RSS over {EXTRA_RSS_LIMIT_MB} MB: {over}"


def run_measured(binary, env, work, name, schema):
    """run_one, with the child's own peak RSS from wait4."""
    task = os.path.join(work, f"{name}.task.json")
    with open(task, "w", encoding="utf-8") as f:
        json.dump({"model": model_path("tiny"), "schema": schema, "system_prompt": "Answer with JSON.",
                   "temperature": 1.0, "seed": 7, "threads": 1}, f)
    rows = os.path.join(work, "rows.jsonl")
    with open(rows, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"message": m}) + "\n" for m in ("first row", "a second row", "3"))
    out = os.path.join(work, f"{name}.out.jsonl")
    errf = os.path.join(work, f"{name}.err")
    started = time.monotonic()
    with open(errf, "wb") as e:
        proc = subprocess.Popen([binary, "run", "--task", task, "--input", rows, "--field", "message", "--output", out],
                                stdout=subprocess.DEVNULL, stderr=e, env=env)
    deadline = started + HANG_GUARD_S
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            pytest.fail(f"{name}: no answer and no refusal after {HANG_GUARD_S} s")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    with open(errf, encoding="utf-8", errors="replace") as f:
        err = f.read()
    return proc.returncode, err, out, seconds, usage.ru_maxrss / 1024


def test_the_operator_sets_the_budget_through_the_environment(flinkllm, engine_env, tmp_path):
    """FLINKLLM_SCHEMA_BUDGET lowers a figure: a schema that answers under the defaults is refused."""
    schema = schema_of("counted-500", {"type": "string", "pattern": "^[a-z]{500}$", "maxLength": 600})
    env = dict(engine_env, FLINKLLM_SCHEMA_BUDGET="max-states=100")
    code, err, _, _, _ = run_measured(flinkllm, env, str(tmp_path), "lowered", schema)
    assert code != 0 and "#/properties/v/pattern: the pattern needs more than 100 automaton states" in err, err
