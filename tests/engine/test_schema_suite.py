"""The official JSON-Schema-Test-Suite (draft 2020-12, vendored) through the engine with the
tiny random-weight model: every answer python-jsonschema checks is valid, no row is lost, and
every refused schema is refused naming the keyword and its location (schema_suite.py)."""
import json

from conftest import model_path
from engine_support import engine_env  # noqa: F401 (fixture)
from schema_suite import run_suite, summary

# The floor; the run at the time of writing accepted 269 of 383.
MINIMUM_ACCEPTED = 180


def test_the_suite_gives_only_valid_values_and_named_refusals(engine_env):
    s = summary(run_suite(model_path("tiny"), engine_env))
    print(json.dumps({k: v for k, v in s.items() if k != "refusals_without_keyword_and_location"}, indent=1))
    assert s["invalid_values"] == []
    assert s["row_errors"] == []
    assert s["refusals_without_keyword_and_location"] == []
    assert s["accepted"] >= MINIMUM_ACCEPTED, s["refused_by_keyword"]
