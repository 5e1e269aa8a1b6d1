"""`tools/reference-decode`: greedy decoding with plain ONNX Runtime, recomputing the whole
sequence every step (no KV cache). The engine's fidelity tests compare against it.

Prints one JSON object: {"prompt_ids": [...], "generated_ids": [...], "text": "..."}.
The prompt file is raw model text: special tokens such as <|im_start|> are recognised, and no
chat template is applied (render it first if you want one).
"""
import argparse
import json
import sys

from .decoding import OnnxDecoder


def main(argv=None):
    p = argparse.ArgumentParser(prog="reference-decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--prompt-file", required=True)
    p.add_argument("--max-new", type=int, required=True)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    decoder = OnnxDecoder(args.model, threads=args.threads)
    with open(args.prompt_file, encoding="utf-8", newline="") as f:
        prompt_ids = decoder.encode(f.read())
    generated = decoder.greedy_uncached(prompt_ids, args.max_new)
    json.dump({"prompt_ids": prompt_ids, "generated_ids": generated, "text": decoder.decode(generated)},
              sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
