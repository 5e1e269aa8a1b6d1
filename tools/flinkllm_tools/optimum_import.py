"""Validating an optimum `text-generation-with-past` export and giving it a flinkllm manifest."""
import json
import os
import re
import shutil

from .convert import log
from .errors import ToolError
from .graph import LlamaConfig
from .manifest import END_MARKERS, OPTIMUM_IO, build_manifest, is_up_to_date
from .model_dir import read_manifest, sha256_of, staged_output, write_manifest

REQUIRED_FILES = ("model.onnx", "tokenizer.json", "config.json", "tokenizer_config.json")
_KV_DTYPES = {1: "float32", 10: "float16"}


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ToolError(f"cannot read {path}: {e}") from None


def _graph_io(model_path):
    import onnx
    try:
        graph = onnx.load(model_path, load_external_data=False).graph
    except Exception as e:
        raise ToolError(f"cannot read ONNX graph {model_path}: {type(e).__name__}: {e}") from None
    inputs = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    outputs = {o.name for o in graph.output}
    return inputs, outputs


def _layer_count(names, pattern):
    found = {int(m.group(1)) for n in names for m in [re.fullmatch(pattern, n)] if m}
    return len(found), found


def _config(cfg, path):
    try:
        heads = int(cfg["num_attention_heads"])
        hidden = int(cfg["hidden_size"])
        return LlamaConfig(
            num_layers=int(cfg["num_hidden_layers"]), hidden_size=hidden,
            intermediate_size=int(cfg.get("intermediate_size", 0)), num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads", heads)),
            head_dim=int(cfg.get("head_dim") or hidden // heads), vocab_size=int(cfg["vocab_size"]),
            rope_theta=float(cfg.get("rope_theta", 10000.0)), rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            context_length=int(cfg.get("max_position_embeddings", 2048)))
    except (KeyError, TypeError, ValueError) as e:
        raise ToolError(f"{path} lacks or has a bad transformer field: {e}") from None


def _token_text(value):
    return value.get("content") if isinstance(value, dict) else value


def _tokens(export_dir, tok_cfg, gen_cfg):
    tokenizer = _read_json(os.path.join(export_dir, "tokenizer.json"))
    ids = dict(tokenizer.get("model", {}).get("vocab", {}))
    ids.update({t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])})
    bos, eos = _token_text(tok_cfg.get("bos_token")), _token_text(tok_cfg.get("eos_token"))
    if eos not in ids:
        raise ToolError(f"tokenizer_config.json eos_token {eos!r} is not in tokenizer.json")
    stop = [ids[eos]]
    gen_eos = gen_cfg.get("eos_token_id")
    for extra in (gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else []):
        stop.append(int(extra))
    stop += [ids[m] for m in END_MARKERS if m in ids]
    pad = _token_text(tok_cfg.get("pad_token"))
    return {"bos_token_id": ids.get(bos), "eos_token_id": ids[eos],
            "pad_token_id": ids.get(pad, ids[eos]), "stop_token_ids": list(dict.fromkeys(stop)),
            "bos_token": bos, "eos_token": eos}


def _chat_template(export_dir, tok_cfg):
    template = tok_cfg.get("chat_template")
    jinja_file = os.path.join(export_dir, "chat_template.jinja")
    if template is None and os.path.isfile(jinja_file):
        with open(jinja_file, encoding="utf-8") as f:
            template = f.read()
    if isinstance(template, list):  # named templates: take the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    if not template:
        raise ToolError(f"{export_dir}: tokenizer_config.json has no chat_template")
    return template


def import_optimum(export_dir, out_dir):
    export_dir = os.path.abspath(export_dir)
    if not os.path.isdir(export_dir):
        raise ToolError(f"optimum export directory not found: {export_dir}")
    missing = [f for f in REQUIRED_FILES if not os.path.isfile(os.path.join(export_dir, f))]
    if missing:
        raise ToolError(f"{export_dir} is not an optimum export: missing {', '.join(missing)}")
    model_path = os.path.join(export_dir, "model.onnx")
    source_sha = sha256_of(model_path)
    existing = read_manifest(out_dir)
    if existing and is_up_to_date(existing, precision=existing.get("precision"), source_sha256=source_sha):
        log(f"{out_dir} is up to date (optimum export {source_sha[:12]}): nothing to do")
        return False

    log(f"checking {model_path}")
    inputs, outputs = _graph_io(model_path)
    for name in ("input_ids", "attention_mask"):
        if name not in inputs:
            raise ToolError(f"{model_path} has no '{name}' input")
    past_layers, _ = _layer_count(inputs, r"past_key_values\.(\d+)\.key")
    if past_layers == 0:
        raise ToolError(f"{model_path} has no past_key_values inputs: re-export with "
                        "`optimum-cli export onnx --task text-generation-with-past`")
    cfg = _config(_read_json(os.path.join(export_dir, "config.json")), os.path.join(export_dir, "config.json"))
    for kind in ("past_key_values.{i}.key", "past_key_values.{i}.value"):
        absent = [kind.format(i=i) for i in range(cfg.num_layers) if kind.format(i=i) not in inputs]
        if absent:
            raise ToolError(f"{model_path} lacks KV-cache inputs such as {absent[0]} "
                            f"(config.json says {cfg.num_layers} layers)")
    for kind in ("logits",) + tuple(k.format(i=i) for i in range(cfg.num_layers)
                                    for k in ("present.{i}.key", "present.{i}.value")):
        if kind not in outputs:
            raise ToolError(f"{model_path} lacks output '{kind}'")
    kv_dtype = _KV_DTYPES.get(inputs["past_key_values.0.key"])
    if kv_dtype is None:
        raise ToolError(f"{model_path}: unsupported KV-cache element type {inputs['past_key_values.0.key']}")

    tok_cfg = _read_json(os.path.join(export_dir, "tokenizer_config.json"))
    gen_path = os.path.join(export_dir, "generation_config.json")
    gen_cfg = _read_json(gen_path) if os.path.isfile(gen_path) else {}
    io = dict(OPTIMUM_IO)
    io["position_ids"] = "position_ids" if "position_ids" in inputs else None
    io["num_logits_to_keep"] = "num_logits_to_keep" if "num_logits_to_keep" in inputs else None
    model_type = _read_json(os.path.join(export_dir, "config.json")).get("model_type", "unknown")

    with staged_output(out_dir) as staging:
        log(f"linking the export's files into {out_dir}")
        for entry in os.listdir(export_dir):
            src = os.path.join(export_dir, entry)
            if os.path.isfile(src) and entry != "flinkllm.json":
                _link_or_copy(src, os.path.join(staging, entry))
        write_manifest(staging, build_manifest(
            name=os.path.basename(export_dir), architecture=model_type,
            precision="fp16" if kv_dtype == "float16" else "fp32", config=cfg, tokens=_tokens(export_dir, tok_cfg, gen_cfg),
            chat_template=_chat_template(export_dir, tok_cfg), io=io, kv_dtype=kv_dtype,
            source={"kind": "optimum", "file": model_path, "sha256": source_sha}))
    log(f"wrote {out_dir}")
    return True


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
