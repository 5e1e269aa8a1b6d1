"""Shared pytest fixtures: where the prepared models live, and the tool scripts."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)

CACHE = os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm"))
MODELS = os.path.join(CACHE, "models")
PRECISIONS = ("fp32", "int8", "int4")


def model_path(name):
    """A prepared model directory, or a failure saying how to make it (never a silent skip)."""
    path = os.path.join(MODELS, name)
    if not os.path.isfile(os.path.join(path, "flinkllm.json")):
        pytest.fail(f"model directory {path} is missing: run `tools/prepare-model default`, "
                    f"`tools/prepare-model smollm2` and `tools/prepare-model tiny` first (tests/run-all does)")
    return path


from flinkllm_tools.pypi_models import CATALOGUE  # noqa: E402 (needs TOOLS on the path)

# The model the seed tasks name (`tools/prepare-model default`), from the one catalogue.
DEFAULT_MODEL = f"{CATALOGUE['default'].name}-{CATALOGUE['default'].precisions[0]}"


def smollm2_model(precision):
    return model_path(f"smollm2-135m-instruct-{precision}")


_decoders = {}


def decoder(path):
    """One ONNX Runtime session per model directory for the whole test run."""
    from flinkllm_tools.decoding import OnnxDecoder
    if path not in _decoders:
        _decoders[path] = OnnxDecoder(path)
    return _decoders[path]
