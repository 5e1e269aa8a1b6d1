#!/usr/bin/env python3
"""Pooled calibration figures over held-out predictions of several tasks.

    flinkllm calibrate --task A --input LA --folds 2 --held-out held.jsonl   # each task appends
    bench/pooled_calibration.py held.jsonl [--fields category,severity,sentiment,verdict]

Prints the expected calibration error (10 equal-width bins, as `flinkllm eval`) and the Brier
score per field and pooled over the fields named, from predictions each calibrated by a fit that
did not see them."""
import argparse
import json


def ece(preds):
    bins = [[] for _ in range(10)]
    for p, ok in preds:
        bins[min(int(p * 10), 9)].append((p, ok))
    return sum(len(b) / len(preds) * abs(sum(p for p, _ in b) / len(b) - sum(ok for _, ok in b) / len(b)) for b in bins if b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("held_out")
    ap.add_argument("--fields", default="")
    a = ap.parse_args()
    wanted = [f for f in a.fields.split(",") if f]
    by_field = {}
    with open(a.held_out, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            by_field.setdefault(r["field"], []).append((r["p"], 1.0 if r["correct"] else 0.0))
    pooled = []
    for field, preds in by_field.items():
        if wanted and field not in wanted:
            continue
        pooled += preds
        brier = sum((p - ok) ** 2 for p, ok in preds) / len(preds)
        print(f"{field:<12} {len(preds):>5} predictions  ECE {ece(preds):.3f}  Brier {brier:.3f}")
    brier = sum((p - ok) ** 2 for p, ok in pooled) / len(pooled)
    print(f"{'pooled':<12} {len(pooled):>5} predictions  ECE {ece(pooled):.3f}  Brier {brier:.3f}")


if __name__ == "__main__":
    main()
