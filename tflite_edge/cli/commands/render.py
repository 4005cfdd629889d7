"""`tflite-edge render`: a .tflite model into a firmware project (or only its C array)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `render` sub-command."""
    from ...boards import DEFAULT_BOARD
    from ..options import add_runtime_options

    p = subparsers.add_parser(
        "render",
        help="render a firmware project (TFLM or AOT) or a C array from a .tflite model",
        description="Render a firmware project for a board from an int8 .tflite model: the "
        "model as a C array, and either tflite-edge's ahead-of-time C (--runtime aot) or a "
        "TensorFlow Lite Micro project with an exact op resolver and a measured arena "
        "(--runtime tflm; a Makefile against a TFLM tree, --tflm-dir or TFLM_DIR, for Cortex-M "
        "boards and the host, an ESP-IDF project for esp32/esp32s3).",
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="the .tflite file")
    p.add_argument("-o", "--out", type=Path, required=True, help="project directory to write")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"target board (default {DEFAULT_BOARD})")
    add_runtime_options(p)
    p.add_argument("--runs", type=int, default=10, help="timed runs at boot (default 10)")
    p.add_argument("--no-profile", action="store_true", help="leave out the per-layer cycle counts")
    p.add_argument(
        "--c-array-only",
        action="store_true",
        help="write only model_data.h and model_data.c (model_data.cc with --runtime tflm)",
    )
    p.add_argument("--name", help="name for the C identifiers (default: the file's stem)")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a directory that holds other files (ours are overwritten, "
        "theirs are left alone)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ...project import render
    from ..options import print_json, runtime_kwargs, stage_printer

    stage = stage_printer(args)
    if stage:
        stage(f"rendering {args.runtime} for {args.board} (measuring TFLM's arena, compiling)")
    result = render(
        args.model,
        board=args.board,
        out_dir=args.out,
        runs=args.runs,
        profile=not args.no_profile,
        c_array_only=args.c_array_only,
        force=args.force,
        name=args.name,
        **runtime_kwargs(args),
    )
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0
