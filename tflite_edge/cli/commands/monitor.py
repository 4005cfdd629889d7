"""`tflite-edge monitor`: read a board's TFLE records from a serial port, print latency."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..options import positive, print_json, show_progress


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `monitor` sub-command."""
    p = subparsers.add_parser(
        "monitor",
        help="read TFLE records from a serial port and print a latency table",
        description="Read a board's TFLE serial protocol until it says done, then print "
        "runs, min/median/p90/max latency and the per-layer breakdown.",
    )
    p.add_argument(
        "--port",
        required=True,
        help="device or pyserial URL: /dev/ttyUSB0, /dev/pts/3, socket://HOST:PORT, "
        "rfc2217://HOST:PORT, loop://",
    )
    p.add_argument("--baud", type=positive(int), default=115200, help="baud rate (115200)")
    p.add_argument("--runs", type=positive(int), help="stop after this many timed runs")
    p.add_argument(
        "--timeout",
        type=positive(float),
        default=30.0,
        help="seconds the board may stay silent before giving up (30)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--out", type=Path, help="append every record to this JSONL file")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ...protocol import monitor

    echo = None
    if show_progress(args):

        def echo(record) -> None:  # a live view for a person at a terminal
            print(record.raw, file=sys.stderr, flush=True)

    session = monitor(
        args.port,
        baud=args.baud,
        runs=args.runs,
        timeout=args.timeout,
        out=args.out,
        on_record=echo,
    )
    if args.json:
        print_json(session.to_dict())
    else:
        print(session.table())
    return 0
