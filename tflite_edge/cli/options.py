"""What the commands share: argument types, the JSON printer and progress for a person."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any


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


def add_runtime_options(p: argparse.ArgumentParser, *, runtime: bool = True) -> None:
    """--runtime (auto by default), --tflm-dir and --tflm-kernels, as every command that
    renders, builds or runs a firmware takes them."""
    from pathlib import Path

    from ..runtimes import AUTO, runtime_choices
    from ..runtimes.tflm_tree import KERNEL_SETS

    if runtime:
        p.add_argument(
            "--runtime",
            choices=runtime_choices(),
            default=AUTO,
            help="firmware runtime: aot (tflite-edge's C compiler), tflm (TensorFlow Lite "
            "Micro), or auto (default): aot when its compiler handles every op, else tflm",
        )
    p.add_argument(
        "--tflm-dir",
        type=Path,
        metavar="DIR",
        help="the tflite-micro source tree that --runtime tflm builds against (default "
        "$TFLM_DIR); it is only read",
    )
    p.add_argument(
        "--tflm-kernels",
        choices=KERNEL_SETS,
        help="TFLM's kernels (default: cmsis_nn on Cortex-M boards with DSP or Helium, "
        "reference elsewhere)",
    )


def runtime_kwargs(args: argparse.Namespace, *, runtime: bool = True) -> dict[str, Any]:
    """The keyword arguments of add_runtime_options() for render(), flash(), run() ..."""
    kw = {"tflm_dir": args.tflm_dir, "tflm_kernels": args.tflm_kernels}
    if runtime:
        kw["runtime"] = args.runtime
    return kw
