"""`tflite-edge report`: result JSON documents into one HTML report (or Markdown)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...errors import TFLiteEdgeError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` sub-command."""
    p = subparsers.add_parser(
        "report",
        help="write an HTML (or Markdown) report from result JSON files",
        description="Read the JSON documents written by `tflite-edge convert/flash/validate "
        "--json` and write one self-contained HTML report with plots (model size and accuracy, "
        "memory, latency histogram, per-layer breakdown, validation), or its Markdown variant.",
    )
    p.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS",
        help="JSON result files (one document or a list of documents each)",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        help="report file to write (Markdown when it ends in .md); with --markdown and no "
        "-o the report is printed",
    )
    p.add_argument(
        "--markdown",
        action="store_true",
        help="write Markdown (tables, no images) for terminals and CI logs",
    )
    p.add_argument("--title", help="the report's title (default: from the model name)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ...reporting import render_report, report

    markdown_file = args.out is not None and args.out.suffix.lower() in (".md", ".markdown")
    fmt = "md" if args.markdown or markdown_file else "html"
    if args.out is None:
        if fmt != "md":
            raise TFLiteEdgeError(
                "an HTML report needs a file: add -o report.html (or --markdown to print one)"
            )
        sys.stdout.write(render_report(args.results, format=fmt, title=args.title))
        return 0
    path = report(args.results, out=args.out, format=fmt, title=args.title)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0
