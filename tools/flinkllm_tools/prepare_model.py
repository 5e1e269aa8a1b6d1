"""`tools/prepare-model`: make flinkllm model directories. Run with --help."""
import argparse
import sys

from .convert import convert_gguf, log
from .default_model import GGUF_SHA256, MODEL_NAME, cache_dir, default_gguf, default_model_dir
from .errors import ToolError
from .gguf_convert import PRECISIONS


def cmd_default(args):
    precisions = [args.precision] if args.precision else list(PRECISIONS)
    if args.out and len(precisions) > 1:
        raise ToolError("--out needs --precision (without it, all precisions go to the cache)")
    gguf = default_gguf(log)
    done = 0
    for precision in precisions:
        out = args.out or default_model_dir(precision)
        log(f"{MODEL_NAME} {precision} → {out}")
        done += convert_gguf(gguf, out, precision, name=f"{MODEL_NAME}-{precision}", source_sha256=GGUF_SHA256,
                             accuracy_level=args.accuracy_level)
    if not done:
        log("everything was already up to date")


def cmd_gguf(args):
    convert_gguf(args.file, args.out, args.precision or "int4", accuracy_level=args.accuracy_level)


def cmd_import_optimum(args):
    from .optimum_import import import_optimum
    import_optimum(args.dir, args.out)


def cmd_tiny(args):
    from .tiny import build_tiny
    build_tiny(default_gguf(log), args.out or f"{cache_dir()}/models/tiny")


def add_accuracy_level(p):
    p.add_argument("--accuracy-level", type=int, choices=(0, 1, 2, 3, 4),
                   help="MatMulNBits compute: 1 = float (exact), 4 = int8 activations (faster); "
                        "default 1 for int4, 4 for int8")


def parser():
    p = argparse.ArgumentParser(prog="prepare-model", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("default", help="download and convert SmolLM2-135M-Instruct (all precisions by default)")
    d.add_argument("--precision", choices=PRECISIONS)
    d.add_argument("--out", help="model directory (needs --precision)")
    add_accuracy_level(d)
    d.set_defaults(run=cmd_default)
    g = sub.add_parser("gguf", help="convert a Llama-family GGUF file")
    g.add_argument("file")
    g.add_argument("--out", required=True)
    g.add_argument("--precision", choices=PRECISIONS, help="default int4")
    add_accuracy_level(g)
    g.set_defaults(run=cmd_gguf)
    o = sub.add_parser("import-optimum", help="validate an optimum text-generation-with-past export")
    o.add_argument("dir")
    o.add_argument("--out", required=True)
    o.set_defaults(run=cmd_import_optimum)
    t = sub.add_parser("tiny", help="a tiny random-weights model with the SmolLM2 tokenizer, for tests")
    t.add_argument("--out")
    t.set_defaults(run=cmd_tiny)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except ToolError as e:
        print(f"prepare-model: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
