"""`tflite-edge demo`: the main job, end to end on the default emulated board."""

from __future__ import annotations

import argparse
import sys

from ..options import positive


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sub-command of this module."""
    from ...boards import DEFAULT_BOARD
    from ...demo import DEFAULT_EPOCHS, DEFAULT_RUNS, DEFAULT_SPARSITY, DEMO_FILES
    from ...runtimes import AUTO, runtime_choices

    p = sub.add_parser(
        "demo",
        help="digits CNN -> prune + QAT -> int8 -> board -> report",
        # argparse formats only help= strings with %, not the description.
        description=f"Train a small CNN on scikit-learn's digits, prune it to "
        f"{DEFAULT_SPARSITY:.0%} with PQAT, convert to int8, compile for the board, flash it, "
        "read the latency over serial, validate every test sample on the board and write "
        "report.html. Every argument is checked before training starts.",
    )
    p.add_argument(
        "--board",
        default=DEFAULT_BOARD,
        help=f"board name (default {DEFAULT_BOARD}; see `tflite-edge boards`); its toolchain "
        "must be installed, unless --convert-only",
    )
    p.add_argument(
        "--runtime",
        default=AUTO,
        choices=runtime_choices(),
        help="firmware runtime (default auto: aot when its compiler handles every op, else "
        "tflm; tflm on a QEMU board needs a TFLM tree in TFLM_DIR)",
    )
    p.add_argument(
        "--out",
        default="demo",
        help="output folder (default demo/): new, empty, or holding only files an earlier demo "
        f"wrote there ({', '.join(DEMO_FILES)}, build-BOARD/), which are overwritten; a folder "
        "holding anything else is refused",
    )
    p.add_argument(
        "--sparsity",
        type=_sparsity,
        default=DEFAULT_SPARSITY,
        help=f"share of weights pruned to zero, in [0, 1) (default {DEFAULT_SPARSITY:g})",
    )
    p.add_argument(
        "--epochs",
        type=positive(int),
        default=DEFAULT_EPOCHS,
        help=f"float training epochs (default {DEFAULT_EPOCHS})",
    )
    p.add_argument(
        "--runs",
        type=positive(int),
        default=DEFAULT_RUNS,
        help=f"timed runs on the board (default {DEFAULT_RUNS})",
    )
    p.add_argument(
        "--convert-only",
        action="store_true",
        help="stop after writing the int8 model (used by `make flash`)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run)


def _sparsity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"expected a number in [0, 1) (the share of weights set to zero, e.g. 0.75), "
            f"found {text!r}"
        )
    return value


def _run(args: argparse.Namespace) -> int:
    from ...demo import run_demo

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
