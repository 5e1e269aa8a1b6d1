"""The tokenizer rebuilt from the GGUF round-trips text exactly and keeps chat tokens whole."""
import pytest
from tokenizers import Tokenizer

from conftest import smollm2_model, model_path
import os
import json

SAMPLES = {
    "english": "The quick brown fox jumps over the lazy dog. It's 42 degrees, isn't it?",
    "emoji": "Great video 🎉🔥👍🏽 — family: 👨‍👩‍👧‍👦, flags: 🇫🇷🇯🇵",
    "cjk": "日本語のテキスト、中文文本和한국어 텍스트。",
    "crlf": "line one\r\nline two\r\n\r\n\ttabbed\rcarriage",
    "code": "def f(x):\n    return {\"a\": [1, 2.5e-3, None]}  # comment\n\n\tif x != 0: pass\n",
    "rtl_and_combining": "שלום עולם مرحبا بالعالم e\u0301 n\u0303 Z\u0335\u0321a\u0336",
    "spaces": "   leading and   multiple   spaces   ",
    "json": '{"category": "auth", "severity": "P1", "explanation": "x\\ny"}',
}


@pytest.fixture(scope="module", params=["smollm2-135m-instruct-fp32", "tiny"])
def tokenizer(request):
    return Tokenizer.from_file(os.path.join(model_path(request.param), "tokenizer.json"))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_is_exact(tokenizer, name):
    text = SAMPLES[name]
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert tokenizer.decode(ids, skip_special_tokens=False) == text


def test_digits_are_split_individually(tokenizer):
    assert tokenizer.encode("12345", add_special_tokens=False).tokens == list("12345")


def test_chat_tokens_encode_as_single_ids(tokenizer):
    with open(os.path.join(smollm2_model("fp32"), "flinkllm.json")) as f:
        manifest = json.load(f)
    for token, expected in ((manifest["bos_token"], manifest["bos_token_id"]),
                            (manifest["eos_token"], manifest["eos_token_id"]),
                            ("<|endoftext|>", 0)):
        assert tokenizer.encode(token, add_special_tokens=False).ids == [expected]
    ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>\n", add_special_tokens=False).ids
    assert ids[0] == 1 and 2 in ids


def test_special_tokens_are_dropped_when_asked(tokenizer):
    ids = tokenizer.encode("<|im_start|>assistant\nyes<|im_end|>", add_special_tokens=False).ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "assistant\nyes"
