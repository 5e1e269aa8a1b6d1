"""The converted graphs decode correctly: KV cache = recomputation, quantised ≈ fp32, answers make sense."""
import numpy as np
import pytest

from conftest import PRECISIONS, decoder, default_model, model_path

PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
          "<|im_start|>user\nWrite a short story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n")

# A fixed text for teacher-forced comparison: the model reads it, and at every position we
# compare each precision's most likely next token with fp32's.
FIXED_TEXT = (
    "<|im_start|>user\nMy invoice for March was charged twice and support has not answered in three days. "
    "Please refund the duplicate payment.<|im_end|>\n<|im_start|>assistant\n"
    "I'm sorry about the double charge. I have checked your account and can confirm that the March "
    "invoice was paid twice. The duplicate payment will be refunded to your card within five business days. "
    "Apache Flink is a framework and distributed processing engine for stateful computations over unbounded "
    "and bounded data streams. It has been designed to run in all common cluster environments and perform "
    "computations at in-memory speed and at any scale. The Eiffel Tower is in Paris, the capital of France. "
    "Small language models handle short, bounded tasks well: choosing one label from a fixed list, pulling "
    "names of people, places and companies out of a sentence, or summarising a handful of product reviews "
    "in one sentence. Long prompts make them worse, so instructions stay short and come first, followed by "
    "one or two examples, the harder one first. Data engineers care about rows per second per core, the "
    "memory each task manager needs, and getting the same answer when a job replays after a failure. "
    "def moving_average(values, window):\n    total = sum(values[:window])\n    yield total / window\n"
    "    for i in range(window, len(values)):\n        total += values[i] - values[i - window]\n"
    "        yield total / window\n"
    "Yesterday the river rose two metres after heavy rain in the mountains, and the old stone bridge in the "
    "village was closed to traffic until engineers could inspect it. Children watched from the bank as "
    "branches and whole trees drifted past."
)


def greedy_steps(dec, prompt_ids, steps, cached):
    """Exactly `steps` greedy tokens, ignoring stop tokens, with or without the KV cache."""
    ids, out = list(prompt_ids), []
    logits, cache = dec.forward([ids], dec.empty_cache())
    for _ in range(steps):
        token = int(np.argmax(logits[0, -1]))
        out.append(token)
        ids.append(token)
        if cached:
            logits, cache = dec.forward([[token]], cache)
        else:
            logits, _ = dec.forward([ids], dec.empty_cache())
    return out


@pytest.mark.parametrize("name", [f"smollm2-135m-instruct-{p}" for p in PRECISIONS] + ["tiny"])
def test_kv_cache_decoding_equals_full_recomputation(name):
    dec = decoder(model_path(name))
    prompt = dec.encode(PROMPT)
    cached = greedy_steps(dec, prompt, 20, cached=True)
    recomputed = greedy_steps(dec, prompt, 20, cached=False)
    print(f"{name}: {dec.decode(cached)!r}")
    assert cached == recomputed


@pytest.mark.parametrize("precision", PRECISIONS)
def test_batched_rows_with_left_padding_match_single_rows(precision):
    """Batch dimension is dynamic and padding is masked: a padded batch gives each row's own logits."""
    dec = decoder(default_model(precision))
    rows = [dec.encode("<|im_start|>user\nHi<|im_end|>\n"), dec.encode(PROMPT)]
    width = max(len(r) for r in rows)
    pad = dec.manifest["pad_token_id"]
    ids = np.array([[pad] * (width - len(r)) + r for r in rows], np.int64)
    mask = np.array([[0] * (width - len(r)) + [1] * len(r) for r in rows], np.int64)
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions,
             "num_logits_to_keep": np.array(1, np.int64)}
    for i, (k, v) in enumerate(dec.empty_cache(batch=2)):
        feeds[f"past_key_values.{i}.key"], feeds[f"past_key_values.{i}.value"] = k, v
    batched = dec.session.run(["logits"], feeds)[0]
    for row, prompt in enumerate(rows):
        single, _ = dec.forward([prompt], dec.empty_cache())
        diff = float(np.abs(batched[row, -1] - single[0, -1]).max())
        print(f"{precision} row {row}: max |logit difference| {diff:.4f}")
        assert int(batched[row, -1].argmax()) == int(single[0, -1].argmax())
        assert diff < TOLERANCE[precision]


# fp32 and int4 (float compute) differ only by summation order. int8 quantises activations
# to int8 per block (accuracy_level 4) and ORT picks different kernels for different row
# counts, so a padded batch is not bit-identical to a single row there; it must agree closely.
TOLERANCE = {"fp32": 1e-3, "int4": 1e-3, "int8": 1.5}


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("precision,minimum", [("int4", 0.95), ("int8", 0.85)])
def test_teacher_forced_agreement_with_fp32(precision, minimum):
    reference = decoder(default_model("fp32"))
    quantised = decoder(default_model(precision))
    ids = reference.encode(FIXED_TEXT)
    ref_logits, _ = reference.forward([ids], reference.empty_cache(), all_logits=True)
    q_logits, _ = quantised.forward([ids], quantised.empty_cache(), all_logits=True)
    agreement = float(np.mean(ref_logits[0].argmax(-1) == q_logits[0].argmax(-1)))
    p_log, q_log = _log_softmax(ref_logits[0].astype(np.float64)), _log_softmax(q_logits[0].astype(np.float64))
    kl = float(np.mean(np.sum(np.exp(p_log) * (p_log - q_log), axis=-1)))
    print(f"{precision}: top-1 agreement with fp32 {agreement:.3f} over {len(ids)} positions, "
          f"mean KL(fp32 || {precision}) {kl:.4f} nats")
    assert agreement >= minimum


def test_fp32_knows_the_capital_of_france():
    dec = decoder(default_model("fp32"))
    prompt = dec.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    answer = dec.decode(dec.greedy_cached(prompt, 30))
    print(f"fp32 answer: {answer!r}")
    assert "Paris" in answer
