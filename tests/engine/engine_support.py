"""Fixtures and helpers for the engine tests (imported by the test modules; tests/conftest.py
stays the suite's only conftest). Provides: the built CLI, the ONNX Runtime library, and a helper
that runs `flinkllm run` on rows and returns one parsed output line per input row."""
import json
import os
import subprocess

import pytest

from conftest import ROOT, TOOLS  # tests/conftest.py (the one conftest of the suite)

BINARY = os.path.join(ROOT, "target", "release", "flinkllm")
# The shared datasets beside the checkout (CI has them, and they may hold inputs this
# project never saw); a clone without them uses the project's copy in sql/data.
_SHARED_DATASETS = os.path.join(os.path.dirname(ROOT), "shared", "datasets")
DATASETS = os.environ.get("FLINKLLM_DATASETS") or (
    _SHARED_DATASETS if os.path.isdir(_SHARED_DATASETS) else os.path.join(ROOT, "sql", "data"))
TASKS = os.path.join(ROOT, "tasks")


@pytest.fixture(scope="session")
def flinkllm():
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is missing: run `cargo build --release` first")
    return BINARY


@pytest.fixture(scope="session")
def engine_env():
    """Environment with ORT_DYLIB_PATH set (from the caller, else from tools/ort-path)."""
    env = dict(os.environ)
    if not env.get("ORT_DYLIB_PATH"):
        out = subprocess.run([os.path.join(TOOLS, "ort-path")], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            pytest.fail(f"cannot locate libonnxruntime.so via tools/ort-path: {out.stderr[-2000:]}")
        env["ORT_DYLIB_PATH"] = out.stdout.strip()
    return env


@pytest.fixture(scope="session")
def run_rows(flinkllm, engine_env, tmp_path_factory):
    """run_rows(task_path, rows, field="message", extra_args=()) -> list of output dicts."""
    def run(task, rows, field="message", extra_args=()):
        work = tmp_path_factory.mktemp("run")
        inp = work / "in.jsonl"
        with open(inp, "w", encoding="utf-8") as f:
            for r in rows:
                f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
        out = work / "out.jsonl"
        proc = subprocess.run([flinkllm, "run", "--task", str(task), "--input", str(inp),
                               "--field", field, "--output", str(out), *extra_args],
                              capture_output=True, text=True, env=engine_env, timeout=3600)
        assert proc.returncode == 0, f"flinkllm run failed: {proc.stderr[-4000:]}"
        with open(out, encoding="utf-8") as f:
            lines = [json.loads(l) for l in f]
        assert len(lines) == len(rows), f"{len(rows)} rows in, {len(lines)} lines out"
        return lines
    return run


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def write_task(dir_path, model, schema, **fields):
    """A task file with an inline schema for `model` (a directory path)."""
    task = {"model": str(model), "schema": schema, "system_prompt": "Answer with JSON.", **fields}
    path = os.path.join(str(dir_path), "task.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(task, f)
    return path
