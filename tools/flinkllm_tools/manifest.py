"""The `flinkllm.json` manifest (see docs/model-directory.md)."""
from . import CONVERTER_NAME, CONVERTER_VERSION

FORMAT_VERSION = 1

OPTIMUM_IO = {
    "input_ids": "input_ids",
    "attention_mask": "attention_mask",
    "position_ids": "position_ids",
    "num_logits_to_keep": "num_logits_to_keep",
    "past_key": "past_key_values.{i}.key",
    "past_value": "past_key_values.{i}.value",
    "logits": "logits",
    "present_key": "present.{i}.key",
    "present_value": "present.{i}.value",
}


# The packed graphs tools/prepare-model builds (graph.py); their other inputs have fixed
# names (docs/model-directory.md, "Packed passes").
PACKED_IO = {
    "input_ids": "input_ids",
    "attention_mask": "past_mask",
    "position_ids": "position_ids",
    "past_key": "past_key_values.{i}.key",
    "past_value": "past_key_values.{i}.value",
    "logits": "logits",
    "present_key": "new.{i}.key",
    "present_value": "new.{i}.value",
}


def build_manifest(*, name, architecture, precision, config, tokens, chat_template, source,
                   io=None, kv_dtype="float32", accuracy_level=None, padding_side="left"):
    """`tokens`: dict with bos/eos/pad ids and strings and the list of stop ids.
    `padding_side`: "packed" for our graphs (graph.py: a pass carries any number of tokens
    per row and rows can share it), "left" for concatenating attention such as optimum
    exports (rows run one at a time)."""
    # Whether a row's results stay bit-identical in a pass shared with other rows: measured
    # for fp32 MatMul and for 4- and 8-bit MatMulNBits with int8 compute (accuracy_level 4)
    # over any number of tokens per pass; the float MatMulNBits path (accuracy_level 1) uses
    # other kernels for one token than for several. Unmeasured combinations count as not
    # invariant.
    # With one key/value head per query head, a single row's one-token pass stacks a
    # one-row matmul over the prefix, which takes another kernel than several rows.
    batch_invariant = (precision == "fp32" or (precision in ("int8", "int4") and accuracy_level == 4)) \
        and config.num_heads > config.num_kv_heads
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "architecture": architecture,
        "precision": precision,
        "accuracy_level": accuracy_level,
        "num_layers": config.num_layers,
        "hidden_size": config.hidden_size,
        "num_attention_heads": config.num_heads,
        "num_kv_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "vocab_size": config.vocab_size,
        "context_length": config.context_length,
        "kv_dtype": kv_dtype,
        "bos_token_id": tokens["bos_token_id"],
        "eos_token_id": tokens["eos_token_id"],
        "pad_token_id": tokens["pad_token_id"],
        "stop_token_ids": tokens["stop_token_ids"],
        "bos_token": tokens["bos_token"],
        "eos_token": tokens["eos_token"],
        "chat_template": chat_template,
        "io": dict(io or (PACKED_IO if padding_side == "packed" else OPTIMUM_IO)),
        "padding_side": padding_side,
        "batch_invariant": batch_invariant,
        "source": source,
        "converter": {"name": CONVERTER_NAME, "version": CONVERTER_VERSION},
    }


def is_up_to_date(manifest, *, precision, source_sha256, accuracy_level=None):
    """True when an existing directory was made from the same source, the same way, by this converter version."""
    return (manifest is not None
            and manifest.get("precision") == precision
            and manifest.get("accuracy_level") == accuracy_level
            and manifest.get("source", {}).get("sha256") == source_sha256
            and manifest.get("converter", {}).get("version") == CONVERTER_VERSION)


# Turn/sequence end markers of the chat formats we meet: generation stops at any of them.
END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>")


def special_tokens(fields):
    """bos/eos/pad/stop ids and strings from GGUF tokenizer fields."""
    tokens = fields["tokens"]
    bos, eos = fields["bos_token_id"], fields["eos_token_id"]
    pad = fields["pad_token_id"] if fields["pad_token_id"] is not None else eos
    stop = [eos] + [tokens.index(m) for m in END_MARKERS if m in tokens and tokens.index(m) != eos]
    return {
        "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad, "stop_token_ids": stop,
        "bos_token": tokens[bos] if bos is not None else None, "eos_token": tokens[eos],
    }
