"""The official JSON-Schema-Test-Suite (draft 2020-12, vendored in tests/data/json-schema-test-suite)
through the engine: each test group's schema becomes the one required property `v` of an object,
the tiny random-weight model (which writes anything the constraint lets through) answers three
rows, and python-jsonschema checks every answer against the wrapped schema.

    tests/engine/schema_suite.py [--json]      # the figures (needs target/release/flinkllm, tiny)

Counts: accepted schemas, refusals by keyword, invalid values (must be 0) and row errors (must
be 0). tests/engine/test_schema_suite.py runs the same and holds it to those numbers.
"""
import argparse
import collections
import concurrent.futures
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import regex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE = os.path.join(ROOT, "tests", "data", "json-schema-test-suite", "draft2020-12")
BINARY = os.path.join(ROOT, "target", "release", "flinkllm")
ROWS = ["first row", "a second, longer row of input text", "3"]
# "#/properties/v/allOf/1: keyword `not` is not supported ..." → location and keyword.
REFUSAL = re.compile(r"(#[^:\s]*): .*?`([^`]+)`")


def _pattern(validator, pattern, instance, schema):
    """`pattern` as JSON Schema means it (ECMA-262, Unicode): python-jsonschema's own check
    uses `re`, which rejects property escapes such as \\p{Letter}."""
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def wrap(schema):
    """`schema` as the required property `v` of an object; its local `$ref`s re-pointed there
    (its `$id`, if any, moves to the wrapper; refs inside a nested `$id` resource stay as they are;
    its `$schema` goes: a subschema naming a dialect makes python-jsonschema switch validators)."""
    def repoint(node, top):
        if isinstance(node, dict):
            if "$id" in node and not top:
                return node
            return {k: (("#/properties/v" + v[1:]) if k == "$ref" and isinstance(v, str) and v.startswith("#")
                        else repoint(v, False)) for k, v in node.items() if not (top and k in ("$id", "$schema"))}
        if isinstance(node, list):
            return [repoint(x, False) for x in node]
        return node
    wrapped = {"type": "object", "properties": {"v": repoint(schema, True)}, "required": ["v"],
               "additionalProperties": False}
    if isinstance(schema, dict) and "$id" in schema:
        wrapped = {"$id": schema["$id"], **wrapped}
    return wrapped


def groups():
    for path in sorted(glob.glob(os.path.join(SUITE, "*.json"))):
        with open(path, encoding="utf-8") as f:
            for i, group in enumerate(json.load(f)):
                yield f"{os.path.basename(path)[:-5]}/{i}", group["description"], group["schema"]


def run_group(name, schema, model, env, work):
    wrapped = wrap(schema)
    task = os.path.join(work, name.replace("/", "_") + ".task.json")
    with open(task, "w", encoding="utf-8") as f:
        json.dump({"model": model, "schema": wrapped, "system_prompt": "Answer with JSON.",
                   "temperature": 1.0, "seed": 7, "threads": 1}, f)
    rows = task + ".rows.jsonl"
    with open(rows, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"message": r}) + "\n" for r in ROWS)
    proc = subprocess.run([BINARY, "run", "--task", task, "--input", rows, "--field", "message"],
                          capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        return {"group": name, "refused": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"}
    validator = Validator(wrapped)
    result = {"group": name, "invalid": [], "errors": []}
    for line in proc.stdout.splitlines():
        out = json.loads(line)
        if "error" in out:
            result["errors"].append(out["error"])
            continue
        try:
            valid = validator.is_valid(out["output"])
        except jsonschema.exceptions.SchemaError as e:   # never trust what cannot be checked
            valid, out["output"] = False, f"{out['output']} (not checkable: {e.message})"
        except Exception as e:
            valid, out["output"] = False, f"{out['output']} (not checkable: {type(e).__name__}: {e})"
        if not valid:
            result["invalid"].append(out["output"])
    return result


def run_suite(model, env):
    with tempfile.TemporaryDirectory() as work, concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run_group, name, schema, model, env, work) for name, _, schema in groups()]
        return [f.result() for f in futures]


def summary(results):
    refused = [r for r in results if "refused" in r]
    by_keyword = collections.Counter()
    unnamed = []
    for r in refused:
        m = REFUSAL.search(r["refused"])
        if m:
            by_keyword[m.group(2)] += 1
        else:
            unnamed.append(r)
    return {
        "schemas": len(results),
        "accepted": len(results) - len(refused),
        "refused": len(refused),
        "refused_by_keyword": dict(by_keyword.most_common()),
        "refusals_without_keyword_and_location": [f"{r['group']}: {r['refused']}" for r in unnamed],
        "invalid_values": [f"{r['group']}: {v}" for r in results for v in r.get("invalid", [])],
        "row_errors": [f"{r['group']}: {e}" for r in results for e in r.get("errors", [])],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default=os.path.join(os.path.expanduser("~"), ".cache", "flinkllm", "models", "tiny"))
    p.add_argument("--refusals", action="store_true", help="print every refusal")
    a = p.parse_args()
    env = dict(os.environ)
    if not env.get("ORT_DYLIB_PATH"):
        env["ORT_DYLIB_PATH"] = subprocess.run([os.path.join(ROOT, "tools", "ort-path")], capture_output=True,
                                               text=True, check=True).stdout.strip()
    results = run_suite(a.model, env)
    s = summary(results)
    if a.refusals:
        for r in results:
            if "refused" in r:
                print(f"{r['group']}: {r['refused']}")
    if a.json:
        print(json.dumps(s))
    else:
        print(f"JSON-Schema-Test-Suite draft2020-12: {s['schemas']} schemas, {s['accepted']} accepted, "
              f"{s['refused']} refused, {len(s['invalid_values'])} invalid values, {len(s['row_errors'])} row errors")
        print("refused by keyword: " + ", ".join(f"{k} {n}" for k, n in s["refused_by_keyword"].items()))
        for key in ("refusals_without_keyword_and_location", "invalid_values", "row_errors"):
            for line in s[key]:
                print(f"{key}: {line}")
    return 0 if not s["invalid_values"] and not s["row_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
