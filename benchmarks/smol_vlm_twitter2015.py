"""Train a smol-vlm assistant and student on a small Twitter-2015 subset on CPU (released-rationales variant).

Usage:
    python benchmarks/smol_vlm_twitter2015.py [--data-root DIR] [--out DIR] [--train N] [--dev N] [--test N]
        [--epochs N] [--student-epochs N] [--student-init assistant|pretrained] [--select-on joint|accuracy]
        [--field-words N] [--visual-grid G] [--max-new-tokens N] [--lr X] [--seed N]

The data root defaults to ../shared/data (else $MULCOT_BENCH_DATA_ROOT). Trains on dev items that carry the
released chains, selects the epoch on a held-out slice of dev, evaluates a test subset, and writes
``summary.json`` and ``predictions/<model>.jsonl`` under ``--out`` (default runs/smol-vlm-twitter2015).
See plugins/mulcot-hf/README.md for the measured figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from mulcot_hf.released import Sizes, run

from mulcot_bench.data.loaders import load_twitter


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    default_root = os.environ.get("MULCOT_BENCH_DATA_ROOT") or str(repo.parent / "shared" / "data")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=default_root)
    ap.add_argument("--out", default=str(repo / "runs" / "smol-vlm-twitter2015"))
    ap.add_argument("--train", type=int, default=12, help="dev items with chains to train on")
    ap.add_argument("--dev", type=int, default=4, help="held-out dev items for epoch selection")
    ap.add_argument("--test", type=int, default=4, help="test items to evaluate")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--student-epochs", type=int, default=4, help="the 20-layer student starts further away")
    ap.add_argument("--student-init", choices=["assistant", "pretrained"], default="assistant",
                    help="the student's projector and LoRA start from the assistant's, or fresh")
    ap.add_argument("--select-on", choices=["joint", "accuracy"], default="joint",
                    help="epoch selection: dev accuracy and five-field rate, or dev accuracy alone")
    ap.add_argument("--field-words", type=int, default=10, help="words kept per chain field in training (0: all)")
    ap.add_argument("--visual-grid", type=int, default=4, help="visual tokens = grid x grid")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--lr", type=float, default=1e-3, help="LoRA learning rate (projector: 2x)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: safe on a shared machine)")
    args = ap.parse_args(argv)
    folder = Path(args.data_root) / "twitter2015"
    if not folder.is_dir():
        print(f"no twitter2015 under {args.data_root}; pass --data-root (the folder holding twitter2015/)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    overrides = {
        "epochs": args.epochs,
        "field_words": args.field_words,
        "visual_grid": args.visual_grid,
        "max_new_tokens": args.max_new_tokens,
        "lr": args.lr,
        "projector_lr": 2 * args.lr,
        "select_on": args.select_on,
    }
    student = {"epochs": args.student_epochs, "init": args.student_init}
    sizes = Sizes(args.train, args.dev, args.test, overrides, student)
    summary = run(load_twitter(folder, "twitter2015"), sizes, args.seed, Path(args.out))
    print(f"wrote {args.out}/summary.json and predictions/ in {summary['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
