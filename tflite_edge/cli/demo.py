"""`tflite-edge demo`: the main job, end to end on the default emulated board."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sub-command of this module."""
    p = sub.add_parser(
        "demo",
        help="digits CNN -> prune + QAT -> int8 -> board -> report",
        description="Train a small CNN on scikit-learn's digits, prune it to 75%% "
        "with PQAT, convert to int8, compile for the board, flash it, read the "
        "latency over serial, validate every test sample on the board and write "
        "report.html.",
    )
    p.add_argument("--board", default="qemu-m4", help="board name (default qemu-m4)")
    p.add_argument("--runtime", default="aot", choices=["aot", "tflm"])
    p.add_argument("--out", default="demo", help="output folder (default demo/)")
    p.add_argument("--sparsity", type=float, default=0.75)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--runs", type=int, default=10, help="timed runs on the board")
    p.add_argument(
        "--convert-only",
        action="store_true",
        help="stop after writing the int8 model (used by `make flash`)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    def stage(msg: str) -> None:
        if not args.quiet:
            print(f"==> {msg}", file=sys.stderr, flush=True)

    result = run_demo(
        board=args.board,
        runtime=args.runtime,
        out_dir=args.out,
        sparsity=args.sparsity,
        epochs=args.epochs,
        runs=args.runs,
        convert_only=args.convert_only,
        on_stage=stage,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    print(result.summary())
    return 0
