"""`tflite-edge`: a thin shell over the public functions of tflite_edge.

Each module in this package adds its sub-commands with `register(subparsers)`; a command
parses its arguments, calls one library function and prints. Only here do exceptions become
a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

from ..errors import TFLiteEdgeError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command of every module in tflite_edge.cli."""
    from .. import __version__

    parser = _Parser(prog="tflite-edge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tflite-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def print_json(doc: Any) -> None:
    """Print one JSON document on stdout (what --json promises)."""
    json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")


def positive(kind: type) -> Callable[[str], Any]:
    """An argparse type: a finite number of `kind` that must be > 0."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
        return value

    return parse


def stage_printer(args: argparse.Namespace) -> Callable[[str], None] | None:
    """A callback printing `==> stage` lines on stderr for a person, or None when quiet."""
    if not show_progress(args):
        return None

    def stage(message: str) -> None:
        print(f"==> {message}", file=sys.stderr, flush=True)

    return stage


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only for a person: not with --quiet, --json, or when stderr is no TTY."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return False
    return sys.stderr.isatty()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tflite-edge` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except TFLiteEdgeError as err:
        print(f"tflite-edge {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # a path we were told to read or write
        where = f" {err.filename!r}" if err.filename else ""
        print(
            f"tflite-edge {args.command}: error: cannot use{where}: {err.strerror or err}; "
            "check the path exists and is writable",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"tflite-edge {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
