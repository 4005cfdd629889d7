"""`tflite-edge bench`: the benchmark suite into JSON results and a regenerated BENCHMARKS.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` sub-command."""
    from ...benchmark import DEFAULT_BOARDS

    p = subparsers.add_parser(
        "bench",
        help="run the benchmarks: emulated boards, AOT vs TFLM on the same board, host AOT vs "
        "TFLM, compression, pipeline",
        description="Measure the AOT runtime on the emulated boards beside the TFLM interpreter "
        "and the published MLPerf Tiny figures, AOT vs TFLM (reference kernels and CMSIS-NN) "
        "flashed on the same emulated board, AOT vs TFLM on the host, the digits model from "
        "float to pruned int8, and the pipeline's stages. Each measured row is written to "
        "OUT/<table>-<row>.json as soon as it is measured; the Markdown is regenerated from "
        "them at the end.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("bench/results"),
        help="folder for the JSON "
        "results (default: bench/results); earlier results there are replaced",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        default=Path("BENCHMARKS.md"),
        help="Markdown file to regenerate (default: BENCHMARKS.md)",
    )
    p.add_argument(
        "--boards",
        nargs="+",
        default=list(DEFAULT_BOARDS),
        metavar="BOARD",
        help=f"emulated boards to measure (default: {' '.join(DEFAULT_BOARDS)})",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a small, quick version (one board, one model, a tiny compression grid)",
    )
    p.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="folder of the reference .tflite models (default: ../shared/models)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="folder for build trees (default: a `work` folder next to --out)",
    )
    p.add_argument(
        "--tflm-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="tflite-micro tree the same-board table (AOT vs TFLM vs TFLM + CMSIS-NN) builds "
        "TFLM's firmware from (default: $TFLM_DIR; without one the table is skipped); it is "
        "only read",
    )
    p.add_argument(
        "--markdown-only",
        action="store_true",
        help="measure nothing: regenerate the Markdown from the JSON in --out",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ...benchmark import bench, write_markdown

    if args.markdown_only:
        path = write_markdown(args.out, args.markdown)
        print(f"wrote {path}")
        return 0
    start = time.monotonic()

    def progress(message: str) -> None:
        if not args.quiet:
            elapsed = int(time.monotonic() - start)
            print(f"{elapsed // 60:3d}:{elapsed % 60:02d} {message}", file=sys.stderr, flush=True)

    result = bench(
        out=args.out,
        markdown=args.markdown,
        boards=args.boards,
        smoke=args.smoke,
        progress=progress,
        models_dir=args.models_dir,
        work_dir=args.work_dir,
        tflm_dir=args.tflm_dir,
    )
    print(result.summary())
    return 0
