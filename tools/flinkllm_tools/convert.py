"""GGUF file → model directory (graph, tokenizer, manifest), written atomically."""
import os
import time

from .errors import ToolError
from .gguf_convert import DEFAULT_ACCURACY_LEVEL, PRECISIONS, GgufWeights
from .gguf_source import GgufModel
from .graph import DecoderGraph, save_model
from .manifest import build_manifest, is_up_to_date, special_tokens
from .model_dir import read_manifest, sha256_of, staged_output, write_manifest
from .tokenizer_build import build_tokenizer


def log(message):
    print(f"[prepare-model] {message}", flush=True)


def convert_gguf(gguf_path, out_dir, precision, name=None, source_sha256=None, accuracy_level=None):
    """Convert unless `out_dir` already holds this exact conversion. Returns True if work was done."""
    if precision not in PRECISIONS:
        raise ToolError(f"unknown precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    if accuracy_level is None:
        accuracy_level = DEFAULT_ACCURACY_LEVEL[precision]
    elif precision == "fp32":
        raise ToolError("--accuracy-level applies to int8 and int4 only")
    if not os.path.isfile(gguf_path):
        raise ToolError(f"GGUF file not found: {gguf_path}")
    source_sha256 = source_sha256 or sha256_of(gguf_path)
    if is_up_to_date(read_manifest(out_dir), precision=precision, source_sha256=source_sha256,
                     accuracy_level=accuracy_level):
        log(f"{out_dir} is up to date ({precision}, source sha256 {source_sha256[:12]}): nothing to do")
        return False
    started = time.time()
    log(f"reading {gguf_path}")
    gguf = GgufModel(gguf_path)
    config = gguf.config()
    tok_fields = gguf.tokenizer_fields()
    with staged_output(out_dir) as staging:
        log("building tokenizer.json")
        tokenizer = build_tokenizer(tok_fields)
        tokenizer.save(os.path.join(staging, "tokenizer.json"))
        log(f"building the {precision} decoder graph ({config.num_layers} layers, hidden {config.hidden_size})")
        model = DecoderGraph(config, GgufWeights(gguf, config, precision), accuracy_level=accuracy_level).build()
        log("writing model.onnx")
        save_model(model, staging)
        del model
        tokens = special_tokens(tok_fields)
        write_manifest(staging, build_manifest(
            name=name or os.path.basename(os.path.abspath(out_dir)),
            architecture=gguf.architecture, precision=precision, accuracy_level=accuracy_level,
            config=config, tokens=tokens,
            chat_template=tok_fields["chat_template"], padding_side="packed",
            source={"kind": "gguf", "file": os.path.basename(gguf_path), "sha256": source_sha256}))
    log(f"wrote {out_dir} in {time.time() - started:.1f} s")
    return True
