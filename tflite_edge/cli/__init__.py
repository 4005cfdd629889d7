"""`tflite-edge`: a thin shell over the public functions of tflite_edge.

Each module of tflite_edge/cli/commands/ adds its sub-commands with `register(subparsers)`
(a new command is one new module there); a command parses its arguments, calls one library
function and prints, with the shared argument types and printers of options.py. Only here do
exceptions become a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import TFLiteEdgeError
from . import commands

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command of every module in tflite_edge.cli.commands."""
    from .. import __version__

    parser = _Parser(prog="tflite-edge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tflite-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


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
