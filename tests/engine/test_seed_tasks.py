"""Every output of `flinkllm run` for the four seed tasks, on their own (default) model, is
valid for the task's schema, checked by the `jsonschema` library (not by the engine). The
first rows of each dataset (ROWS): the default model is ~20x slower than the small one, rows
run one at a time here, and the guarantee is the engine's, not the rows'."""
import collections
import json
import os

import jsonschema
import pytest

from conftest import DEFAULT_MODEL, model_path
from engine_support import DATASETS, TASKS, engine_env, flinkllm, read_jsonl, run_rows  # noqa: F401 (fixtures)

CASES = {
    "support_ticket": ("support_tickets.jsonl", "message"),
    "comment_moderation": ("youtube_comments.jsonl", "message"),
    "entities": ("ner_sentences.jsonl", "message"),
    "review_summary": ("product_reviews.jsonl", "context"),
}
ROWS = {"support_ticket": 24, "comment_moderation": 24, "entities": 24, "review_summary": 6}  # summaries: ~150 tokens each


def review_contexts():
    """The aggregated context rows the review job's first stage produces per product."""
    by_product = collections.OrderedDict()
    for r in read_jsonl(os.path.join(DATASETS, "product_reviews.jsonl")):
        by_product.setdefault(r["product_id"], []).append(r)
    return [{"event_id": pid,
             "context": " | ".join(f"Rating: {r['rating']}. Review: {r['review_text']}" for r in rs)}
            for pid, rs in by_product.items()]


def validator(name):
    with open(os.path.join(TASKS, f"{name}.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("name", sorted(CASES))
def test_seed_task_outputs_are_schema_valid(name, run_rows):
    model_path(DEFAULT_MODEL)  # fails with instructions when the model is not prepared
    dataset, field = CASES[name]
    rows = (review_contexts() if name == "review_summary" else read_jsonl(os.path.join(DATASETS, dataset)))[:ROWS[name]]
    lines = run_rows(os.path.join(TASKS, f"{name}.task.json"), rows, field=field)
    v = validator(name)
    errors = [l for l in lines if "output" not in l]
    assert not errors, f"rows failed: {errors[:3]}"
    for row, line in zip(rows, lines):
        assert line.get("event_id") == row.get("event_id")
        problems = [e.message for e in v.iter_errors(line["output"])]
        assert not problems, f"{line}: {problems}"
