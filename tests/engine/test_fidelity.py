"""With the fp32 model and no constraint, the engine's KV-cache decoding is token-identical
to the reference decoder behind `tools/reference-decode` (plain ONNX Runtime, no cache), also
when the prompt is fed as a cached prefix plus the rest (as tasks do). One case goes through the
`tools/reference-decode` command itself; the others call its decoder in-process (same code, one
model load for the whole run)."""
import json
import os
import subprocess

import pytest

from conftest import TOOLS, decoder, smollm2_model
from engine_support import engine_env, flinkllm  # noqa: F401 (fixtures)

SYSTEM = "You triage customer support tickets. Read the ticket and answer with JSON only."
TEXTS = [
    "My session keeps expiring every few minutes",
    "I can't log in on mobile but desktop works fine",
    "Please add dark mode to the dashboard",
    "The invoice for March charged us twice",
    "Your app crashed when I uploaded a 2 GB file",
    "Great support yesterday, thank you!",
    "How do I export my data to CSV?",
    "Password reset emails never arrive",
    "The API returns 500 for every request since this morning",
    "Can we get a discount for annual billing?",
    "Write a haiku about the sea.",
    "What is the capital of France?",
    "Translate 'good morning' into German.",
    "List three prime numbers.",
    "Explain what a KV cache is in one sentence.",
    "Résumé: l'application plante au démarrage 😡",
    "用户无法登录系统",
    "{\"category\": \"auth\"} <- is this right?",
    "   leading and trailing spaces   ",
    "Numbers: 3.14159 2.71828 1.41421",
]
MAX_NEW = 24


def prompt(text):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n"
            f"<|im_start|>assistant\n")


@pytest.mark.parametrize("i", range(len(TEXTS)))
def test_greedy_matches_reference(i, flinkllm, engine_env, tmp_path):
    model = smollm2_model("fp32")
    pf = tmp_path / "prompt.txt"
    pf.write_text(prompt(TEXTS[i]), encoding="utf-8")
    if i == 0:
        ref = subprocess.run([os.path.join(TOOLS, "reference-decode"), "--model", model,
                              "--prompt-file", str(pf), "--max-new", str(MAX_NEW)],
                             capture_output=True, text=True, env=engine_env, timeout=900)
        assert ref.returncode == 0, ref.stderr[-3000:]
        expected = json.loads(ref.stdout)
    else:
        d = decoder(model)
        ids = d.encode(prompt(TEXTS[i]))
        expected = {"prompt_ids": ids, "generated_ids": d.greedy_uncached(ids, MAX_NEW)}
    for split in (None, 20):
        args = [flinkllm, "generate", "--model", model, "--prompt-file", str(pf), "--max-new", str(MAX_NEW)]
        if split:
            args += ["--split-prefix", str(split)]
        got = subprocess.run(args, capture_output=True, text=True, env=engine_env, timeout=900)
        assert got.returncode == 0, got.stderr[-3000:]
        ours = json.loads(got.stdout)
        assert ours["prompt_ids"] == expected["prompt_ids"], "tokenization differs"
        assert ours["generated_ids"] == expected["generated_ids"], f"split={split}: {ours['text']!r} vs {expected['text']!r}"
