"""What the benchmark scripts share: the repository root, the engine's CLI, and a task as the
engine reads it (`flinkllm show`), so no script reads the task-file format itself."""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLINKLLM = os.path.join(ROOT, "target", "release", "flinkllm")


def show_task(path, flinkllm=FLINKLLM):
    """The task at `path` as the engine reads it: system_message, examples, input_template,
    schema, max_new_tokens, ... (`flinkllm show`; builds the CLI if it is missing)."""
    if not os.path.exists(flinkllm):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "flinkllm-cli"], cwd=ROOT, check=True)
    out = subprocess.run([flinkllm, "show", "--task", os.path.abspath(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"flinkllm show {path}: {out.stderr.strip()}")
    return json.loads(out.stdout)
