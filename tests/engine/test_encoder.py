"""The encoder path (task = embedding | classification) against an independent
implementation, across batch compositions, and on hostile input. Prints the figures the
issue asks for (cosine minimum and mean)."""
import json
import os
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from conftest import model_path
from hostile import BAD_TEXTS, HUGE_TEXT, SURROGATE_TEXTS
from engine_support import DATASETS, TASKS, engine_env, flinkllm, run_rows  # noqa: F401 (fixtures)

FP32, INT8 = "all-minilm-l6-v2-fp32", "all-minilm-l6-v2-int8"
SEED_FILES = (("support_tickets.jsonl", "message"), ("youtube_comments.jsonl", "message"),
              ("ner_sentences.jsonl", "message"), ("product_reviews.jsonl", "review_text"))


def seed_sentences(n=50):
    """n sentences from the four seed datasets, taken in turn."""
    per_file = []
    for name, field in SEED_FILES:
        with open(os.path.join(DATASETS, name), encoding="utf-8") as f:
            per_file.append([json.loads(l)[field] for l in f if l.strip()])
    out = []
    for i in range(n):
        texts = per_file[i % len(per_file)]
        out.append(texts[(i // len(per_file)) % len(texts)])
    return out


def reference_embeddings(model_dir, texts, max_length):
    """Plain Python: onnxruntime + tokenizers + numpy mean pooling + L2, one row at a time."""
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(max_length)
    session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), providers=["CPUExecutionProvider"])
    out = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                     "token_type_ids": np.zeros_like(ids)})[0]
        mean = (hidden * mask[..., None]).sum(axis=1)[0] / mask.sum()
        out.append(mean / np.linalg.norm(mean))
    return np.array(out)


def engine_embeddings(flinkllm, env, tmp_path, model, texts, *extra):
    inp, out = tmp_path / "in.jsonl", tmp_path / f"out-{model}-{'-'.join(extra)}.jsonl"
    inp.write_text("".join(json.dumps({"event_id": i, "message": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    proc = subprocess.run([flinkllm, "embed", "--model", model_path(model), "--input", str(inp), "--output", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [l["event_id"] for l in lines] == list(range(len(texts)))
    return lines


def vectors(lines):
    return np.array([l["embedding"] for l in lines], dtype=np.float64)


def cosines(a, b):
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_embeddings_match_plain_python_and_int8_matches_fp32(flinkllm, engine_env, tmp_path):
    texts = seed_sentences(50)
    engine = {}
    for name in (FP32, INT8):
        engine[name] = vectors(engine_embeddings(flinkllm, engine_env, tmp_path, name, texts))
        with open(os.path.join(model_path(name), "flinkllm.json"), encoding="utf-8") as f:
            max_length = json.load(f)["max_length"]
        c = cosines(engine[name], reference_embeddings(model_path(name), texts, max_length))
        print(f"\n{name}: engine vs plain Python over {len(texts)} seed sentences: cosine min {c.min():.6f} mean {c.mean():.6f}")
        assert c.min() >= 0.999, c
        assert np.allclose(np.linalg.norm(engine[name], axis=1), 1.0, atol=1e-5), "vectors are L2-normalised"
    c = cosines(engine[FP32], engine[INT8])
    print(f"int8 vs fp32: cosine min {c.min():.6f} mean {c.mean():.6f}")
    assert c.min() >= 0.99, c


@pytest.mark.parametrize("model", [FP32, INT8])
def test_a_row_in_a_mixed_batch_gets_its_own_vector(flinkllm, engine_env, tmp_path, model):
    # Lengths from 3 tokens to the 256-token cap (truncated), so every pass pads most rows.
    texts = seed_sentences(24) + ["ok", "word " * 400, "a much longer message " * 12, "short one"]
    alone = vectors(engine_embeddings(flinkllm, engine_env, tmp_path, model, texts, "--batch", "1"))
    for batch in ("7", "32"):
        together = vectors(engine_embeddings(flinkllm, engine_env, tmp_path, model, texts, "--batch", batch))
        diff = np.abs(alone - together).max()
        print(f"\n{model}: batch {batch} vs alone: max |difference| {diff:.3g}")
        assert diff <= 1e-5


def write_encoder_task(tmp_path, **fields):
    path = tmp_path / "encoder.task.json"
    path.write_text(json.dumps({"task": "embedding", "model": model_path(INT8), **fields}), encoding="utf-8")
    return path


def test_bad_inputs_give_vectors_or_per_row_errors(run_rows, tmp_path):
    rows = [{"event_id": i, "message": t} for i, t in enumerate(BAD_TEXTS + SURROGATE_TEXTS + [HUGE_TEXT])]
    rows.append({"event_id": "null", "message": None})
    rows = [json.dumps(r) for r in rows]   # lone surrogates as \ud83d escapes
    # Default policy (truncated-tail): every text gets a unit vector, NULL stays NULL.
    lines = run_rows(write_encoder_task(tmp_path), rows)
    for line in lines[:-1]:
        v = np.array(line["output"]["embedding"])
        assert v.shape == (384,) and abs(np.linalg.norm(v) - 1) < 1e-5, line
    assert lines[-1]["output"] is None
    # context-overflow-action error: only the texts over 256 tokens fail, with InputTooLong.
    lines = run_rows(write_encoder_task(tmp_path), rows, extra_args=("--context-overflow-action", "error"))
    failed = {l["event_id"] for l in lines if "error" in l}
    assert failed == {2, len(rows) - 2}, failed
    assert all(l["error"].startswith("InputTooLong") for l in lines if "error" in l)


def test_classification_answers_a_label_and_a_score(run_rows):
    lines = run_rows(os.path.join(TASKS, "ticket_category.task.json"),
                     [{"message": t} for t in ("My invoice lists the wrong company name.",
                                               "The app crashes when I upload a photo.", "")])
    labels = ["auth", "billing", "product-bug", "feature-request", "other"]
    for line in lines:
        assert line["output"]["category"] in labels and -1 <= line["output"]["score"] <= 1, line
    assert [l["output"]["category"] for l in lines[:2]] == ["billing", "product-bug"]


@pytest.mark.parametrize("fields, message", [
    ({"task": "classification", "examples": [{"input": "x", "output": {"label": "a"}}],
      "schema": {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}}}, 'label "b" has no example'),
    ({"schema": {"type": "object", "properties": {"text": {"type": "string"}}}}, "array of numbers"),
    ({"task": "summarise"}, "use \"text_generation\", \"embedding\" or \"classification\""),
    ({"max_length": 4096}, "has positions for"),
])
def test_encoder_task_mistakes_are_clear_errors(run_rows, flinkllm, engine_env, tmp_path, fields, message):
    task = write_encoder_task(tmp_path, **fields)
    inp = tmp_path / "one.jsonl"
    inp.write_text('{"message": "hello"}\n', encoding="utf-8")
    proc = subprocess.run([flinkllm, "run", "--task", str(task), "--input", str(inp)], capture_output=True, text=True,
                          env=engine_env, timeout=300)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_a_generative_model_is_refused_for_an_embedding_task(flinkllm, engine_env, tmp_path):
    task = tmp_path / "t.task.json"
    task.write_text(json.dumps({"task": "embedding", "model": model_path("tiny")}), encoding="utf-8")
    inp = tmp_path / "one.jsonl"
    inp.write_text('{"message": "hello"}\n', encoding="utf-8")
    proc = subprocess.run([flinkllm, "run", "--task", str(task), "--input", str(inp)], capture_output=True, text=True,
                          env=engine_env, timeout=300)
    assert proc.returncode != 0 and "need a sentence encoder" in proc.stderr, proc.stderr
